"""A zone's proof of play from its receivers: each receiver's monitor reports what it heard.

A receiver sends one result per programme it played (``piece`` 0, 1, … for a programme longer
than a piece, see :mod:`broadcaster.proof.stream`). The station merges them into the as-run
row of that zone's broadcast, under ``proof["receivers"][name]``; the zone's verdict is:

* heard when at least one receiver heard it (the others get their own alert),
* not heard when every receiver that checked it did not,
* unknown (None) while no receiver with a monitor has reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broadcaster.fmt import decimal

#: what of a receiver's result is kept in the row
PIECE_FIELDS = ("started_at", "seconds", "heard", "delay_ms", "level_db", "dead_air", "note", "method")


def _verdict(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    if any(v is False for v in values):
        return False
    return None


def merge_receiver_proof(
    proof: dict[str, Any] | None, receiver: str, piece: dict[str, Any], row_started: float
) -> dict[str, Any]:
    """``proof`` (the row's, may be None) with ``receiver``'s result for one piece merged in."""
    out = dict(proof or {})
    receivers = dict(out.get("receivers") or {})
    mine = dict(receivers.get(receiver) or {})
    pieces = dict(mine.get("pieces") or {})
    pieces[str(int(piece.get("piece") or 0))] = {k: piece.get(k) for k in PIECE_FIELDS}
    ordered = [pieces[k] for k in sorted(pieces, key=int)]
    spans = []
    for p in ordered:
        offset = _wall(p.get("started_at")) - row_started
        for d in p.get("dead_air") or []:
            spans.append({**d, "at_s": round(offset + float(d.get("at_s") or 0.0), 2)})
    first = ordered[0]
    delay = None
    if first.get("delay_ms") is not None:
        delay = round((_wall(first.get("started_at")) - row_started) * 1000 + float(first["delay_ms"]), 1)
    mine.update(
        pieces=pieces,
        heard=_verdict([p.get("heard") for p in ordered]),
        delay_ms=delay,
        dead_air=spans,
        note=next((p.get("note") for p in ordered if p.get("note")), None),
    )
    receivers[receiver] = mine
    heard = _verdict([r.get("heard") for r in receivers.values()])
    out.update(receivers=receivers, heard=heard, method="receivers", note=_note(receivers))
    out.setdefault("dead_air", [])
    return out


def _wall(iso: Any) -> float:
    return datetime.fromisoformat(str(iso)).timestamp()


def _note(receivers: dict[str, dict[str, Any]]) -> str:
    """Vietnamese, for the log and the report: how many clusters heard it, which did not."""
    heard = sorted(n for n, r in receivers.items() if r.get("heard") is True)
    missed = sorted(n for n, r in receivers.items() if r.get("heard") is False)
    dead = sorted(n for n, r in receivers.items() if r.get("dead_air"))
    parts = [f"{len(heard)}/{len(receivers)} cụm loa nghe thấy"]
    if missed:
        parts.append(f"không nghe thấy: {', '.join(missed)}")
    if dead:
        total = sum(float(d.get("seconds") or 0) for n in dead for d in receivers[n]["dead_air"])
        parts.append(f"mất tiếng giữa chừng ({decimal(total)} giây): {', '.join(dead)}")
    return "; ".join(parts) + "."
