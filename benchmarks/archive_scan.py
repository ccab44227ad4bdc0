"""A scan of a whole generated archive, first and again, into SQLite and PostgreSQL.

    python benchmarks/archive_scan.py [--count 20000] [--megapixels 1.5] [--workers N]
                                      [--db postgresql://user@host:port/db] [--no-sqlite]

Generates COUNT distinct JPEGs of generated scenes (benchmarks/edits.py: landscapes, shapes,
fractal textures, web-page cards, some with text), about MEGAPIXELS each, cached under
bench-cache/archive-<count>-<mp>/ (1,000 files a folder). Then, for SQLite (a fresh ledger file)
and for each ``--db`` server (a fresh database created on it and dropped afterwards), runs
``provenance scan --workers N`` twice as a user would:

  first    every file is new: read, fingerprinted in N worker processes, matched against the
           ledger so far and recorded by the one writer;
  second   the same archive again: nothing is new, no file is read (size + mtime), and the
           ledger is asked once per batch of 64 files, not once per file.

Prints the machine, both times and rates, the scan's peak memory, and the ledger's size on
disk per item (the database plus the persisted search indexes beside it). Figures are wall
clock; on a shared machine compare within one run.

``--distinct D`` (fewer than COUNT): for a machine too slow to fingerprint COUNT new files in the
time at hand. Only D distinct pictures are generated and scanned first; the other COUNT - D files
are hard links to them in a second folder, recorded in the ledger as a scan records the copy of a
known file (a file row and a sighting each, inserted in bulk by this script: "seeded", not
scanned), and the second scan then walks all COUNT files. The first-scan rate is then D's, and
the second scan is measured at the full COUNT.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402

CACHE = ROOT / "bench-cache"
PER_FOLDER = 1000
ASPECTS = (4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4)


def _make_one(args: tuple[int, float, str]) -> int:
    """Write the i-th picture; returns its size in bytes."""
    from edits import scene

    i, megapixels, folder = args
    rng = random.Random(f"archive:{i}")
    pixels = megapixels * 1e6 * rng.uniform(0.67, 1.33)
    aspect = rng.choice(ASPECTS)
    w = max(16, int((pixels * aspect) ** 0.5))
    h = max(16, int(w / aspect))
    path = Path(folder) / f"{i // PER_FOLDER:03d}" / f"scene_{i:06d}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    img = scene(rng, (w, h))
    img.save(path, "JPEG", quality=rng.randint(75, 92))
    return path.stat().st_size


def make_archive(count: int, megapixels: float, workers: int) -> Path:
    """The cached archive of COUNT generated JPEGs (built on first use)."""
    folder = CACHE / f"archive-{count}-{megapixels:g}mp"
    done = folder / ".complete"
    if done.exists():
        return folder
    t = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        sizes = pool.map(_make_one, [(i, megapixels, str(folder)) for i in range(count)], chunksize=50)
    done.write_text(json.dumps({"count": count, "bytes": sum(sizes)}))
    print(f"generated {count} JPEGs in {time.perf_counter() - t:.0f} s", flush=True)
    return folder


def add_copies(folder: Path, count: int) -> Path:
    """COUNT hard links to the archive's files, in folder/../<name>-copies; the folder holding both."""
    originals = sorted(p for p in folder.rglob("*.jpg"))
    root = folder.parent / (folder.name + f"-with-{count}-copies")
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        for i, src in enumerate(originals):
            dst = root / "orig" / src.relative_to(folder)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
        for i in range(count):
            src = originals[i % len(originals)]
            dst = root / "copies" / f"{i // PER_FOLDER:03d}" / f"copy_{i:06d}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
        done.write_text("")
    return root


def seed_copies(root: Path, db: str) -> float:
    """Record every file under root/copies as a scan records a copy of a known file; seconds taken."""
    from sqlmodel import select

    from provenance.ledger import Ledger, sighting_key, utcnow
    from provenance.models import FileState, Item, Sighting

    t = time.perf_counter()
    with Ledger(db, create=False) as ledger:
        session = ledger.session
        by_sha = dict(session.exec(select(Item.sha256, Item.id)).all())
        known = {path: sha for path, sha in session.exec(select(FileState.path, FileState.sha256))}
        sha_of_inode = {os.stat(p).st_ino: sha for p, sha in known.items() if os.path.exists(p)}
        now = utcnow()
        rows = []
        for path in sorted((root / "copies").rglob("*.jpg")):
            path_s = os.path.normpath(os.path.abspath(path))
            st = os.stat(path_s)
            sha = sha_of_inode[st.st_ino]
            item_id = by_sha[sha]
            rows.append(FileState(path=path_s, size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha, seen_at=now))
            rows.append(Sighting(sighting_key=sighting_key(item_id, None, None, path_s), item_id=item_id,
                                 path=path_s, indexed_at=now, extra_json="{}"))
        session.add_all(rows)
        ledger.commit()
    return time.perf_counter() - t


# Runs the CLI and reports the process's own peak RSS (VmHWM: getrusage's maxrss of a child
# carries over the RSS of the parent it was forked from).
PEAK_RUNNER = (
    "import atexit, runpy, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM'):\n"
    "            sys.stderr.write('\\nVmHWM_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(_peak)\n"
    "sys.argv = ['provenance'] + sys.argv[1:]\n"
    "runpy.run_module('provenance.cli', run_name='__main__')\n"
)


