"""Query -> candidates -> verified matches, each with the evidence an investigator can defend.

Stages, cheapest first:
1. **sha256**: the exact same bytes.
2. **pdq**: PDQ within ``PDQ.match_threshold`` of any of the query's 8 dihedral variants
   (re-encodes, resizes, colour changes, mirrors, turns by 90 degrees).
3. **orb**: local features voted through a binary index and verified geometrically
   (crops, logos, banners, screenshots, collages, photos of screens): see local_match.py.
4. **phash**: pHash within ``PHash.match_threshold``, a second opinion beside PDQ.

Low-information images (see fingerprints.information) take part in none of the perceptual
stages, as queries or as indexed items. One result per item, at its strongest method, with the
evidence of every method that found it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from PIL import Image

from . import local_features, local_match
from .fingerprints import PDQ, PHash, is_low_information
from .index import HashIndex
from .ledger import Ledger
from .local_index import LocalFeatureIndex
from .prints import ImagePrints

#: Strongest evidence first.
METHOD_RANK = {"sha256": 0, "pdq": 1, "orb": 2, "phash": 3}

_DIHEDRAL_NAMES = ("original", "rotated 90", "rotated 180", "rotated 270", "mirrored", "flipped vertically",
                   "transposed", "anti-transposed")


@dataclass
class Match:
    """One indexed item that shows the same picture as the query, and why we say so."""

    item_id: int
    method: str
    distance: float | None
    evidence: dict = field(default_factory=dict)

    def sort_key(self) -> tuple:
        return (METHOD_RANK.get(self.method, 9), self.distance if self.distance is not None else 0.0, self.item_id)


class Matcher:
    """The search indexes of one ledger, kept in memory, and the matching rules over them."""

    def __init__(self, ledger: Ledger, *, use_local: bool = True):
        self.ledger = ledger
        self.use_local = use_local
        self.pdq = HashIndex(PDQ.bits)
        self.phash = HashIndex(PHash.bits)
        self._pdq_quality: dict[int, int] = {}
        self._sha_to_item: dict[str, int] = {}
        for item_id, value, quality, information in ledger.iter_fingerprints(PDQ.name, PDQ.version):
            self._add_pdq(item_id, value, quality, information)
        for item_id, value, _quality, information in ledger.iter_fingerprints(PHash.name, PHash.version):
            if not is_low_information(information):
                self.phash.add(item_id, value)
        self.local = LocalIndexCache(ledger).load() if use_local else None

    # --- building ----------------------------------------------------------------------------

    def add(self, item_id: int, prints: ImagePrints) -> None:
        """Make a just-indexed item findable by later queries (e.g. later files of a scan)."""
        pdq = prints.get(PDQ.name)
        if pdq is not None:
            self._add_pdq(item_id, pdq.value, pdq.quality, prints.information)
        ph = prints.get(PHash.name)
        if ph is not None and not is_low_information(prints.information):
            self.phash.add(item_id, ph.value)
        if self.local is not None and prints.local_blob is not None and not is_low_information(prints.information):
            if item_id not in self.local.index:
                self.local.index.add(item_id, local_features.LocalFeatures.from_bytes(prints.local_blob))

    def _add_pdq(self, item_id: int, value: str, quality: int | None, information: float) -> None:
        if quality is not None and quality >= PDQ.min_quality and not is_low_information(information):
            self.pdq.add(item_id, value)
            self._pdq_quality[item_id] = quality

    def save(self) -> None:
        """Persist the local-feature index beside the ledger (call after a commit)."""
        if self.local is not None:
            self.local.save()

    # --- matching ----------------------------------------------------------------------------

    def match(self, prints: ImagePrints, image: Image.Image | None = None, exclude: set[int] | None = None) -> list[Match]:
        """Every indexed item showing the query's picture, best first.

        ``image`` (the decoded working image) enables the local-feature stage; ``exclude``
        leaves out items (the query's own item when it is itself indexed).
        """
        exclude = exclude or set()
        found: dict[int, Match] = {}

        def offer(m: Match) -> None:
            if m.item_id in exclude:
                return
            current = found.get(m.item_id)
            if current is None:
                found[m.item_id] = m
                return
            best, other = (m, current) if m.sort_key() < current.sort_key() else (current, m)
            best.evidence.setdefault("also", []).append({"method": other.method, "distance": other.distance, **other.evidence})
            found[m.item_id] = best

        exact = self.ledger.item_by_sha(prints.sha256)
        if exact is not None:
            offer(Match(exact.id, "sha256", 0.0, {"note": "identical file bytes"}))

        if is_low_information(prints.information):
            return sorted(found.values(), key=Match.sort_key)

        pdq = prints.get(PDQ.name)
        if pdq is not None and (pdq.quality or 0) >= PDQ.min_quality:
            for hit in self.pdq.search(prints.pdq_dihedral, PDQ.match_threshold):
                offer(Match(hit.item_id, "pdq", float(hit.distance), {
                    "threshold": PDQ.match_threshold,
                    "bits": PDQ.bits,
                    "query_quality": pdq.quality,
                    "indexed_quality": self._pdq_quality.get(hit.item_id),
                    "transform": _DIHEDRAL_NAMES[hit.variant],
                    "edits": [] if hit.variant == 0 else [_DIHEDRAL_NAMES[hit.variant]],
                }))

        if self.local is not None and image is not None and len(self.local.index):
            for lm in local_match.search(image, self.local.index, self.local.loader):
                ev = _in_query_pixels(lm.to_evidence(), prints.width / image.width)
                ev["query_size"] = [prints.width, prints.height]
                offer(Match(lm.item_id, "orb", float(lm.inliers), ev))

        ph = prints.get(PHash.name)
        if ph is not None:
            for hit in self.phash.search([ph.value], PHash.match_threshold):
                offer(Match(hit.item_id, "phash", float(hit.distance), {"threshold": PHash.match_threshold, "bits": PHash.bits}))

        return sorted(found.values(), key=Match.sort_key)


def _in_query_pixels(ev: dict, factor: float) -> dict:
    """Local evidence is in the query's working-image pixels; express it in the file's pixels."""
    if abs(factor - 1.0) < 1e-6:
        return ev
    if ev.get("quad_in_query"):
        ev["quad_in_query"] = [[round(x * factor, 2), round(y * factor, 2)] for x, y in ev["quad_in_query"]]
    if ev.get("homography"):  # original -> query: scale the query side
        ev["homography"] = [[v * factor for v in ev["homography"][0]], [v * factor for v in ev["homography"][1]],
                            list(ev["homography"][2])]
    if ev.get("correspondences"):
        ev["correspondences"] = [[orig, [round(qx * factor, 2), round(qy * factor, 2)]]
                                 for orig, (qx, qy) in ev["correspondences"]]
    return ev


class LocalIndexCache:
    """The local-feature index of a ledger, persisted in a file beside it and kept up to date.

    The file records the last ledger row it holds; loading adds whatever the ledger gained since
    (e.g. after an interrupted scan) and rebuilds from scratch if the file belongs to another
    ledger or is unreadable. The ledger stays the source of truth: deleting the file only costs
    a rebuild.
    """

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.index = LocalFeatureIndex()
        self.last_row_id = 0
        self.path = self._path_for(ledger)

    @staticmethod
    def _path_for(ledger: Ledger) -> Path:
        name = f"{local_features.ALGORITHM}-v{local_features.VERSION}.faiss"
        sqlite = ledger.sqlite_path
        if sqlite is not None:
            return sqlite.with_name(sqlite.name + f".{name}")
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "provenance"
        return cache / f"{sha256(ledger.url.encode()).hexdigest()[:16]}.{name}"

    def _stamp(self) -> dict:
        return {"ledger": self.ledger.url, "created_at": self.ledger.created_at, "last_row_id": self.last_row_id}

    def load(self) -> "LocalIndexCache":
        """Load the persisted index if it belongs to this ledger, then add newer rows."""
        meta_path = self.path.with_name(self.path.name + ".json")
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("ledger") == self.ledger.url and meta.get("created_at") == self.ledger.created_at:
                index = LocalFeatureIndex.load(self.path)
                self.index, self.last_row_id = index, int(meta["last_row_id"])
        except (OSError, ValueError, KeyError, RuntimeError):
            self.index, self.last_row_id = LocalFeatureIndex(), 0
        self._catch_up()
        return self

    def _catch_up(self) -> None:
        items = self.ledger.items_information()
        batch = []
        for row_id, item_id, blob in self.ledger.iter_local_features(
            local_features.ALGORITHM, local_features.VERSION, after_id=self.last_row_id
        ):
            self.last_row_id = row_id
            if item_id in self.index or is_low_information(items.get(item_id, 1.0)):
                continue
            batch.append((item_id, local_features.LocalFeatures.from_bytes(blob)))
            if len(batch) >= 1000:
                self.index.add_many(batch)
                batch = []
        if batch:
            self.index.add_many(batch)

    def loader(self, item_id: int) -> local_features.LocalFeatures:
        """The stored local features of one item (for verification)."""
        blob = self.ledger.local_features(item_id, local_features.ALGORITHM, local_features.VERSION)
        if blob is None:
            raise KeyError(item_id)
        return local_features.LocalFeatures.from_bytes(blob)

    def save(self) -> None:
        """Write the index and its stamp (atomically: a crash leaves the old pair or none)."""
        self._catch_up()  # rows committed by this process since load (a scan's new items)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.index.save(tmp)
        os.replace(tmp, self.path)
        meta_path = self.path.with_name(self.path.name + ".json")
        meta_tmp = meta_path.with_name(meta_path.name + ".tmp")
        meta_tmp.write_text(json.dumps(self._stamp()))
        os.replace(meta_tmp, meta_path)

