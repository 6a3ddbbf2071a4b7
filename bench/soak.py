"""``python -m bench.soak [--short]``: a compressed campaign on the real daemon and a real
(null) sound card while faults are injected, then a reconciliation of plan, as-run log and
what the sink really played.

Faults, all in one run:

* the online voice is unreachable throughout: voice chain ``[gtts, espeak]`` with the daemon's
  ``HTTPS_PROXY`` pointing at a closed loopback port, so gTTS fails fast (connection refused)
  and espeak-ng must carry every broadcast;
* the sound server is SIGKILLed in the middle of a broadcast and restarted, twice;
* a broken schedule edit (a tab), then a good edit that adds a slot;
* a cache file the daemon rendered is corrupted before the broadcast that uses it;
* the daemon is SIGKILLed mid-broadcast and restarted later, after one broadcast was due
  beyond the grace period (→ ``missed``) and one within it (→ played late);
* the loudspeakers are muted (the sink, so its monitor hears nothing) for a whole broadcast
  (→ ``not_heard``, "không nghe thấy", and a ``not_heard`` alert at a loopback webhook), and for
  5 s in the middle of another (→ still ``played``, with that dead air at its position in the
  proof, and a ``dead_air`` alert while it is on air).

The sink's monitor is also the daemon's ``output.monitor``: proof of play runs on every broadcast.

The sink's monitor is recorded by one ``Recorder`` per server lifetime; the pieces keep their
wall-clock origin. At the end every planned broadcast of the soak's span (``broadcaster plan
--json`` of the final schedule) must be accounted for by the as-run log with the expected
outcome, none played twice, no row left open or unplanned, every ``played`` row audible in a
recording at the ``started_at`` its row claims (±150 ms), that start punctual (within 150 ms of
the planned time) unless it was a catch-up or queued behind a broadcast still on air, and nothing
audible at a ``missed`` one; every ``played`` row ``heard`` (no false "không nghe thấy"), and
both proof faults detected as above. Exit 1 on any discrepancy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import DEBUG_ENTRY, TimedDaemon, harness, log, pulse

GRACE_MINUTES = 0.1  # 6 s: a broadcast due while the daemon is down is late within it, missed beyond it
ONSET_TOLERANCE_S = 0.150
QUEUE_SETTLE_S = 0.5  # a broadcast queued behind one that ended this shortly before its time may start late
KILL_INTO_S = 4.0  # faults land this long after a broadcast's planned start: chime (1.8 s) done, speech on air
DEAD_AIR_S = 5.0  # the loudspeakers go quiet this long in the middle of the dead-air broadcast
DEAD_AIR_TOLERANCE_S = 1.0  # the reported dead air starts within this of when the soak muted the sink
ALERT_WITHIN_S = 8.0  # an alert reaches the webhook this soon after its cause (dead air: after the mute)
PROXY = "http://127.0.0.1:9"  # discard port, closed on loopback: an immediate connection refusal

SHORT_TEXT = "Kính thưa bà con, đây là bản tin thử nghiệm của đài truyền thanh xã."
LONG_TEXT = " ".join(["Kính thưa toàn thể nhân dân trong xã, đây là bản tin dài phát thử nghiệm."] * 4)
OWN_TEXT = "Bà con lưu ý, bản tin này dùng một tệp giọng đọc riêng trong bộ nhớ đệm."
MEDIUM_TEXT = " ".join(["Kính thưa bà con, loa của thôn đang được kiểm tra xem có kêu thật hay không."] * 2)

# One letter per broadcast, in time order:
#   n normal · L long, sound server killed during it · A added by the good edit (after a broken one)
#   C its cache file corrupted before it airs · K long, daemon SIGKILLed during it
#   M due while the daemon is down, beyond grace · T due while down, within grace (played late)
#   U loudspeakers muted throughout (not heard) · D medium, loudspeakers muted for DEAD_AIR_S during it
#   (D is last: at 8 s spacing its 12 s would push the next broadcasts past the 6 s grace)
SHORT_PLAN = "nnLnnACLnUnKMTnnnD"
FULL_PLAN = "nnnnLnnnnAnnnCnnUnnnnnLnnnnKMTnnnnnnnnnD"
EXPECTED = {
    "n": "played",
    "A": "played",
    "C": "played",
    "T": "played",
    "L": "failed",
    "K": "interrupted",
    "M": "missed",
    "U": "not_heard",
    "D": "played",
}


@dataclass
class Slot:
    index: int
    role: str
    name: str
    at: datetime

    @property
    def expected(self) -> str:
        return EXPECTED[self.role]


@dataclass
class Piece:
    """One recording, from one sound-server lifetime."""

    recording: object
    onsets: list[float] = field(default_factory=list)  # wall times


class Soak:
    def __init__(self, short: bool, root: Path) -> None:
        self.short = short
        self.plan = SHORT_PLAN if short else FULL_PLAN
        self.spacing = 8 if short else 20
        self.root = root
        self.pieces: list[Piece] = []
        self.events: list[str] = []
        self.problems: list[str] = []
        first = harness.local_now().replace(microsecond=0) + timedelta(seconds=16)
        self.slots = [
            Slot(i, r, f"b{i:02d}", first + timedelta(seconds=self.spacing * i)) for i, r in enumerate(self.plan)
        ]
        self.project = harness.Project(root, chime=True, voice="gtts, espeak")
        self.project.write_script("ngan", SHORT_TEXT)
        self.project.write_script("dai", LONG_TEXT)
        self.project.write_script("rieng", OWN_TEXT)
        self.project.write_script("vua", MEDIUM_TEXT)
        self.env: dict[str, str] = {}
        self.hook = harness.Webhook()
        self.muted: dict[str, tuple[float, float]] = {}  # slot → (muted at, unmuted at), wall times

    # -- helpers -----------------------------------------------------------------------------
    def note(self, msg: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        self.events.append(f"{stamp} {msg}")
        log(f"  [{stamp}] {msg}")

    def schedule_text(self, *, with_added: bool) -> str:
        self.project.slots = []
        for s in self.slots:
            if s.role == "A" and not with_added:
                continue
            script = {"L": "dai", "K": "dai", "C": "rieng", "D": "vua"}.get(s.role, "ngan")
            self.project.slot(s.name, s.at, play=[{"script": script}])
        text = self.project.yaml_text()
        assert "output: {grace_minutes: 1}" in text
        output = f"output: {{grace_minutes: {GRACE_MINUTES}, monitor: {self.pa.sink_name}.monitor}}"
        return text.replace("output: {grace_minutes: 1}", output) + f"alerts: {{webhook: '{self.hook.url}'}}\n"

    def mute(self, on: bool) -> float:
        """Mute (or unmute) the loudspeakers: the sink, so its monitor (the daemon's proof input) hears nothing."""
        r = self.pa.pactl("set-sink-mute", self.pa.sink_name, "1" if on else "0", timeout=5)
        if r.returncode != 0:
            raise RuntimeError(f"pactl set-sink-mute failed: {r.stderr.strip()}")
        return time.time()

    @staticmethod
    def sleep_until(t: datetime | float) -> None:
        ts = t.timestamp() if isinstance(t, datetime) else t
        time.sleep(max(0.0, ts - time.time()))

    def start_daemon(self) -> TimedDaemon:
        d = TimedDaemon(self.project, self.env, entry=DEBUG_ENTRY).start(timeout=60)
        self.note(f"daemon started (pid {d.proc.pid}), ready after {d.find('sẵn sàng')[2] - d.spawned_at:.2f} s")
        return d

    def close_piece(self) -> None:
        if self.rec is not None:
            self.pieces.append(Piece(self.rec.stop()))
            self.rec = None

    # -- the campaign --------------------------------------------------------------------------
    def run(self) -> None:
        pa = self.pa = pulse.PulseServer().start()
        self.rec = None
        self._killing = False
        self._watching = True
        import threading

        watcher = threading.Thread(target=self._watch_server, name="server-watch", daemon=True)
        watcher.start()
        try:
            self._run(pa)
        except Exception:
            self.diagnose()
            raise
        finally:
            self._watching = False
            if pa._proc is not None and pa._proc.poll() is None:
                pa.pactl("set-sink-mute", pa.sink_name, "0", timeout=5)  # a soak stopped while muted
            self.close_piece()  # a soak that stopped early still reconciles what was recorded
            self.pulse_log = pa._log_tail()
            pa.close()

    def _watch_server(self) -> None:
        """Note a sound server that dies without the soak killing it (and how: its exit status)."""
        while self._watching:
            proc = self.pa._proc
            if proc is not None and not self._killing and proc.poll() is not None:
                self.problems.append(f"the sound server died by itself (exit status {proc.returncode})")
                self.note(f"sound server (pid {proc.pid}) DIED BY ITSELF, exit status {proc.returncode}")
                return
            time.sleep(0.2)

    def diagnose(self) -> None:
        """The daemon stopped making progress: keep its threads' stacks and status for the report."""
        d = getattr(self, "daemon", None)
        self.diagnosis = []
        if d is None or d.proc is None or d.proc.poll() is not None:
            return
        try:
            code, status = d.api("GET", "/api/status")
            self.diagnosis.append(
                f"status API: {code} now_playing={status.get('now_playing')} output={status.get('output')}"
            )
        except Exception as exc:  # noqa: BLE001 - a hung API is itself the finding
            self.diagnosis.append(f"status API did not answer: {type(exc).__name__}: {exc}")
        self.diagnosis.append("threads (kernel view, 1 s apart): " + _threads(d.proc.pid))
        pa = getattr(self, "pa", None)
        if pa is not None and pa._proc is not None and pa._proc.poll() is None:
            self.diagnosis.append("sound server process: " + _threads(pa._proc.pid))
            try:
                r = pa.pactl("list", "short", "sink-inputs", timeout=3)
                self.diagnosis.append(
                    f"pactl list sink-inputs: rc {r.returncode} {r.stdout.strip()!r} {r.stderr.strip()!r}"
                )
            except Exception as exc:  # noqa: BLE001 - a server that does not answer is the finding
                self.diagnosis.append(f"pactl did not answer: {type(exc).__name__}")
        self.diagnosis.append("threads of the stuck daemon (SIGUSR1):\n" + d.dump_stacks())
        d.kill()

    def _run(self, pa: pulse.PulseServer) -> None:
        self.env = {
            **pa.env,
            "HTTPS_PROXY": PROXY,
            "https_proxy": PROXY,
            "HTTP_PROXY": PROXY,
            "http_proxy": PROXY,
            "NO_PROXY": "127.0.0.1,localhost",  # the alert webhook is on loopback: straight to it
            "no_proxy": "127.0.0.1,localhost",
        }
        self.project.save(self.schedule_text(with_added=False))
        self.rec = pa.record()
        self.daemon = self.start_daemon()
        self.daemon.wait_for("Đã chuẩn bị sẵn giọng đọc", timeout=60)
        self.note(
            f"{len(self.slots)} broadcasts every {self.spacing} s from {harness.hhmmss(self.slots[0].at)} "
            f"to {harness.hhmmss(self.slots[-1].at)}; plan {self.plan}"
        )
        down_since = None
        for s in self.slots:
            sp = self.spacing
            if s.role == "A":
                # a broken edit during the broadcast before last, then the good one adding this slot
                self.sleep_until(s.at - timedelta(seconds=2 * sp - 2))
                mark = len(self.daemon.lines)
                self.project.save(self.schedule_text(with_added=False).replace("  - name: b00", "\t- name: b00"))
                self.daemon.wait_for("TỪ CHỐI", timeout=10, start=mark)
                self.note("broken edit (tab) saved → refused, old schedule kept")
                self.sleep_until(s.at - timedelta(seconds=sp - 1))
                mark = len(self.daemon.lines)
                self.project.save(self.schedule_text(with_added=True))
                self.daemon.wait_for("Đã nạp lại lịch", timeout=10, start=mark)
                self.note(f"good edit saved → reloaded, slot {s.name} added at {harness.hhmmss(s.at)}")
            elif s.role == "C":
                self.sleep_until(s.at - timedelta(seconds=sp - 2))
                self.corrupted = self.corrupt_cache(OWN_TEXT)
                self.note(f"corrupted cache file {self.corrupted.relative_to(self.root)} (used by {s.name})")
            elif s.role == "L":
                self.sleep_until(s.at + timedelta(seconds=KILL_INTO_S))
                if self.daemon.find(f"BẮT ĐẦU {s.name}@") is None:
                    self.problems.append(f"{s.name} had not started when the sound server was to be killed")
                self._killing = True
                pa.kill()
                self.close_piece()
                self.note(f"sound server SIGKILLed during {s.name}")
                time.sleep(0.5)
                pa.start()
                self._killing = False
                self.rec = pa.record()
                self.note("sound server restarted, recording again")
            elif s.role == "K":
                self.sleep_until(s.at + timedelta(seconds=KILL_INTO_S))
                if self.daemon.find(f"BẮT ĐẦU {s.name}@") is None:
                    self.problems.append(f"{s.name} had not started when the daemon was to be killed")
                self.daemon.kill()
                down_since = time.time()
                self.note(f"daemon SIGKILLed during {s.name}")
            elif s.role == "T":
                self.sleep_until(s.at + timedelta(seconds=1))
                self.daemon = self.start_daemon()
                self.note(f"daemon restarted after {time.time() - down_since:.1f} s down")
            elif s.role == "U":
                before = self.slots[s.index - 1].name
                self.daemon.wait_for(f"KẾT THÚC {before}@", timeout=max(0.0, s.at.timestamp() - time.time()) + 20)
                if time.time() > s.at.timestamp() - 0.1:
                    self.problems.append(f"{before} was still on air at {s.name}'s time: could not mute before it")
                self.sleep_until(s.at.timestamp() - 0.5)
                muted_at = self.mute(True)
                self.note(f"loudspeakers muted for the whole of {s.name}")
                self.daemon.wait_for(f"KẾT THÚC {s.name}@", timeout=max(0.0, s.at.timestamp() - time.time()) + 40)
                self.muted[s.name] = (muted_at, self.mute(False))
                self.note(f"loudspeakers unmuted after {s.name}")
            elif s.role == "D":
                started = self.daemon.wait_stamped(
                    f"BẮT ĐẦU {s.name}@", timeout=max(0.0, s.at.timestamp() - time.time()) + 20
                )[2]
                self.sleep_until(started + KILL_INTO_S)  # it may start late, queued behind the catch-up
                muted_at = self.mute(True)
                time.sleep(DEAD_AIR_S)
                self.muted[s.name] = (muted_at, self.mute(False))
                self.note(f"loudspeakers muted for {DEAD_AIR_S:g} s during {s.name}")
        # Every broadcast after the last fault must end, each within its slot: a stuck one is caught
        # (and diagnosed, see diagnose()) while it is stuck, not at the end of the run.
        tail = [s for s in self.slots if s.index > max(i for i, r in enumerate(self.plan) if r not in "nD")]
        for s in tail:
            self.daemon.wait_for(f"KẾT THÚC {s.name}@", timeout=max(0.0, s.at.timestamp() - time.time()) + 40)
        time.sleep(0.5)
        code, status = self.daemon.api("GET", "/api/status")
        self.final_status = status if code == 200 else {}
        rc = self.daemon.terminate()
        if rc != 0:
            self.problems.append(f"the daemon exited with {rc} on SIGTERM")
        self.close_piece()
        self.note("campaign over")

    def corrupt_cache(self, text: str) -> Path:
        """Overwrite 8 KiB in the middle of the cached speech of ``text`` with noise (header intact)."""
        from broadcaster.speech.cache import cache_key
        from broadcaster.speech.engines import EspeakEngine
        from broadcaster.speech.normalize import load_abbreviations, normalize

        spoken = normalize(text, load_abbreviations(None)).strip()
        key = cache_key(spoken, "espeak", EspeakEngine().options())
        path = self.root / "audio" / "cache" / key[:2] / f"{key}.wav"
        if not path.exists():
            raise RuntimeError(
                f"the daemon has not rendered {path} (cache: "
                f"{sorted(p.name for p in (self.root / 'audio' / 'cache').rglob('*.wav'))})"
            )
        data = bytearray(path.read_bytes())
        mid = len(data) // 2
        data[mid : mid + 8192] = random.Random(6).randbytes(8192)
        self.corrupted_sha = hashlib.sha256(bytes(data)).hexdigest()
        with open(path, "r+b") as fh:  # in place, as a failing disk would
            fh.write(data)
        return path

    # -- reconciliation -------------------------------------------------------------------------
    def reconcile(self) -> int:
        for piece in self.pieces:
            r = piece.recording
            piece.onsets = [r.wall_time(x) for x in pulse.find_onsets(r.samples, r.rate, min_gap_s=0.5)]
        plan = self._plan()
        rows = self.project.asrun_rows()
        by_key: dict[str, list[dict]] = {}
        for row in rows:
            by_key.setdefault(row["key"], []).append(row)
        roles = {s.name: s for s in self.slots}
        lines = []
        problems = list(self.problems)
        planned_keys = set()
        for b in plan:
            key, slot = b["key"], roles.get(b["slot"])
            planned_keys.add(key)
            at = datetime.fromisoformat(b["at"]).timestamp()
            mine = sorted(by_key.get(key, []), key=lambda r: r["id"])
            statuses = [r["status"] for r in mine]
            final = statuses[-1] if statuses else "—"
            expected = slot.expected if slot else "?"
            verdict, onset_txt, engines_txt = [], "", ""
            if not mine:
                verdict.append("NO ROW")
            if statuses.count("played") > 1:
                verdict.append("played twice")
            if "started" in statuses:
                verdict.append("row left 'started'")
            if final != expected:
                verdict.append(f"expected {expected}")
            for r in mine:
                if r["status"] != "played" and not (r["error"] or "").strip():
                    verdict.append(f"{r['status']} without a reason")
            played = [r for r in mine if r["status"] == "played"]
            if played:
                r = played[0]
                engines = json.loads(r["engines"] or "{}")
                engines_txt = ",".join(sorted(set(engines.values()))) or "none"
                if not engines or set(engines.values()) != {"espeak"}:
                    verdict.append(f"engines {engines} (want espeak)")
                started = datetime.fromisoformat(r["started_at"]).timestamp() if r["started_at"] else at
                # Two separate questions. Is the log truthful: did the sink hear the broadcast when the
                # as-run row says it started? And was it punctual: did it start at its planned time,
                # unless it was a catch-up (T) or queued behind a broadcast still on air?
                hit, offset = self._onset_near(started, window=(-ONSET_TOLERANCE_S, ONSET_TOLERANCE_S))
                late = started - at
                if hit is None:
                    verdict.append("not in any recording")
                    onset_txt = "none"
                elif late > ONSET_TOLERANCE_S:
                    onset_txt = f"{offset * 1000:+.0f} ms from started_at ({late:.1f} s late)"
                else:
                    onset_txt = f"{(hit - at) * 1000:+.0f} ms"
                if (
                    late > ONSET_TOLERANCE_S
                    and slot is not None
                    and slot.role != "T"
                    and not self._queued_behind(rows, at, exclude=key)
                ):
                    verdict.append(f"started {late:.1f} s late with nothing else on air")
            heard_txt, wrong = self._proof_check(slot, mine)
            verdict += wrong
            if final == "missed":
                hit, offset = self._onset_near(at, window=(-ONSET_TOLERANCE_S, ONSET_TOLERANCE_S))
                if hit is not None:
                    verdict.append("logged missed but audible at its time")
            reason = next((r["error"] for r in reversed(mine) if r["status"] != "played" and r["error"]), "") or ""
            ok = not verdict
            if not ok:
                problems.append(f"{b['slot']}: {'; '.join(verdict)}")
            lines.append(
                (
                    b["slot"],
                    slot.role if slot else "?",
                    datetime.fromisoformat(b["at"]).strftime("%H:%M:%S"),
                    expected,
                    "→".join(statuses) or "—",
                    engines_txt,
                    onset_txt,
                    heard_txt,
                    "ok" if ok else "; ".join(verdict),
                    reason[:70],
                )
            )
        for key, group in by_key.items():
            if key not in planned_keys:
                problems.append(f"row(s) for {key} not in the plan: {[r['status'] for r in group]}")
        wanted = {s.name for s in self.slots}
        planned_slots = {b["slot"] for b in plan}
        if wanted != planned_slots:
            problems.append(
                f"plan and soak disagree: missing {sorted(wanted - planned_slots)}, "
                f"extra {sorted(planned_slots - wanted)}"
            )
        problems += self._other_checks()
        self._print(lines, problems, len(rows))
        return 1 if problems else 0

    def _proof_check(self, slot: Slot | None, rows: list[dict]) -> tuple[str, list[str]]:
        """What the monitor made of a broadcast (for the table) and what is wrong with it.

        Every ``played`` broadcast must be heard: the loudspeakers were never off during one except
        the dead-air broadcast, which is still heard (its dead air is reported at the right place).
        The muted one is ``not_heard`` and its alert reaches the webhook soon after it ends.
        """
        final = rows[-1] if rows else None
        if final is None or final["status"] not in ("played", "not_heard"):
            return "", []
        proof = json.loads(final["proof"] or "{}")
        wrong: list[str] = []
        heard = {1: "heard", 0: "NOT heard", None: "not checked"}.get(final["heard"], str(final["heard"]))
        text = heard + (f" {proof['delay_ms']:.0f} ms" if proof.get("delay_ms") is not None else "")
        if final["status"] == "played" and final["heard"] != 1:
            wrong.append(f"played but {heard}: {proof.get('note')}")
        if final["status"] == "not_heard" and final["heard"] != 0:
            wrong.append(f"not_heard with heard={final['heard']}")
        role = slot.role if slot else "?"
        spans = proof.get("dead_air") or []
        if role != "D" and spans:
            wrong.append(f"dead air reported on a healthy broadcast: {spans}")
        if role == "U":
            ended = datetime.fromisoformat(final["ended_at"]).timestamp() if final["ended_at"] else 0.0
            got = self.hook.alerts("not_heard", since=ended - 1)
            if not got:
                wrong.append("no not_heard alert reached the webhook")
            else:
                text += f", alert {got[0][0] - ended:+.1f} s after its end"
                if got[0][0] - ended > ALERT_WITHIN_S:
                    wrong.append(f"the not_heard alert came {got[0][0] - ended:.1f} s after the broadcast ended")
        if role == "D" and final["started_at"] and slot is not None and slot.name in self.muted:
            muted_at, unmuted_at = self.muted[slot.name]
            at_s = muted_at - datetime.fromisoformat(final["started_at"]).timestamp()
            near = [d for d in spans if abs(d["at_s"] - at_s) <= DEAD_AIR_TOLERANCE_S]
            if not near:
                wrong.append(f"dead air muted at {at_s:.1f} s into it not reported (spans: {spans})")
            else:
                d = near[0]
                text += f", dead air at {d['at_s']:.1f} s for {d['seconds']:.1f} s (muted at {at_s:.1f} s)"
                if d["seconds"] < DEAD_AIR_S - DEAD_AIR_TOLERANCE_S:
                    wrong.append(f"dead air reported as {d['seconds']:.1f} s, muted for {DEAD_AIR_S:g} s")
            got = self.hook.alerts("dead_air", since=muted_at)
            if not got:
                wrong.append("no dead_air alert reached the webhook")
            else:
                late = got[0][0] - muted_at
                text += f", alert {late:.1f} s after the mute"
                if late > ALERT_WITHIN_S:
                    wrong.append(f"the dead_air alert came {late:.1f} s after the mute")
        return text, wrong

    def _false_alerts(self) -> list[str]:
        """Monitor alerts must come only from the faults made for them (no false alarm on a healthy broadcast)."""
        problems = []
        # Dead air is alerted live during the muted broadcast too: its loudspeakers were silent on air.
        faults = {"dead_air": "DU", "not_heard": "U"}
        for kind, roles in faults.items():
            when = [self.muted[s.name] for s in self.slots if s.role in roles and s.name in self.muted]
            for t, alert in self.hook.alerts(kind):
                if alert.get("state") == "firing" and not any(a <= t <= b + ALERT_WITHIN_S for a, b in when):
                    problems.append(
                        f"a false '{kind}' alert at {datetime.fromtimestamp(t):%H:%M:%S}: {alert['message']}"
                    )
        return problems

    def _plan(self) -> list[dict]:
        import subprocess

        r = subprocess.run(
            [*harness.BROADCASTER, "plan", "--json", "--schedule", str(self.project.schedule_path)],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if r.returncode != 0:
            self.problems.append(f"broadcaster plan failed: {r.stderr.strip()}")
            return []
        lo = self.slots[0].at.timestamp() - 1
        hi = self.slots[-1].at.timestamp() + 1
        return [b for b in json.loads(r.stdout) if lo <= datetime.fromisoformat(b["at"]).timestamp() <= hi]

    @staticmethod
    def _queued_behind(rows: list[dict], at: float, *, exclude: str) -> bool:
        """Whether another broadcast was on air at ``at`` or ended just before it (so a late start was queued)."""
        for r in rows:
            if r["key"] == exclude or not r["started_at"] or not r["ended_at"]:
                continue
            start = datetime.fromisoformat(r["started_at"]).timestamp()
            end = datetime.fromisoformat(r["ended_at"]).timestamp()
            if start < at and end > at - QUEUE_SETTLE_S:
                return True
        return False

    def _onset_near(self, target: float, window: tuple[float, float]) -> tuple[float | None, float]:
        best = None
        for piece in self.pieces:
            for t in piece.onsets:
                d = t - target
                if window[0] <= d <= window[1] and (best is None or abs(d) < abs(best - target)):
                    best = t
        return best, (best - target) if best is not None else 0.0

    def _other_checks(self) -> list[str]:
        problems = self._false_alerts()
        gtts = ((self.final_status or {}).get("engines") or {}).get("gtts") or {}
        if self.final_status is None:
            pass
        elif not gtts.get("last_failed") or gtts.get("reachable") is not False:
            problems.append(f"gTTS should have been tried and found unreachable: {gtts}")
        else:
            self.note(f"gTTS at the end: unreachable, last error: {gtts.get('last_error')}")
        if getattr(self, "corrupted", None) is not None:
            path = self.corrupted
            meta = path.with_suffix(".json")
            if not path.exists() or not meta.exists():
                problems.append(f"the corrupted cache entry {path.name} was not rendered again")
            else:
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
                if sha == self.corrupted_sha or sha != json.loads(meta.read_text())["sha256"]:
                    problems.append("the corrupted cache file is still corrupt")
                else:
                    self.note("corrupted cache entry was discarded and rendered again (checksum verifies)")
        return problems

    def _print(self, lines: list[tuple], problems: list[str], nrows: int) -> None:
        head = (
            "slot",
            "role",
            "planned",
            "expected",
            "as-run",
            "engines",
            "onset at the sink",
            "proof of play (monitor)",
            "verdict",
            "reason",
        )
        widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
        print("\nReconciliation: plan (broadcaster plan --json, final schedule) × as-run log × sink recordings")
        print(
            "roles: n normal · L sound server killed · A added by the good edit · C cache corrupted · "
            "K daemon SIGKILLed · M due while down, beyond grace · T due while down, within grace · "
            "U loudspeakers muted · D dead air in the middle"
        )
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row in lines:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        spans = ", ".join(
            f"{datetime.fromtimestamp(p.recording.t0_wall):%H:%M:%S}+{p.recording.duration:.0f}s" for p in self.pieces
        )
        print(f"\n{len(lines)} planned, {nrows} as-run rows, {len(self.pieces)} recordings ({spans}).")
        if problems:
            print(f"DISCREPANCIES ({len(problems)}):")
            for p in problems:
                print(f"  - {p}")
        else:
            print(
                "No discrepancy: every planned broadcast is accounted for, none played twice, every 'played' "
                "one is audible at its start and heard by the monitor, the muted one is 'not_heard', the dead "
                "air is found where it was made, both alerted; espeak carried all of them."
            )


def _threads(pid: int) -> str:
    """Each thread's name, state, kernel wait channel and CPU ticks gained over one second."""

    def snap() -> dict:
        out = {}
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                stat = (task / "stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                out[task.name] = (
                    (task / "comm").read_text().strip(),
                    fields[0],
                    (task / "wchan").read_text().strip() or "-",
                    int(fields[11]) + int(fields[12]),
                )
            except OSError:
                continue
        return out

    try:
        a = snap()
        time.sleep(1.0)
        b = snap()
    except OSError as exc:
        return f"(cannot read /proc/{pid}: {exc})"
    return "; ".join(
        f"{name}[{tid}] {state} {wchan} +{ticks - a.get(tid, (0, 0, 0, ticks))[3]}"
        for tid, (name, state, wchan, ticks) in sorted(b.items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help=f"{len(SHORT_PLAN)} broadcasts 8 s apart (~3 min)")
    parser.add_argument("--keep", action="store_true", help="keep the project folder (as-run log, cache) afterwards")
    args = parser.parse_args(argv)
    why = pulse.pulseaudio_available()
    if why:
        print(f"no PulseAudio here: {why}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="loa-soak-"))
    t0 = time.time()
    soak = Soak(args.short, root)
    try:
        try:
            soak.run()
        except Exception as exc:  # noqa: BLE001 - report what happened so far, with the daemon's log
            import traceback

            traceback.print_exc()
            soak.problems.append(f"the soak stopped early: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            daemon = getattr(soak, "daemon", None)
            if daemon is not None:
                daemon.kill()
            soak.final_status = None  # not reached: no end-of-run status to check
        code = soak.reconcile()
    finally:
        if args.keep:
            print(f"project kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    soak.hook.close()
    print(f"soak {'short' if args.short else 'full'}: {time.time() - t0:.0f} s, exit {code}")
    if code:
        for item in getattr(soak, "diagnosis", []):
            print(item)
        if hasattr(soak, "daemon"):
            print("--- daemon log (last lines) ---\n" + soak.daemon.log())
        print("--- sound server log (tail) ---\n" + getattr(soak, "pulse_log", "")[-3000:])
    return code


if __name__ == "__main__":
    sys.exit(main())
