"""The investigator's judgement: confirm or reject a link, split a work, attach notes.

Every judgement names who made it and may say why; all of it is kept (a rejected link stays in
the ledger as "rejected", never deleted) and shows in ``history`` and in exports. A rejected link
is never re-created by a later scan (``Ledger.add_link`` refuses any pair already linked, in
either direction, whatever its status). Each function commits, after re-deriving the chains of
the works it changed.

Rejecting a link that held a work together splits the work: the part with the oldest item
keeps the id. ``split_work`` does the same for a set of items the investigator names, by
rejecting every link between them and the rest; the named items go to a new work.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import NotFoundError, ProvenanceError
from .ledger import Ledger
from .ledger_works import WorkChanges
from .works import refresh


@dataclass
class Review:
    """What a judgement changed."""

    work_id: int | None
    new_work_ids: list[int] = field(default_factory=list)
    link_ids: list[int] = field(default_factory=list)
    report: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"work_id": self.work_id, "new_work_ids": self.new_work_ids, "link_ids": self.link_ids,
                "changes": self.report}


def reviewer(name: str | None = None) -> str:
    """Who is judging: the name given, else $PROVENANCE_USER, else the login name."""
    if name:
        return name
    try:
        return os.environ.get("PROVENANCE_USER") or getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def find_link(ledger: Ledger, ref: str) -> int:
    """A link id from "12" (a link id) or "3:7" (the two items it joins, in either order)."""
    text = ref.strip()
    if ":" in text:
        a, _, b = text.partition(":")
        if not (a.strip().isdigit() and b.strip().isdigit()):
            raise ProvenanceError(f"{ref}: expected a link id or ITEM:ITEM")
        link = ledger.link_between(int(a), int(b))
        if link is None:
            raise NotFoundError(f"no link between items {a.strip()} and {b.strip()}")
        return link
    if not text.isdigit():
        raise ProvenanceError(f"{ref}: expected a link id or ITEM:ITEM")
    return int(text)


def reject_link(ledger: Ledger, link_id: int, *, by: str | None = None, note: str | None = None) -> Review:
    """Mark a link as wrong: kept as rejected, with who and why; splits the work if it must."""
    return _set_status(ledger, link_id, "rejected", by, note)


def confirm_link(ledger: Ledger, link_id: int, *, by: str | None = None, note: str | None = None) -> Review:
    """Confirm a link (a rejected one becomes accepted again, and its works merge)."""
    return _set_status(ledger, link_id, "confirmed", by, note)


def _set_status(ledger: Ledger, link_id: int, status: str, by: str | None, note: str | None) -> Review:
    changes = ledger.set_link_status(link_id, status, actor=reviewer(by), note=note)
    report = refresh(ledger, changes=changes)
    work = min(changes.touched) if changes.touched else None
    work = ledger.resolve_work_id(work) if work is not None else None
    ledger.commit()
    return Review(work, [new for _, new in changes.split], [link_id], report)


def split_work(ledger: Ledger, work_id: int, item_ids: Iterable[int], *, by: str | None = None,
               note: str | None = None) -> Review:
    """Take these items out of a work into a new one, rejecting every link that joined them."""
    work_id = ledger.resolve_work_id(work_id)
    members = set(ledger.work_item_ids(work_id))
    moved = set(item_ids)
    if not moved:
        raise ProvenanceError("name the items to split off")
    strangers = sorted(moved - members)
    if strangers:
        raise NotFoundError(f"item(s) {', '.join(map(str, strangers))} are not in work W{work_id}")
    if moved == members:
        raise ProvenanceError(f"those are all the items of W{work_id}: nothing would be left")
    who = reviewer(by)
    why = f"split from W{work_id}" + (f": {note}" if note else "")
    cut = [row[0] for row in ledger.link_facts(moved) if (row[1] in moved) != (row[2] in moved)]
    changes = WorkChanges()
    for link_id in cut:
        changes.update(ledger.set_link_status(link_id, "rejected", actor=who, note=why, resplit=False))
    new = ledger.resplit_work(work_id, members - moved, actor=who, note=why)
    changes.split += [(work_id, n) for n in new]
    changes.touched |= {work_id, *new}
    report = refresh(ledger, changes=changes)
    ledger.commit()
    new_ids = sorted({n for w, n in changes.split})
    return Review(work_id, new_ids, cut, report)


def add_note(ledger: Ledger, text: str, *, item_id: int | None = None, work_id: int | None = None,
             by: str | None = None) -> int:
    """Attach a note to an item or a work; returns the note's id."""
    if not text.strip():
        raise ProvenanceError("a note needs some text")
    if (item_id is None) == (work_id is None):
        raise ProvenanceError("a note goes on one item or one work")
    if item_id is not None:
        ledger.item(item_id)
    else:
        work_id = ledger.resolve_work_id(work_id)
    note_id = ledger.add_note(text.strip(), item_id=item_id, work_id=work_id, author=reviewer(by))
    ledger.commit()
    return note_id
