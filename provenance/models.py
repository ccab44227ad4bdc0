"""Every table of the ledger, in one place (SQLModel).

The nouns:
- an **item** is one distinct file content (keyed by SHA-256): the same bytes re-published by
  two outlets are one item with two sightings;
- a **sighting** is one place an item was seen: an outlet, a URL, a path in an archive, the date
  the outlet claims, the date we indexed it, and where each date came from;
- a **fingerprint** is one algorithm's value for an item, stored with the algorithm's name and
  version so incomparable values are never mixed;
- a **match link** joins two items that show the same picture, with the method and evidence;
- a **file state** remembers a path's size and mtime, so a re-scan hashes nothing it knows.

Every time is stored zone-aware in UTC, except EXIF capture times (a camera's local clock).
Only SQL that SQLite and PostgreSQL both speak is used: no JSON operators, no upsert dialects
outside ledger.py's small helpers.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import NaiveDatetime
from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

#: Bump when a table changes; ledger.open refuses a database whose version is newer.
#: 2: works (work, work_member, work_event), the materialised chain (chain_edge), notes.
#: 3: video (video, frame): items of kind "video" and their keyframes, items of kind "frame".
#: 4: (algorithm, version, item_id) indexes on fingerprint (replacing the one on algorithm alone)
#:    and local_features: the items an older version fingerprinted (reindex.py) are an index range.
#: 5: part: the picture framed in an indexed image (a post's photo), an item of kind "part".
#: 6: part.quad: the corners of a part cut from a photographed screen, straightened.
SCHEMA_VERSION = 6


class SchemaInfo(SQLModel, table=True):
    """Key/value facts about the database itself (schema version, creation time)."""

    __tablename__ = "schema_info"
    key: str = Field(primary_key=True, max_length=64)
    value: str


class Outlet(SQLModel, table=True):
    """A publisher: an agency, a state channel, a monitor, an account that re-posts."""

    __tablename__ = "outlet"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)


class Item(SQLModel, table=True):
    """One distinct file content and the facts of the file."""

    __tablename__ = "item"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True, unique=True, max_length=64)
    kind: str = Field(default="image", max_length=16)
    media_format: str = Field(max_length=32)
    width: int
    height: int
    file_size: int = Field(sa_type=BigInteger)
    information: float = Field(description="see fingerprints.information")
    #: The camera's clock, which has no time zone: kept naive, never compared with UTC times.
    exif_taken_at: NaiveDatetime | None = None
    exif_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    first_indexed_at: datetime


class Sighting(SQLModel, table=True):
    """One place and time an item was seen, with the source of each date."""

    __tablename__ = "sighting"
    id: int | None = Field(default=None, primary_key=True)
    #: sha256 of (item, outlet, url, path): makes re-running a scan idempotent.
    sighting_key: str = Field(index=True, unique=True, max_length=64)
    item_id: int = Field(foreign_key="item.id", index=True)
    outlet_id: int | None = Field(default=None, foreign_key="outlet.id", index=True)
    path: str | None = Field(default=None, sa_column=Column(Text))
    url: str | None = Field(default=None, sa_column=Column(Text))
    published_at: datetime | None = Field(default=None, index=True)
    #: "day" when only a date was claimed, "second" for a full date-time.
    published_precision: str | None = Field(default=None, max_length=8)
    #: Where the claimed date came from: "manifest", "cli", "import".
    published_source: str | None = Field(default=None, max_length=32)
    indexed_at: datetime
    extra_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class FingerprintRecord(SQLModel, table=True):
    """One algorithm's fingerprint of one item."""

    __tablename__ = "fingerprint"
    __table_args__ = (UniqueConstraint("item_id", "algorithm", "version", name="uq_fingerprint"),
                      Index("ix_fingerprint_algorithm_version", "algorithm", "version", "item_id"))
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    algorithm: str = Field(max_length=32)
    version: str = Field(max_length=16)
    value: str = Field(sa_column=Column(Text, nullable=False))
    quality: int | None = None