def peak_mb(stderr: str) -> float:
    values = [int(line.split()[1]) for line in stderr.splitlines() if line.startswith("VmHWM_KB ")]
    return values[-1] / 1024 if values else float("nan")


def run_scan(folder: Path, db: str, workers: int) -> dict:
    """One `provenance scan` as a user runs it; wall time, its JSON summary, the writer's peak RSS."""
    cmd = [sys.executable, "-c", PEAK_RUNNER, "scan", str(folder), "--db", db, "--json", "--quiet",
           "--workers", str(workers)]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if out.returncode not in (0, 1):  # 1: some files failed or were skipped
        raise SystemExit(f"scan failed ({out.returncode}): {out.stderr[-2000:]}")
    summary = json.loads(out.stdout)
    return {"seconds": elapsed, "summary": summary, "peak_mb": peak_mb(out.stderr)}


def index_bytes(db: str) -> int:
    """Bytes of the persisted search indexes of a ledger (provenance.index_store)."""
    from provenance.index_store import index_folder
    from provenance.ledger import Ledger

    with Ledger(db, create=False) as ledger:
        folder, prefix = index_folder(ledger)
    return sum(p.stat().st_size for p in folder.glob(prefix + ".*") if p.is_file() and not p.name.endswith((".db", "-wal", "-shm")))


def remove_index_files(db: str) -> None:
    from provenance.index_store import index_folder
    from provenance.ledger import Ledger

    with Ledger(db, create=False) as ledger:
        folder, prefix = index_folder(ledger)
    for p in folder.glob(prefix + ".*"):
        if p.is_file() and not p.name.endswith(".db"):
            p.unlink()


def report(label: str, first: dict, second: dict, db_bytes: int, idx_bytes: int) -> None:
    items = max(1, first["summary"]["new_items"])
    for name, r in (("first", first), ("second", second)):
        s = r["summary"]
        n = s["files_seen"]
        print(f"{label:10s} {name:6s} {n:6d} files {r['seconds']:8.1f} s {n / r['seconds']:8.1f} files/s  "
              f"new {s['new_items']:6d}  unchanged {s['unchanged']:6d}  failed {s['failed']}  "
              f"writer peak {r['peak_mb']:.0f} MB", flush=True)
    print(f"{label:10s} ledger {db_bytes / items:8.0f} B/item in the database + {idx_bytes / items:6.0f} B/item "
          f"of index files ({(db_bytes + idx_bytes) / 1e6:.1f} MB for {items} items)", flush=True)


def first_and_second(folder: Path, db: str, workers: int, copies: int) -> tuple[dict, dict]:
    """The first scan (of the distinct pictures) and the second (of everything)."""
    if not copies:
        return run_scan(folder, db, workers), run_scan(folder, db, workers)
    root = add_copies(folder, copies)
    first = run_scan(root / "orig", db, workers)
    seconds = seed_copies(root, db)
    print(f"seeded {copies} copies (a file row and a sighting each) in {seconds:.1f} s", flush=True)
    return first, run_scan(root, db, workers)


def bench_sqlite(folder: Path, workers: int, copies: int = 0) -> None:
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        db = str(Path(tmp) / "ledger.db")
        first, second = first_and_second(folder, db, workers, copies)
        db_bytes = sum(p.stat().st_size for p in Path(tmp).glob("ledger.db*") if p.name in
                       ("ledger.db", "ledger.db-wal"))
        report("sqlite", first, second, db_bytes, index_bytes(db))


def bench_postgres(folder: Path, workers: int, url: str, copies: int = 0) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"provenance_bench_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = base.set(database=name).render_as_string(hide_password=False)
    try:
        first, second = first_and_second(folder, db, workers, copies)
        with psycopg.connect(base.set(drivername="postgresql", database=name).render_as_string(
                hide_password=False)) as conn:
            db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            empty = conn.execute("SELECT pg_database_size('template1')").fetchone()[0]
        report("postgresql", first, second, db_bytes - empty, index_bytes(db))
        remove_index_files(db)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--megapixels", type=float, default=1.5, help="mean size of the generated JPEGs")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--db", action="append", default=[], help="a PostgreSQL server URL (repeatable)")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--distinct", type=int, default=0,
                    help="scan only this many distinct pictures first; the rest are seeded copies (see above)")
    args = ap.parse_args()
    print(describe(), flush=True)
    CACHE.mkdir(exist_ok=True)
    distinct = args.distinct if 0 < args.distinct < args.count else args.count
    copies = args.count - distinct
    folder = make_archive(distinct, args.megapixels, args.workers)
    meta = json.loads((folder / ".complete").read_text())
    print(f"archive: {meta['count']} JPEGs of generated scenes, ~{args.megapixels:g} MP, "
          f"{meta['bytes'] / meta['count'] / 1024:.0f} KiB each; scans with {args.workers} workers", flush=True)
    if copies:
        print(f"first scan: {distinct} distinct pictures; second scan: {args.count} files "
              f"({copies} seeded copies)", flush=True)
    if not args.no_sqlite:
        bench_sqlite(folder, args.workers, copies)
    for url in args.db:
        bench_postgres(folder, args.workers, url, copies)


if __name__ == "__main__":
    main()
