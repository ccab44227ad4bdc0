"""Re-fingerprinting what an older version of an algorithm fingerprinted (``provenance reindex``).

Every stored fingerprint carries its algorithm's name and version, and search compares only
values of the current version. After an upgrade that changes an algorithm's output, the items
fingerprinted before it are invisible to that algorithm until they are fingerprinted again:
- ``outdated_items`` finds them (the ledger's rows of another version of a current algorithm:
  PDQ, pHash, the ORB local features, a video's sample track);
- ``reindex`` reads, for each, a copy whose SHA-256 is still the item's (its sightings' paths),
  computes the current prints and replaces the old rows. A video is decoded again and each
  keyframe item takes the prints of the keyframe at its moment.

A ledger that held images before parts existed (parts.py, migration 0003) carries a mark
(schema_info ``parts_backfill``): the images after its item id were never searched for the picture
framed in them. ``reindex`` reads those too, records their parts, and moves the mark on with
each batch; it removes the mark when every image has been searched. A ledger whose images were
searched with another parts finder (schema_info ``parts_finder``, see parts.finder) is marked
so at the start: every image is searched again, and the old finder's parts take no part in
matching. A part has no file of its own: when its prints are outdated, its whole's file is read
again and the part cut at the same box is fingerprinted (a keyframe's video likewise).

It runs in batches, each one transaction, so an interrupted run loses nothing and a re-run goes
on where it stopped. Links, works and sightings are left as they are: a link's evidence stays
what it was when the link was found. Fingerprinting can run in worker processes, as in a scan.
At the end the current search indexes are brought up to date and saved, and the index files of
other versions beside the ledger are deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import local_features
from .fingerprints import PDQ, PHash
from .index_store import remove_other_versions
from .ledger import Ledger
from .matcher import Matcher
from .models import PartRecord
from .parts import PartPrints, finder as parts_finder
from .prints import FileOutcome, fingerprint_file
from .scan import batched_run
from .video import Track

#: Items per transaction (as a scan's batches of files).
BATCH_SIZE = 64


def current_versions() -> tuple[dict[str, str], tuple[str, str], tuple[str, str]]:
    """The versions search compares: the global hashes' (algorithm -> version), then the local
    features' and a video track's (algorithm, version)."""
    return ({PDQ.name: PDQ.version, PHash.name: PHash.version},
            (local_features.ALGORITHM, local_features.VERSION), (Track.ALGORITHM, Track.VERSION))


@dataclass
class ReindexSummary:
    """What a re-index did, for the summary line, --json and exit codes."""

    outdated: int = 0  # items found outdated at the start (keyframes count with their video)
    refreshed: int = 0  # image and video items given the current prints
    frames_refreshed: int = 0  # keyframe items among them
    parts_added: int = 0  # parts found in images indexed before parts existed (parts.py)
    parts_refreshed: int = 0  # part items given the current prints, cut again from their whole's file
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (item id, why no copy was usable)
    frames_left: list[tuple[int, str]] = field(default_factory=list)  # keyframes no longer taken
    parts_left: list[tuple[int, str]] = field(default_factory=list)  # parts no longer cut at their box
    removed_files: list[str] = field(default_factory=list)  # index files of other versions, deleted
    interrupted: bool = False

    def to_dict(self) -> dict:
        return {
            "outdated": self.outdated,
            "refreshed": self.refreshed,
            "frames_refreshed": self.frames_refreshed,
            "parts_added": self.parts_added,
            "parts_refreshed": self.parts_refreshed,
            "unreadable": [{"item_id": i, "reason": r} for i, r in self.unreadable],
            "frames_left": [{"item_id": i, "reason": r} for i, r in self.frames_left],
            "parts_left": [{"item_id": i, "reason": r} for i, r in self.parts_left],
            "removed_files": self.removed_files,
            "interrupted": self.interrupted,
        }


def outdated_items(ledger: Ledger, limit: int | None = None) -> list[int]:
    """Ids of the items (and keyframe items) that hold prints of an older algorithm version, and
    of the images indexed before parts existed that wait for a search for theirs."""
    with ledger.reading():
        outdated, wanting_parts, _ = _outdated(ledger, limit)
    return sorted(outdated | wanting_parts)[:limit]


def _outdated(ledger: Ledger, limit: int | None = None) -> tuple[set[int], set[int], bool]:
    """(items holding prints of an older version, images waiting for a search for their parts,
    whether the parts backfill is pending at all)."""
    hashes, local, track = current_versions()
    outdated = set(ledger.outdated_item_ids(hashes, local, track, limit=limit))
    # searched with another finder: every image waits (reindex marks the ledger so as it starts)
    after = 0 if _another_finder(ledger) else ledger.parts_backfill_after()
    wanting_parts = set() if after is None else set(ledger.images_wanting_parts(after, local, limit=limit))
    return outdated, wanting_parts, after is not None


def has_outdated(ledger: Ledger) -> bool:
    """Whether any item is invisible to some current algorithm until re-indexed (cheap: one
    index probe per algorithm), for the warnings of ``check`` and ``scan``."""
    return bool(outdated_items(ledger, limit=1))


def reindex(
    ledger: Ledger,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ReindexSummary:
    """Give every outdated item the prints of the current versions, from a copy of its file.

    ``progress`` is told, per finished file item, how many it stands for (a video counts its
    keyframes too). KeyboardInterrupt rolls the batch in flight back and propagates with
    ``summary`` on the exception, as a scan's does.
    """
    summary = ReindexSummary()
    with ledger.reading():
        if _another_finder(ledger):  # every image again
            ledger.set_parts_backfill(0)
            ledger.set_parts_finder(parts_finder())
            ledger.commit()
        outdated, wanting_parts, backfill = _outdated(ledger)
        units, outdated_parts = _file_items(ledger, outdated | wanting_parts)
    summary.outdated = sum(len(frames) or 1 for frames in units.values())
    if on_total:
        on_total(summary.outdated)
    with batched_run(workers, ledger.rollback, summary) as pool:
        ids = sorted(units)
        for start in range(0, len(ids), batch_size):
            batch = ids[start:start + batch_size]
            _reindex_batch(ledger, batch, units, pool, summary, progress, outdated, wanting_parts, outdated_parts)
            if backfill:  # every image up to this one was searched for parts: an interrupted run goes on from here
                ledger.set_parts_backfill(batch[-1])
            ledger.commit()
    if backfill:
        ledger.set_parts_backfill(None)
        ledger.commit()
    if units:
        with ledger.reading():
            Matcher(ledger).save()  # the current indexes take the new rows now, not at the next check
            summary.removed_files = [str(p) for p in remove_other_versions(ledger)]
    return summary


def _another_finder(ledger: Ledger) -> bool:
    """Whether the ledger's images were searched for parts with another parts finder than this build's."""
    return ledger.parts_finder() != parts_finder()


def _reindex_batch(ledger: Ledger, batch: list[int], units: dict[int, list[int]], pool,
                   summary: ReindexSummary, progress: Callable[[int], None] | None,
                   outdated: set[int], wanting_parts: set[int], outdated_parts: dict[int, list[PartRecord]]) -> None:
    """Fingerprint one batch of file items again (in the pool when there is one) and record it:
    the current prints of those outdated (or of their keyframes or parts), the parts of those
    waiting for a search for them."""
    copies, known = ledger.copies_of(batch), ledger.items(batch)
    hashes, local, _ = current_versions()
    local_versions = ledger.local_feature_versions(batch, local[0])
    jobs = []
    for item_id in batch:
        if known[item_id].kind == "hash":
            summary.unreadable.append((item_id, "an imported hash, without a file: import its list again"))
            if progress:
                progress(1)
        else:
            # Local features cost most of a fingerprint: computed again only where an older
            # version is stored (an item a hashes-only scan left without them stays so: the scan
            # that completes it also matches it).
            versions = local_versions.get(item_id, set())
            parts = item_id in wanting_parts or item_id in outdated_parts
            local_current = not versions or local[1] in versions
            jobs.append((item_id, known[item_id].sha256, copies.get(item_id, []), local_current, parts))
    for item_id, outcome, why in pool.map(_fingerprint_copy, jobs) if pool else map(_fingerprint_copy, jobs):
        if outcome is None:
            summary.unreadable.append((item_id, why))
        elif outcome.video is not None:
            _replace_video(ledger, item_id, outcome, units[item_id], summary)
        else:
            p = outcome.prints
            if item_id in outdated:
                ledger.replace_prints(item_id, p.information, p.fingerprints, p.local_record, hashes, local)
                summary.refreshed += 1
            for part in p.parts:
                summary.parts_added += int(ledger.add_part(item_id, part)[1])
            _refresh_parts(ledger, outdated_parts.get(item_id, []), p.parts, summary)
        if progress:
            progress(len(units[item_id]) or 1)


def _file_items(ledger: Ledger, item_ids: Iterable[int]) -> tuple[dict[int, list[int]], dict[int, list[PartRecord]]]:
    """The items that have a file, each with its outdated keyframe or part items (neither has a
    file of its own: its video is decoded again, its whole image read again), and the outdated
    parts of each whole."""
    ids = list(item_ids)
    frames, parts = ledger.frames_by_item(ids), ledger.parts_by_item(ids)
    units: dict[int, list[int]] = {}
    outdated_parts: dict[int, list[PartRecord]] = {}
    for item_id in ids:
        frame, part = frames.get(item_id), parts.get(item_id)
        if frame is not None:
            units.setdefault(frame.video_item_id, []).append(item_id)
        elif part is not None:
            units.setdefault(part.whole_item_id, []).append(item_id)
            outdated_parts.setdefault(part.whole_item_id, []).append(part)
        else:
            units.setdefault(item_id, [])
    return units, outdated_parts


def _refresh_parts(ledger: Ledger, outdated: list[PartRecord], cut: list[PartPrints], summary: ReindexSummary) -> None:
    """Give each outdated part the current prints of the part cut again at its box."""
    hashes, local, _ = current_versions()
    at = {(part.method, part.box): part.prints for part in cut}
    for part in outdated:
        p = at.get((part.method, (part.x0, part.y0, part.x1, part.y1)))
        if p is None:
            summary.parts_left.append((part.item_id, "its whole's file no longer shows a picture there"))
            continue
        ledger.replace_prints(part.item_id, p.information, p.fingerprints, p.local_record, hashes, local)
        summary.parts_refreshed += 1


def _fingerprint_copy(job: tuple[int, str, list[str], bool, bool]) -> tuple[int, FileOutcome | None, str]:
    """(item id, the prints of the first copy whose SHA-256 is the item's, or None and why); an
    image's local features only when its stored ones are outdated, its parts when the job says so
    (they need the working image, the global hashes alone do not)."""
    item_id, sha256, paths, local_current, parts = job
    if not paths:
        return item_id, None, "no path recorded for it"
    reasons = []
    for path in paths:
        outcome = fingerprint_file(path, keep_image=False, hashes_only=local_current and not parts, parts=parts,
                                   local=not local_current)
        if outcome.error is not None:
            reasons.append(f"{path}: {outcome.error}")
            continue
        found = outcome.video.sha256 if outcome.video is not None else outcome.prints.sha256
        if found != sha256:
            reasons.append(f"{path}: changed since it was indexed (another SHA-256)")
            continue
        return item_id, outcome, ""
    return item_id, None, "; ".join(reasons)


def _replace_video(ledger: Ledger, video_id: int, outcome: FileOutcome, outdated_frames: list[int],
                   summary: ReindexSummary) -> None:
    """A video decoded again: its track, and each keyframe item from the keyframe at its moment."""
    video = outcome.video
    hashes, local, _ = current_versions()
    ledger.replace_track(video_id, video.track.ALGORITHM, video.track.VERSION, video.track.to_bytes())
    at = {round(kf.time, 3): kf for kf in video.keyframes}
    outdated = set(outdated_frames)
    for frame in ledger.frames_of(video_id):
        if frame.item_id not in outdated:
            continue
        kf = at.get(round(frame.timestamp_s, 3))
        if kf is None:
            summary.frames_left.append((frame.item_id, f"no keyframe is taken at {frame.timestamp_s:.3f} s any more"))
            continue
        p = kf.prints
        ledger.replace_prints(frame.item_id, p.information, p.fingerprints, p.local_record, hashes, local)
        summary.frames_refreshed += 1
    summary.refreshed += 1
