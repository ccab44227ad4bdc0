"""The ledger's store of works: membership, merges and splits, the materialised chain, notes.

Mixed into :class:`provenance.ledger.Ledger` (kept apart so ledger.py stays readable) and, like
ledger.py, the only code that writes these tables. Everything here speaks SQLAlchemy Core on
table objects, never ORM rows, so no stale object can linger in the session's identity map.

The invariant kept here: **a work is a connected component of items over non-rejected match
links**. The ledger notes new items, sightings and links as it writes them, and
:meth:`WorkStore.flush_works` (which :meth:`Ledger.commit` runs first) folds them into works, so
membership commits in the same transaction as the links that cause it:
- an item that links to nothing starts a new work;
- an item that links to one work joins it;
- a link that joins two works merges them: the smaller id survives, the other is recorded as
  ``merged_into_id`` it (so its id still resolves) and a "merged" event names the link;
- rejecting a link that held a work together splits it (:meth:`WorkStore.resplit_work`).

Every change marks the work ``stale``; works.py re-derives its chain and first-seen date.

On PostgreSQL every change of membership first takes one advisory lock, held to the end of the
transaction, and reads membership again under it, so two scans racing on one ledger cannot merge
the same work two ways (SQLite's BEGIN IMMEDIATE serialises writers already).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import Float, bindparam, case, cast, delete, extract, func, insert, or_, select, update

from .errors import NotFoundError
from .models import (
    ChainEdge,
    FingerprintRecord,
    Item,
    LocalFeatureRecord,
    MatchLink,
    Note,
    Outlet,
    SchemaInfo,
    Sighting,
    Work,
    WorkEvent,
    WorkMember,
)

#: pg_advisory_xact_lock key for membership changes (migrate.py's schema lock is 727465).
WORKS_LOCK = 727466
#: Stands for "no claimed date" in the numeric date columns outlets reads (far before any date).
NO_DATE = -1.0e18
_CHUNK = 500
#: schema_info key the baseline migration sets on a ledger from before works (see _upgrade_works).
_BACKFILL = "works_backfill"

_W = Work.__table__
_M = WorkMember.__table__
_E = WorkEvent.__table__
_C = ChainEdge.__table__
_N = Note.__table__


@dataclass
class WorkChanges:
    """What a flush (or a review) did to works, for refreshing chains and for scan reports."""

    created: set[int] = field(default_factory=set)
    #: (surviving work, absorbed work, the link that joined them)
    merged: list[tuple[int, int, int | None]] = field(default_factory=list)
    #: (work that kept its id, work split off from it)
    split: list[tuple[int, int]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    new_sightings: set[int] = field(default_factory=set)

    def update(self, other: "WorkChanges") -> None:
        self.created |= other.created
        self.merged += other.merged
        self.split += other.split
        self.touched |= other.touched
        self.new_sightings |= other.new_sightings


class WorkStore:
    """Store methods for works; see the module docstring. Needs ``session`` and ``engine``."""

    # --- noting what the ledger writes ---------------------------------------------------------

    def _init_work_tracking(self) -> None:
        #: chain_facts.judge_surrounds' verdicts, by link id and the time the link was written (an
        #: id that a rollback freed comes back with another time).
        self.surround_judgements: dict[tuple[int, datetime], tuple[str | None, str | None]] = {}
        self._pending_items: set[int] = set()
        self._pending_links: list[tuple[int, int, int]] = []  # (link id, item a, item b)
        self._pending_sightings: dict[int, int] = {}  # sighting id -> item id

    def _note_new_item(self, item_id: int) -> None:
        self._pending_items.add(item_id)

    def _note_new_sighting(self, sighting_id: int, item_id: int) -> None:
        self._pending_sightings[sighting_id] = item_id

    def _note_new_link(self, link_id: int, a: int, b: int) -> None:
        self._pending_links.append((link_id, a, b))

    def _forget_pending(self) -> None:
        self._pending_items.clear()
        self._pending_links.clear()
        self._pending_sightings.clear()

    def lock_works(self) -> None:
        """Serialise membership changes across processes (PostgreSQL; a no-op on SQLite)."""
        if self.engine.dialect.name == "postgresql":
            self.session.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({WORKS_LOCK})")

    # --- membership ----------------------------------------------------------------------------

    def flush_works(self, actor: str | None = None) -> WorkChanges:
        """Fold the items, links and sightings written since the last flush into works."""
        changes = WorkChanges(new_sightings=set(self._pending_sightings))
        if not (self._pending_items or self._pending_links or self._pending_sightings):
            return changes
        self.session.flush()
        self.lock_works()
        links = list(self._pending_links)
        items = set(self._pending_items) | set(self._pending_sightings.values())
        items |= {a for _, a, _ in links} | {b for _, _, b in links}
        work_of = self.work_ids_of(items)
        now = _utcnow()

        # Union-find over groups: an assigned item stands for its work, a new one for itself.
        uf = _UnionFind()
        works_in: dict[tuple, set[int]] = {}
        for item in items:
            node = ("w", work_of[item]) if item in work_of else ("i", item)
            works_in.setdefault(uf.find(node), {work_of[item]} if item in work_of else set())
        events: list[tuple[int, int, int, int | None]] = []  # (survivor, absorbed, link, new item)
        for link_id, a, b in links:
            ra = uf.find(("w", work_of[a]) if a in work_of else ("i", a))
            rb = uf.find(("w", work_of[b]) if b in work_of else ("i", b))
            if ra == rb:
                continue
            wa, wb = works_in.pop(ra), works_in.pop(rb)
            if wa and wb:
                survivor, absorbed = sorted((min(wa), min(wb)))
                bridging = a if a not in work_of else b if b not in work_of else None
                events.append((survivor, absorbed, link_id, bridging))
            works_in[uf.union(ra, rb)] = wa | wb

        members: dict[tuple, list[int]] = {}
        for item in items:
            members.setdefault(uf.find(("w", work_of[item]) if item in work_of else ("i", item)), []).append(item)
        new_members: list[dict] = []
        for root, group_items in members.items():
            works = works_in[root]
            new_items = sorted(i for i in group_items if i not in work_of)
            if works:
                survivor = min(works)
                absorbed = sorted(works - {survivor})
                if absorbed:
                    self._absorb(survivor, absorbed, now)
                    changes.merged += [(s, x, ln) for s, x, ln, _ in events if x in absorbed]
            else:
                survivor = self._new_work(now)
                changes.created.add(survivor)
            new_members += [{"item_id": i, "work_id": survivor} for i in new_items]
            changes.touched.add(survivor)
        if new_members:
            self.session.execute(insert(_M), new_members)
        if events:
            self.session.execute(insert(_E), [
                {"work_id": s, "kind": "merged", "other_work_id": x, "link_id": ln, "item_id": item,
                 "actor": actor or "scan", "note": None, "at": now}
                for s, x, ln, item in events
            ])
        self.mark_stale(changes.touched, now)
        self._forget_pending()
        return changes

    def _new_work(self, now: datetime) -> int:
        result = self.session.execute(insert(_W).values(created_at=now, updated_at=now, stale=True, flags_json="[]"))
        return int(result.inserted_primary_key[0])

    def _absorb(self, survivor: int, absorbed: list[int], now: datetime) -> None:
        self.session.execute(update(_M).where(_M.c.work_id.in_(absorbed)).values(work_id=survivor))
        # Point works merged earlier straight at the survivor, so resolving an id is one step.
        self.session.execute(
            update(_W).where(or_(_W.c.id.in_(absorbed), _W.c.merged_into_id.in_(absorbed)))
            .values(merged_into_id=survivor, stale=False, updated_at=now)
        )
        self.session.execute(update(_C).where(_C.c.work_id.in_(absorbed)).values(work_id=survivor))

    def mark_stale(self, work_ids: Iterable[int], now: datetime | None = None) -> None:
        """Say that these works' derived chain and first-seen date must be computed again."""
        ids = sorted(set(work_ids))
        for chunk in _chunks(ids, _CHUNK):
            self.session.execute(update(_W).where(_W.c.id.in_(chunk)).values(stale=True, updated_at=now or _utcnow()))

    def resplit_work(self, work_id: int, keep_with: set[int] | None = None, *, actor: str | None = None,
                     note: str | None = None) -> list[int]:
        """Split a work along its connected components after links were rejected.

        The part holding the smallest item of ``keep_with`` (default: of the whole work) keeps
        the id; every other part becomes a new work, with a "split" event. Returns the new ids.
        """
        self.session.flush()
        self.lock_works()
        items = self.work_item_ids(work_id)
        uf = _UnionFind()
        for a, b in self.session.execute(
            select(MatchLink.earlier_item_id, MatchLink.later_item_id)
            .join(WorkMember, WorkMember.item_id == MatchLink.earlier_item_id)
            .where(WorkMember.work_id == work_id, MatchLink.status != "rejected")
        ):
            uf.union(a, b)
        parts: dict[int, list[int]] = {}
        for item in items:
            parts.setdefault(uf.find(item), []).append(item)
        if len(parts) <= 1:
            return []
        anchor = min((keep_with & set(items)) or items) if keep_with is not None else min(items)
        now = _utcnow()
        new_ids = []
        for part in sorted(parts.values(), key=min):
            if anchor in part:
                continue
            new_id = self._new_work(now)
            for chunk in _chunks(sorted(part), _CHUNK):
                self.session.execute(update(_M).where(_M.c.item_id.in_(chunk)).values(work_id=new_id))
            self.session.execute(insert(_E).values(work_id=work_id, kind="split", other_work_id=new_id,
                                                   actor=actor, note=note, at=now))
            new_ids.append(new_id)
        self.mark_stale([work_id, *new_ids], now)
        return new_ids

    def set_link_status(self, link_id: int, status: str, *, actor: str | None, note: str | None,
                        resplit: bool = True) -> WorkChanges:
        """Confirm or reject a link, keeping works consistent; records who and why.

        ``resplit=False`` leaves splitting to the caller (who splits once after several rejections).
        """
        self.lock_works()
        row = self.session.get(MatchLink, link_id)
        if row is None:
            raise NotFoundError(f"no link {link_id} in the ledger")
        before = row.status
        row.status, row.reviewed_by, row.review_note = status, actor, note
        self.session.add(row)
        self.session.flush()
        work = self.work_ids_of([row.earlier_item_id]).get(row.earlier_item_id)
        changes = WorkChanges()
        if status == "rejected" and before != "rejected" and work is not None and resplit:
            new = self.resplit_work(work, actor=actor, note=f"link {link_id} rejected" + (f": {note}" if note else ""))
            changes.split += [(work, n) for n in new]
            changes.touched |= {work, *new}
        elif before == "rejected" and status != "rejected":
            self._note_new_link(link_id, row.earlier_item_id, row.later_item_id)
            changes.update(self.flush_works(actor=actor))
        if work is not None:
            work = self.resolve_work_id(work)
            self.session.execute(insert(_E).values(
                work_id=work, kind=f"link_{status}", link_id=link_id, item_id=row.later_item_id,
                actor=actor, note=note, at=_utcnow()))
            changes.touched.add(work)
            self.mark_stale([work])
        return changes

    def link_between(self, a: int, b: int) -> int | None:
        """The id of the link joining two items (either direction, any status)."""
        return self.session.execute(select(MatchLink.id).where(or_(
            (MatchLink.earlier_item_id == a) & (MatchLink.later_item_id == b),
            (MatchLink.earlier_item_id == b) & (MatchLink.later_item_id == a)))).scalar()

    def backfill_works(self) -> WorkChanges:
        """Give every item that has no work one (ledgers from before works, bulk loads)."""
        self.session.flush()
        # Video keyframes (kind "frame") and parts of pictures (kind "part") take no part in works:
        # links name their video, or the picture the part was cut from, instead.
        orphans = [i for (i,) in self.session.execute(
            select(Item.id).outerjoin(WorkMember, WorkMember.item_id == Item.id)
            .where(WorkMember.item_id.is_(None), Item.kind.not_in(("frame", "part")))
        )]
        if not orphans:
            return WorkChanges()
        self._pending_items.update(orphans)
        orphan_set = set(orphans)
        for link_id, a, b in self.session.execute(
            select(MatchLink.id, MatchLink.earlier_item_id, MatchLink.later_item_id)
            .where(MatchLink.status != "rejected").order_by(MatchLink.id)
        ):
            if a in orphan_set or b in orphan_set:
                self._pending_links.append((link_id, a, b))
        return self.flush_works(actor="upgrade")

    def _upgrade_works(self) -> None:
        """Give every item its work in a ledger from before works (schema 1), once.

        The baseline migration marks such a ledger (schema_info ``works_backfill``); the backfill
        is done here, not in the migration, because it runs the chain code. The mark goes in the
        same transaction, under the works lock, so a process that waited finds it gone.
        """
        key = SchemaInfo.__table__.c.key
        if self.session.execute(select(SchemaInfo.value).where(key == _BACKFILL)).scalar() is None:
            self.session.commit()
            return
        self.lock_works()  # two processes opening one PostgreSQL ledger: one backfills
        if self.session.execute(select(SchemaInfo.value).where(key == _BACKFILL)).scalar() is not None:
            self.backfill_works()
            self.session.execute(delete(SchemaInfo.__table__).where(key == _BACKFILL))
        self.session.commit()

    # --- reading works -------------------------------------------------------------------------

    def work_ids_of(self, item_ids: Iterable[int]) -> dict[int, int]:
        """The work of each item that has one, by item id."""
        out: dict[int, int] = {}
        for chunk in _chunks(sorted(set(item_ids)), _CHUNK):
            out.update(self.session.execute(select(_M.c.item_id, _M.c.work_id).where(_M.c.item_id.in_(chunk))).all())
        return out

    def work_item_ids(self, work_id: int) -> list[int]:
        """The items of a work, in id order."""
        return list(self.session.execute(select(_M.c.item_id).where(_M.c.work_id == work_id).order_by(_M.c.item_id)).scalars())

    def members(self, work_ids: Iterable[int]) -> dict[int, list[int]]:
        """The items of each work, by work id."""
        out: dict[int, list[int]] = {}
        for chunk in _chunks(sorted(set(work_ids)), _CHUNK):
            for item, work in self.session.execute(select(_M.c.item_id, _M.c.work_id).where(_M.c.work_id.in_(chunk))):
                out.setdefault(work, []).append(item)
        return out

    def work_row(self, work_id: int) -> dict:
        """One work's stored row, as a dict (NotFoundError if there is none)."""
        row = self.session.execute(select(_W).where(_W.c.id == work_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no work W{work_id} in the ledger")
        return dict(row)

    def work_rows(self, work_ids: Iterable[int]) -> dict[int, dict]:
        out = {}
        for chunk in _chunks(sorted(set(work_ids)), _CHUNK):
            for row in self.session.execute(select(_W).where(_W.c.id.in_(chunk))).mappings():
                out[row["id"]] = dict(row)
        return out

    def resolve_work_id(self, work_id: int) -> int:
        """The live work an id stands for (a merged work's id leads to the work it joined)."""
        row = self.work_row(work_id)
        return row["merged_into_id"] or work_id

    def merged_work_ids(self, work_id: int) -> list[int]:
        """The ids of works merged into this one."""
        return list(self.session.execute(select(_W.c.id).where(_W.c.merged_into_id == work_id).order_by(_W.c.id)).scalars())

    def stale_work_ids(self) -> list[int]:
        """Live works whose derived chain is out of date."""
        return list(self.session.execute(
            select(_W.c.id).where(_W.c.stale.is_(True), _W.c.merged_into_id.is_(None)).order_by(_W.c.id)).scalars())

    def live_work_ids(self) -> list[int]:
        return list(self.session.execute(select(_W.c.id).where(_W.c.merged_into_id.is_(None)).order_by(_W.c.id)).scalars())

    def work_events(self, work_ids: Iterable[int]) -> list[dict]:
        ids = sorted(set(work_ids))
        rows = self.session.execute(select(_E).where(or_(_E.c.work_id.in_(ids), _E.c.other_work_id.in_(ids)))
                                    .order_by(_E.c.at, _E.c.id)).mappings()
        return [dict(r) for r in rows]

    # --- facts for chain inference ------------------------------------------------------------

    def item_facts(self, item_ids: Iterable[int]) -> list:
        """(id, kind, media_format, width, height, file_size, exif_taken_at, first_indexed_at, exif_json)."""
        cols = (Item.id, Item.kind, Item.media_format, Item.width, Item.height, Item.file_size,
                Item.exif_taken_at, Item.first_indexed_at, Item.exif_json)
        return self._in_chunks(select(*cols), Item.id, item_ids)

    def sighting_facts(self, item_ids: Iterable[int]) -> list:
        """(id, item_id, outlet_id, outlet, url, path, published_at, precision, source, indexed_at)."""
        stmt = select(Sighting.id, Sighting.item_id, Sighting.outlet_id, Outlet.name, Sighting.url, Sighting.path,
                      Sighting.published_at, Sighting.published_precision, Sighting.published_source,
                      Sighting.indexed_at).join(Outlet, Outlet.id == Sighting.outlet_id, isouter=True)
        return self._in_chunks(stmt, Sighting.item_id, item_ids)

    def link_facts(self, item_ids: Iterable[int], include_rejected: bool = False) -> list:
        """(id, earlier, later, method, distance, status, evidence_json, found_at, reviewed_by, review_note)
        of links touching these items."""
        ids = sorted(set(item_ids))
        cols = (MatchLink.id, MatchLink.earlier_item_id, MatchLink.later_item_id, MatchLink.method,
                MatchLink.distance, MatchLink.status, MatchLink.evidence_json, MatchLink.found_at,
                MatchLink.reviewed_by, MatchLink.review_note)
        found = {}
        for column in (MatchLink.earlier_item_id, MatchLink.later_item_id):
            stmt = select(*cols)
            if not include_rejected:
                stmt = stmt.where(MatchLink.status != "rejected")
            for row in self._in_chunks(stmt, column, ids):
                found[row[0]] = row
        return [found[k] for k in sorted(found)]

    def _in_chunks(self, stmt, column, values: Iterable[int]) -> list:
        rows = []
        for chunk in _chunks(sorted(set(values)), _CHUNK):
            rows.extend(self.session.execute(stmt.where(column.in_(chunk))).all())
        return rows

    # --- the materialised chain ---------------------------------------------------------------

    def chain_parents(self, sighting_ids: Iterable[int]) -> dict[int, int | None]:
        """The parent each of these sightings had in the stored chain (absent: not stored)."""
        out: dict[int, int | None] = {}
        for chunk in _chunks(sorted(set(sighting_ids)), _CHUNK):
            out.update(self.session.execute(
                select(_C.c.sighting_id, _C.c.parent_sighting_id).where(_C.c.sighting_id.in_(chunk))).all())
        return out

    def parent_items(self, item_ids: Iterable[int]) -> dict[int, set[int]]:
        """The items each of these items hangs under in its work's stored chain (the items of its
        sightings' parent sightings, itself left out), for those that have one: where the chain
        says each copy came from."""
        child = Sighting.__table__.alias("child")
        parent = Sighting.__table__.alias("parent")
        stmt = (select(child.c.item_id, parent.c.item_id)
                .join(_C, _C.c.sighting_id == child.c.id)
                .join(parent, parent.c.id == _C.c.parent_sighting_id)
                .where(parent.c.item_id != child.c.item_id))
        out: dict[int, set[int]] = {}
        for item_id, parent_id in self._in_chunks(stmt, child.c.item_id, item_ids):
            out.setdefault(item_id, set()).add(parent_id)
        return out

    def save_chains(self, derived: list[tuple[int, dict, list[dict]]]) -> None:
        """Store derived chains: (work id, work summary columns, chain_edge rows) per work."""
        if not derived:
            return
        work_ids = [w for w, _, _ in derived]
        sighting_ids = [e["sighting_id"] for _, _, edges in derived for e in edges]
        for chunk in _chunks(work_ids, _CHUNK):
            self.session.execute(delete(_C).where(_C.c.work_id.in_(chunk)))
        for chunk in _chunks(sighting_ids, _CHUNK):
            self.session.execute(delete(_C).where(_C.c.sighting_id.in_(chunk)))
        rows = [e for _, _, edges in derived for e in edges]
        if rows:
            self.session.execute(insert(_C), rows)
        now = _utcnow()
        columns = list(derived[0][1])
        stmt = update(_W).where(_W.c.id == bindparam("_work_id")).values(
            {**{c: bindparam(c) for c in columns}, "stale": False, "updated_at": now})
        self.session.connection().execute(stmt, [{"_work_id": w, **summary} for w, summary, _ in derived])

    # --- notes ---------------------------------------------------------------------------------

    def add_note(self, text: str, *, item_id: int | None = None, work_id: int | None = None,
                 author: str | None = None) -> int:
        """Attach an investigator's note to an item or a work; returns its id."""
        result = self.session.execute(insert(_N).values(item_id=item_id, work_id=work_id, author=author, text=text,
                                                        created_at=_utcnow()))
        return int(result.inserted_primary_key[0])

    def notes(self, item_ids: Iterable[int] = (), work_ids: Iterable[int] = ()) -> list[dict]:
        """Notes on these items or works, oldest first."""
        items, works = sorted(set(item_ids)), sorted(set(work_ids))
        conditions = []
        if items:
            conditions.append(_N.c.item_id.in_(items))
        if works:
            conditions.append(_N.c.work_id.in_(works))
        if not conditions:
            return []
        rows = self.session.execute(select(_N).where(or_(*conditions)).order_by(_N.c.created_at, _N.c.id)).mappings()
        return [dict(r) for r in rows]

    # --- outlets ---------------------------------------------------------------------------------

    def outlet_names(self) -> dict[int, str]:
        return dict(self.session.execute(select(Outlet.id, Outlet.name)).all())

    def outlet_totals(self) -> list[tuple[int, int, int]]:
        """(outlet id, sightings, works) over the stored chain."""
        return self.session.execute(
            select(_C.c.outlet_id, func.count(), func.count(_C.c.work_id.distinct()))
            .where(_C.c.outlet_id.is_not(None)).group_by(_C.c.outlet_id)).all()

    def outlet_first_counts(self) -> dict[int, int]:
        """Works first published by each outlet."""
        return dict(self.session.execute(
            select(_W.c.first_outlet_id, func.count())
            .where(_W.c.merged_into_id.is_(None), _W.c.first_outlet_id.is_not(None))
            .group_by(_W.c.first_outlet_id)).all())

    def outlet_copy_counts(self) -> list[tuple[int, int, int]]:
        """(outlet, outlet it copied from, sightings) over chain links between different outlets."""
        return self._tuples(
            select(_C.c.outlet_id, _C.c.parent_outlet_id, func.count())
            .where(_C.c.outlet_id.is_not(None), _C.c.parent_outlet_id.is_not(None),
                   _C.c.parent_outlet_id != _C.c.outlet_id)
            .group_by(_C.c.outlet_id, _C.c.parent_outlet_id))

    def outlet_first_dates(self) -> list[tuple[int, int, float]]:
        """(outlet, work, the outlet's earliest claimed date in the work) for every outlet and work
        it holds a sighting of: seconds on an arbitrary origin (differences only); ``NO_DATE`` when
        it has no claimed date there."""
        claimed = case((_C.c.date_source == "claimed", self._seconds(_C.c.date_at)))
        return self._tuples(
            select(_C.c.outlet_id, _C.c.work_id, func.coalesce(func.min(claimed), NO_DATE))
            .where(_C.c.outlet_id.is_not(None)).group_by(_C.c.outlet_id, _C.c.work_id))

    def work_first_dates(self) -> list[tuple[int, float, int]]:
        """(work, claimed first-seen date as in outlet_first_dates or ``NO_DATE``, first outlet
        or -1) of every live work."""
        first_at = case((_W.c.first_seen_source == "claimed", self._seconds(_W.c.first_seen_at)))
        return self._tuples(select(_W.c.id, func.coalesce(first_at, NO_DATE), func.coalesce(_W.c.first_outlet_id, -1))
                            .where(_W.c.merged_into_id.is_(None)))

    def _tuples(self, stmt) -> list[tuple]:
        """Rows as plain tuples straight from the driver: for large results of plain numbers,
        where building SQLAlchemy rows would cost more than the query."""
        result = self.session.execute(stmt)
        try:
            return result.cursor.fetchall()
        finally:
            result.close()

    def _seconds(self, column):
        # Converting 100,000s of datetimes through the ORM types takes longer than the whole
        # query: let the database give numbers. SQLite's julianday() is several times faster
        # than strftime('%s') on its stored text.
        if self.engine.dialect.name == "sqlite":
            return func.julianday(column) * 86400.0
        return cast(extract("epoch", column), Float)

    # --- exchange ------------------------------------------------------------------------------

    def add_hash_item(self, algorithm: str, version: str, value: str, quality: int | None) -> tuple[Item, bool]:
        """Record a fingerprint that came without its file (an imported hash list) as an item.

        Such an item has kind "hash", no pixels and no file, and is keyed by the SHA-256 of
        "algorithm:version:value" (the item table's key must be unique; no file has that digest).
        """
        key = hashlib.sha256(f"{algorithm}:{version}:{value}".encode()).hexdigest()
        item, created = self._get_or_create(Item, {"sha256": key}, {
            "kind": "hash", "media_format": f"{algorithm}-hash", "width": 0, "height": 0, "file_size": 0,
            # Unknown, so not "low information": the hash's own quality gates matching.
            "information": 1.0, "exif_json": "{}", "first_indexed_at": _utcnow(),
        })
        self._get_or_create(FingerprintRecord, {"item_id": item.id, "algorithm": algorithm, "version": version},
                            {"value": value, "quality": quality})
        if created:
            self._note_new_item(item.id)
        return item, created

    def feature_blobs(self, item_ids: Iterable[int], algorithm: str, version: str) -> dict[int, bytes]:
        """The stored local-feature blobs of these items (those that have one), by item id."""
        stmt = select(LocalFeatureRecord.item_id, LocalFeatureRecord.data).where(
            LocalFeatureRecord.algorithm == algorithm, LocalFeatureRecord.version == version)
        return dict(self._in_chunks(stmt, LocalFeatureRecord.item_id, item_ids))

    def fingerprint_values(self, item_ids: Iterable[int], algorithm: str, version: str) -> list[tuple[int, str, int | None]]:
        """(item id, value, quality) of one algorithm's fingerprints of these items."""
        stmt = select(FingerprintRecord.item_id, FingerprintRecord.value, FingerprintRecord.quality).where(
            FingerprintRecord.algorithm == algorithm, FingerprintRecord.version == version)
        return sorted(self._in_chunks(stmt, FingerprintRecord.item_id, item_ids))

    def export_rows(self, table: str, item_ids: list[int] | None = None) -> Iterator[dict]:
        """Rows of one exported table ("items", "sightings", "works", "links", "notes",
        "events"), restricted to these items (and their works) when given."""
        stmts = {
            "items": select(Item.id.label("item_id"), _M.c.work_id, Item.sha256, Item.kind, Item.media_format,
                            Item.width, Item.height, Item.file_size, Item.exif_taken_at, Item.first_indexed_at)
            .join(_M, _M.c.item_id == Item.id, isouter=True).order_by(Item.id),
            "sightings": select(Sighting.id.label("sighting_id"), Sighting.item_id, _M.c.work_id,
                                Outlet.name.label("outlet"), Sighting.url, Sighting.path, Sighting.published_at,
                                Sighting.published_precision, Sighting.published_source, Sighting.indexed_at,
                                _C.c.parent_sighting_id, _C.c.basis.label("chain_basis"),
                                _C.c.reason.label("chain_reason"), Sighting.extra_json)
            .join(Outlet, Outlet.id == Sighting.outlet_id, isouter=True)
            .join(_M, _M.c.item_id == Sighting.item_id, isouter=True)
            .join(_C, _C.c.sighting_id == Sighting.id, isouter=True).order_by(Sighting.id),
            "links": select(MatchLink.id.label("link_id"), MatchLink.earlier_item_id, MatchLink.later_item_id,
                            MatchLink.method, MatchLink.distance, MatchLink.status, MatchLink.reviewed_by,
                            MatchLink.review_note, MatchLink.found_at, MatchLink.evidence_json).order_by(MatchLink.id),
            "works": select(_W.c.id.label("work_id"), _W.c.merged_into_id, _W.c.created_at, _W.c.first_seen_at,
                            _W.c.first_seen_precision, _W.c.first_seen_source, Outlet.name.label("first_outlet"),
                            _W.c.first_item_id, _W.c.first_sighting_id, _W.c.item_count, _W.c.sighting_count,
                            _W.c.flags_json).join(Outlet, Outlet.id == _W.c.first_outlet_id, isouter=True)
            .order_by(_W.c.id),
            "notes": select(_N.c.id.label("note_id"), _N.c.item_id, _N.c.work_id, _N.c.author, _N.c.text,
                            _N.c.created_at).order_by(_N.c.id),
            "events": select(_E.c.id.label("event_id"), _E.c.work_id, _E.c.kind, _E.c.other_work_id, _E.c.item_id,
                             _E.c.link_id, _E.c.actor, _E.c.note, _E.c.at).order_by(_E.c.id),
        }
        stmt = stmts[table]
        if item_ids is not None:
            stmt = _restrict(table, stmt, item_ids, self.work_ids_of(item_ids).values())
        for row in self.session.execute(stmt.execution_options(yield_per=2000)).mappings():
            yield dict(row)


def _restrict(table: str, stmt, item_ids: list[int], work_ids: Iterable[int]):
    items, works = sorted(set(item_ids)), sorted(set(work_ids))
    if table in ("items", "sightings"):
        column = Item.id if table == "items" else Sighting.item_id
        return stmt.where(column.in_(items))
    if table == "links":
        return stmt.where(or_(MatchLink.earlier_item_id.in_(items), MatchLink.later_item_id.in_(items)))
    if table == "works":
        return stmt.where(or_(_W.c.id.in_(works), _W.c.merged_into_id.in_(works)))
    if table == "notes":
        return stmt.where(or_(_N.c.item_id.in_(items), _N.c.work_id.in_(works)))
    return stmt.where(or_(_E.c.work_id.in_(works), _E.c.other_work_id.in_(works)))


class _UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
        return ra


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def evidence_of(evidence_json: str | None) -> dict:
    """A link's evidence as a dict ({} when absent or unreadable)."""
    try:
        value = json.loads(evidence_json or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
