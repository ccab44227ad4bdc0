"""Checking images an investigator holds against the ledger: "have we seen this picture before?"

Checking reads the ledger and writes nothing, unless the caller asks to record the query
(``record=True`` with a claim), in which case it is indexed like any other file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from . import local_features
from .chain import FirstSeen, first_seen
from .errors import MediaError, NotFoundError
from .ledger import Ledger
from .local_match import LookFigures, explain_each
from .matcher import Match, Matcher
from .media import IMAGE_EXTENSIONS, QUERY_WORKING_SIDE, VIDEO_EXTENSIONS, load_image
from .parts import is_current
from .prints import FileOutcome, fingerprint_image
from .scan import Claim, Recorder, ScanSummary
from .video import fingerprint_video, is_video_file
from .video_match import match_video

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


@dataclass
class MatchView:
    """A match as shown to the investigator: the indexed item's first sighting and the evidence."""

    item_id: int
    sha256: str
    path: str | None
    outlet: str | None
    published_at: datetime | None
    url: str | None
    method: str
    distance: float | None
    evidence: dict
    first_seen: FirstSeen | None
    sightings: int

    def to_dict(self) -> dict:
        """The JSON form documented for ``check --json``."""
        return {
            "item_id": self.item_id,
            "sha256": self.sha256,
            "path": self.path,
            "outlet": self.outlet,
            "published_at": _iso(self.published_at),
            "url": self.url,
            "method": self.method,
            "distance": self.distance,
            "first_seen": _iso(self.first_seen.date) if self.first_seen else None,
            "first_seen_source": self.first_seen.source if self.first_seen else None,
            "first_seen_outlet": self.first_seen.outlet if self.first_seen else None,
            "sightings": self.sightings,
            "evidence": self.evidence,
        }


@dataclass
class CheckResult:
    """The answer for one query: its matches, best first, or why it could not be checked."""

    query: str
    matches: list[MatchView] = field(default_factory=list)
    error: str | None = None
    recorded_item_id: int | None = None

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "matches": [m.to_dict() for m in self.matches],
            "error": self.error,
            "recorded_item_id": self.recorded_item_id,
        }


def expand_queries(queries: Iterable[str | os.PathLike]) -> Iterator[str]:
    """Queries as given; a folder stands for the image and video files inside it (sorted, recursive)."""
    for q in queries:
        path = Path(q)
        if path.is_dir():
            for sub in sorted(path.rglob("*")):
                if sub.is_file() and sub.suffix.lower() in MEDIA_EXTENSIONS and not sub.name.startswith("."):
                    yield str(sub)
        else:
            yield str(q)


