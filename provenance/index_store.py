"""Where a ledger's search indexes live on disk, and how they catch up with the ledger.

Building the indexes from the ledger's rows costs seconds at a million items, so each is saved
in a file beside the ledger (for a server ledger, in the user's cache folder) with a stamp: which
ledger it belongs to and the last ledger row it holds, with its item's SHA-256. Loading reads the
file, then adds the rows the ledger gained since (another machine's scan, an interrupted scan); a
file that belongs to another ledger, whose last row the ledger no longer holds for the same item
(the ledger was restored from an older copy, and perhaps grew another way since), or that cannot
be read is rebuilt from scratch. The ledger stays the source of truth:
deleting the files only costs a rebuild.

To add an index: subclass :class:`PersistedIndex` with ``suffix``, ``empty``, ``read``,
``write`` and ``rows`` (the ledger rows to add, after a row id).
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

from . import local_features
from .fingerprints import PDQ, PHash, is_low_information
from .index import HashIndex
from .ledger import Ledger
from .local_index import FILE_FORMAT, LocalFeatureIndex

#: Local features kept in memory for verification (LocalIndexFile.loader): ~30 kB each.
LOADER_CACHE = 2048


def index_folder(ledger: Ledger) -> tuple[Path, str]:
    """(folder, file-name prefix) of a ledger's index files."""
    sqlite = ledger.sqlite_path
    if sqlite is not None:
        return sqlite.parent, sqlite.name
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "provenance"
    return cache, sha256(ledger.url.encode()).hexdigest()[:16]


class PersistedIndex:
    """One search index of a ledger, persisted beside it and kept up to date (see module doc)."""

    suffix = "index"

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        folder, prefix = index_folder(ledger)
        self.path = folder / f"{prefix}.{self.suffix}"
        self.index = self.empty()
        self.last_row_id = 0
        self.last_item_id: int | None = None  # the item of that row (rows caught up with)
        self._fresh: set[int] = set()  # items added in memory since the last catch-up

    # hooks ------------------------------------------------------------------------------------
    def empty(self):
        raise NotImplementedError

    def read(self, path: Path):
        raise NotImplementedError

    def write(self, path: Path) -> None:
        raise NotImplementedError

    def rows(self, after_id: int, limit: int | None = None) -> Iterator[tuple[int, int, object]]:
        """(row id, item id, value to add or None to skip) of ledger rows after a row id (the first
        `limit` of them)."""
        raise NotImplementedError

    def add_value(self, item_id: int, value) -> None:
        raise NotImplementedError

    def add_values(self, pairs: list[tuple[int, object]]) -> None:
        """Add many (item id, value) pairs; override where the index adds in bulk faster."""
        for item_id, value in pairs:
            self.add_value(item_id, value)

    # mechanism --------------------------------------------------------------------------------
    def add(self, item_id: int, value) -> None:
        """Add an item just recorded in this process (its row may not be committed yet)."""
        self.add_value(item_id, value)
        self._fresh.add(item_id)

    @property
    def _meta_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def load(self) -> "PersistedIndex":
        """Load the file if it belongs to this ledger, then add newer ledger rows.

        The ledger must still hold the file's last row, of the picture its stamp names (a stamp
        written before stamps named it: the row need only exist). A ledger never deletes the rows
        of the versions its indexes read, so one without that row, or with another picture's
        there, is an older copy of the ledger the file was saved from: the file would hold items
        it never had."""
        try:
            meta = json.loads(self._meta_path.read_text())
            row_id = int(meta["last_row_id"])
            if meta.get("ledger") == self.ledger.url and meta.get("created_at") == self.ledger.created_at:
                item_id = self._item_of_row(row_id)
                picture = meta.get("last_item_sha256")
                if row_id == 0 or (item_id is not None and picture in (None, self._sha256(item_id))):
                    self.index, self.last_row_id, self.last_item_id = self.read(self.path), row_id, item_id
        except (OSError, ValueError, KeyError, RuntimeError):
            self.index, self.last_row_id, self.last_item_id = self.empty(), 0, None
        self.catch_up()
        return self

    def _item_of_row(self, row_id: int) -> int | None:
        """The item of one ledger row this index reads, None when the ledger has no such row."""
        first = next(iter(self.rows(row_id - 1, limit=1)), None)
        return first[1] if first is not None and first[0] == row_id else None

    def _sha256(self, item_id: int | None) -> str | None:
        return None if item_id is None else self.ledger.item(item_id).sha256

    def catch_up(self) -> None:
        """Add the ledger rows after the last one held (skipping items added in memory)."""
        batch: list[tuple[int, object]] = []
        for row_id, item_id, value in self.rows(self.last_row_id):
            self.last_row_id, self.last_item_id = row_id, item_id
            if value is not None and item_id not in self._fresh:
                batch.append((item_id, value))
                if len(batch) >= 1000:
                    self.add_values(batch)
                    batch = []
        self.add_values(batch)
        self._fresh.clear()

    def save(self) -> None:
        """Catch up with committed rows, then write the index and its stamp atomically."""
        self.catch_up()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.write(tmp)
        os.replace(tmp, self.path)
        meta_tmp = self._meta_path.with_name(self._meta_path.name + ".tmp")
        meta_tmp.write_text(json.dumps({"ledger": self.ledger.url, "created_at": self.ledger.created_at,
                                        "last_row_id": self.last_row_id,
                                        "last_item_sha256": self._sha256(self.last_item_id),
                                        "items": len(self.index)}))
        os.replace(meta_tmp, self._meta_path)


