"""provenance: have we seen this picture before, who published it first, and who copied it from whom?

How data flows (one way):

    file -> media (safe decode, EXIF) -> fingerprints (sha256, PDQ, pHash) + local_features (ORB)
         -> ledger (items, sightings, fingerprints, links)  and  index / local_index (search)
         -> matcher (candidates -> verified matches with evidence) -> chain (works, first seen)
         -> check / scan (the operations) -> cli (a thin layer nothing imports)

Works: the ledger keeps which items form which work (ledger_works: merges, splits, in the
transaction that writes the links); chain infers each work's first-seen date, conflict flags
and who-copied-whom tree (arborescence: the best tree); works stores the result and says what
changed; review holds the investigator's judgements; outlets, exchange and plot read it out.

Video: video (decode as a stream, probe facts, keyframes at cuts and every few seconds, a PDQ
and thumbnail track of 4 samples a second) makes each keyframe an item of kind "frame" that every
image matcher finds; video_match reports those matches as the video at a timecode, and aligns a
query video's track with indexed ones (segments, offset, share of the query). Scans, ``index``
and ``check`` take video files beside images.

The public API, which the CLI is a thin layer over:
- ``open_ledger(db)``: a SQLite path or an SQLAlchemy URL (``readonly=True`` for a reader that
  runs beside a scan: a writable SQLite ledger's reads take the write lock, which the functions
  below release when they are done, and which a Ledger's own methods, and ``refresh_works``
  (whose writes its caller commits), keep until a commit);
- ``scan(ledger, folder, manifest=...)``: index an archive, incrementally;
- ``index_files(ledger, paths, Claim(...))``: index a few files with one attribution;
- ``check(ledger, queries)``: find the indexed items that show each query's picture;
- ``history(ledger, item_id)``: every sighting of a work, in date order, dates with sources;
- ``work_chain(ledger, work_id)`` / ``item_chain``: who copied whom, with reasons and flags;
- ``outlets(ledger)``: per outlet, works first published, re-published, copied from, lag;
- ``reindex(ledger)``: fingerprint again what an older algorithm version fingerprinted;
- ``reject_link``, ``confirm_link``, ``split_work``, ``add_note``: the investigator's judgement;
- ``export_ledger``, ``export_pdq``, ``import_hash_list``: CSV / JSON Lines, ``hex,quality`` lists;
- ``plot_chain(chain, "t.svg")``: a work's timeline, lanes by outlet (PNG, SVG, HTML).
"""

from .chain import Chain, ChainNode, DateFact, FirstSeen, Flag, first_seen, item_chain, work_chain
from .check import CheckResult, Checker, MatchView, check
from .errors import LedgerError, ManifestError, MediaError, NotFoundError, ProvenanceError
from .exchange import export_ledger, export_pdq, import_hash_list
from .history import History, history
from .ledger import Ledger, open_ledger
from .matcher import Match, Matcher
from .outlets import OutletStats, outlets
from .plot import plot_chain
from .reindex import ReindexSummary, outdated_items, reindex
from .review import add_note, confirm_link, reject_link, split_work
from .scan import Claim, ScanSummary, index_files, scan
from .works import rebuild as rebuild_works, refresh as refresh_works

__version__ = "0.1.0"

__all__ = [
    "Chain",
    "ChainNode",
    "CheckResult",
    "Checker",
    "Claim",
    "DateFact",
    "FirstSeen",
    "Flag",
    "History",
    "Ledger",
    "LedgerError",
    "ManifestError",
    "Match",
    "MatchView",
    "Matcher",
    "MediaError",
    "NotFoundError",
    "OutletStats",
    "ProvenanceError",
    "ReindexSummary",
    "ScanSummary",
    "add_note",
    "check",
    "confirm_link",
    "export_ledger",
    "export_pdq",
    "first_seen",
    "history",
    "import_hash_list",
    "index_files",
    "item_chain",
    "open_ledger",
    "outdated_items",
    "outlets",
    "plot_chain",
    "rebuild_works",
    "refresh_works",
    "reindex",
    "reject_link",
    "scan",
    "split_work",
    "work_chain",
]
