"""First-seen dates and attribution chains: who published a picture first, who copied it from whom.

Derived data, computed from the ledger's items, sightings and links (chain_facts.py reads them;
works.py stores the result and keeps work identity; history.py shows it beside the evidence).
The nouns:

- A **work** is the set of items joined by accepted (not rejected) match links: every copy of
  one picture.
- Each sighting carries **dates with their sources**: the date an outlet claims (from a
  manifest, the command line or an imported list), the date we indexed it, the camera's EXIF
  capture time and, for video, the container's creation time. A claimed date is **credible**
  unless it contradicts something: it is after the day we indexed the file, or before the
  EXIF capture time (beyond the 14 hours a zone-less camera clock may be off), or it is a copy's
  date that falls before the date of the copy it demonstrably derives from.
- The **first-seen** date of a work is its earliest credible claimed date, else the earliest
  date we indexed any copy; it says which, lists the earlier dates it set aside and why, and
  names every outlet that claims the same first date.
- The **chain** is a tree of sightings: each one's most likely parent, with the reason and the
  alternatives. It is built in two steps. Items first: every link is read for derivation
  evidence and scored both ways (weights below), and the tree of greatest total score is
  taken (arborescence.py). Sightings then: the first sighting of an item hangs under a sighting
  of its parent item; later sightings of the same file hang under its earliest one.

Conflicts are never resolved silently: each becomes a :class:`Flag` on the chain.

To extend for video frames (items of kind "frame"): an item without sightings stays in the item
tree, and its children's sightings hang under its nearest ancestor that has sightings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .arborescence import max_arborescence
from .chain_facts import CROPPED_SHARE, ItemFacts, LinkFacts, SightingFacts, WorkFacts, load_facts, orb_evidence
from .ledger import Ledger, SightingView

# --- how much each kind of evidence weighs (points for "c was copied from p") -------------------
# Only the order of these matters; tests/test_chain.py pins the cases that motivate each step.
#: An edit that cannot be undone (a crop, a grayscale copy) says which copy
#: came first more surely than ...
W_ONE_WAY = 4.0
#: ... two claimed dates in the other order (outlets back-date, manifests err), which weigh more
#: than ...
W_DATES = 2.0
#: A picture found whole inside a larger one whose surroundings go on across its outline
#: (surround.py: it was cut out of the larger one) weighs between the two: measured, not certain.
W_SURROUND_CROP = 3.0
#: ... a picture with a border along its outline (a frame, caption or screenshot added; but a
#: frame can be cropped away again; and a copy that leaves out such a frame, or the other
#: pictures of a collage past a seam, is the picture without them, not a crop:
#: chain_facts.LinkFacts.cut_away), which weighs more than a part of a picture shown inside a
#: larger frame (a screenshot of a crop, or two crops of a source we do not hold: two edits where
#: the frame is one, so a photo of a screen showing all of the original hangs under it rather
#: than under a copy in bars it shows 76% of), which weigh more than ...
W_SURROUND_FRAME = 1.5
W_FRAMED_CROP = 1.25
#: ... quality: a lower-resolution or more compressed copy derives from the better one.
W_QUALITY = 1.0
#: An investigator-confirmed link is the preferred path among otherwise equal ones.
W_CONFIRMED = 0.5
#: When one of the two copies has only the date we indexed it (an upper bound on when it was
#: published), or both have: a hint, not evidence.
W_WEAK_DATES = 0.3
W_INDEXED = 0.1
#: Tie-breakers: a nearer copy (smaller distance) and a tighter crop are the nearer relatives.
W_SIMILAR = 0.5
#: Saying "copied from a source the ledger does not hold": only against firm contrary evidence.
W_OUTSIDE_SOURCE = -3.0
#: A competing parent scoring within this margin of the chosen one is listed as an alternative.
AMBIGUITY_MARGIN = 1.0

#: A camera clock has no zone: local time lies between UTC-12 and UTC+14.
EXIF_SLACK = timedelta(hours=14)
#: A claimed date more than this after we indexed the file cannot be true.
INDEX_SLACK = timedelta(days=1)
_PRECISION = {"day": timedelta(days=1)}
_ROOT = 0  # the virtual root of the item tree (item ids start at 1)


# --- outputs --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DateFact:
    """One date of a sighting and where it came from."""

    kind: str  # "claimed", "indexed", "exif_capture", "container_created"
    at: datetime  # UTC; an EXIF capture time is the camera's clock, without zone
    precision: str
    source: str
    credible: bool = True
    doubt: str | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "at": self.at.isoformat(), "precision": self.precision, "source": self.source,
                "credible": self.credible, "doubt": self.doubt}


@dataclass(frozen=True)
class Flag:
    """A conflict in a work's evidence, shown rather than hidden."""

    kind: str  # see FLAG_KINDS
    message: str
    sighting_ids: tuple[int, ...] = ()
    item_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "sighting_ids": list(self.sighting_ids),
                "item_ids": list(self.item_ids)}


