"""The notice corpus (tests/speech/corpus/*.yaml): one file per category of commune notice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Case:
    category: str
    title: str
    index: int
    text: str
    spoken: str

    @property
    def id(self) -> str:
        return f"{self.category}-{self.index:03d}"


def load_corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i, case in enumerate(doc["cases"], 1):
            cases.append(Case(doc["category"], doc["title"], i, case["text"], case["spoken"]))
    return cases
