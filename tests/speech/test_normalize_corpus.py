"""The notice corpus: ≥300 sentences as commune notices are written, each with the reading listeners expect.

Per-category counts are printed at the end of the run (tests/speech/conftest.py).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from broadcaster.speech.normalize import analyze, normalize
from tests.speech.corpus_data import load_corpus

CASES = load_corpus()


def test_corpus_is_broad():
    per_category = Counter(c.category for c in CASES)
    assert len(CASES) >= 300
    assert len(per_category) >= 12
    assert min(per_category.values()) >= 20
    assert len({c.text for c in CASES}) == len(CASES), "a sentence appears twice"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_corpus_reading(case):
    spoken = normalize(case.text)
    assert spoken == case.spoken
    assert not re.search(r"[0-9]", spoken)


def test_explained_spans_rebuild_the_reading():
    for case in CASES:
        analysis = analyze(case.text)
        assert analysis.spoken == case.spoken
        rebuilt, last = [], 0
        for span in analysis.spans:
            assert last <= span.start <= span.end
            rebuilt += [case.text[last : span.start], span.spoken]
            last = span.end
        rebuilt.append(case.text[last:])
        assert "".join(rebuilt) == case.spoken, case.text