FLAG_KINDS = {
    "exif_after_claimed": "the camera's capture time is after the claimed publication",
    "claimed_after_indexed": "the claimed publication is after the day we indexed the file",
    "dated_before_source": "a copy is dated before the copy it derives from",
    "tied_first": "two outlets claim the same first date",
    "derivation_conflict": "the chain had to go against one-way edit evidence",
}


@dataclass(frozen=True)
class FirstSeen:
    """The earliest credible sighting of a work and which date it rests on."""

    date: datetime
    source: str  # "claimed" (an outlet's claimed date) or "indexed" (when we first saw it)
    outlet: str | None
    sighting_id: int
    item_id: int
    precision: str = "second"
    #: Where a claimed date came from: "manifest", "cli", "import".
    basis: str | None = None
    #: Other outlets claiming the same first date (a tie, also flagged).
    tied_with: tuple[str, ...] = ()
    #: Earlier claimed dates that were not credited, each {"sighting_id", "outlet", "date", "why"}.
    set_aside: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        return {"date": self.date.isoformat(), "source": self.source, "outlet": self.outlet,
                "sighting_id": self.sighting_id, "item_id": self.item_id, "precision": self.precision,
                "basis": self.basis, "tied_with": list(self.tied_with), "set_aside": list(self.set_aside)}


@dataclass(frozen=True)
class Alternative:
    """Another plausible parent of a sighting."""

    sighting_id: int | None
    item_id: int
    outlet: str | None
    reason: str

    def to_dict(self) -> dict:
        return {"sighting_id": self.sighting_id, "item_id": self.item_id, "outlet": self.outlet, "reason": self.reason}


@dataclass
class ChainNode:
    """One sighting in a work's chain and its most likely parent."""

    sighting_id: int
    item_id: int
    outlet: str | None
    outlet_id: int | None
    url: str | None
    path: str | None
    date: datetime
    date_source: str  # "claimed" or "indexed": the date the chain places it at
    precision: str
    dates: tuple[DateFact, ...]
    parent_sighting_id: int | None = None
    parent_item_id: int | None = None
    #: "origin", "independent", "same_file", "crop", "frame", "edit", "containment", "quality", "dates",
    #: "order"
    basis: str = "origin"
    reason: str = ""
    confidence: str = "-"  # "strong", "likely", "weak" ("-" for a root)
    alternatives: tuple[Alternative, ...] = ()
    link_id: int | None = None
    edits: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "sighting_id": self.sighting_id, "item_id": self.item_id, "outlet": self.outlet, "url": self.url,
            "path": self.path, "date": self.date.isoformat(), "date_source": self.date_source,
            "precision": self.precision, "dates": [d.to_dict() for d in self.dates],
            "parent_sighting_id": self.parent_sighting_id, "parent_item_id": self.parent_item_id,
            "basis": self.basis, "reason": self.reason, "confidence": self.confidence,
            "alternatives": [a.to_dict() for a in self.alternatives], "link_id": self.link_id,
            "edits": list(self.edits),
        }


@dataclass
class Chain:
    """A work's chain: its sightings as a tree, its first-seen date and its flags."""

    work_id: int | None
    item_ids: list[int]
    nodes: list[ChainNode]  # in date order
    first_seen: FirstSeen | None
    flags: list[Flag]
    item_parents: dict[int, int | None]

    def node(self, sighting_id: int) -> ChainNode:
        return next(n for n in self.nodes if n.sighting_id == sighting_id)

    def roots(self) -> list[ChainNode]:
        return [n for n in self.nodes if n.parent_sighting_id is None]

    def children(self) -> dict[int | None, list[ChainNode]]:
        """Nodes by parent sighting id (None: the roots), each list in date order."""
        out: dict[int | None, list[ChainNode]] = {}
        for n in self.nodes:
            out.setdefault(n.parent_sighting_id, []).append(n)
        return out

    def to_dict(self) -> dict:
        return {
            "work_id": self.work_id,
            "items": self.item_ids,
            "first_seen": self.first_seen.to_dict() if self.first_seen else None,
            "flags": [f.to_dict() for f in self.flags],
            "item_parents": {str(k): v for k, v in self.item_parents.items()},
            "nodes": [n.to_dict() for n in self.nodes],
        }


