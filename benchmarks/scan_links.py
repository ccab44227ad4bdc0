"""Links a scan records: does `provenance scan` link each re-publication to its original?

    python benchmarks/scan_links.py [--half report] [--workers N] [--hashes-only] [--stress KINDS] [--keep LEDGER]
    python benchmarks/scan_links.py [--half report] [--stress KINDS] --chains-of LEDGER [--keep LEDGER2]

match_quality.py measures `check` (a query against a finished ledger). The ledger's links, works
and chains come from scans instead, and a scan matches each new file differently: on its 1,024-px
working image, with the query features its workers computed, without the second look at the
index's scale (scan.py says why). This benchmark scans, into a fresh SQLite ledger, the very
files match_quality.py built for a half (run it first: they are cached under bench-cache/), as
one archive in this order: the indexed originals and their logo/banner-stamped copies, then every
re-publication (15 kinds), then the never-indexed photographs under the same edits, the photos
sharing a logo or banner with an indexed copy, the degenerate images and the generated scenes.
No padding: the ledger holds only these files.

It prints, per kind of edit, how many re-publications were linked to their original directly,
and how many to some copy of their picture (the original or another re-publication: either way
the file joins the picture's work, and the chain places it), how many the work's chain places
under their original (the tree of most likely parents, chain.py: no file here claims a date, so
the evidence of each link decides), and how many it places there or names the original beside
the parent it chose (its alternatives); and the false links: links between
two files that show no common picture (a collage shows two, and a link to either is true; the
never-indexed photos' own re-publications of one another are true links too). Wall time and files per second of the
scan come with it.

With --stress KINDS (benchmarks/edits.py STRESS_EDITS, e.g. collage_grid), each indexed
photograph is re-published once more under each of those kinds too, in the archive's
re-publications, and counted as its own rows of the table.

With --hashes-only, the archive is scanned first with `scan --hashes-only` (global hashes alone),
and the same table printed; then a full scan completes it, and the table is printed again.

With --chains-of LEDGER (a ledger an earlier run kept, with the same --half and --stress), no
scan: every work's chain is derived again by this code, on a copy of that ledger, from the same
links, and the table printed. It measures a change in how chains are read (chain.py,
chain_facts.py) without the minutes of a scan, whose links a change of the chain also moves
(a match's sources come from the chain).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edits import STRESS_EDITS  # noqa: E402
from machine import describe  # noqa: E402

#: The archive's folders, in scan order (walk_archive sorts), and the cached folder each links to.
FOLDERS = [("a-indexed", "indexed"), ("b-indexed-overlay", "indexed-overlay"), ("c-republished", "queries-pos"),
           ("d-never-indexed", "queries-neg"), ("e-shared-overlay", "queries-shared"),
           ("f-degenerate", "queries-degenerate"), ("g-generated", "queries-generated")]


def pictures_of(cached: str, rel: Path, never: list[str]) -> set[str]:
    """The photographs a cached file shows (match_quality.py's naming and seeds)."""
    stem = rel.stem
    if cached == "indexed":
        return {stem}
    if cached in ("indexed-overlay", "queries-shared"):
        return {stem.rsplit("-", 1)[0]}  # "{photo}-{logo_corner|caption_banner}"
    if cached in ("queries-pos", "queries-neg"):
        kind = rel.parent.name
        shown = {stem}
        if kind == "collage_half":  # the other half: the first draw of the edit's own generator
            seed = f"{stem}-{kind}" if cached == "queries-pos" else f"neg-{stem}-{kind}"
            shown.add(never[random.Random(seed).randrange(len(never))])
        return shown
    return {f"{cached}/{stem}"}  # degenerate and generated images: each its own picture


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=("tune", "report"), default="report")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--hashes-only", action="store_true", help="a hashes-only scan first, then a full one")
    ap.add_argument("--stress", default="", help="stress kinds of edit to add (edits.STRESS_EDITS), comma-separated")
    ap.add_argument("--keep", type=Path, help="write the ledger here and keep it (the archive's files are not kept)")
    ap.add_argument("--chains-of", type=Path, metavar="LEDGER",
                    help="no scan: derive the chains of a ledger kept by --keep again (on a copy) and print the table")
    args = ap.parse_args()
    print(describe())
    import match_quality as mq

    from provenance import Ledger, scan

    work = mq.CACHE / args.half
    if not (work / "queries-pos").is_dir():
        sys.exit(f"{work}: run `python benchmarks/match_quality.py --half {args.half} --sizes 1000` first")
    indexed_photos, never_photos = mq.build_sets(args.half)
    never = [p.name for p in never_photos]
    stress = [kind for kind in args.stress.split(",") if kind]
    for kind in stress:  # cached beside the table's kinds, under a folder of their own
        for photo in indexed_photos:
            mq._save_made(lambda: STRESS_EDITS[kind](photo.image, random.Random(f"{photo.name}-{kind}-scan")),
                          work / "scan-stress" / kind / f"{photo.name}.jpg", 92)
    if args.chains_of:
        rederive_chains(args.chains_of, work, stress, never, args.keep)
        return
    with tempfile.TemporaryDirectory(dir=mq.CACHE) as tmp:  # same file system: hard links
        root = Path(tmp) / "archive"
        shows = archive(work, stress, never, root)
        print(f"archive: {len(shows)} files ({args.half} half)")
        db = args.keep or Path(tmp) / "ledger.db"
        for hashes_only in ((True, False) if args.hashes_only else (False,)):
            with Ledger(db) as ledger:
                t = time.perf_counter()
                summary = scan(ledger, root, workers=args.workers, hashes_only=hashes_only)
                took = time.perf_counter() - t
            print(f"\n{'hashes-only scan' if hashes_only else 'scan'}: {took:.0f} s, "
                  f"{summary.files_seen / took:.1f} files/s ({args.workers} workers); {summary.new_items} items, "
                  f"{summary.completed} completed, {summary.new_links} links, {summary.failed} failed")
            print_links(db, shows, root)


