"""Figure: how long ``normalize`` takes in-process on notices up to 2 000 characters (target < 50 ms).

Texts: the notice corpus (tests/speech/corpus) joined into blocks of 200, 1 000 and 2 000
characters, the shipped campaign scripts, and a 100 kB string of digits (the "never hangs" case).
Each text is normalized once to warm the caches (compiled patterns, lexicon), then timed repeatedly.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import REPO, row, summary

TARGET_MS = 50.0


def _corpus_text() -> str:
    import yaml

    lines = []
    for path in sorted((REPO / "tests" / "speech" / "corpus").glob("*.yaml")):
        lines += [case["text"] for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]]
    return "\n".join(lines)


def _timings(text: str, reps: int, fn) -> list[float]:
    fn(text)  # warm
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        fn(text)
        out.append((time.perf_counter() - start) * 1000)
    return out


def rows(quick: bool = False) -> list[dict]:
    """One row per text size: normalize time in ms, and the --explain (tracking) path for 2 000 chars."""
    from broadcaster.speech.normalize import analyze, load_lexicon, normalize

    reps = 20 if quick else 200
    lexicon = load_lexicon(REPO / "scripts_vi")
    corpus = _corpus_text()
    scripts = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(Path(REPO / "scripts_vi").glob("*.txt")))
    plain = lambda t: normalize(t, lexicon)  # noqa: E731
    out = []
    for size in (200, 1000, 2000):
        stats = summary(_timings(corpus[:size], reps, plain), digits=2)
        out.append(
            row(
                f"normalize, {size} characters of notices",
                "ms",
                stats,
                f"< {TARGET_MS:g} ms",
                stats.get("p99", 1e9) < TARGET_MS,
            )
        )
    explain = summary(_timings(corpus[:2000], reps, lambda t: analyze(t, lexicon)), digits=2)
    out.append(
        row(
            "analyze (--explain, warnings), 2000 characters",
            "ms",
            explain,
            f"< {TARGET_MS:g} ms",
            explain.get("p99", 1e9) < TARGET_MS,
        )
    )
    out.append(
        row(
            f"normalize, all shipped scripts ({len(scripts)} characters)",
            "ms",
            summary(_timings(scripts, reps, plain), digits=2),
        )
    )
    out.append(
        row("normalize, 100 kB of digits", "ms", summary(_timings("7" * 100_000, 3 if quick else 10, plain), digits=1))
    )
    return out


def run(pa=None, quick: bool = False) -> dict:
    """The figure, in the shape ``python -m bench`` prints and stores."""
    return {
        "id": "normalize",
        "title": "7. Text normalization speed (in-process, one thread)",
        "rows": rows(quick),
        "notes": ["Each text is normalized once before timing; p99 must stay under the 50 ms budget."],
    }


if __name__ == "__main__":
    for r in rows(quick=True):
        print(r["metric"], r["stats"], r["target"], r["met"])
