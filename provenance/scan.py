"""Recording files in the ledger: whole archives (``scan``) and a few files at hand (``index_files``).

A scan is incremental, resumable and safe to re-run:
- a path whose size and mtime are unchanged since the last scan is not read again (and costs
  no query of its own: the ledger is asked once per batch);
- a file whose SHA-256 is known adds a sighting, never a second item;
- writes are committed in batches, each one transaction, so a killed scan loses at most the
  batch in flight and a re-run picks up from there;
- a bad file is one line in ``ScanSummary.failures`` and the scan goes on.
Fingerprinting (the slow part) can run in worker processes; only this process writes.

A scan with ``hashes_only`` (a first pass over a large backlog) records an image's SHA-256, PDQ
and pHash alone, several times faster, and links what they find (copies, re-encodings, resizes,
mirrors, recolourings). A later scan without it reads those files again, even unchanged, gives
their items local features and matches them as new: the crops, screenshots and collages.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from .errors import ProvenanceError
from .ledger import Ledger, sighting_key
from .manifest import Attribution, Manifest, read_manifest
from .matcher import Match, Matcher
from .media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, looks_like_image
from .prints import FileOutcome, ImagePrints, fingerprint_file
from .video import looks_like_video
from .video_match import record_video
from .works import refresh as refresh_works

#: Files per transaction: small enough that an interrupted scan redoes little, large enough
#: that commits do not dominate (benchmarks/scan_throughput.py).
BATCH_SIZE = 64
#: How often a worker process looks whether the scan that started it is still there.
WORKER_WATCH_SECONDS = 1.0
#: Whether a scan takes the screen look (local_match.search) for a file that nothing matched: the
#: picture on a photographed screen, straightened. The worker has looked for that screen already
#: (looking for the file's parts: ImagePrints.looked), so the writer only searches what it found; it
#: joins photos of a screen showing a social-media post to their picture's work 0.55 -> 0.94
#: (benchmarks/RESULTS.md).
SCREEN_LOOK = True

Progress = Callable[[str], None]


@dataclass
class ScanSummary:
    """What a scan (or an index call) did, for the summary line, --json and exit codes."""

    files_seen: int = 0
    new_items: int = 0
    new_sightings: int = 0
    new_links: int = 0
    completed: int = 0  # hashed-only items given local features and matched again
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    manifest_problems: list[str] = field(default_factory=list)
    interrupted: bool = False

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {
            "files_seen": self.files_seen,
            "new_items": self.new_items,
            "new_sightings": self.new_sightings,
            "new_links": self.new_links,
            "completed": self.completed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
            "skipped_files": [{"path": p, "reason": r} for p, r in self.skipped_files],
            "manifest_problems": self.manifest_problems,
            "interrupted": self.interrupted,
        }


@dataclass(frozen=True)
class Claim:
    """Where and when a file was published, as the caller claims it."""

    outlet: str | None = None
    published_at: datetime | None = None
    published_precision: str | None = None
    url: str | None = None
    source: str = "cli"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_attribution(cls, a: Attribution) -> "Claim":
        return cls(a.outlet, a.published_at, a.published_precision, a.url, "manifest", dict(a.extra, manifest_line=a.line))


class Recorder:
    """Writes fingerprinted files into the ledger and links them to what they match."""

    def __init__(self, ledger: Ledger, matcher: Matcher, summary: ScanSummary, report: IO[str] | None = None,
                 *, hashes_only: bool = False):
        self.ledger = ledger
        self.matcher = matcher
        self.summary = summary
        self.report = report
        #: files are fingerprinted for their global hashes alone (a scan's ``hashes_only``)
        self.hashes_only = hashes_only
        self._pending_report: list[dict] = []

    def record_unchanged(self, files: list[tuple[str, int, list[Claim]]]) -> None:
        """Sightings for unchanged files (path, item id, claims) whose items are known.

        One query for the whole batch finds the sightings already recorded (all of them, on a
        rescan), so an unchanged archive costs no query per file.
        """
        wanted = [(path, item_id, claim) for path, item_id, claims in files for claim in claims or [Claim(source="scan")]]
        existing = self.ledger.existing_sighting_keys(
            sighting_key(item_id, claim.outlet, claim.url, path) for path, item_id, claim in wanted)
        for path, item_id, claim in wanted:
            if sighting_key(item_id, claim.outlet, claim.url, path) not in existing:
                self._add_sightings(item_id, path, [claim])
        self.summary.unchanged += len(files)

    def record(self, outcome: FileOutcome, claims: list[Claim]) -> list[Match]:
        """Record one fingerprinted file; returns the matches that became new links.

        A known item is matched again only when this file completes it: it was hashed only, and
        these prints carry its local features (Ledger.add_item_status).
        """
        if outcome.video is not None:
            return self.record_video(outcome, claims)
        prints = outcome.prints
        assert prints is not None
        item, status = self.ledger.add_item_status(
            _decoded_facts(prints), prints.information, prints.fingerprints, prints.local_record
        )
        self.ledger.remember_file(outcome.path, outcome.size, outcome.mtime_ns, prints.sha256)
        self._add_sightings(item.id, outcome.path, claims)
        if status == "known":
            return []
        if status == "new":
            self.summary.new_items += 1
        else:
            self.summary.completed += 1
        # No second look at the index's scale (local_match.search): it would cost the one writer
        # ~55 ms of CPU on most new files, which match nothing (never-indexed queries, 1,000 items,
        # median 130 -> 184 ms); `provenance check` takes it. The screen look is taken (see
        # SCREEN_LOOK). The framed look costs an unmatched file without a frame (most photographs)
        # nothing: the worker looked for a frame and a screen when it looked for parts, and the
        # writer takes what it found (ImagePrints.looked; -19 ms of the writer's CPU on a file that
        # matched nothing, benchmarks/RESULTS.md). The cell look searches each picture of a collage
        # that nothing matched (a "photo report" grid): finding none costs a file ~5 ms (see
        # local_match.search, and benchmarks/RESULTS.md for its figures). A file that matched is
        # verified against what the chain says its matches came from (local_match.CHAIN_SOURCES):
        # with many copies of a picture in the archive, its original is often not among the 12
        # candidates a look verifies.
        matches = self.matcher.match(prints, image=None if prints.decoded is None else prints.decoded.image,
                                     exclude={item.id}, second_look=False, other_copies=False,
                                     screen_look=SCREEN_LOOK,
                                     local_later=self.hashes_only)
        linked = self._link(item.id, outcome.path, claims, matches)
        self.matcher.add(item.id, prints, hashes=status == "new")  # a completed item's hashes are in already
        for part in prints.parts:  # the picture framed in it, findable on its own (parts.py)
            part_id, created = self.ledger.add_part(item.id, part)
            if created:
                self.matcher.add(part_id, part.prints)
        return linked

    def record_video(self, outcome: FileOutcome, claims: list[Claim]) -> list[Match]:
        """Record one fingerprinted video and its keyframes; link it to the videos whose footage it
        re-uses and the pictures that appear in it (video_match.py)."""
        video = outcome.video
        item, created, matches = record_video(self.ledger, self.matcher, video)
        self.ledger.remember_file(outcome.path, outcome.size, outcome.mtime_ns, video.sha256)
        self._add_sightings(item.id, outcome.path, claims)
        if not created:
            return []
        self.summary.new_items += 1
        return self._link(item.id, outcome.path, claims, matches)

    def _link(self, item_id: int, path: str, claims: list[Claim], matches: list[Match]) -> list[Match]:
        """Record a link from each match to the new item; the matches that became new links."""
        linked = []
        for m in matches:
            if self.ledger.add_link(m.item_id, item_id, m.method, m.distance, m.evidence):
                self.summary.new_links += 1
                linked.append(m)
                self._pending_report.append(self._report_row(item_id, path, claims, m))
        return linked

    def commit(self) -> None:
        """Commit the batch, then write its report lines (so the report never runs ahead).

        The chains of the works the batch touched are derived again first, in the same
        transaction; their changes become report rows (works.py: new_work, new_sighting,
        chain_change).
        """
        self._pending_report.extend(refresh_works(self.ledger))
        self.ledger.commit()
        if self.report is not None:
            for row in self._pending_report:
                self.report.write(json.dumps(row, default=str) + "\n")
            self.report.flush()
        self._pending_report.clear()

    def rollback(self) -> None:
        self.ledger.rollback()
        self._pending_report.clear()

    def _add_sightings(self, item_id: int, path: str, claims: list[Claim]) -> None:
        for claim in claims or [Claim(source="scan")]:
            _, created = self.ledger.add_sighting(
                item_id,
                outlet=claim.outlet,
                path=path,
                url=claim.url,
                published_at=claim.published_at,
                published_precision=claim.published_precision,
                published_source=claim.source,
                extra=claim.extra,
            )
            self.summary.new_sightings += int(created)

    def _report_row(self, item_id: int, path: str, claims: list[Claim], m: Match) -> dict:
        claim = claims[0] if claims else Claim()
        earlier = self.ledger.sightings([m.item_id])
        first = earlier[0] if earlier else None
        return {
            "type": "republication",
            "item": {"item_id": item_id, "path": path, "outlet": claim.outlet, "url": claim.url,
                     "published_at": claim.published_at},
            "earlier": {"item_id": m.item_id, "path": first and first.path, "outlet": first and first.outlet,
                        "url": first and first.url, "published_at": first and first.published_at},
            "method": m.method,
            "distance": m.distance,
            "evidence": m.evidence,
        }


def _decoded_facts(prints: ImagePrints):
    """The file facts add_item needs, from prints (which carry no pixels)."""
    from .media import DecodedImage

    return DecodedImage(prints.name, prints.sha256, prints.file_size, prints.format, prints.width,
                        prints.height, image=None, exif=prints.exif)  # type: ignore[arg-type]


# --- archives -------------------------------------------------------------------------------

def walk_archive(root: Path, exclude: set[str]) -> Iterator[str]:
    """Every regular file under root, sorted, skipping hidden files and folders and symlinks."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.normpath(os.path.abspath(os.path.join(dirpath, name)))
            if path in exclude or os.path.islink(path):
                continue
            yield path


