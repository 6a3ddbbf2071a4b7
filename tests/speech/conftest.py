"""Per-category counts of the notice corpus, printed at the end of every run that includes it."""

from __future__ import annotations

from collections import Counter

_TEST = "test_normalize_corpus.py::test_corpus_reading["
_passed: Counter[str] = Counter()
_failed: Counter[str] = Counter()


def pytest_runtest_logreport(report):
    if report.when != "call" or _TEST not in report.nodeid:
        return
    category = report.nodeid.split("[", 1)[1].rsplit("-", 1)[0]
    (_passed if report.passed else _failed)[category] += 1


def pytest_terminal_summary(terminalreporter):
    if not (_passed or _failed):
        return
    from tests.speech.corpus_data import load_corpus

    titles = {c.category: c.title for c in load_corpus()}
    write = terminalreporter.write_line
    terminalreporter.section("notice corpus by category")
    write(f"{'category':<14} {'title':<28} {'passed':>6} {'failed':>6}")
    for category in sorted(set(_passed) | set(_failed)):
        write(f"{category:<14} {titles.get(category, ''):<28} {_passed[category]:>6} {_failed[category]:>6}")
    write(f"{'total':<14} {len(titles)} categories{'':<15} {sum(_passed.values()):>6} {sum(_failed.values()):>6}")
