"""The ledger: the store of items, sightings, fingerprints and match links.

This is the only module that writes SQL. Every write is idempotent (a unique key and a
get-or-create inside a savepoint), so re-running a scan, or two scans racing on one
PostgreSQL ledger, records each thing once. Callers group writes into transactions with
:meth:`Ledger.commit`; nothing is committed behind their back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, event, exists, not_, or_, union, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ArgumentError, DatabaseError
from sqlmodel import Session, create_engine, select

from .errors import LedgerError, NotFoundError
from .fingerprints import Fingerprint
from .ledger_works import WorkStore
from .media import DecodedImage
from .migrate import ensure_current
from . import parts as _parts
from .models import (
    FileState,
    FingerprintRecord,
    Item,
    LocalFeatureRecord,
    MatchLink,
    Outlet,
    SchemaInfo,
    Sighting,
    FrameRecord,
    PartRecord,
    VideoRecord,
)

if TYPE_CHECKING:
    from .parts import PartPrints
    from .prints import ImagePrints
    from .video import FramePrints, VideoPrints

DEFAULT_DB = "provenance.db"
#: schema_info key: images after this item id were indexed before parts existed (migration 0003).
PARTS_BACKFILL = "parts_backfill"
#: schema_info key: the parts finder (parts.finder) the ledger's images were searched with.
PARTS_FINDER = "parts_finder"
ENV_VAR = "PROVENANCE_DB"


def utcnow() -> datetime:
    """Now, in UTC (the ledger stores every time zone-aware, in UTC; EXIF times excepted)."""
    return datetime.now(timezone.utc)


def resolve_db_url(db: str | os.PathLike | None) -> str:
    """A plain path means a SQLite file; anything with '://' is an SQLAlchemy URL.

    With no value, $PROVENANCE_DB is used, then ./provenance.db.
    """
    value = str(db) if db else os.environ.get(ENV_VAR) or DEFAULT_DB
    if "://" in value:
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://"):]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://"):]
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


@dataclass(frozen=True)
class SightingView:
    """A sighting with its outlet's name and its item's facts, ready to show."""

    sighting_id: int
    item_id: int
    sha256: str
    outlet: str | None
    path: str | None
    url: str | None
    published_at: datetime | None
    published_precision: str | None
    published_source: str | None
    indexed_at: datetime
    exif_taken_at: datetime | None


class Ledger(WorkStore):
    """An open ledger (one database connection and session). Use as a context manager.

    The store methods for works (membership, merges, splits, the stored chain, notes) are in
    ledger_works.py.
    """

    def __init__(self, db: str | os.PathLike | None = None, *, create: bool = True, readonly: bool = False):
        self.url = resolve_db_url(db)
        if self.url.startswith("sqlite:///") and not create:
            path = Path(self.url[len("sqlite:///"):])
            if not path.exists():
                raise LedgerError(f"no ledger at {path}")
        self.engine = None
        try:
            self.engine = _make_engine(self.url, readonly)
            self._prepare_schema()
        except BaseException as exc:
            if self.engine is not None:  # e.g. a newer ledger: release the connection now
                self.engine.dispose()
            if isinstance(exc, (ArgumentError, OperationalError, DatabaseError, ImportError, ValueError)):
                raise LedgerError(f"cannot open ledger {self.display_url}: {_first_line(exc)}") from None
            raise
        self.session = Session(self.engine, expire_on_commit=False)
        self._outlet_ids: dict[str, int] = {}
        self._init_work_tracking()
        self.created_at = self.session.get(SchemaInfo, "created_at").value
        self._upgrade_works()
        if self.schema_before.schema_version is None and not readonly:  # made just now
            self._get_or_create(SchemaInfo, {"key": PARTS_FINDER}, {"value": _parts.finder()})
            self.session.commit()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        """The URL without any password, for messages."""
        return _display_url(self.url)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for a SQLite ledger."""
        if self.url.startswith("sqlite:///"):
            return Path(self.url[len("sqlite:///"):])
        return None

    def commit(self) -> None:
        """Make every write since the last commit durable, as one transaction.

        New items and links are first folded into works (ledger_works.py), in that transaction.
        """
        self.flush_works()
        self.session.commit()

    def rollback(self) -> None:
        """Drop every write since the last commit."""
        self.session.rollback()
        self._outlet_ids.clear()
        self._forget_pending()

    @contextmanager
    def reading(self) -> Iterator["Ledger"]:
        """Run a caller's reads so that the transaction they begin ends with them, unless one was
        under way before (the caller's writes, not yet committed: left as they are).

        A long-lived reader on a writable ledger (a Checker between queries) then holds neither
        SQLite's write lock (its transactions begin with BEGIN IMMEDIATE) nor a PostgreSQL
        snapshot while it waits, and a scan beside it does not wait for it. Writes made inside
        the block should be committed inside it (any left are committed as `commit` does); on an
        error the transaction is rolled back.
        """
        idle = not self.session.in_transaction()
        try:
            yield self
        except BaseException:
            if idle and self.session.in_transaction():
                self.rollback()
            raise
        if idle and self.session.in_transaction():
            self.commit()  # reads only, as a rule: this just ends the transaction

    def close(self) -> None:
        """Roll back anything uncommitted and release the connection."""
        self.session.rollback()
        self.session.close()
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _prepare_schema(self) -> None:
        # Migrations bring the tables to this build's newest revision, under a lock so two scans
        # starting together on a new or old ledger upgrade it once (migrate.ensure_current).
        self.schema_before, self.schema_after = ensure_current(self.engine, self.display_url)

    # --- writes ------------------------------------------------------------------------------

    def outlet_id(self, name: str) -> int:
        """The id of the named outlet, created on first use."""
        if name not in self._outlet_ids:
            row, _ = self._get_or_create(Outlet, {"name": name}, {})
            self._outlet_ids[name] = row.id
        return self._outlet_ids[name]

    def add_item(
        self,
        decoded: DecodedImage,
        information: float,
        fingerprints: Iterable[Fingerprint],
        local_features: tuple[str, str, bytes] | None = None,
    ) -> tuple[Item, bool]:
        """Record an item (by SHA-256) with its fingerprints; returns (item, newly created)."""
        item, status = self.add_item_status(decoded, information, fingerprints, local_features)
        return item, status == "new"

    def add_item_status(
        self,
        decoded: DecodedImage,
        information: float,
        fingerprints: Iterable[Fingerprint],
        local_features: tuple[str, str, bytes] | None = None,
    ) -> tuple[Item, str]:
        """``add_item``, saying what became of the item: "new"; "completed", a hashed-only image
        (see hashed_only_items) given its local features now; or "known"."""
        item, created = self._get_or_create(
            Item,
            {"sha256": decoded.sha256},
            {
                "kind": "image",
                "media_format": decoded.format,
                "width": decoded.width,
                "height": decoded.height,
                "file_size": decoded.file_size,
                "information": round(information, 4),
                "exif_taken_at": decoded.exif.taken_at,
                "exif_json": json.dumps(decoded.exif.to_dict(), sort_keys=True),
                "first_indexed_at": utcnow(),
            },
        )
        if created:
            # A new item has no fingerprint rows, here or in another writer (its id is ours):
            # insert them without the select and savepoint of _get_or_create (a scan's writer
            # spent a third of its ledger time on those).
            self.session.add_all([
                FingerprintRecord(item_id=item.id, algorithm=fp.algorithm, version=fp.version, value=fp.value,
                                  quality=fp.quality)
                for fp in fingerprints
            ])
            if local_features is not None:
                algorithm, version, blob = local_features
                self.session.add(LocalFeatureRecord(item_id=item.id, algorithm=algorithm, version=version,
                                                    data=blob))
            fingerprints, local_features = (), None
        completed = local_features is not None and item.id in self.hashed_only_items([item.id])
        for fp in fingerprints:
            self._get_or_create(
                FingerprintRecord,
                {"item_id": item.id, "algorithm": fp.algorithm, "version": fp.version},
                {"value": fp.value, "quality": fp.quality},
            )
        if local_features is not None:
            algorithm, version, blob = local_features
            self._get_or_create(
                LocalFeatureRecord,
                {"item_id": item.id, "algorithm": algorithm, "version": version},
                {"data": blob},
            )
        if created:
            self._note_new_item(item.id)
        return item, "new" if created else "completed" if completed else "known"

    def add_sighting(
        self,
        item_id: int,
        *,
        outlet: str | None = None,
        path: str | None = None,
        url: str | None = None,
        published_at: datetime | None = None,
        published_precision: str | None = None,
        published_source: str | None = None,
        extra: dict | None = None,
    ) -> tuple[Sighting, bool]:
        """Record that an item was seen at (outlet, URL, path); returns (sighting, newly created)."""
        key = sighting_key(item_id, outlet, url, path)
        row, created = self._get_or_create(
            Sighting,
            {"sighting_key": key},
            {
                "item_id": item_id,
                "outlet_id": self.outlet_id(outlet) if outlet else None,
                "path": path,
                "url": url,
                "published_at": published_at,
                "published_precision": published_precision,
                "published_source": published_source if published_at else None,
                "indexed_at": utcnow(),
                "extra_json": json.dumps(extra or {}, sort_keys=True),
            },
        )
        if created:
            self._note_new_sighting(row.id, item_id)
        return row, created

    def add_link(
        self, earlier_item_id: int, later_item_id: int, method: str, distance: float | None, evidence: dict
    ) -> bool:
        """Record that two items show the same picture; False if already linked (or rejected)."""
        if earlier_item_id == later_item_id:
            return False
        existing = self.session.exec(
            select(MatchLink).where(
                or_(
                    (MatchLink.earlier_item_id == earlier_item_id) & (MatchLink.later_item_id == later_item_id),
                    (MatchLink.earlier_item_id == later_item_id) & (MatchLink.later_item_id == earlier_item_id),
                )
            )
        ).first()
        if existing is not None:
            return False
        row, created = self._get_or_create(
            MatchLink,
            {"earlier_item_id": earlier_item_id, "later_item_id": later_item_id},
            {
                "method": method,
                "distance": distance,
                "evidence_json": json.dumps(evidence, sort_keys=True, default=str),
                "found_at": utcnow(),
                "status": "auto",
            },
        )
        if created:
            self._note_new_link(row.id, earlier_item_id, later_item_id)
        return created

    def remember_file(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        """Note what a scan saw at a path, so an unchanged file is not read again."""
        row = self.session.exec(select(FileState).where(FileState.path == path)).first()
        if row is None:
            self._get_or_create(
                FileState, {"path": path}, {"size": size, "mtime_ns": mtime_ns, "sha256": sha256, "seen_at": utcnow()}
            )
        else:
            row.size, row.mtime_ns, row.sha256, row.seen_at = size, mtime_ns, sha256, utcnow()
            self.session.add(row)

    # --- reads -------------------------------------------------------------------------------

    def known_file(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The SHA-256 last recorded for this path, if its size and mtime are unchanged."""
        row = self.session.exec(select(FileState).where(FileState.path == path)).first()
        if row is not None and row.size == size and row.mtime_ns == mtime_ns:
            return row.sha256
        return None

    def known_files(self, paths: list[str]) -> dict[str, tuple[int, int, str, int | None]]:
        """{path: (size, mtime_ns, sha256, item id or None)} of the paths a scan has seen, in one
        query per 500 paths (a rescan of an unchanged archive asks nothing per file)."""
        out: dict[str, tuple[int, int, str, int | None]] = {}
        for chunk in _chunks(list(paths), 500):
            stmt = (select(FileState.path, FileState.size, FileState.mtime_ns, FileState.sha256, Item.id)
                    .join(Item, Item.sha256 == FileState.sha256, isouter=True)
                    .where(FileState.path.in_(chunk)))
            for path, size, mtime_ns, sha, item_id in self.session.exec(stmt):
                out[path] = (size, mtime_ns, sha, item_id)
        return out

    def existing_sighting_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these sighting keys (see sighting_key) are recorded, in one query per 500."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(keys)), 500):
            found.update(self.session.exec(select(Sighting.sighting_key).where(Sighting.sighting_key.in_(chunk))))
        return found

    def item_by_sha(self, sha256: str) -> Item | None:
        """The item with this content, if indexed."""
        return self.session.exec(select(Item).where(Item.sha256 == sha256)).first()

    def item_by_sha_prefix(self, prefix: str) -> Item | None:
        """The item whose SHA-256 starts with this prefix (None if none or ambiguous)."""
        rows = self.session.exec(select(Item).where(Item.sha256.startswith(prefix)).limit(2)).all()
        return rows[0] if len(rows) == 1 else None

    def item(self, item_id: int) -> Item:
        """The item with this id (NotFoundError if there is none)."""
        row = self.session.get(Item, item_id)
        if row is None:
            raise NotFoundError(f"no item {item_id} in the ledger")
        return row

    def items(self, item_ids: Iterable[int]) -> dict[int, Item]:
        """Items by id."""
        ids = sorted(set(item_ids))
        rows: dict[int, Item] = {}
        for chunk in _chunks(ids, 500):
            for row in self.session.exec(select(Item).where(Item.id.in_(chunk))):
                rows[row.id] = row
        return rows

    def iter_fingerprints(self, algorithm: str, version: str) -> Iterator[tuple[int, str, int | None, float]]:
        """(item_id, value, quality, item information) of every stored fingerprint of one algorithm."""
        stmt = (
            select(FingerprintRecord.item_id, FingerprintRecord.value, FingerprintRecord.quality, Item.information)
            .join(Item, Item.id == FingerprintRecord.item_id)
            .where(FingerprintRecord.algorithm == algorithm, FingerprintRecord.version == version)
            .order_by(FingerprintRecord.item_id)
        )
        yield from self.session.exec(stmt)

    def iter_fingerprint_rows(
        self, algorithm: str, version: str, after_id: int = 0, limit: int | None = None
    ) -> Iterator[tuple[int, int, str, int | None, float]]:
        """(row id, item_id, value, quality, item information) of fingerprints with row id > after_id
        (the first `limit` of them)."""
        stmt = (
            select(FingerprintRecord.id, FingerprintRecord.item_id, FingerprintRecord.value,
                   FingerprintRecord.quality, Item.information)
            .join(Item, Item.id == FingerprintRecord.item_id)
            .where(FingerprintRecord.algorithm == algorithm, FingerprintRecord.version == version,
                   FingerprintRecord.id > after_id)
            .order_by(FingerprintRecord.id)
            .limit(limit)
        )
        yield from self.session.exec(stmt)

    def outdated_item_ids(self, current: dict[str, str], local: tuple[str, str], track: tuple[str, str],
                          limit: int | None = None) -> list[int]:
        """Items holding a fingerprint or local features made by another version of a current
        algorithm (`current`: algorithm -> version; `local`, `track`: (algorithm, version) of the
        local features and of a video's track), lowest id first. Parts another finder cut
        (parts.is_current) are left out: they take no part in matching any more.

        Search compares only values of the current version, so these items are invisible to it
        until re-indexed (reindex.py). Each part reads a range of an (algorithm, version, item)
        index: none of them costs a pass over every row.
        """
        F, L = FingerprintRecord, LocalFeatureRecord
        parts = []
        for table, algorithm, version in [*((F, a, v) for a, v in current.items()), (L, *local)]:
            for other in (table.version < version, table.version > version):
                parts.append(select(table.item_id).where(table.algorithm == algorithm, other))
        V = VideoRecord
        parts.append(select(V.item_id).where(or_(V.track_algorithm != track[0], V.track_version != track[1])))
        found = union(*parts).subquery()
        retired = select(PartRecord.item_id).where(not_(_current_parts()))
        stmt = select(found.c.item_id).where(found.c.item_id.not_in(retired)).order_by(found.c.item_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [int(i) for i in self.session.exec(stmt)]

    def replace_prints(self, item_id: int, information: float, fingerprints: Iterable[Fingerprint],
                       local_features: tuple[str, str, bytes] | None, current: dict[str, str],
                       local: tuple[str, str]) -> None:
        """Give an item the fingerprints of the current versions, computed again from its file:
        rows of other versions of the current algorithms go, the new values come (reindex.py).

        Only algorithms in `current` (and the local features) are touched: an item's SHA-256
        stays. Its information score is updated too, since it gates matching.
        """
        F, L = FingerprintRecord, LocalFeatureRecord
        for algorithm, version in current.items():
            self.session.execute(delete(F).where(F.item_id == item_id, F.algorithm == algorithm, F.version != version))
        self.session.execute(delete(L).where(L.item_id == item_id, L.algorithm == local[0], L.version != local[1]))
        for fp in fingerprints:
            if current.get(fp.algorithm) == fp.version:
                self._get_or_create(F, {"item_id": item_id, "algorithm": fp.algorithm, "version": fp.version},
                                    {"value": fp.value, "quality": fp.quality})
        if local_features is not None and tuple(local_features[:2]) == tuple(local):
            self._get_or_create(L, {"item_id": item_id, "algorithm": local[0], "version": local[1]},
                                {"data": local_features[2]})
        self.session.execute(update(Item).where(Item.id == item_id).values(information=round(information, 4)))

    def replace_track(self, video_item_id: int, algorithm: str, version: str, track: bytes) -> None:
        """Store a video's sample track as the current version computed it (reindex.py)."""
        self.session.execute(update(VideoRecord).where(VideoRecord.item_id == video_item_id).values(
            track_algorithm=algorithm, track_version=version, track=track))

    def local_feature_versions(self, item_ids: Iterable[int], algorithm: str) -> dict[int, set[str]]:
        """The versions of this algorithm's local features each of these items holds (no blob is
        read; an item without any is absent)."""
        L = LocalFeatureRecord
        found: dict[int, set[str]] = {}
        for chunk in _chunks(sorted(set(item_ids)), 500):
            for item_id, version in self.session.exec(select(L.item_id, L.version).where(
                    L.item_id.in_(chunk), L.algorithm == algorithm)):
                found.setdefault(item_id, set()).add(version)
        return found

    def hashed_only_items(self, item_ids: Iterable[int]) -> set[int]:
        """The image items among these that hold no local features at all: recorded by a
        ``scan --hashes-only``, until a scan that fingerprints their files whole completes them."""
        found: set[int] = set()
        for chunk in _chunks(sorted(set(item_ids)), 500):
            found.update(self.session.exec(select(Item.id).where(Item.id.in_(chunk), *_HASHED_ONLY)))
        return found

    def hashed_only_count(self) -> int:
        """How many image items hold no local features (hashed_only_items, over the whole ledger):
        a check finds their copies and re-encodings, but not their crops or screenshots. One pass
        over the items (~0.7 s at a million in SQLite), so it is asked once per command."""
        from sqlalchemy import func

        return int(self.session.exec(select(func.count()).select_from(Item).where(*_HASHED_ONLY)).one())

    def copies_of(self, item_ids: Iterable[int]) -> dict[int, list[str]]:
        """Per item, its sightings' paths (oldest sighting first): where a copy of its file may
        still be. Nothing is read here; an item known only from an imported hash list has none."""
        ids = sorted(set(item_ids))
        found: dict[int, list[str]] = {i: [] for i in ids}
        for chunk in _chunks(ids, 500):
            for item_id, path in self.session.exec(
                    select(Sighting.item_id, Sighting.path).where(Sighting.item_id.in_(chunk), Sighting.path.is_not(None))
                    .order_by(Sighting.id)):
                if path not in found[item_id]:
                    found[item_id].append(path)
        return found

    def iter_local_features(
        self, algorithm: str, version: str, after_id: int = 0, limit: int | None = None
    ) -> Iterator[tuple[int, int, bytes, float]]:
        """(row id, item_id, blob, item information) of local features with row id > after_id (the
        first `limit` of them)."""
        stmt = (
            select(LocalFeatureRecord.id, LocalFeatureRecord.item_id, LocalFeatureRecord.data, Item.information)
            .join(Item, Item.id == LocalFeatureRecord.item_id)
            .where(
                LocalFeatureRecord.algorithm == algorithm,
                LocalFeatureRecord.version == version,
                LocalFeatureRecord.id > after_id,
            )
            .order_by(LocalFeatureRecord.id)
            .limit(limit)
        )
        yield from self.session.exec(stmt)

    def fingerprint_quality(self, item_id: int, algorithm: str, version: str) -> int | None:
        """The stored quality of one item's fingerprint (PDQ's 0-100)."""
        return self.session.exec(
            select(FingerprintRecord.quality).where(
                FingerprintRecord.item_id == item_id, FingerprintRecord.algorithm == algorithm,
                FingerprintRecord.version == version)
        ).first()

    def local_features(self, item_id: int, algorithm: str, version: str) -> bytes | None:
        """The local-features blob of one item."""
        return self.session.exec(
            select(LocalFeatureRecord.data).where(
                LocalFeatureRecord.item_id == item_id,
                LocalFeatureRecord.algorithm == algorithm,
                LocalFeatureRecord.version == version,
            )
        ).first()

    def local_features_of(self, item_ids: Iterable[int], algorithm: str, version: str) -> dict[int, bytes]:
        """The local-features blobs of many items, by item id, in one query (a shortlist's)."""
        ids = sorted(set(int(i) for i in item_ids))
        if not ids:
            return {}
        return dict(self.session.exec(
            select(LocalFeatureRecord.item_id, LocalFeatureRecord.data).where(
                LocalFeatureRecord.item_id.in_(ids),
                LocalFeatureRecord.algorithm == algorithm,
                LocalFeatureRecord.version == version,
            )
        ).all())

    def sightings(self, item_ids: Iterable[int]) -> list[SightingView]:
        """Every sighting of these items, oldest claimed date first (undated last)."""
        ids = sorted(set(item_ids))
        views: list[SightingView] = []
        for chunk in _chunks(ids, 500):
            stmt = (
                select(Sighting, Outlet.name, Item.sha256, Item.exif_taken_at)
                .join(Item, Item.id == Sighting.item_id)
                .join(Outlet, Outlet.id == Sighting.outlet_id, isouter=True)
                .where(Sighting.item_id.in_(chunk))
            )
            for s, outlet, sha, exif_at in self.session.exec(stmt):
                views.append(
                    SightingView(
                        s.id, s.item_id, sha, outlet, s.path, s.url, s.published_at,
                        s.published_precision, s.published_source, s.indexed_at, exif_at,
                    )
                )
        views.sort(key=lambda v: (v.published_at is None, v.published_at or v.indexed_at, v.indexed_at, v.sighting_id))
        return views

    def links(self, item_ids: Iterable[int], include_rejected: bool = False) -> list[MatchLink]:
        """Match links touching any of these items."""
        ids = sorted(set(item_ids))
        found: dict[int, MatchLink] = {}
        for chunk in _chunks(ids, 500):
            stmt = select(MatchLink).where(
                or_(MatchLink.earlier_item_id.in_(chunk), MatchLink.later_item_id.in_(chunk))
            )
            if not include_rejected:
                stmt = stmt.where(MatchLink.status != "rejected")
            for row in self.session.exec(stmt):
                found[row.id] = row
        return sorted(found.values(), key=lambda r: r.id)

    def connected_items(self, item_id: int) -> set[int]:
        """Every item joined to this one by accepted (not rejected) links: one work."""
        seen = {item_id}
        frontier = {item_id}
        while frontier:
            nxt: set[int] = set()
            for link in self.links(frontier):
                nxt.update((link.earlier_item_id, link.later_item_id))
            frontier = nxt - seen
            seen |= frontier
        return seen

    def counts(self) -> dict[str, int]:
        """How many rows of each kind the ledger holds (items: those of files, keyframes included;
        parts: pictures cut from them by this build's parts finder)."""
        from sqlalchemy import func

        out = {}
        for name, model in (("items", Item), ("sightings", Sighting), ("outlets", Outlet), ("links", MatchLink)):
            out[name] = self.session.exec(select(func.count()).select_from(model)).one()
        # A part (parts.py) is an item of the ledger but no file of the archive: counted apart, and
        # only those of this build's finder (another's take no part in matching).
        out["items"] -= self.session.exec(select(func.count()).select_from(PartRecord)).one()
        out["parts"] = self.session.exec(select(func.count()).select_from(PartRecord).where(_current_parts())).one()
        return out

    # --- video (see video.py) --------------------------------------------------------------------

    def add_video(self, video: "VideoPrints") -> tuple[Item, bool]:
        """Record a video item (by the file's SHA-256) with its facts, its track and its keyframes.

        Each keyframe becomes an item of kind "frame" with its fingerprints and local features
        (so every image matcher finds it) and a ``frame`` row naming its video and moment. Frame
        items have no sightings and take no part in works: matches on them are reported as
        matches on their video (video_match.fold_frames). Returns (video item, newly created).
        """
        from .fingerprints import SHA256

        facts = video.facts
        created_at = facts.creation_time.isoformat() if facts.creation_time else None
        exif = {"container_created_at": created_at, "encoder": facts.encoder, "title": facts.title}
        item, created = self._get_or_create(
            Item,
            {"sha256": facts.sha256},
            {
                "kind": "video",
                "media_format": f"{facts.container}/{facts.video_codec}"[:32],
                "width": facts.width,
                "height": facts.height,
                "file_size": facts.file_size,
                "information": round(video.information, 4),
                "exif_taken_at": None,
                "exif_json": json.dumps({k: v for k, v in exif.items() if v}, sort_keys=True),
                "first_indexed_at": utcnow(),
            },
        )
        if not created:
            return item, False
        # A new video's keyframe keys derive from its SHA-256, so none of its rows can exist yet:
        # plain inserts in one savepoint instead of a get-or-create per row.
        with self.session.begin_nested():
            self.session.add(FingerprintRecord(item_id=item.id, algorithm=SHA256.name, version=SHA256.version,
                                               value=facts.sha256, quality=None))
            self.session.add(VideoRecord(
                item_id=item.id, container=facts.container[:32], duration_s=facts.duration_s, fps=facts.fps,
                video_codec=facts.video_codec[:32], audio_codecs=",".join(facts.audio_codecs)[:200],
                creation_time=facts.creation_time, encoder=facts.encoder, title=facts.title,
                rotation=facts.rotation, keyframe_count=len(video.keyframes),
                metadata_json=json.dumps(facts.metadata, sort_keys=True, default=str),
                track_algorithm=video.track.ALGORITHM, track_version=video.track.VERSION,
                track=video.track.to_bytes(),
            ))
            frames = [self._frame_item(kf) for kf in video.keyframes]
            self.session.add_all(frames)
            self.session.flush()
            for frame, kf in zip(frames, video.keyframes):
                self._add_frame_rows(item.id, frame.id, kf)
        self._note_new_item(item.id)
        return item, True

    @staticmethod
    def _frame_item(kf: "FramePrints") -> Item:
        p = kf.prints
        return Item(sha256=p.sha256, kind="frame", media_format="frame", width=p.width, height=p.height,
                    file_size=0, information=round(p.information, 4), exif_taken_at=None, exif_json="{}",
                    first_indexed_at=utcnow())

    def _add_frame_rows(self, video_id: int, frame_id: int, kf: "FramePrints") -> None:
        self._add_keyed_prints(frame_id, kf.prints)
        self.session.add(FrameRecord(item_id=frame_id, video_item_id=video_id, timestamp_s=round(kf.time, 3),
                                     reason=kf.reason, tiny=None if kf.tiny is None else kf.tiny.tobytes()))

    def _add_keyed_prints(self, item_id: int, prints: "ImagePrints") -> None:
        """The fingerprint and local-feature rows of a new item cut from a file (a keyframe, a part),
        but its SHA-256: its key is not the SHA-256 of any file."""
        from .fingerprints import SHA256

        for fp in prints.fingerprints:
            if fp.algorithm != SHA256.name:
                self.session.add(FingerprintRecord(item_id=item_id, algorithm=fp.algorithm, version=fp.version,
                                                   value=fp.value, quality=fp.quality))
        if prints.local_record is not None:
            algorithm, version, blob = prints.local_record
            self.session.add(LocalFeatureRecord(item_id=item_id, algorithm=algorithm, version=version, data=blob))

    def _rows_by_item(self, model, item_ids: Iterable[int]) -> dict:
        """Rows of a table keyed by item id (frame, part) for those of these items it holds."""
        found = {}
        for chunk in _chunks(sorted(set(item_ids)), 500):
            for row in self.session.exec(select(model).where(model.item_id.in_(chunk))):
                found[row.item_id] = row
        return found

    def frames_by_item(self, item_ids: Iterable[int]) -> dict[int, FrameRecord]:
        """The frame rows of those of these items that are keyframes, by item id."""
        return self._rows_by_item(FrameRecord, item_ids)

    def frame_thumbs(self) -> list[tuple[int, int, float, bytes]]:
        """(frame item, video item, moment, tiny thumbnail) of every keyframe that has a thumbnail."""
        return list(self.session.exec(
            select(FrameRecord.item_id, FrameRecord.video_item_id, FrameRecord.timestamp_s, FrameRecord.tiny)
            .where(FrameRecord.tiny.is_not(None)).order_by(FrameRecord.item_id)
        ))

    def has_frames(self) -> bool:
        """Whether any video keyframe is indexed."""
        return self.session.exec(select(FrameRecord.item_id).limit(1)).first() is not None

    def frames_of(self, video_item_id: int) -> list[FrameRecord]:
        """The keyframes of a video, in time order."""
        return list(self.session.exec(
            select(FrameRecord).where(FrameRecord.video_item_id == video_item_id).order_by(FrameRecord.timestamp_s)
        ))

    # --- parts (see parts.py) -------------------------------------------------------------------

    def add_part(self, whole_item_id: int, part: "PartPrints") -> tuple[int, bool]:
        """Record the picture framed in an indexed item (or in the post on a screen photographed in
        it, see parts.py) as an item of kind "part", with its fingerprints, local features and a
        ``part`` row; returns (part item id, newly created). Recording it again changes nothing."""
        p = part.prints
        item, created = self._get_or_create(Item, {"sha256": p.sha256}, {
            "kind": "part", "media_format": "part", "width": p.width, "height": p.height, "file_size": 0,
            "information": round(p.information, 4), "exif_taken_at": None, "exif_json": "{}",
            "first_indexed_at": utcnow()})
        if not created:
            return item.id, False
        self._add_keyed_prints(item.id, p)
        x0, y0, x1, y1 = part.box
        self.session.add(PartRecord(item_id=item.id, whole_item_id=whole_item_id, x0=x0, y0=y0, x1=x1, y1=y1,
                                    method=part.method, version=_parts.METHODS[part.method],
                                    quad=None if part.quad is None else json.dumps([list(c) for c in part.quad])))
        return item.id, True

    def parts_backfill_after(self) -> int | None:
        """The item id after which images indexed before parts existed still wait for a search for
        theirs (schema_info ``parts_backfill``, see reindex.py); None when none wait."""
        value = self._info(PARTS_BACKFILL)
        return None if value is None else int(value)

    def set_parts_backfill(self, after: int | None) -> None:
        """Move the parts backfill's mark on to an item id; None removes it (all searched)."""
        self._set_info(PARTS_BACKFILL, None if after is None else str(after))

    def parts_finder(self) -> str:
        """The parts finder the ledger's images were searched with (parts.finder() of the build that
        made the ledger or last re-indexed it; parts.FIRST_FINDER for a ledger that records none)."""
        return self._info(PARTS_FINDER) or _parts.FIRST_FINDER

    def set_parts_finder(self, finder: str) -> None:
        """Record the parts finder the ledger's images are searched with (reindex.py)."""
        self._set_info(PARTS_FINDER, finder)

    def _info(self, key: str) -> str | None:
        """A schema_info value, None when the key is absent."""
        return self.session.exec(select(SchemaInfo.value).where(SchemaInfo.key == key)).first()

    def _set_info(self, key: str, value: str | None) -> None:
        """Set a schema_info value; None removes the key."""
        row = self.session.get(SchemaInfo, key)
        if value is None:
            if row is not None:
                self.session.delete(row)
        elif row is None:
            self.session.add(SchemaInfo(key=key, value=value))
        else:
            row.value = value

    def images_wanting_parts(self, after: int, local: tuple[str, str], limit: int | None = None) -> list[int]:
        """Ids of the images after an item id that hold local features of this (algorithm,
        version): those the parts backfill searches (a hashed-only image gets its parts from the
        scan that completes it)."""
        L = LocalFeatureRecord
        stmt = (select(Item.id).where(Item.kind == "image", Item.id > after,
                                      exists().where(L.item_id == Item.id, L.algorithm == local[0],
                                                     L.version == local[1]))
                .order_by(Item.id))
        if limit is not None:
            stmt = stmt.limit(limit)
        return [int(i) for i in self.session.exec(stmt)]

    def parts_by_item(self, item_ids: Iterable[int]) -> dict[int, PartRecord]:
        """The part rows of those of these items that are parts, by item id."""
        return self._rows_by_item(PartRecord, item_ids)

    def parts_of(self, whole_item_id: int) -> list[PartRecord]:
        """The parts cut from one item."""
        return list(self.session.exec(
            select(PartRecord).where(PartRecord.whole_item_id == whole_item_id).order_by(PartRecord.item_id)))

    def video(self, item_id: int) -> VideoRecord | None:
        """The video facts and track of an item of kind "video"."""
        return self.session.get(VideoRecord, item_id)

    def fingerprint_value(self, item_id: int, algorithm: str, version: str) -> str | None:
        """One stored fingerprint of one item."""
        return self.session.exec(
            select(FingerprintRecord.value).where(
                FingerprintRecord.item_id == item_id,
                FingerprintRecord.algorithm == algorithm,
                FingerprintRecord.version == version,
            )
        ).first()

    # --- helpers -----------------------------------------------------------------------------

    def _get_or_create(self, model, keys: dict, values: dict):
        """(row with these unique keys, True if inserted now); inserts with values if absent; race-safe."""
        stmt = select(model)
        for column, value in keys.items():
            stmt = stmt.where(getattr(model, column) == value)
        row = self.session.exec(stmt).first()
        if row is not None:
            return row, False
        row = model(**keys, **values)
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            # Another writer inserted the same key between our select and insert.
            row = self.session.exec(stmt).first()
            if row is None:
                raise
            return row, False
        return row, True


def _current_parts():
    """The SQL condition of a part row cut by this build's finder (parts.is_current)."""
    P = PartRecord
    return or_(*(and_(P.method == method, P.version == version) for method, version in _parts.METHODS.items()))


def sighting_key(item_id: int, outlet: str | None, url: str | None, path: str | None) -> str:
    """The unique key of a sighting: the same item seen at the same (outlet, URL, path) is one sighting."""
    return hashlib.sha256(json.dumps([item_id, outlet or "", url or "", path or ""]).encode()).hexdigest()


def open_ledger(db: str | os.PathLike | None = None, *, create: bool = True, readonly: bool = False) -> Ledger:
    """Open (and create or check the schema of) the ledger at a path or SQLAlchemy URL.

    ``readonly`` promises no writes, which lets a SQLite reader run beside a scan without
    taking the write lock.
    """
    return Ledger(db, create=create, readonly=readonly)


@contextmanager
def ledger_engine(db: str | os.PathLike | None = None, *, readonly: bool = False) -> Iterator[tuple[Engine, str]]:
    """(engine, URL to show) of an existing ledger, without touching its schema; disposed after.

    For tools that must look at a ledger before (or instead of) opening it, such as
    ``provenance db current``. Errors become LedgerError, as in :class:`Ledger`.
    """
    url = resolve_db_url(db)
    where = _display_url(url)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise LedgerError(f"no ledger at {url[len('sqlite:///'):]}")
    engine = None
    try:
        engine = _make_engine(url, readonly)
        yield engine, where
    except (ArgumentError, OperationalError, DatabaseError, ImportError, ValueError) as exc:
        raise LedgerError(f"cannot open ledger {where}: {_first_line(exc)}") from None
    finally:
        if engine is not None:
            engine.dispose()


def _make_engine(url: str, readonly: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own transaction handling breaks SAVEPOINT (a released savepoint with no
            # BEGIN before it commits for good): take control and emit BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            _set_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A writer takes the write lock up front: with a deferred BEGIN, two scans racing on
            # one file would fail with "database is locked" instead of waiting their turn.
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _set_wal(cursor, patience: float = 60.0) -> None:
    """Put a SQLite ledger in WAL mode (kept in the file: a no-op once done).

    Switching needs the file to itself, and SQLite may answer "database is locked" rather than
    wait for it: the switch is retried until `patience` seconds have passed. (Two scans starting
    on one new ledger once failed to open it in the racing-scans test, on SQLite; this is the step
    of opening that does not otherwise wait its turn.)
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _display_url(url: str) -> str:
    head, sep, tail = url.partition("@")
    if sep and ":" in head.split("//", 1)[-1]:
        scheme, _, creds = head.partition("//")
        return f"{scheme}//{creds.split(':', 1)[0]}:***@{tail}"
    return url


#: An image item that holds no local features (Ledger.hashed_only_items, hashed_only_count).
_HASHED_ONLY = (Item.kind == "image", ~exists().where(LocalFeatureRecord.item_id == Item.id))


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