# --- inference ------------------------------------------------------------------------------

@dataclass
class _Dated:
    """A sighting's effective date: the interval its date allows, and what it is."""

    start: datetime
    end: datetime
    source: str  # "claimed" or "indexed"
    precision: str


def infer_chain(facts: WorkFacts, work_id: int | None = None) -> Chain:
    """The chain, first-seen date and flags of one work, from its facts (pure; see module doc)."""
    items, links = facts.items, facts.links
    flags: list[Flag] = []
    dates, dated = _sighting_dates(facts, flags)
    by_item: dict[int, list[SightingFacts]] = {}
    for s in sorted(facts.sightings, key=lambda s: (dated[s.id].start, s.indexed_at, s.id)):
        by_item.setdefault(s.item_id, []).append(s)
    item_when = {i: dated[ss[0].id] for i, ss in by_item.items()}
    for i, item in items.items():
        item_when.setdefault(i, _Dated(item.first_indexed_at, item.first_indexed_at, "indexed", "second"))

    # Items: score every linked pair both ways, take the best tree.
    options: dict[int, list[_Option]] = {i: [] for i in items}
    for link in sorted(links, key=lambda ln: ln.id):
        reading = _read_link(link, items)
        for p, c in ((link.earlier, link.later), (link.later, link.earlier)):
            options[c].append(_score(p, c, link, reading, item_when))
    edges = [(_ROOT, i, W_OUTSIDE_SOURCE) for i in sorted(items)]
    for c in sorted(options):
        edges += [(o.parent, c, o.score) for o in options[c]]
    parents = max_arborescence(sorted(items), edges, _ROOT) if links else {i: _ROOT for i in items}
    item_parent = {i: (None if p == _ROOT else p) for i, p in parents.items()}

    nodes = _sighting_tree(facts, item_parent, options, by_item, dated, dates, flags)
    nodes.sort(key=lambda n: (n.date, n.sighting_id))
    set_aside = {f.sighting_ids[0]: f for f in flags if f.kind == "dated_before_source"}
    first = _first_seen(nodes, dated, set_aside, flags)
    for n in nodes:
        if n.basis == "origin" and first is not None and n.sighting_id != first.sighting_id:
            n.reason = "the copy the others derive from, though not the first seen (see its dates)"
    return Chain(work_id, sorted(items), nodes, first, flags, item_parent)


def _sighting_dates(facts: WorkFacts, flags: list[Flag]) -> tuple[dict[int, tuple[DateFact, ...]], dict[int, _Dated]]:
    """Every sighting's dates with their sources, and the date the chain places it at."""
    dates: dict[int, tuple[DateFact, ...]] = {}
    dated: dict[int, _Dated] = {}
    for s in facts.sightings:
        item = facts.items.get(s.item_id)
        out = []
        effective = _Dated(s.indexed_at, s.indexed_at, "indexed", "second")
        if s.published_at is not None:
            precision = s.precision or "second"
            end = s.published_at + _PRECISION.get(precision, timedelta(0))
            doubt = kind = None
            if s.published_at - INDEX_SLACK > s.indexed_at:
                kind, doubt = "claimed_after_indexed", f"claimed {_day(s.published_at)}, after we indexed it on {_day(s.indexed_at)}"
            elif item is not None and item.exif_taken_at is not None and \
                    end.replace(tzinfo=None) + EXIF_SLACK < item.exif_taken_at:
                kind, doubt = "exif_after_claimed", (f"claimed {_day(s.published_at)}, but the camera took it on "
                                                     f"{item.exif_taken_at:%Y-%m-%d %H:%M} (EXIF)")
            if kind:
                flags.append(Flag(kind, f"{_who(s)}: {doubt}", (s.id,), (s.item_id,)))
            else:
                effective = _Dated(s.published_at, end, "claimed", precision)
            out.append(DateFact("claimed", s.published_at, precision, _claim_source(s), doubt is None, doubt))
        out.append(DateFact("indexed", s.indexed_at, "second", "indexed by provenance"))
        if item is not None and item.exif_taken_at is not None:
            out.append(DateFact("exif_capture", item.exif_taken_at, "second", "EXIF capture time (camera clock, no zone)"))
        if item is not None and item.container_created_at is not None:
            out.append(DateFact("container_created", item.container_created_at, "second", "video container creation time"))
        dates[s.id] = tuple(out)
        dated[s.id] = effective
    return dates, dated