def archive(work: Path, stress: list[str], never: list[str], root: Path, *, make: bool = True
            ) -> dict[str, tuple[str, set[str]]]:
    """Each file of the archive under ``root`` (hard links to the cached files, made when
    ``make``): its path -> (its cached folder, or queries-pos/KIND, and the pictures it shows)."""
    shows: dict[str, tuple[str, set[str]]] = {}
    for folder, cached in FOLDERS + [(f"c-republished/{kind}", f"scan-stress/{kind}") for kind in stress]:
        for src in sorted((work / cached).rglob("*")):
            if not src.is_file():
                continue
            rel = src.relative_to(work / cached)
            dst = root / folder / rel
            if make:
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(src, dst)
            if cached.startswith("scan-stress/"):
                label, pictures = f"queries-pos/{cached.split('/')[1]}", {rel.stem}
            else:
                label = f"{cached}/{rel.parent.name}" if cached == "queries-pos" else cached
                pictures = pictures_of(cached, rel, never)
            shows[str(dst)] = (label, pictures)
    return shows


def rederive_chains(kept: Path, work: Path, stress: list[str], never: list[str], keep: Path | None = None) -> None:
    """--chains-of: the table of a kept ledger, its chains derived again by this code (in a copy,
    kept at ``keep`` when given)."""
    from provenance import Ledger
    from provenance.works import rebuild

    if keep is not None and keep.resolve() == kept.resolve():
        sys.exit(f"{keep}: --keep must name another file than --chains-of")
    con = sqlite3.connect(f"file:{kept}?mode=ro", uri=True)
    paths = [p for (p,) in con.execute("SELECT path FROM sighting")]
    con.close()
    if not paths or "/archive/" not in paths[0]:
        sys.exit(f"{kept}: not a ledger kept by scan_links.py --keep")
    root = Path(paths[0].split("/archive/", 1)[0]) / "archive"
    shows = archive(work, stress, never, root, make=False)
    if not set(paths) <= shows.keys():
        sys.exit(f"{kept}: its files are not those of this --half and --stress")
    with tempfile.TemporaryDirectory() as tmp:
        db = keep or Path(tmp) / "ledger.db"
        source, copy = sqlite3.connect(f"file:{kept}?mode=ro", uri=True), sqlite3.connect(db)
        source.backup(copy)
        source.close()
        copy.close()
        t = time.perf_counter()
        with Ledger(db) as ledger:
            works = rebuild(ledger)
        print(f"chains of {kept} derived again: {works} works in {time.perf_counter() - t:.0f} s")
        print_links(db, shows, root)


