"""Figure — the web console (issue 12): Tổng quan's load, Phát → air, the daemon idling with a browser open.

One daemon (offline voice, chime, no slots) and one operator. Three measurements:

* Tổng quan's load: on the server, plain HTTP with the session cookie (the HTML shell, its static
  files and the two API calls its script makes, sequentially over one keep-alive connection, as
  the browser does); in Debian's Chromium (Playwright), the Paint Timing entries (first paint,
  first contentful paint) and the moment the status data replaces "Đang tải…" in the DOM.
* Phát ngay: a short, new text each time (thông thường, with the chime); the click on «Phát» is
  stamped by a capturing listener in the page (wall clock, ``performance.timeOrigin + now()``)
  and compared with the chime's first audible sample in the null sink's monitor recording.
* The daemon's CPU and RSS (``/proc``) idling without any browser, then with Tổng quan open (its
  server-sent events stream polls the status every second).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.common import (
    MONITOR_BIAS_MS,
    REPO,
    TimedDaemon,
    cpu_seconds,
    first_loud,
    harness,
    log,
    pulse,
    row,
    status_kb,
    summary,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

TARGET_CLICK_MS = 150.0
USER = "van-hanh"
PASSWORD = "mat-khau-bench-1"
#: what Tổng quan loads after its HTML (app.js: /toi; tong-quan.js: /trang-thai, then the event stream)
STATIC = ("/console/static/app.css", "/console/static/app.js", "/console/static/tong-quan.js")
APIS = ("/console/api/toi", "/console/api/trang-thai")
#: between page loads: the console's rate limit (20 requests/s per client, burst 120) is not what is measured
PACE_S = 0.3
_NUMBERS = ["một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười"]

#: runs in every page before its own scripts: stamps what the figures need, changes nothing else
INIT_SCRIPT = """
(() => {
  window.__sse = 0;
  const mark = () => {
    const b = document.getElementById('onair-body');
    if (window.__shown === undefined && b && !b.textContent.includes('Đang tải')) window.__shown = performance.now();
  };
  new MutationObserver(mark).observe(document, { subtree: true, childList: true, characterData: true });
  const Native = window.EventSource;
  window.EventSource = function (url, init) {
    const source = new Native(url, init);
    source.addEventListener('status', () => { window.__sse += 1; });
    return source;
  };
  window.EventSource.prototype = Native.prototype;
  document.addEventListener('click', (e) => {
    if (e.target && e.target.id === 'send') window.__clickAt = performance.timeOrigin + performance.now();
  }, true);
})();
"""

PAINT_JS = """() => {
  const p = {};
  for (const e of performance.getEntriesByType('paint')) p[e.name] = e.startTime;
  const n = performance.getEntriesByType('navigation')[0];
  return { fp: p['first-paint'], fcp: p['first-contentful-paint'], ttfb: n.responseStart,
           dcl: n.domContentLoadedEventEnd, shown: window.__shown };
}"""

SENT_JS = """() => {
  const r = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/console/api/phat-ngay')).pop();
  return { click: window.__clickAt, start: r ? performance.timeOrigin + r.startTime : null,
           end: r ? performance.timeOrigin + r.responseEnd : null };
}"""


def _text(i: int) -> str:
    """Short and new each time: speech is rendered while the chime (what is timed) plays."""
    a, b = _NUMBERS[i % 10], _NUMBERS[(i // 10) % 10]
    return f"Thông báo thử {b} {a}: bà con chú ý."


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


# -- 1. Tổng quan's load --------------------------------------------------------------------------


def _server_times(base: str, loads: int) -> dict[str, list[float]]:
    """Plain HTTP timings of everything Tổng quan asks for, one keep-alive connection per load."""
    out: dict[str, list[float]] = {"html": [], "toi": [], "trang-thai": [], "static": [], "total": [], "cold": []}
    with httpx.Client(base_url=base, timeout=10.0) as client:
        r = client.post("/console/api/dang-nhap", json={"name": USER, "password": PASSWORD})
        r.raise_for_status()
        cookies = client.cookies
    for n in range(loads + 1):
        time.sleep(PACE_S)
        with httpx.Client(base_url=base, timeout=10.0, cookies=cookies) as c:
            t_all = time.perf_counter()
            times = {}
            for path in ("/console/tong-quan", *STATIC, *APIS):
                t0 = time.perf_counter()
                r = c.get(path)
                times[path] = _ms(t0)
                if r.status_code != 200:
                    raise RuntimeError(f"GET {path} answered {r.status_code}: {r.text[:200]}")
            total = _ms(t_all)
        if n == 0:  # the daemon's first console requests (imports, first SQLite reads): apart
            out["cold"].append(total)
            continue
        out["html"].append(times["/console/tong-quan"])
        out["toi"].append(times[APIS[0]])
        out["trang-thai"].append(times[APIS[1]])
        out["static"].append(sum(times[p] for p in STATIC))
        out["total"].append(total)
    return out


def _paint_times(context: BrowserContext, base: str, loads: int) -> dict[str, list[float]]:
    """Load Tổng quan ``loads`` times in a new tab of the logged-in browser; Paint Timing per load."""
    out: dict[str, list[float]] = {"fp": [], "fcp": [], "shown": [], "ttfb": [], "dcl": []}
    for _ in range(loads):
        time.sleep(PACE_S / 4)  # a load takes ≥ 0.3 s itself: ~7 requests each stays under 20/s
        page = context.new_page()
        try:
            page.goto(f"{base}/console/tong-quan", wait_until="load", timeout=20_000)
            page.wait_for_function(
                "window.__shown !== undefined && performance.getEntriesByType('paint').length >= 2", timeout=15_000
            )
            got = page.evaluate(PAINT_JS)
        finally:
            page.close()
        for key in out:
            out[key].append(float(got[key]))
    return out


# -- 2. Phát → air --------------------------------------------------------------------------------


def _send_once(page: Page, daemon: TimedDaemon, i: int) -> dict[str, float]:
    """Type a new text, wait for its reading, press «Phát»; wait until the announcement has aired."""
    before = page.inner_text("#reading")
    page.fill("#text", _text(i))
    page.wait_for_function(
        "prev => { const r = document.getElementById('reading');"
        " return r.textContent !== prev && !r.classList.contains('muted'); }",
        arg=before,
        timeout=10_000,
    )
    page.evaluate("() => { document.getElementById('result').replaceChildren(); performance.clearResourceTimings(); }")
    mark = len(daemon.lines)
    t_playwright = time.time()
    page.click("#send")
    page.wait_for_selector("#result .notice", timeout=10_000)
    if not page.locator("#result .notice.ok").count():
        raise RuntimeError(f"«Phát» was refused: {page.inner_text('#result')}")
    sent = page.evaluate(SENT_JS)
    if not sent["click"] or not sent["start"]:
        raise RuntimeError(f"the click on «Phát» or its request was not seen in the page: {sent}")
    daemon.wait_for("KẾT THÚC adhoc:", timeout=60, start=mark)
    found = daemon.find("từ lúc nhận lệnh đến khi phát:", mark)
    return {
        "click": sent["click"] / 1000,
        "playwright": t_playwright,
        "requested": sent["start"] / 1000,
        "answered": sent["end"] / 1000,
        "daemon_ms": float(found[1].split(":")[-1].split("ms")[0]) if found else float("nan"),
    }


def _click_to_air(
    pa: pulse.PulseServer, context: BrowserContext, daemon: TimedDaemon, base: str, n: int
) -> dict[str, Any]:
    """``n`` announcements from Phát ngay, each timed from the click to the chime's first audible sample."""
    page = context.new_page()
    sends: list[dict[str, float]] = []
    rec = pa.record()
    try:
        page.goto(f"{base}/console/phat-ngay", wait_until="load", timeout=20_000)
        page.wait_for_selector("nav.topbar", timeout=10_000)
        if not page.is_checked("#chime"):
            page.check("#chime")
        for i in range(n):
            time.sleep(0.5)  # silence between announcements: each onset is searched from its click
            sends.append(_send_once(page, daemon, i))
        time.sleep(0.3)
    finally:
        recording = rec.stop()
        page.close()
    onset_ms, request_ms, answer_ms, pw_ms, daemon_ms, misses = [], [], [], [], [], 0
    for s in sends:
        onset = first_loud(recording.samples, recording.rate, start_s=s["click"] - recording.t0_wall)
        if onset is None or recording.t0_wall + onset - s["click"] > 10.0:
            misses += 1
            continue
        onset_ms.append((recording.t0_wall + onset - s["click"]) * 1000)
        request_ms.append((s["requested"] - s["click"]) * 1000)
        answer_ms.append((s["answered"] - s["click"]) * 1000)
        pw_ms.append((s["click"] - s["playwright"]) * 1000)
        daemon_ms.append(s["daemon_ms"])
    return {
        "onset": onset_ms,
        "request": request_ms,
        "answer": answer_ms,
        "playwright": pw_ms,
        "daemon": daemon_ms,
        "misses": misses,
    }