@dataclass
class _Reading:
    """What one link says about which of its two items derives from the other."""

    #: (basis, weight, text): evidence that ``later`` derives from ``earlier`` (a negative weight: the
    #: reverse), the text worded for the direction it supports.
    evidence: list[tuple[str, float, str]] = field(default_factory=list)
    similarity: float = 0.5
    #: For a crop: the share of the fuller picture it shows (a nearer ancestor shows more), and
    #: which way it runs (+1: later cut from earlier; -1: earlier cut from later).
    tightness: float = 0.0
    tight_sign: float = 1.0
    ambiguous: str | None = None
    edits: tuple[str, ...] = ()


@dataclass
class _Option:
    """One possible parent of an item, scored."""

    parent: int
    score: float
    basis: str
    reason: str
    strong: bool
    against_one_way: bool
    link: LinkFacts
    ambiguous: str | None
    edits: tuple[str, ...]


def _read_link(link: LinkFacts, items: dict[int, ItemFacts]) -> _Reading:
    """Derivation evidence of a link. The matcher's evidence describes the later item (the
    query) against the earlier one (the indexed original)."""
    ev = link.evidence
    orb = orb_evidence(link)
    edits = tuple(dict.fromkeys([*(ev.get("edits") or []), *((orb or {}).get("edits") or [])]))
    r = _Reading(edits=edits)
    a, b = link.earlier, link.later
    if link.method == "sha256":
        r.similarity = 1.0
    elif link.method in ("pdq", "phash") and link.distance is not None:
        bits = float(ev.get("bits") or (256 if link.method == "pdq" else 64))
        r.similarity = max(0.0, 1.0 - 4.0 * float(link.distance) / bits)
    if orb is not None:
        share = float(orb.get("visible_share", 1.0))
        if link.method == "orb":
            r.similarity = float(orb.get("ncc_blocks", 0.5))
        cropped = "cropped" in edits or share < CROPPED_SHARE
        framed = "framed" in edits
        if cropped and link.cut_away in ("frame", "seam"):
            # what the later leaves out of the earlier is a frame around the picture, or the other
            # pictures of a collage: the later is that picture without them, and the earlier the
            # picture framed (or, when the later is framed too, each a framing of one picture: no
            # direction)
            if not framed:
                r.evidence.append(("frame", -W_SURROUND_FRAME, f"item {a} is item {b} {_FRAMING[link.cut_away]}"))
        elif cropped and not framed:
            r.evidence.append(("crop", W_ONE_WAY, f"a crop of item {a} (shows {share:.0%} of it)"))
            r.tightness = share
        elif cropped:
            # no tightness: the share of an item a framed copy shows says little of which it came from
            r.evidence.append(("crop", W_FRAMED_CROP, f"shows {share:.0%} of item {a} inside a larger frame"))
            r.ambiguous = (f"item {b} shows part of item {a} in a larger frame: a screenshot of a crop, "
                           "or another crop of a source the ledger does not hold")
        elif framed and link.surround == "crop":
            r.evidence.append(("crop", -W_SURROUND_CROP, f"a crop of item {b}: the picture goes on around it there"))
            r.tightness, r.tight_sign = _quad_share(orb, items.get(b)), -1.0
        elif framed and link.surround in ("frame", "seam"):
            r.evidence.append(("frame", W_SURROUND_FRAME, f"item {a} {_FRAMING[link.surround]}"))
        elif framed:
            r.ambiguous = (f"item {b} shows all of item {a} with more around it: either item {a} with a frame, "
                           f"caption or banner added, or item {a} is a crop of item {b}")
    if "grayscale" in edits:
        r.evidence.append(("edit", W_ONE_WAY, f"a grayscale copy of item {a}"))
    if "perspective" in edits:  # one-way too, but the matcher also reports it for small re-encodes
        r.evidence.append(("edit", W_QUALITY, "looks photographed off a screen or print (perspective)"))
    geometric = orb is not None and ("cropped" in edits or "framed" in edits)
    if not geometric:
        r.evidence += _quality(items.get(a), items.get(b))
    return r


