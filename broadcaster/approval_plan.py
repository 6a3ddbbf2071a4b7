"""Which of the schedule's content still needs a leader's approval (for ``check``, ``approve`` and the console)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broadcaster.approval import ApprovalStore, Unapproved
    from broadcaster.schedule.model import Item, Schedule


def schedule_items(schedule: Schedule) -> list[tuple[Item, list[str]]]:
    """Each distinct item of the enabled, non-emergency slots, with the names of the slots using it."""
    from broadcaster.schedule.model import Priority

    found: dict[tuple[str, str], tuple[Item, list[str]]] = {}
    for slot in schedule.slots:
        if not slot.enabled or slot.priority >= Priority.EMERGENCY:
            continue
        for item in slot.play:
            _, slots = found.setdefault((item.kind.value, item.value), (item, []))
            if slot.name not in slots:
                slots.append(slot.name)
    return list(found.values())


def unapproved_in_schedule(
    schedule: Schedule, store: ApprovalStore, *, always: bool = False
) -> list[tuple[Unapproved, list[str]]]:
    """Unapproved items the schedule's enabled slots air, with their slots (empty unless required or ``always``)."""
    from broadcaster.approval import approval_required, find_unapproved

    if not (always or approval_required(schedule)):
        return []
    rows = schedule_items(schedule)
    missing = find_unapproved([item for item, _ in rows], store, schedule.campaign.timezone)
    slots_of = {item: slots for item, slots in rows}
    return [(u, slots_of[u.item]) for u in missing]
