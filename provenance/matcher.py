"""Query -> candidates -> verified matches, each with the evidence an investigator can defend.

Stages, cheapest first:
1. **sha256**: the exact same bytes.
2. **pdq**: PDQ within ``PDQ.match_threshold`` of any of the query's 8 dihedral variants
   (re-encodes, resizes, colour changes, mirrors, turns by 90 degrees). Beyond
   ``PDQ_ALONE_MAX``, or through a turn or an upside-down flip, the local-feature stage must
   verify the same item too (when it runs).
3. **orb**: local features voted through a binary index and verified geometrically
   (crops, logos, banners, screenshots, collages, photos of screens): see local_match.py.
4. **phash**: pHash within ``PHash.match_threshold``, added as corroborating evidence to items
   another stage found (alone it matched unrelated pictures in the benchmark).

Low-information images (see fingerprints.information) take part in none of the perceptual
stages, as queries or as indexed items. One result per item, at its strongest method, with the
evidence of every method that found it.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import local_features, local_match
from .fingerprints import PDQ, PHash, is_low_information
from .fingerprints.pdq import pdq_dihedral
from .index import HashIndex
from .index_store import LocalIndexFile, pdq_file, phash_file
from .ledger import Ledger
from .media import hash_picture
from .parts import fold_parts
from .prints import ImagePrints
from .video_match import QueryView, VideoFrames

#: Strongest evidence first.
#: "video": a clip whose footage agrees with an indexed video over several samples; "thumb": a
#: picture whose tiny thumbnail agrees with a video's at one moment (video_match.py).
METHOD_RANK = {"sha256": 0, "pdq": 1, "video": 1, "orb": 2, "phash": 3, "thumb": 3}

#: PDQ distance up to which PDQ alone makes a match; from there to ``PDQ.match_threshold`` the
#: local-feature stage must verify the same item. Tune half: unrelated generated scenes (web-page
#: cards on one template) came within 22 of each other (and within 0-8 bits of pHash, so pHash
#: cannot corroborate); of 380 true pairs within 24, 73 were beyond 8 and all but 6 of those were
#: verified by local features too, the 6 at 10-20 (one beyond 16: a resize to 40% at 20).
PDQ_ALONE_MAX = 16
#: The dihedral variants through which PDQ matches alone: the picture as published and mirrored.
#: Turned by 90 or 180 degrees or flipped upside down, a re-published photograph is rare (and
#: local features, which turn with it, verify it easily), but a periodic pattern is not: on the
#: tune half, a scan of every file (benchmarks/scan_links.py) linked two checkerboards of other
#: sizes through "rotated 270" at distance 16. Through the other variants the local-feature stage
#: must verify the item too.
PDQ_ALONE_VARIANTS = frozenset({0, 5})

#: A part of a query that a later look of the local-feature stage searches (the picture framed in
#: it, the picture on a photographed screen, the picture framed in the post that screen shows, a
#: collage's cell) is also looked up by its PDQ hash, upright and mirrored: the PART_HASH_PROPOSALS
#: nearest indexed items within PART_HASH_RADIUS bits are verified in that look however low the
#: visual words rank them (local_match.search, `propose`). They are only candidates: nothing is
#: reported that local features do not verify. Tune half, 1,000 items (more_seeds.py seeds 9-16):
#: the picture framed on 440 photographed posts lay within 80 bits of its original's hash for 83%
#: (median 50; within 72: 79%), a straightened monitor's for 97% of 289; no other item came within
#: 86 bits of either. Of the photographed posts check missed, the original's words had ranked it
#: 114th-288th of 1,000 items in the framed-on-screen look; 7 of those 17 are found this way.
PART_HASH_RADIUS = 80
PART_HASH_PROPOSALS = 4

# pdqhash's order of the dihedral variants: index 4 flips about the x axis (upside down), index 5
# about the y axis (a left-right mirror), as measured on the reference's bridge images.
_DIHEDRAL_NAMES = ("original", "rotated 90", "rotated 180", "rotated 270", "flipped vertically", "mirrored",
                   "transposed", "anti-transposed")
_MIRRORED = _DIHEDRAL_NAMES.index("mirrored")


def near_by_hash(pdq: HashIndex, picture: Image.Image, holds: Container[int]) -> list[local_match.Proposal]:
    """The items of the PDQ index `pdq` near a part of a query (`picture`), or near its mirror
    image, that `holds` (the local-feature index) can verify: the PART_HASH_PROPOSALS nearest within
    PART_HASH_RADIUS bits; none for a picture too flat to hash (PDQ.min_quality)."""
    hashes, quality = pdq_dihedral(np.asarray(hash_picture(picture.convert("RGB"))))
    if quality < PDQ.min_quality:
        return []
    hits = sorted(pdq.search([hashes[0], hashes[_MIRRORED]], PART_HASH_RADIUS),
                  key=lambda hit: (hit.distance, hit.item_id))
    return [local_match.Proposal(hit.item_id, hit.variant == 1, hit.distance)
            for hit in hits if hit.item_id in holds][:PART_HASH_PROPOSALS]


@dataclass
class Match:
    """One indexed item that shows the same picture as the query, and why we say so."""

    item_id: int
    method: str
    distance: float | None
    evidence: dict = field(default_factory=dict)

    def sort_key(self) -> tuple:
        # for "orb" the "distance" is a count of verified points: more is stronger
        strength = self.distance if self.distance is not None else 0.0
        return (METHOD_RANK.get(self.method, 9), -strength if self.method == "orb" else strength, self.item_id)


class Matcher:
    """The search indexes of one ledger, kept in memory, and the matching rules over them."""

    def __init__(self, ledger: Ledger, *, use_local: bool = True):
        self.ledger = ledger
        self.use_local = use_local
        self._pdq_file = pdq_file(ledger).load()
        self._phash_file = phash_file(ledger).load()
        self.local = LocalIndexFile(ledger).load() if use_local else None
        #: Keyframe items and their videos: matches on keyframes are reported on their video.
        self.videos = VideoFrames(ledger)

    # --- building ----------------------------------------------------------------------------

    @property
    def pdq(self) -> HashIndex:
        return self._pdq_file.index

    @property
    def phash(self) -> HashIndex:
        return self._phash_file.index

    def add(self, item_id: int, prints: ImagePrints, *, hashes: bool = True) -> None:
        """Make a just-indexed item findable by later queries (e.g. later files of a scan);
        ``hashes=False`` adds its local features alone (an item completed by a full scan)."""
        if is_low_information(prints.information):
            return
        pdq = prints.get(PDQ.name)
        if hashes and pdq is not None and (pdq.quality or 0) >= PDQ.min_quality:
            self._pdq_file.add(item_id, pdq.value)
        ph = prints.get(PHash.name)
        if hashes and ph is not None:
            self._phash_file.add(item_id, ph.value)
        if self.local is not None and prints.local_blob is not None:
            self.local.add(item_id, local_features.LocalFeatures.from_bytes(prints.local_blob))

    def save(self) -> None:
        """Persist the search indexes beside the ledger (call after a commit; the reads it makes
        end their transaction, see Ledger.reading)."""
        with self.ledger.reading():
            for store in (self._pdq_file, self._phash_file, self.local):
                if store is not None:
                    store.save()

    # --- matching ----------------------------------------------------------------------------

    def wholes(self, matches: list[Match]) -> list[Match | None]:
        """Matches on parts (a picture cut from an indexed item) as matches on their whole items, one
        for one; None in place of a match on a part another parts finder cut (parts.fold_parts)."""
        if not matches:
            return matches
        ids = {m.item_id for m in matches} | {m.evidence["found_via"] for m in matches if m.evidence.get("found_via")}
        parts = self.ledger.parts_by_item(ids)
        if not parts:
            return matches
        items = self.ledger.items({p.whole_item_id for p in parts.values()} | set(parts))
        return fold_parts(matches, parts, {i: (item.width, item.height) for i, item in items.items()})

    def _near_by_hash(self, picture: Image.Image) -> list[local_match.Proposal]:
        return near_by_hash(self.pdq, picture, self.local.index)

    def _parts_among(self, item_ids: list[int]) -> set[int]:
        return set(self.ledger.parts_by_item(item_ids))

    def _sources_of(self, item_ids: list[int]) -> dict[int, list[int]]:
        """Each item's ancestors in its work's stored chain, nearest first: up to
        local_match.CHAIN_SOURCES of them, from as many generations at most (local_match.search
        verifies no more)."""
        parents: dict[int, set[int]] = {}
        asked: set[int] = set()
        frontier = set(item_ids)
        for _ in range(local_match.CHAIN_SOURCES):
            found = self.ledger.parent_items(frontier)
            parents.update(found)
            asked |= frontier
            frontier = set().union(*found.values()) - asked
            if not frontier:
                break
        sources = {}
        for item_id in item_ids:
            ancestors, generation = [], {item_id}
            while generation and len(ancestors) < local_match.CHAIN_SOURCES:
                generation = {p for i in generation for p in parents.get(i, ())} - set(ancestors) - {item_id}
                ancestors += sorted(generation)
            if ancestors:
                sources[item_id] = ancestors
        return sources

    def match(self, prints: ImagePrints, image: Image.Image | None = None, exclude: set[int] | None = None,
              *, fold_frames: bool = True, second_look: bool = True, framed_look: bool = True,
              screen_look: bool | None = None,
              other_copies: bool = True, local_later: bool = False) -> list[Match]:
        """Every indexed item showing the query's picture, best first.

        ``image`` (the decoded working image) enables the local-feature stage; ``exclude``
        leaves out items (the query's own item when it is itself indexed). When the prints carry
        precomputed query features (``prints.query``, computed on that same image by a scan's
        worker), the local-feature stage uses them instead of extracting them again.
        ``second_look`` lets the local-feature stage verify the first look's deeper candidates for a
        query that matched nothing and search it once more by its strong corners (a noisy one), at
        the index's scale and a crop's, and
        ``framed_look`` then the picture framed in it and each picture of a collage, and with both
        (or ``screen_look`` True; False never), the picture on a photographed screen, straightened
        (local_match.search): a check takes every look, a scan the framed, screen and cell looks
        (see scan.py).
        ``other_copies`` lets it go on from a match to the picture's other indexed copies (a check
        does; a scan's links put the copies in one work already). Either goes on from a match to
        the items its work's chain says it came from (local_match.CHAIN_SOURCES).
        ``local_later`` says the local-feature stage is put off (``scan --hashes-only``): PDQ then
        matches alone only where it would beside that stage (PDQ_ALONE_MAX, PDQ_ALONE_VARIANTS);
        the rest waits for the scan that completes the query's item.
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
        # Without the local stage (no image: video keyframes; use_local=False) PDQ matches alone up
        # to its threshold, as video_match.py was tuned; not when that stage is only put off.
        local_stage = self.local is not None and image is not None and len(self.local.index) > 0
        verified: set[int] = set()  # items the local-feature stage verified
        pdq_pending: list[Match] = []  # not alone: offered once local features agree
        if pdq is not None and (pdq.quality or 0) >= PDQ.min_quality:
            hits = self.pdq.search(prints.pdq_dihedral, PDQ.match_threshold)
            alone = [(hit.distance <= PDQ_ALONE_MAX and hit.variant in PDQ_ALONE_VARIANTS)
                     or not (local_stage or local_later) for hit in hits]
            hit_matches = self.wholes([Match(hit.item_id, "pdq", float(hit.distance), {
                "threshold": PDQ.match_threshold,
                "bits": PDQ.bits,
                "query_quality": pdq.quality,
                "indexed_quality": self.ledger.fingerprint_quality(hit.item_id, PDQ.name, PDQ.version),
                "transform": _DIHEDRAL_NAMES[hit.variant],
                "edits": [] if hit.variant == 0 else [_DIHEDRAL_NAMES[hit.variant]],
            }) for hit in hits])
            for m, is_alone in zip(hit_matches, alone):
                if m is not None:
                    (offer if is_alone else pdq_pending.append)(m)

        if local_stage:
            query = mirrored = None
            if prints.query is not None:
                query, mirrored = prints.query.unpack(image)
            # what the worker found in this very image when it looked for parts, not looked for again
            looked = prints.looked if prints.decoded is not None and image is prints.decoded.image else None
            local = local_match.search(image, self.local.index, self.local.loader, query=query,
                                       query_mirrored=mirrored, prefetch=self.local.prefetch,
                                       second_look=second_look, framed_look=framed_look,
                                       screen_look=screen_look,
                                       other_copies=other_copies,
                                       original_size=(prints.width, prints.height),
                                       propose=self._near_by_hash, looked=looked,
                                       parts_among=self._parts_among,
                                       sources_of=self._sources_of)
            size = [prints.width, prints.height]
            orb = [Match(lm.item_id, "orb", float(lm.inliers), {**lm.to_evidence(), "query_size": size})
                   for lm in local]
            for m in filter(None, self.wholes(orb)):
                offer(m)
                verified.add(m.item_id)
        for m in pdq_pending:
            if m.item_id in verified:
                m.evidence["corroborated_by"] = "orb"
                offer(m)

        ph = prints.get(PHash.name)
        if ph is not None and found:
            # pHash corroborates, it never matches alone: on the tune half, unrelated generated
            # scenes came within 0-2 bits of each other (benchmarks/match_quality.py).
            for hit in self.phash.search([ph.value], PHash.match_threshold):
                if hit.item_id in found:
                    found[hit.item_id].evidence.setdefault("also", []).append(
                        {"method": "phash", "distance": float(hit.distance), "threshold": PHash.match_threshold,
                         "bits": PHash.bits})

        result = sorted(found.values(), key=Match.sort_key)
        if fold_frames:  # keyframes of a video -> the video, at the matching moment (video_match.py)
            result = self.videos.fold(result, QueryView(image, (prints.width, prints.height), prints.pdq_dihedral))
        return result