#: What surround.py found around a picture, as a link's reason says it.
_FRAMING = {"frame": "with a frame, caption or screenshot around it",
            "seam": "joined to more along straight seams (a collage, a banner, bars)"}


def _quad_share(orb: dict, later: ItemFacts | None) -> float:
    """The share of the later picture covered by the earlier one (its quad), 0 when unknown."""
    quad = orb.get("quad_in_query") or []
    size = orb.get("query_size") or ((later.width, later.height) if later is not None else None)
    if len(quad) != 4 or not size or not size[0] or not size[1]:
        return 0.0
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(quad, quad[1:] + quad[:1])))
    return max(0.0, min(1.0, area / (float(size[0]) * float(size[1]))))


def _quality(a: ItemFacts | None, b: ItemFacts | None) -> list[tuple[str, float, str]]:
    """Resolution, then compression: the poorer copy derives from the better one."""
    if a is None or b is None or a.kind == "hash" or b.kind == "hash" or not (a.width and b.width):
        return []
    pa, pb = a.width * a.height, b.width * b.height
    if pa >= 1.1 * pb:
        return [("quality", W_QUALITY, _smaller(b, a))]
    if pb >= 1.1 * pa:
        return [("quality", -W_QUALITY, _smaller(a, b))]
    if a.media_format == b.media_format and a.file_size and b.file_size:
        if a.file_size >= 1.2 * b.file_size:
            return [("quality", W_QUALITY / 2, f"more compressed than item {a.id} ({b.file_size} vs {a.file_size} bytes)")]
        if b.file_size >= 1.2 * a.file_size:
            return [("quality", -W_QUALITY / 2, f"more compressed than item {b.id} ({a.file_size} vs {b.file_size} bytes)")]
    return []


def _smaller(copy: ItemFacts, source: ItemFacts) -> str:
    return f"lower resolution ({copy.width}x{copy.height}) than item {source.id} ({source.width}x{source.height})"


def _score(p: int, c: int, link: LinkFacts, r: _Reading, when: dict[int, _Dated]) -> _Option:
    """How well "c was copied from p" is supported, and why."""
    sign = 1.0 if (p, c) == (link.earlier, link.later) else -1.0
    score = 0.0
    reasons: list[tuple[float, str, str]] = []  # (weight, basis, text) in favour
    strong = against = False
    for basis, weight, text in r.evidence:
        w = sign * weight
        score += w
        if w > 0:
            reasons.append((w, basis, text))
            strong |= abs(weight) >= W_ONE_WAY
        elif abs(weight) >= W_ONE_WAY:
            against = True
    wp, wc = when[p], when[c]
    if wp.source == wc.source == "claimed":
        if wp.end <= wc.start:
            score += W_DATES
            reasons.append((W_DATES, "dates", f"published {_lag(wc.start - wp.start)} after it"))
        elif wc.end <= wp.start:
            score -= W_DATES
    else:
        weight = W_INDEXED if wp.source == wc.source == "indexed" else W_WEAK_DATES
        if wp.start < wc.start:
            score += weight
            what = "indexed after it" if wp.source == wc.source == "indexed" else "dated after it"
            reasons.append((weight, "order", what))
        elif wc.start < wp.start:
            score -= weight
    if link.status == "confirmed":
        score += W_CONFIRMED
    score += W_SIMILAR * r.similarity + (W_SIMILAR * r.tightness if sign == r.tight_sign else 0.0)
    reasons.sort(key=lambda x: -x[0])
    basis = reasons[0][1] if reasons else "order"
    if r.ambiguous and basis in ("dates", "order"):
        basis = "containment"
    text = "; ".join(t for _, _, t in reasons) or "no evidence of direction"
    return _Option(p, score, basis, text, strong, against, link, r.ambiguous, r.edits)