# -- 3. idle with and without a browser -----------------------------------------------------------


def _idle(pid: int, seconds: float) -> dict[str, Any]:
    """CPU % over ``seconds`` and RSS (MB) sampled each second, from /proc."""
    rss: list[float] = []
    c0, w0 = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - w0 < seconds:
        time.sleep(1.0)
        rss.append((status_kb(pid, "VmRSS") or 0) / 1024)
    c1, w1 = cpu_seconds(pid), time.monotonic()
    return {"cpu_pct": 100 * (c1 - c0) / (w1 - w0), "cpu_s": c1 - c0, "wall_s": w1 - w0, "rss": rss}


def _idle_pair(daemon: TimedDaemon, context: BrowserContext, base: str, seconds: float) -> dict[str, Any]:
    """The daemon idling with no page open, then with Tổng quan open (live updates) as long."""
    for page in list(context.pages):
        page.close()
    time.sleep(2.0)  # streams of closed pages notice the disconnect within a poll (1 s)
    pid = daemon.pid
    if pid is None:
        raise RuntimeError("the daemon is not running:\n" + daemon.log())
    alone = _idle(pid, seconds)
    page = context.new_page()
    try:
        page.goto(f"{base}/console/tong-quan", wait_until="load", timeout=20_000)
        page.wait_for_function("window.__shown !== undefined && window.__sse > 0", timeout=15_000)
        time.sleep(1.0)
        before = int(page.evaluate("window.__sse"))
        opened = _idle(pid, seconds)
        opened["events"] = int(page.evaluate("window.__sse")) - before
    finally:
        page.close()
    return {"alone": alone, "open": opened}