def print_links(db: Path, shows: dict[str, tuple[str, set[str]]], root: Path) -> None:
    """The table of links per kind of edit, and the false links, of the ledger at ``db``."""
    con = sqlite3.connect(db)
    files_of = defaultdict(list)
    for item, path in con.execute("SELECT item_id, path FROM sighting"):
        files_of[item].append(path)
    links = con.execute("SELECT earlier_item_id, later_item_id FROM match_link").fetchall()
    parent_item, alternatives = {}, defaultdict(set)  # the chain's parent of each item, and its alternatives
    for item, parent, others in con.execute(
            "SELECT s.item_id, p.item_id, c.alternatives_json FROM chain_edge c JOIN sighting s ON s.id = c.sighting_id "
            "JOIN sighting p ON p.id = c.parent_sighting_id WHERE p.item_id != s.item_id"):
        parent_item[item] = parent
        alternatives[item] |= {other["item_id"] for other in json.loads(others)}
    con.close()

    def pictures(item: int) -> set[str]:
        return set().union(*(shows[p][1] for p in files_of[item]))

    original_item = {}  # indexed photo -> its item
    for item, paths in files_of.items():
        for path in paths:
            label, pics = shows[path]
            if label == "indexed":
                original_item[next(iter(pics))] = item
    linked = {frozenset(pair) for pair in links}
    neighbours = defaultdict(set)
    for a, b in links:
        neighbours[a].add(b)
        neighbours[b].add(a)
    found, joined, placed, named, total = Counter(), Counter(), Counter(), Counter(), Counter()
    for item, paths in files_of.items():
        for path in paths:
            label, pics = shows[path]
            if not label.startswith("queries-pos/"):
                continue
            kind = label.split("/", 1)[1]
            owner = [p for p in pics if p in original_item]  # a collage's other half was never indexed
            total[kind] += 1
            found[kind] += any(frozenset((item, original_item[p])) in linked for p in owner)
            # or linked to another copy of the picture: it joins the work, the chain places it
            joined[kind] += any(set(owner) & pictures(other) for other in neighbours[item])
            # and the chain hangs it under its original (of either picture, for a collage), or
            # names the original as another plausible parent
            originals = {original_item[p] for p in owner}
            placed[kind] += parent_item.get(item) in originals
            named[kind] += parent_item.get(item) in originals or bool(alternatives[item] & originals)
    false = [(a, b) for a, b in links if not pictures(a) & pictures(b)]
    heads = (("linked", "to the original"), ("joined", "its picture's work"), ("chain", "under the original"),
             ("or", "naming it beside"))
    print(f"{'kind of edit':22s}" + "".join(f" {rate:>7s}  {what:<16s}" for rate, what in heads))
    columns = (found, joined, placed, named)
    for kind in sorted(total):
        print(f"{kind:22s}" + "".join(f" {c[kind] / total[kind]:7.3f}  {c[kind]:>4d}/{total[kind]:<11d}" for c in columns))
    n = sum(total.values())
    print(f"{'all':22s}" + "".join(f" {sum(c.values()) / n:7.3f}  {sum(c.values()):>4d}/{n:<11d}" for c in columns))
    print(f"false links: {len(false)} of {len(links)}")
    for a, b in false[:20]:
        print(f"  {Path(files_of[a][0]).relative_to(root)} <-> {Path(files_of[b][0]).relative_to(root)}")


if __name__ == "__main__":
    main()