def _sighting_tree(facts, item_parent, options, by_item, dated, dates, flags) -> list[ChainNode]:
    """Hang every sighting under its most likely parent sighting."""
    nodes: list[ChainNode] = []
    roots = [i for i, p in item_parent.items() if p is None and i in by_item]
    for item_id in sorted(by_item):
        sightings = by_item[item_id]
        first = sightings[0]
        node = _node(first, dated, dates)
        nodes.append(node)
        parent_item = item_parent.get(item_id)
        while parent_item is not None and parent_item not in by_item:  # e.g. a video frame
            parent_item = item_parent.get(parent_item)
        if parent_item is None:
            node.basis = "origin" if len(roots) == 1 or item_id == min(roots, key=lambda i: _when_key(by_item, dated, i)) \
                else "independent"
            node.reason = ("the earliest copy" if node.basis == "origin"
                           else "no linked copy precedes it: its source is not in the ledger")
        else:
            _attach_to_item(node, first, parent_item, item_id, options, by_item, dated, flags)
        for s in sightings[1:]:
            nodes.append(_same_file(s, sightings, dated, dates))
    return nodes


def _when_key(by_item, dated, item_id):
    s = by_item[item_id][0]
    return (dated[s.id].start, s.indexed_at, s.id)


def _attach_to_item(node: ChainNode, first: SightingFacts, parent_item: int, item_id: int,
                    options: dict[int, list[_Option]], by_item, dated, flags: list[Flag]) -> None:
    """The first sighting of an item: under a sighting of its parent item."""
    mine = dated[first.id]
    candidates = by_item[parent_item]
    before = [t for t in candidates if dated[t.id].start <= mine.start] or candidates
    chosen = next((t for t in before if t.outlet_id is not None and t.outlet_id == first.outlet_id), before[0])
    opts = sorted(options[item_id], key=lambda o: -o.score)
    option = next((o for o in opts if o.parent == parent_item), None)
    node.parent_sighting_id, node.parent_item_id = chosen.id, parent_item
    if option is None:  # the parent is an ancestor reached through an item without sightings
        node.basis, node.reason, node.confidence = "order", f"derived through item {item_id}'s source", "weak"
    else:
        node.basis, node.link_id, node.edits = option.basis, option.link.id, option.edits
        node.reason = f"from item {parent_item}: {option.reason}"
        if option.ambiguous:
            node.reason += f" (ambiguous: {option.ambiguous})"
        close = [o for o in opts if o.parent != parent_item and o.score >= option.score - AMBIGUITY_MARGIN
                 and o.parent in by_item]
        if option.strong and not close:
            node.confidence = "strong"
        elif (option.strong or option.basis in ("dates", "crop", "edit", "frame")) and not option.ambiguous:
            node.confidence = "likely"
        else:
            node.confidence = "weak"
        alternatives = [Alternative(by_item[o.parent][0].id, o.parent, by_item[o.parent][0].outlet,
                                    f"item {o.parent}: {o.reason}") for o in close[:4]]
        alternatives += [Alternative(t.id, parent_item, t.outlet, f"another copy of item {parent_item} published "
                                     "before it") for t in before if t is not chosen and t.outlet_id != chosen.outlet_id][:4]
        node.alternatives = tuple(alternatives)
        if option.against_one_way:
            flags.append(Flag("derivation_conflict", f"item {item_id} is placed under item {parent_item} against "
                              f"one-way edit evidence on link {option.link.id}", (first.id,), (item_id, parent_item)))
    theirs = dated[chosen.id]
    if mine.source == theirs.source == "claimed" and mine.end <= theirs.start:
        flags.append(Flag("dated_before_source", f"{_who(first)} is dated {_day(mine.start)}, before "
                          f"{_who(chosen)} ({_day(theirs.start)}) which it derives from ({node.basis})",
                          (first.id, chosen.id), (item_id, parent_item)))


def _same_file(s: SightingFacts, sightings: list[SightingFacts], dated, dates) -> ChainNode:
    """A later sighting of the same file: under its earliest sighting (the same outlet's if any)."""
    node = _node(s, dated, dates)
    earlier = [t for t in sightings if t is not s and (dated[t.id].start, t.indexed_at, t.id) <
               (dated[s.id].start, s.indexed_at, s.id)]
    chosen = next((t for t in earlier if t.outlet_id is not None and t.outlet_id == s.outlet_id), earlier[0])
    node.parent_sighting_id, node.parent_item_id = chosen.id, s.item_id
    node.basis = "same_file"
    lag = dated[s.id].start - dated[chosen.id].start
    node.reason = f"the same file as {_who(chosen)}" + (f", published {_lag(lag)} after it" if lag > timedelta(0) else "")
    node.confidence = "strong" if len({t.outlet_id for t in earlier}) <= 1 else "likely"
    node.alternatives = tuple(Alternative(t.id, t.item_id, t.outlet, "the same file, published before it")
                              for t in earlier if t is not chosen and t.outlet_id != chosen.outlet_id)[:4]
    return node