def classify(path: str) -> str | None:
    """None if the file is worth fingerprinting, else the reason it is skipped."""
    ext = Path(path).suffix.lower()
    if ext in VIDEO_EXTENSIONS or ext in IMAGE_EXTENSIONS:
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None  # let fingerprinting report the read error
    return None if looks_like_image(head) or looks_like_video(head) else "not a media file"


def scan(
    ledger: Ledger,
    root: str | os.PathLike,
    *,
    manifest: str | os.PathLike | None = None,
    report: IO[str] | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    matcher: Matcher | None = None,
    hashes_only: bool = False,
) -> ScanSummary:
    """Index every image and video under ``root`` with the manifest's attributions; see module docstring.

    Raises ProvenanceError when the scan cannot run (no such folder, bad manifest header).
    KeyboardInterrupt rolls back the batch in flight and propagates with ``summary.interrupted``
    set on the summary passed through the exception's ``summary`` attribute.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise ProvenanceError(f"{root}: no such folder")
    parsed: Manifest | None = read_manifest(manifest) if manifest else None
    summary = ScanSummary(manifest_problems=list(parsed.problems) if parsed else [])
    exclude = _ledger_files(ledger) | ({os.path.normpath(os.path.abspath(manifest))} if manifest else set())
    paths = list(walk_archive(root_path, exclude))
    if parsed:
        walked = set(paths)
        paths.extend(sorted(p for p in parsed.entries if p not in walked))
    if on_total:
        on_total(len(paths))
    # The search indexes are loaded on the first new file: a rescan that finds nothing new
    # neither loads nor rewrites them (hundreds of MB at 20,000 items).
    lazy = _LazyMatcher(ledger, use_local=not hashes_only) if matcher is None else None
    matcher = matcher or lazy  # type: ignore[assignment]
    recorder = Recorder(ledger, matcher, summary, report, hashes_only=hashes_only)

    def claims_for(path: str) -> list[Claim]:
        return [Claim.from_attribution(a) for a in parsed.for_path(path)] if parsed else []

    with batched_run(workers, recorder.rollback, summary) as pool:
        for batch in _batches(paths, batch_size):
            _scan_batch(batch, recorder, claims_for, pool, progress)
            recorder.commit()
        if lazy is None or lazy.loaded:
            matcher.save()
    return summary


class _LazyMatcher:
    """A Matcher built on first use (see scan)."""

    def __init__(self, ledger: Ledger, use_local: bool = True):
        self._ledger = ledger
        self._use_local = use_local
        self._matcher: Matcher | None = None

    @property
    def loaded(self) -> bool:
        return self._matcher is not None

    def __getattr__(self, name: str):
        if self._matcher is None:
            self._matcher = Matcher(self._ledger, use_local=self._use_local)
        return getattr(self._matcher, name)


@contextmanager
def batched_run(workers: int, rollback: Callable[[], None], summary) -> Iterator[ProcessPoolExecutor | None]:
    """The frame of a run that commits batch by batch (a scan, a re-index): worker processes to
    fingerprint in (None for one: the caller's own), which end with the caller; on Ctrl-C the
    batch in flight is rolled back and the KeyboardInterrupt carries the summary, marked
    interrupted, to the caller."""
    pool = (ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent, initargs=(os.getpid(),))
            if workers > 1 else None)
    try:
        yield pool
    except KeyboardInterrupt as exc:
        rollback()
        summary.interrupted = True
        exc.summary = summary  # type: ignore[attr-defined]
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _exit_with_parent(parent: int) -> None:
    """Make a worker process end when the scan that started it is gone.

    A scan killed outright (kill -9, the out-of-memory killer, a cron timeout) cannot shut its
    pool down, and its workers, each holding a copy of the others' pipes, would wait for work
    forever. A watcher thread ends the worker once its parent has changed.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WORKER_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _scan_batch(batch: list[str], recorder: Recorder, claims_for, pool, progress: Progress | None) -> None:
    summary = recorder.summary
    to_hash: list[str] = []
    statted: list[tuple[str, os.stat_result]] = []
    for path in batch:
        summary.files_seen += 1
        reason = classify(path) if os.path.exists(path) else None
        if reason:
            summary.skipped += 1
            summary.skipped_files.append((path, reason))
            _tick(progress, path)
            continue
        try:
            statted.append((path, os.stat(path)))
        except OSError as exc:
            _fail(summary, path, "no such file" if isinstance(exc, FileNotFoundError)
                  else f"cannot read: {exc.strerror or exc}", claims_for(path))
            _tick(progress, path)
    # One query for the batch: which paths were seen before with this size and mtime.
    known = recorder.ledger.known_files([path for path, _ in statted])
    unchanged: list[tuple[str, int, list[Claim]]] = []
    for path, st in statted:
        size, mtime_ns, _, item_id = known.get(path, (None, None, None, None))
        if item_id is not None and size == st.st_size and mtime_ns == st.st_mtime_ns:
            unchanged.append((path, item_id, claims_for(path)))
        else:
            to_hash.append(path)  # new, changed, or its item is gone
    if unchanged and not recorder.hashes_only:  # a full scan completes what a hashes-only one left
        hashed_only = recorder.ledger.hashed_only_items(item_id for _, item_id, _ in unchanged)
        to_hash.extend(path for path, item_id, _ in unchanged if item_id in hashed_only)
        unchanged = [u for u in unchanged if u[1] not in hashed_only]
    if unchanged:
        recorder.record_unchanged(unchanged)
        for path, _, _ in unchanged:
            _tick(progress, path)
    work = functools.partial(fingerprint_file, hashes_only=True) if recorder.hashes_only else fingerprint_file
    outcomes: Iterable[FileOutcome] = pool.map(work, to_hash, chunksize=4) if pool else map(work, to_hash)
    for outcome in outcomes:
        claims = claims_for(outcome.path)
        if outcome.error is not None:
            _fail(summary, outcome.path, outcome.error, claims)
        else:
            recorder.record(outcome, claims)
            if outcome.video is not None:
                recorder.commit()  # a video is a long unit of work: an interruption keeps it
        _tick(progress, outcome.path)


def _fail(summary: ScanSummary, path: str, reason: str, claims: list[Claim]) -> None:
    summary.failed += 1
    lines = [str(c.extra["manifest_line"]) for c in claims if "manifest_line" in c.extra]
    named = f" (named in manifest line {', '.join(lines)})" if lines else ""
    summary.failures.append((path, reason + named))


def _tick(progress: Progress | None, path: str) -> None:
    if progress is not None:
        progress(path)


def _batches(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _ledger_files(ledger: Ledger) -> set[str]:
    db = ledger.sqlite_path
    if db is None:
        return set()
    base = str(db)
    return {base, base + "-wal", base + "-shm", base + "-journal"}


# --- a few files at hand --------------------------------------------------------------------

def index_files(
    ledger: Ledger,
    paths: Iterable[str | os.PathLike],
    claim: Claim | None = None,
    *,
    matcher: Matcher | None = None,
    report: IO[str] | None = None,
) -> ScanSummary:
    """Index the given files with one attribution, committing once at the end."""
    summary = ScanSummary()
    matcher = matcher or Matcher(ledger)
    recorder = Recorder(ledger, matcher, summary, report)
    claims = [claim] if claim else []
    for raw in paths:
        path = os.path.normpath(os.path.abspath(raw))
        summary.files_seen += 1
        outcome = fingerprint_file(path)
        if outcome.error is not None:
            summary.failed += 1
            summary.failures.append((str(raw), outcome.error))
            continue
        recorder.record(outcome, claims)
    recorder.commit()
    matcher.save()
    return summary