# -- the figure -----------------------------------------------------------------------------------


@contextmanager
def _chromium() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (as tests/console/conftest.py)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise RuntimeError("chromium is not installed (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def _login(context: BrowserContext, base: str) -> None:
    page = context.new_page()
    try:
        page.goto(f"{base}/console/dang-nhap", timeout=20_000)
        page.fill("#name", USER)
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        page.wait_for_selector("nav.topbar", timeout=15_000)
    finally:
        page.close()


def _measure(pa: pulse.PulseServer, project: Any, loads: int, sends: int, idle_s: float) -> dict[str, Any]:
    daemon = TimedDaemon(project, pa.env).start(timeout=60)
    try:
        daemon.wait_for("Đã chuẩn bị sẵn giọng đọc", timeout=60)  # warmed up, as after any start
        info = (project.root / "state" / "daemon.json").read_text()
        base = f"http://127.0.0.1:{json.loads(info)['port']}"
        log(f"  console: Tổng quan over plain HTTP × {loads}")
        server = _server_times(base, loads)
        with _chromium() as browser:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(INIT_SCRIPT)
            _login(context, base)
            log(f"  console: Tổng quan in Chromium × {loads}")
            paint = _paint_times(context, base, loads)
            log(f"  console: «Phát» → chime × {sends}")
            air = _click_to_air(pa, context, daemon, base, sends)
            log(f"  console: idle {idle_s:g} s without, then {idle_s:g} s with Tổng quan open")
            idle = _idle_pair(daemon, context, base, idle_s)
            context.close()
    finally:
        daemon.terminate()
    rows = [r for r in project.asrun_rows() if r["source"] == "adhoc"]
    return {"server": server, "paint": paint, "air": air, "idle": idle, "asrun": rows}


def run(pa: pulse.PulseServer, quick: bool = False) -> dict[str, Any]:
    """Measure the console's figures; ``quick``: fewer loads and sends, 20 s idles instead of 60 s."""
    loads, sends, idle_s = (5, 5, 20.0) if quick else (20, 20, 60.0)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        project = harness.Project(Path(tmp), chime=True, voice="espeak")
        project.save()
        done = project.cli("user", "add", USER, "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
        if done.returncode != 0:
            raise RuntimeError(f"broadcaster user add failed: {done.stdout}{done.stderr}")
        m = _measure(pa, project, loads, sends, idle_s)
    return _figure(m, loads, sends, idle_s)


def _figure(m: dict[str, Any], loads: int, sends: int, idle_s: float) -> dict[str, Any]:
    return {
        "id": "console",
        "title": "9. Web console (Tổng quan, «Phát» → air, idle with a browser)",
        "rows": _rows(m, idle_s),
        "notes": _notes(m, loads, sends),
    }


def _median(values: list[float]) -> float | None:
    return float(summary(values)["median"]) if values else None


def _value(x: float, digits: int) -> dict[str, Any]:
    return {"n": 1, "value": round(x, digits)}


def _rows(m: dict[str, Any], idle_s: float) -> list[dict[str, Any]]:
    server, paint, air, idle = m["server"], m["paint"], m["air"], m["idle"]
    s_onset = summary(air["onset"])
    met = bool(air["onset"]) and not air["misses"] and s_onset["p99"] - MONITOR_BIAS_MS <= TARGET_CLICK_MS
    alone, opened = idle["alone"], idle["open"]
    target = f"≤ {TARGET_CLICK_MS:g} ms (p99)"
    return [
        row("Tổng quan over HTTP: HTML shell", "ms", summary(server["html"], 2)),
        row("Tổng quan over HTTP: /console/api/toi", "ms", summary(server["toi"], 2)),
        row("Tổng quan over HTTP: /console/api/trang-thai", "ms", summary(server["trang-thai"], 2)),
        row("Tổng quan over HTTP: HTML + 3 static files + 2 API calls, in sequence", "ms", summary(server["total"])),
        row("Tổng quan in Chromium: first paint", "ms", summary(paint["fp"])),
        row("Tổng quan in Chromium: first contentful paint", "ms", summary(paint["fcp"])),
        row("Tổng quan in Chromium: status data shown (DOM)", "ms", summary(paint["shown"])),
        row("«Phát» click → chime's first audible sample", "ms", s_onset, target=target, met=met),
        row("«Phát» click → the API's answer in the page", "ms", summary(air["answer"])),
        row("daemon's own request → first sample (log)", "ms", summary(x for x in air["daemon"] if x == x)),
        row(f"daemon idle CPU over {idle_s:g} s, no browser", "%", _value(alone["cpu_pct"], 3)),
        row(f"daemon idle CPU over {idle_s:g} s, Tổng quan open", "%", _value(opened["cpu_pct"], 3)),
        row("daemon RSS idle, no browser", "MB", summary(alone["rss"])),
        row("daemon RSS idle, Tổng quan open", "MB", summary(opened["rss"])),
    ]


def _notes(m: dict[str, Any], loads: int, sends: int) -> list[str]:
    from broadcaster.programme import load_levelled
    from broadcaster.speech.audio import CHIME_LUFS, RATE

    chime = load_levelled(REPO / "audio" / "chime.wav", CHIME_LUFS)
    lead_ms = (first_loud(chime, RATE) or 0.0) * 1000
    server, paint, air, idle = m["server"], m["paint"], m["air"], m["idle"]
    alone, opened = idle["alone"], idle["open"]
    per_poll = 1000 * (opened["cpu_s"] - alone["cpu_s"]) / max(1.0, opened["wall_s"])
    played = sum(r["status"] == "played" for r in m["asrun"])
    notes = [
        f"Server side: {loads} loads over plain HTTP with the session cookie on loopback (client-side wall time, "
        "so it includes the HTTP round trip), a new keep-alive connection per load. The first load after the "
        f"daemon's start (not counted) took {server['cold'][0]:.1f} ms in all; the 3 static files together "
        f"{_median(server['static'])} ms (median).",
        f"Browser: {loads} loads of Tổng quan, each in a new tab of a logged-in headless Chromium (1280×800), "
        "times from navigation start (Paint Timing API). 'Status data shown': the overview's data replaces "
        f"'Đang tải…' (after /toi, then /trang-thai). Navigation TTFB median {_median(paint['ttfb'])} ms, "
        f"DOMContentLoaded median {_median(paint['dcl'])} ms.",
        f"«Phát»: {sends} short new texts (thông thường, with the chime), each rendered by espeak-ng while the "
        f"{len(chime) / RATE:.1f} s chime plays. Click stamped by a capturing listener in the page; onset = first "
        f"sample above −40 dBFS at the null sink (the chime's own lead-in is {lead_ms:.0f} ms; recording bias "
        f"{MONITOR_BIAS_MS} ms: true values up to 5 ms later). The page sends its request {_median(air['request'])} "
        f"ms (median) after the click; Playwright's click() reaches the page {_median(air['playwright'])} ms after "
        f"it is called (not counted). As-run: {played}/{len(m['asrun'])} played.",
        f"Idle: the same daemon after the measurements above, CPU from /proc utime+stime: {alone['cpu_s']:.2f} s "
        f"in {alone['wall_s']:.0f} s with no browser, {opened['cpu_s']:.2f} s in {opened['wall_s']:.0f} s with "
        f"Tổng quan open ({opened['events']} status events pushed meanwhile; the stream still builds a status "
        f"snapshot every second to compare: ≈ {per_poll:.1f} ms of CPU per second per open page).",
    ]
    if air["misses"]:
        notes.append(f"{air['misses']} announcement(s) never reached the sink.")
    return notes
