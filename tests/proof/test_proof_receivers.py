"""A zone's proof of play from its receivers' monitors: merged into the zone's as-run row (real SQLite).

The receiver side (``StreamProver`` on a real sound card) is in ``test_proof_pulse.py``; the
whole path (daemon → Icecast → ``broadcaster receive --monitor`` → heartbeat → as-run) in
``tests/zones/test_zones_daemon.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from broadcaster.asrun import AsRunLog
from broadcaster.proof.receivers import merge_receiver_proof

T0 = datetime(2026, 4, 21, 6, 30, tzinfo=UTC)


def piece(at_s: float, heard: bool | None, *, n: int = 0, dead_air: list | None = None, delay_ms: float = 40.0) -> dict:
    return {
        "started_at": (T0 + timedelta(seconds=at_s)).isoformat(),
        "seconds": 10.0,
        "piece": n,
        "heard": heard,
        "delay_ms": delay_ms if heard else None,
        "level_db": -20.0 if heard else None,
        "dead_air": dead_air or [],
        "note": None if heard else "Không nghe thấy chương trình.",
        "method": "monitor:pa_out.monitor",
    }


def test_a_zone_is_heard_when_any_receiver_heard_it_and_spans_are_placed_in_the_broadcast():
    start = T0.timestamp()
    proof = merge_receiver_proof(None, "thon-a", piece(0.2, False), start)
    assert proof["heard"] is False and proof["method"] == "receivers"
    assert proof["note"] == "0/1 cụm loa nghe thấy; không nghe thấy: thon-a."
    proof = merge_receiver_proof(proof, "thon-b", piece(0.25, True), start)
    assert proof["heard"] is True
    assert proof["receivers"]["thon-b"]["delay_ms"] == 290.0  # 250 ms later than the row's start + 40 ms
    # a relay longer than a piece: piece 1 starts 60 s in; its dead air is placed in the broadcast
    dead = [{"at_s": 5.0, "seconds": 4.0, "kind": "silence"}]
    proof = merge_receiver_proof(proof, "thon-b", piece(60.25, True, n=1, dead_air=dead), start)
    assert proof["receivers"]["thon-b"]["dead_air"] == [{"at_s": 65.25, "seconds": 4.0, "kind": "silence"}]
    assert set(proof["receivers"]["thon-b"]["pieces"]) == {"0", "1"}
    assert proof["note"] == ("1/2 cụm loa nghe thấy; không nghe thấy: thon-a; mất tiếng giữa chừng (4,0 giây): thon-b.")
    # the same result sent again (every heartbeat carries the newest) changes nothing
    assert merge_receiver_proof(proof, "thon-b", piece(60.25, True, n=1, dead_air=dead), start) == proof
    # a receiver without a working monitor proves nothing either way
    assert merge_receiver_proof(None, "thon-c", piece(0.1, None), start)["heard"] is None


class Clock:
    """The as-run log's clock, moved by the test (``finish()`` stamps ``ended_at`` with it)."""

    now = T0

    def __call__(self) -> datetime:
        return self.now


def _aired(log: AsRunLog, clock: Clock, zone: str, at: datetime, seconds: float = 10.0) -> int:
    clock.now = at
    row = log.begin(
        key=f"b@{at.isoformat()}",
        planned_at=at,
        source="schedule",
        slot="b",
        title="Bản tin",
        items=[],
        priority="normal",
        zone=zone,
    )
    clock.now = at + timedelta(seconds=seconds)
    log.finish(row, "played", started_at=at, duration_s=seconds)
    return row


def test_receivers_reports_update_the_zone_row_they_belong_to(tmp_path):
    clock = Clock()
    with AsRunLog(tmp_path / "asrun.sqlite", clock=clock) as log:
        east = _aired(log, clock, "thon-dong", T0)
        west = _aired(log, clock, "thon-doai", T0)
        later = _aired(log, clock, "thon-dong", T0 + timedelta(minutes=5))

        got = log.receiver_proof("thon-dong", "thon-a", piece(0.3, False))
        assert got is not None and (got["id"], got["was"], got["status"]) == (east, "played", "not_heard")
        assert got["first_verdict"] is True and got["heard"] is False
        rows = {r["id"]: r for r in log._execute("SELECT * FROM asrun").fetchall()}
        assert rows[east]["heard"] == 0 and rows[east]["error"].startswith("Không cụm loa nào nghe thấy")
        assert rows[west]["heard"] is None and rows[later]["heard"] is None  # other zone, other time: untouched

        got = log.receiver_proof("thon-dong", "thon-b", piece(0.2, True))
        assert got is not None and (got["id"], got["status"]) == (east, "played")
        assert got["first_verdict"] is False  # the row was checked already: counted once in the metrics
        row = log._execute("SELECT * FROM asrun WHERE id=?", (east,)).fetchone()
        assert row["heard"] == 1 and row["error"] is None
        assert set(json.loads(row["proof"])["receivers"]) == {"thon-a", "thon-b"}

        assert log.receiver_proof("thon-dong", "thon-a", piece(120.0, True)) is None  # nothing on air then
        assert log.receiver_proof("khong-co", "thon-a", piece(0.3, True)) is None