class HashIndexFile(PersistedIndex):
    """A PDQ or pHash multi-index-hashing index (index.HashIndex) of a ledger."""

    def __init__(self, ledger: Ledger, algorithm, *, min_quality: int | None = None):
        self.algorithm = algorithm
        self.min_quality = min_quality
        self.suffix = f"{algorithm.name}-v{algorithm.version}.npz"
        self.quality: dict[int, int] = {}
        super().__init__(ledger)

    def empty(self) -> HashIndex:
        return HashIndex(self.algorithm.bits)

    def read(self, path: Path) -> HashIndex:
        return HashIndex.load(path)

    def write(self, path: Path) -> None:
        self.index.save(path)

    def rows(self, after_id: int, limit: int | None = None):
        for row_id, item_id, value, quality, information in self.ledger.iter_fingerprint_rows(
            self.algorithm.name, self.algorithm.version, after_id, limit
        ):
            usable = not is_low_information(information) and (
                self.min_quality is None or (quality is not None and quality >= self.min_quality))
            yield row_id, item_id, value if usable else None

    def add_value(self, item_id: int, value: str) -> None:
        self.index.add(item_id, value)


class LocalIndexFile(PersistedIndex):
    """The local-feature (ORB) index of a ledger (local_index.LocalFeatureIndex).

    The file name carries the feature version and the index's file format, so an index file of
    another version (such as the faiss index before visual words) is never read; a file of the
    right name built with another vocabulary fails to load and is rebuilt."""

    def __init__(self, ledger: Ledger):
        self.suffix = f"{local_features.ALGORITHM}-v{local_features.VERSION}.words{FILE_FORMAT}"
        super().__init__(ledger)
        self._loaded: OrderedDict[int, local_features.LocalFeatures] = OrderedDict()

    def empty(self) -> LocalFeatureIndex:
        return LocalFeatureIndex()

    def read(self, path: Path) -> LocalFeatureIndex:
        return LocalFeatureIndex.load(path)

    def write(self, path: Path) -> None:
        self.index.save(path)

    def rows(self, after_id: int, limit: int | None = None):
        for row_id, item_id, blob, information in self.ledger.iter_local_features(
            local_features.ALGORITHM, local_features.VERSION, after_id=after_id, limit=limit
        ):
            usable = not is_low_information(information)
            yield row_id, item_id, local_features.LocalFeatures.from_bytes(blob) if usable else None

    def add_value(self, item_id: int, value) -> None:
        if item_id not in self.index:
            self.index.add(item_id, value)

    def add_values(self, pairs: list[tuple[int, object]]) -> None:
        self.index.add_many([(i, v) for i, v in pairs if i not in self.index])

    def add(self, item_id: int, value) -> None:
        """Add an item just recorded; its features are at hand, so later verifications need not load them."""
        super().add(item_id, value)
        self._remember(item_id, value)

    def _remember(self, item_id: int, features: local_features.LocalFeatures) -> None:
        self._loaded[item_id] = features
        self._loaded.move_to_end(item_id)
        if len(self._loaded) > LOADER_CACHE:
            self._loaded.popitem(last=False)

    def prefetch(self, item_ids: list[int]) -> None:
        """Load the stored features of the items not in memory yet, in one ledger query (a
        shortlist's 48 candidates: one query instead of one each)."""
        missing = [i for i in item_ids if i not in self._loaded]
        if not missing:
            return
        found = self.ledger.local_features_of(missing, local_features.ALGORITHM, local_features.VERSION)
        for item_id in missing:
            if item_id in found:
                self._remember(item_id, local_features.LocalFeatures.from_bytes(found[item_id]))

    def loader(self, item_id: int) -> local_features.LocalFeatures:
        """The stored local features of one item (for verification).

        The most recently used are kept (LOADER_CACHE of them, ~30 kB each): in a scan the same
        few indexed items come up as candidates of many queries, and a ledger query per
        candidate cost a scan's writer a quarter of its matching time.
        """
        features = self._loaded.get(item_id)
        if features is not None:
            self._loaded.move_to_end(item_id)
            return features
        blob = self.ledger.local_features(item_id, local_features.ALGORITHM, local_features.VERSION)
        if blob is None:
            raise KeyError(item_id)
        features = local_features.LocalFeatures.from_bytes(blob)
        self._remember(item_id, features)
        return features


def pdq_file(ledger: Ledger) -> HashIndexFile:
    """The PDQ index of a ledger: only hashes of quality >= PDQ.min_quality take part."""
    return HashIndexFile(ledger, PDQ, min_quality=PDQ.min_quality)


def phash_file(ledger: Ledger) -> HashIndexFile:
    """The pHash index of a ledger."""
    return HashIndexFile(ledger, PHash)


#: The name, after the ledger's prefix, of any version's index file or stamp (see the suffixes above).
_INDEX_FILE = re.compile(r"(pdq|phash|orb)-v[^.]+\.(npz|words\d+)(\.json)?")


def remove_other_versions(ledger: Ledger) -> list[Path]:
    """Delete the index files (and stamps) of other algorithm versions beside a ledger; they are
    never read by this build and, at a million items, take gigabytes. Returns what was removed."""
    folder, prefix = index_folder(ledger)
    current = {store.path.name for store in (pdq_file(ledger), phash_file(ledger), LocalIndexFile(ledger))}
    current |= {name + ".json" for name in current}
    removed = []
    for path in sorted(folder.glob(f"{glob.escape(prefix)}.*")):
        rest = path.name[len(prefix) + 1:]
        if path.name not in current and _INDEX_FILE.fullmatch(rest):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