class Checker:
    """Answers queries against one ledger, keeping its indexes loaded between queries.

    Between queries it holds no transaction open (Ledger.reading): a checker on a writable
    ledger does not keep a scan beside it waiting.
    """

    def __init__(self, ledger: Ledger, matcher: Matcher | None = None):
        self.ledger = ledger
        with ledger.reading():
            self.matcher = matcher or Matcher(ledger)

    def check_path(self, query: str, *, record: Claim | None = None) -> CheckResult:
        """Check one image or video file; with ``record``, also index it under that claim."""
        with self.ledger.reading():
            return self._check_path(query, record)

    def _check_path(self, query: str, record: Claim | None) -> CheckResult:
        if is_video_file(query):
            return self._check_video(query, record)
        try:
            decoded = load_image(query, working_side=QUERY_WORKING_SIDE)
        except MediaError as exc:
            return CheckResult(query, error=exc.reason)
        prints = fingerprint_image(decoded, local=record is not None, keep_image=True, parts=record is not None)
        own = self.ledger.item_by_sha(prints.sha256)
        matches = self.matcher.match(prints, image=decoded.image)
        result = CheckResult(query, [self.view(m) for m in matches])
        if record is not None:
            st = os.stat(query)
            recorder = Recorder(self.ledger, self.matcher, ScanSummary())
            outcome = FileOutcome(os.path.abspath(query), prints, None, st.st_size, st.st_mtime_ns)
            recorder.record(outcome, [record])
            recorder.commit()
            self.matcher.save()
            result.recorded_item_id = (own or self.ledger.item_by_sha(prints.sha256)).id
        return result

    def explain(self, query: str, item_id: int) -> list[LookFigures]:
        """explain_match against this checker's ledger."""
        return explain_match(self.ledger, query, item_id)

    def check_video(self, query: str, *, record: Claim | None = None) -> CheckResult:
        """Check one video: the indexed videos whose footage it re-uses (segments, offset, share of
        the query) and the indexed pictures that appear in it (at which moment)."""
        with self.ledger.reading():
            return self._check_video(query, record)

    def _check_video(self, query: str, record: Claim | None) -> CheckResult:
        try:
            video = fingerprint_video(query)
        except MediaError as exc:
            return CheckResult(query, error=exc.reason)
        own = self.ledger.item_by_sha(video.sha256)
        matches = match_video(self.matcher, video, exclude={own.id} if own else set())
        if own is not None:
            matches.insert(0, Match(own.id, "sha256", 0.0, {"note": "identical file bytes"}))
        result = CheckResult(query, [self.view(m) for m in matches])
        if record is not None:
            st = os.stat(query)
            recorder = Recorder(self.ledger, self.matcher, ScanSummary())
            recorder.record(FileOutcome(os.path.abspath(query), None, None, st.st_size, st.st_mtime_ns, video=video), [record])
            recorder.commit()
            self.matcher.save()
            result.recorded_item_id = self.ledger.item_by_sha(video.sha256).id
        return result

    def view(self, m: Match) -> MatchView:
        """Attach the item's earliest sighting and its work's first-seen date to a match."""
        item = self.ledger.item(m.item_id)
        sightings = self.ledger.sightings([m.item_id])
        first = sightings[0] if sightings else None
        return MatchView(
            item_id=m.item_id,
            sha256=item.sha256,
            path=first.path if first else None,
            outlet=first.outlet if first else None,
            published_at=first.published_at if first else None,
            url=first.url if first else None,
            method=m.method,
            distance=m.distance,
            evidence=m.evidence,
            first_seen=first_seen(self.ledger, self.ledger.connected_items(m.item_id)),
            sightings=len(sightings),
        )


def explain_match(ledger: Ledger, query: str, item_id: int) -> list[LookFigures]:
    """How the query image fares against one indexed picture in every look of the local-feature
    stage: its figures, and why each look refuses it (local_match.explain_each); then against each part
    of it (the picture framed in it, parts.py: those looks name the part). It reads those items'
    features alone, so it needs no search index loaded. Raises MediaError for a query that cannot
    be decoded, NotFoundError for an item without local features."""
    with ledger.reading():
        blob = ledger.local_features(item_id, local_features.ALGORITHM, local_features.VERSION)
        part_ids = [part.item_id for part in ledger.parts_of(item_id) if is_current(part)]
        part_blobs = ledger.local_features_of(part_ids, local_features.ALGORITHM, local_features.VERSION)
    if blob is None:
        raise NotFoundError(f"item {item_id} has no local features of {local_features.ALGORITHM} "
                            f"v{local_features.VERSION} (a video, an imported hash, a hashed-only "
                            "or outdated item)")
    decoded = load_image(query, working_side=QUERY_WORKING_SIDE)
    part_ids = [part_id for part_id in part_ids if part_id in part_blobs]
    candidates = [local_features.LocalFeatures.from_bytes(b) for b in [blob] + [part_blobs[i] for i in part_ids]]
    whole, *of_parts = explain_each(decoded.image, candidates, original_size=decoded.size)
    return whole + [replace(f, part_item_id=part_id) for part_id, looks in zip(part_ids, of_parts) for f in looks]


def check(
    ledger: Ledger,
    queries: Iterable[str | os.PathLike],
    *,
    record: Claim | None = None,
) -> Iterator[CheckResult]:
    """Check each query image (folders expanded); yields one result per query, in order."""
    checker = Checker(ledger)
    for query in expand_queries(queries):
        yield checker.check_path(query, record=record)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
