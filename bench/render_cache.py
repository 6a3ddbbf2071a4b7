"""Figure 3 — render: cold cache vs warm cache over every shipped script, offline voice.

Uses :class:`broadcaster.speech.render.SpeechRenderer` directly (what the daemon and the
``render`` command use) with a temporary cache folder. Cold = normalize + espeak-ng + decode +
loudness levelling + cache write; warm = normalize + cache lookup (checksum verified) + read.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import REPO, log, row, summary

TARGET_RATIO = 100.0


def run(pa=None, quick: bool = False) -> dict:
    from broadcaster.speech.normalize import load_abbreviations
    from broadcaster.speech.render import SpeechRenderer

    cold_reps = 1 if quick else 3
    warm_reps = 5 if quick else 20
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted((REPO / "scripts_vi").glob("*.txt"))}
    abbr_file = REPO / "scripts_vi" / "abbreviations.yaml"
    abbreviations = load_abbreviations(abbr_file if abbr_file.is_file() else None)
    cold: dict[str, list[float]] = {k: [] for k in texts}
    warm: dict[str, list[float]] = {k: [] for k in texts}  # one long-lived renderer, as in the daemon
    fresh: dict[str, list[float]] = {k: [] for k in texts}  # a new renderer (new process) each pass
    seconds: dict[str, float] = {}
    log(f"  render: {len(texts)} scripts, {cold_reps} cold pass(es), {warm_reps} warm passes each")
    SpeechRenderer(Path(tempfile.mkdtemp(prefix="bench-warmup-")), ["espeak"], abbreviations).render("Xin chào.")
    for _ in range(cold_reps):
        with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
            renderer = SpeechRenderer(Path(tmp), ["espeak"], abbreviations)
            for slug, text in texts.items():
                t = time.perf_counter()
                r = renderer.render(text)
                cold[slug].append((time.perf_counter() - t) * 1000)
                assert not r.from_cache
                seconds[slug] = len(r.samples) / 48000
            for _ in range(warm_reps):
                for slug, text in texts.items():  # the renderer that rendered them: the daemon's case
                    t = time.perf_counter()
                    r = renderer.render(text)
                    warm[slug].append((time.perf_counter() - t) * 1000)
                    assert r.from_cache
                again = SpeechRenderer(Path(tmp), ["espeak"], abbreviations)  # first use after a restart
                for slug, text in texts.items():
                    t = time.perf_counter()
                    r = again.render(text)
                    fresh[slug].append((time.perf_counter() - t) * 1000)
                    assert r.from_cache

    breakdown = _warm_breakdown(texts, abbreviations, warm_reps)
    per_script = []
    for slug in texts:
        c, w, f = summary(cold[slug], 2), summary(warm[slug], 2), summary(fresh[slug], 2)
        per_script.append(
            {
                "script": slug,
                "audio_s": round(seconds[slug], 1),
                "cold_ms": c["median"],
                "warm_ms": w["median"],
                "warm_fresh_ms": f["median"],
                "ratio": round(c["median"] / w["median"], 1),
            }
        )
    total_cold = sum(p["cold_ms"] for p in per_script)
    total_warm = sum(p["warm_ms"] for p in per_script)
    total_fresh = sum(p["warm_fresh_ms"] for p in per_script)
    ratio = total_cold / total_warm
    ratio_fresh = total_cold / total_fresh
    worst = min(per_script, key=lambda p: p["ratio"])
    met = ratio >= TARGET_RATIO
    all_cold = [x for v in cold.values() for x in v]
    all_warm = [x for v in warm.values() for x in v]
    all_fresh = [x for v in fresh.values() for x in v]
    return {
        "id": "render",
        "title": "3. Render: cold vs warm cache (all shipped scripts, espeak-ng)",
        "rows": [
            row("cold render per script", "ms", summary(all_cold)),
            row("warm render per script (daemon's renderer)", "ms", summary(all_warm, 2)),
            row("warm render per script (new renderer/process)", "ms", summary(all_fresh, 2)),
            row(
                "cold total / warm total (daemon's renderer)",
                "×",
                {"n": len(per_script), "value": round(ratio, 1)},
                target=f"≥ {TARGET_RATIO:g}×",
                met=met,
            ),
            row("cold total / warm total (new renderer)", "×", {"n": len(per_script), "value": round(ratio_fresh, 1)}),
        ],
        "per_script": per_script,
        "warm_breakdown_ms": breakdown,
        "notes": [
            f"Totals (medians summed): cold {total_cold:.0f} ms, warm {total_warm:.1f} ms (new renderer "
            f"{total_fresh:.1f} ms) for {sum(seconds.values()):.0f} s of speech; slowest script ratio "
            f"{worst['ratio']}× ({worst['script']}).",
            "Where a warm render goes, all scripts, one pass (medians): "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in breakdown.items())
            + ".",
        ],
    }


def _warm_breakdown(texts: dict, abbreviations, reps: int) -> dict:
    """Time the parts of a warm render separately over all scripts: normalize, cache read (and its checksum)."""
    import hashlib

    from broadcaster.speech.cache import RenderCache
    from broadcaster.speech.normalize import normalize
    from broadcaster.speech.render import SpeechRenderer

    with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as tmp:
        renderer = SpeechRenderer(Path(tmp), ["espeak"], abbreviations)
        keys = [renderer.render(t).key for t in texts.values()]
        cache = RenderCache(Path(tmp))
        paths = [cache.audio_path(k) for k in keys]
        parts = {
            "normalize text": lambda: [normalize(t, abbreviations) for t in texts.values()],
            "RenderCache.get (checksum + decode)": lambda: [cache.get(k) for k in keys],
            "of which sha256 of the WAV": lambda: [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths],
            "of which reading the bytes": lambda: [p.read_bytes() for p in paths],
        }
        out = {}
        for name, fn in parts.items():
            runs = []
            for _ in range(max(3, reps // 2)):
                t = time.perf_counter()
                fn()
                runs.append((time.perf_counter() - t) * 1000)
            out[name] = round(sorted(runs)[len(runs) // 2], 1)
        return out
