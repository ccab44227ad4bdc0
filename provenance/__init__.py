"""provenance: have we seen this picture before, who published it first, and who copied it from whom?

How data flows (one way):

    file -> media (safe decode, EXIF) -> fingerprints (sha256, PDQ, pHash) + local_features (ORB)
         -> ledger (items, sightings, fingerprints, links)  and  index / local_index (search)
         -> matcher (candidates -> verified matches with evidence) -> chain (works, first seen)
         -> check / scan (the operations) -> cli (a thin layer nothing imports)

The public API, which the CLI is a thin layer over:
- ``open_ledger(db)``: a SQLite path or an SQLAlchemy URL;
- ``scan(ledger, folder, manifest=...)``: index an archive, incrementally;
- ``index_files(ledger, paths, Claim(...))``: index a few files with one attribution;
- ``check(ledger, queries)``: find the indexed items that show each query's picture;
- ``history(ledger, item_id)``: every sighting of a work, in date order.
"""

from .chain import FirstSeen, History, first_seen, history
from .check import CheckResult, Checker, MatchView, check
from .errors import LedgerError, ManifestError, MediaError, NotFoundError, ProvenanceError
from .ledger import Ledger, open_ledger
from .matcher import Match, Matcher
from .scan import Claim, ScanSummary, index_files, scan

__version__ = "0.1.0"

__all__ = [
    "CheckResult",
    "Checker",
    "Claim",
    "FirstSeen",
    "History",
    "Ledger",
    "LedgerError",
    "ManifestError",
    "Match",
    "MatchView",
    "Matcher",
    "MediaError",
    "NotFoundError",
    "ProvenanceError",
    "ScanSummary",
    "check",
    "first_seen",
    "history",
    "index_files",
    "open_ledger",
    "scan",
]