class LocalFeatureRecord(SQLModel, table=True):
    """The local features (keypoints, descriptors, template) of one item, as one blob."""

    __tablename__ = "local_features"
    __table_args__ = (UniqueConstraint("item_id", "algorithm", "version", name="uq_local_features"),
                      Index("ix_local_features_algorithm_version", "algorithm", "version", "item_id"))
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    algorithm: str = Field(max_length=32)
    version: str = Field(max_length=16)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class MatchLink(SQLModel, table=True):
    """Two items showing the same picture. ``earlier_item_id`` was in the ledger first."""

    __tablename__ = "match_link"
    __table_args__ = (UniqueConstraint("earlier_item_id", "later_item_id", name="uq_match_link"),)
    id: int | None = Field(default=None, primary_key=True)
    earlier_item_id: int = Field(foreign_key="item.id", index=True)
    later_item_id: int = Field(foreign_key="item.id", index=True)
    method: str = Field(max_length=32)
    distance: float | None = None
    evidence_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    found_at: datetime
    #: "auto" as found by a scan; "confirmed" or "rejected" by an investigator.
    status: str = Field(default="auto", max_length=16, index=True)
    reviewed_by: str | None = Field(default=None, max_length=200)
    review_note: str | None = Field(default=None, sa_column=Column(Text))


class FileState(SQLModel, table=True):
    """What a scan last saw at a path, so unchanged files are not hashed again."""

    __tablename__ = "file_state"
    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    size: int = Field(sa_type=BigInteger)
    mtime_ns: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    seen_at: datetime


# --- works: who published a picture first and who copied it from whom ------------------------
# Written only through ledger_works.WorkStore; see works.py and chain.py for what they mean.


class Work(SQLModel, table=True):
    """One picture and every copy of it: the items joined by accepted (not rejected) match links.

    The id is stable. A merge keeps the older (smaller) id and records the other work as
    ``merged_into_id`` it, so an id once shown still resolves; a split keeps the id on the part
    that was not split off. The first-seen fields and ``flags_json`` are derived by chain.py and
    refreshed whenever the work changes; ``stale`` marks a work whose derived fields lag behind.
    """

    __tablename__ = "work"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime
    updated_at: datetime
    merged_into_id: int | None = Field(default=None, foreign_key="work.id", index=True)
    stale: bool = Field(default=True, index=True)
    item_count: int = 0
    sighting_count: int = 0
    first_seen_at: datetime | None = None
    first_seen_precision: str | None = Field(default=None, max_length=8)
    #: "claimed" (an outlet's date) or "indexed" (when we first saw it).
    first_seen_source: str | None = Field(default=None, max_length=16)
    first_sighting_id: int | None = None
    first_item_id: int | None = None
    first_outlet_id: int | None = Field(default=None, foreign_key="outlet.id", index=True)
    flags_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))


class WorkMember(SQLModel, table=True):
    """Which work an item belongs to (every item belongs to exactly one)."""

    __tablename__ = "work_member"
    item_id: int = Field(foreign_key="item.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    work_id: int = Field(foreign_key="work.id", index=True)


class WorkEvent(SQLModel, table=True):
    """Something that happened to a work: a merge, a split, a link confirmed or rejected."""

    __tablename__ = "work_event"
    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="work.id", index=True)
    #: "merged" (other_work_id was merged into work_id), "split" (other_work_id split off from
    #: work_id), "link_confirmed", "link_rejected".
    kind: str = Field(max_length=16)
    other_work_id: int | None = None
    item_id: int | None = None
    link_id: int | None = None
    actor: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime


class ChainEdge(SQLModel, table=True):
    """The materialised chain: each sighting's most likely parent as last inferred (chain.py).

    Derived data, rewritten whenever its work changes; kept so ``outlets`` reads one table and a
    scan's report can say what changed. Outlets are copied in to spare joins on large ledgers.
    """

    __tablename__ = "chain_edge"
    #: Covering indexes for the GROUP BYs of ``outlets`` (benchmarks/chain_speed.py).
    __table_args__ = (
        Index("ix_chain_edge_outlet_parent", "outlet_id", "parent_outlet_id"),
        Index("ix_chain_edge_outlet_work", "outlet_id", "work_id", "date_source", "date_at"),
    )
    sighting_id: int = Field(foreign_key="sighting.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    work_id: int = Field(foreign_key="work.id", index=True)
    item_id: int
    outlet_id: int | None = None
    parent_sighting_id: int | None = None
    parent_outlet_id: int | None = None
    #: The date the chain placed this sighting at, and what it was ("claimed" or "indexed").
    date_at: datetime | None = None
    date_source: str | None = Field(default=None, max_length=16)
    basis: str = Field(max_length=32)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    alternatives_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))