def _node(s: SightingFacts, dated, dates) -> ChainNode:
    d = dated[s.id]
    return ChainNode(s.id, s.item_id, s.outlet, s.outlet_id, s.url, s.path, d.start, d.source, d.precision, dates[s.id])


def _first_seen(nodes: list[ChainNode], dated, set_aside: dict[int, Flag], flags: list[Flag]) -> FirstSeen | None:
    if not nodes:
        return None
    claimed = [n for n in nodes if n.date_source == "claimed" and n.sighting_id not in set_aside]
    if claimed:
        best = min(claimed, key=lambda n: (dated[n.sighting_id].start, dated[n.sighting_id].end, n.sighting_id))
    else:
        best = min(nodes, key=lambda n: (_indexed(n), n.sighting_id))
    start = dated[best.sighting_id].start if claimed else _indexed(best)
    aside = []
    for n in nodes:
        claim = next((d for d in n.dates if d.kind == "claimed"), None)
        if claim is None or claim.at >= start or (claimed and n is best):
            continue
        if not claim.credible:
            aside.append({"sighting_id": n.sighting_id, "outlet": n.outlet, "date": claim.at.isoformat(), "why": claim.doubt})
        elif n.sighting_id in set_aside:
            aside.append({"sighting_id": n.sighting_id, "outlet": n.outlet, "date": claim.at.isoformat(),
                          "why": set_aside[n.sighting_id].message})
    tied: list[str] = []
    if claimed:
        b = dated[best.sighting_id]
        for n in claimed:
            d = dated[n.sighting_id]
            if n.outlet and n.outlet != best.outlet and d.start < b.end and b.start < d.end and n.outlet not in tied:
                tied.append(n.outlet)
        if tied:
            ties = [n for n in claimed if n.outlet in tied or n is best]
            flags.append(Flag("tied_first", f"{_and([best.outlet or 'an unnamed source', *tied])} claim the same "
                              f"first date ({_day(b.start)})", tuple(n.sighting_id for n in ties),
                              tuple(sorted({n.item_id for n in ties}))))
    claim = next((d for d in best.dates if d.kind == "claimed"), None)
    return FirstSeen(start, "claimed" if claimed else "indexed", best.outlet, best.sighting_id, best.item_id,
                     best.precision if claimed else "second", _basis(claim.source) if claimed and claim else None,
                     tuple(tied), tuple(aside))


def _indexed(n: ChainNode) -> datetime:
    return next(d.at for d in n.dates if d.kind == "indexed")


# --- words ----------------------------------------------------------------------------------

def _who(s: SightingFacts) -> str:
    return f"{s.outlet or 'an unnamed source'} (sighting {s.id})"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _claim_source(s: SightingFacts) -> str:
    return f"claimed by {s.outlet or 'an unnamed source'} ({s.source or 'unknown'})"


def _basis(source: str) -> str:
    return source.rsplit("(", 1)[-1].rstrip(")") if "(" in source else source


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d") if value.time() == datetime.min.time() else value.strftime("%Y-%m-%d %H:%M")


def _lag(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 3600:
        return f"{max(0, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


# --- reading a work from the ledger ---------------------------------------------------------

def work_chain(ledger: Ledger, work_id: int) -> Chain:
    """The chain of a work (a merged work's id leads to the work it joined)."""
    with ledger.reading():
        work_id = ledger.resolve_work_id(work_id)
        return infer_chain(load_facts(ledger, ledger.work_item_ids(work_id)), work_id)


def item_chain(ledger: Ledger, item_id: int) -> Chain:
    """The chain of the work that contains one item."""
    with ledger.reading():
        ledger.item(item_id)  # NotFoundError for an unknown id
        work_id = ledger.work_ids_of([item_id]).get(item_id)
        ids = ledger.work_item_ids(work_id) if work_id is not None else ledger.connected_items(item_id)
        return infer_chain(load_facts(ledger, ids), work_id)


def first_seen(ledger: Ledger, item_ids: set[int], sightings: list[SightingView] | None = None) -> FirstSeen | None:
    """The first credible sighting of the work made of these items (see the module docstring)."""
    with ledger.reading():
        return infer_chain(load_facts(ledger, item_ids)).first_seen
