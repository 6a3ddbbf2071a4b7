"""The shipped campaign's scripts read exactly as they did before the context rules were added.

``golden/<script>.spoken.txt`` holds the full reading of ``scripts_vi/<script>.txt`` produced by the
normalizer of commit 4afeddf (before issue 13), with the shipped operator abbreviations. A change
here changes what the loudspeakers say (and re-renders the cache), so it must be deliberate: after
checking a new reading by ear, regenerate with ``LOA_XA_UPDATE_GOLDEN=1`` and say why in the commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broadcaster.speech.normalize import analyze, load_abbreviations, normalize

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "scripts_vi").glob("*.txt"))
GOLDEN = Path(__file__).resolve().parent / "golden"


def test_every_shipped_script_has_a_golden_reading():
    assert SCRIPTS, "no scripts_vi/*.txt found"
    assert sorted(p.stem for p in SCRIPTS) == sorted(p.name.removesuffix(".spoken.txt") for p in GOLDEN.glob("*.txt"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_shipped_script_reads_as_before(script):
    abbreviations = load_abbreviations(REPO / "scripts_vi" / "abbreviations.yaml")
    spoken = normalize(script.read_text(encoding="utf-8"), abbreviations)
    golden = GOLDEN / f"{script.stem}.spoken.txt"
    if os.environ.get("LOA_XA_UPDATE_GOLDEN") == "1":
        golden.write_text(spoken, encoding="utf-8")
    assert spoken == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_shipped_script_has_no_ambiguity_warning(script):
    assert analyze(script.read_text(encoding="utf-8")).warnings == []