class Note(SQLModel, table=True):
    """An investigator's note on an item or a work."""

    __tablename__ = "note"
    id: int | None = Field(default=None, primary_key=True)
    item_id: int | None = Field(default=None, foreign_key="item.id", index=True)
    work_id: int | None = Field(default=None, foreign_key="work.id", index=True)
    author: str | None = Field(default=None, max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


# --- video: a video item's facts and sample track, and its keyframes --------------------------
# Written only through ledger.add_video; see video.py (what they are) and video_match.py (use).


class VideoRecord(SQLModel, table=True):
    """The facts of an item of kind "video", and the PDQ hashes of its samples (video.Track).

    The item itself keys the file's real SHA-256; its keyframes are items of kind "frame".
    """

    __tablename__ = "video"
    item_id: int = Field(foreign_key="item.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    container: str = Field(max_length=32)
    duration_s: float | None = None
    fps: float | None = None
    video_codec: str = Field(max_length=32)
    audio_codecs: str = Field(default="", max_length=200)
    #: The container's creation time (UTC by the MP4/MKV specifications; often the encoder's clock).
    creation_time: datetime | None = None
    encoder: str | None = Field(default=None, sa_column=Column(Text))
    title: str | None = Field(default=None, sa_column=Column(Text))
    rotation: int = 0
    keyframe_count: int = 0
    #: Every container and stream tag, as found (values cut at 512 characters).
    metadata_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    track_algorithm: str = Field(max_length=32)
    track_version: str = Field(max_length=16)
    track: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class FrameRecord(SQLModel, table=True):
    """A keyframe: an item of kind "frame", fingerprinted as an image, at a moment of a video.

    Frame items have no sightings and no work of their own; matches on them are reported as
    matches on their video at this moment (video_match.VideoFrames.fold).
    """

    __tablename__ = "frame"
    item_id: int = Field(foreign_key="item.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    video_item_id: int = Field(foreign_key="item.id", index=True)
    #: Seconds from the start of the video, as a player counts them.
    timestamp_s: float
    #: Why this moment is a keyframe: "start", "cut", "change" or "interval" (video.KeyframePolicy).
    reason: str = Field(max_length=16)
    #: The keyframe's tiny grey thumbnail (video.TINY_SIDE squared bytes), searched by
    #: video_match.VideoFrames.search_thumbs when local features cannot find a still's moment.
    tiny: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


# --- parts: the picture framed in an indexed image, searched on its own -----------------------
# Written only through ledger.add_part; see parts.py.


class PartRecord(SQLModel, table=True):
    """A part: an item of kind "part", fingerprinted as an image, cut from an indexed image.

    The picture framed in a social-media post's screenshot, for example, is a small share of the
    whole, so the whole's features and template say little about it; indexed as its own item it
    is found by another post of it. Parts have no sightings and no work of their own; matches on
    them are reported as matches on their whole item (parts.fold_parts).
    """

    __tablename__ = "part"
    item_id: int = Field(foreign_key="item.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    whole_item_id: int = Field(foreign_key="item.id", index=True)
    #: Where the part lies in the whole: its box (x0, y0, x1, y1) in the whole file's pixels.
    x0: int
    y0: int
    x1: int
    y1: int
    #: How the part was found, and that method's version (parts.METHODS).
    method: str = Field(max_length=32)
    version: str = Field(max_length=16)
    #: For a part cut from a photographed screen, straightened: its corners (top-left, top-right,
    #: bottom-right, bottom-left) in the whole file's pixels, as JSON; the box bounds them. None
    #: for a framed part, which is its box.
    quad: str | None = Field(default=None, max_length=200)
