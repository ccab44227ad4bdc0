import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import ImageDraw, ImageOps

from provenance import Ledger, scan
from provenance.errors import ManifestError, ProvenanceError
from provenance.media import decode_image

from .conftest import photo, save

NAMES = ["astronaut", "coffee", "chelsea", "rocket", "camera"]


def make_archive(root: Path) -> Path:
    """Five originals by two outlets, three re-publications, a broken file and a stray text file."""
    rows = ["path,outlet,published_at,url"]
    for i, name in enumerate(NAMES):
        save(photo(name), root / "orig" / f"{name}.jpg")
        rows.append(f"orig/{name}.jpg,{'agency' if i % 2 else 'statemedia'},2016-0{i + 1}-01,https://example.org/{name}")
    small = photo("coffee").resize((240, 160))
    save(small, root / "reposts" / "coffee_small.jpg", quality=40)
    rows.append("reposts/coffee_small.jpg,reposter,2016-06-01,https://example.org/r/1")
    logo = photo("chelsea")
    ImageDraw.Draw(logo).rectangle((10, 10, 110, 50), fill=(200, 30, 30))
    save(logo, root / "reposts" / "chelsea_logo.jpg")
    save(ImageOps.mirror(photo("astronaut")), root / "reposts" / "astronaut_mirror.png")
    (root / "reposts" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    (root / "notes.txt").write_text("investigator notes")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def test_scan_indexes_links_and_reports(tmp_path):
    manifest = make_archive(tmp_path / "arch")
    report = tmp_path / "report.jsonl"
    with Ledger(tmp_path / "l.db") as led, open(report, "w") as fh:
        s = scan(led, tmp_path / "arch", manifest=manifest, report=fh)
        assert (s.files_seen, s.new_items, s.failed, s.skipped) == (10, 8, 1, 1)
        assert s.failures[0][0].endswith("broken.jpg") and "truncated" in s.failures[0][1]
        assert s.new_links == 3 and s.new_sightings == 8
        counts = led.counts()
        assert counts["items"] == 8 and counts["links"] == 3
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    rows = [r for r in rows if r["type"] == "republication"]  # beside new_work / new_sighting (test_chain.py)
    by_path = {Path(r["item"]["path"]).name: r for r in rows}
    assert set(by_path) == {"coffee_small.jpg", "chelsea_logo.jpg", "astronaut_mirror.png"}
    assert Path(by_path["coffee_small.jpg"]["earlier"]["path"]).name == "coffee.jpg"
    assert by_path["coffee_small.jpg"]["earlier"]["outlet"] == "agency"
    assert by_path["astronaut_mirror.png"]["method"] in ("pdq", "orb")


def test_second_scan_reads_nothing_and_adds_nothing(tmp_path, monkeypatch):
    manifest = make_archive(tmp_path / "arch")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "arch", manifest=manifest)
        before = led.counts()
        scan_module = sys.modules["provenance.scan"]

        def no_hashing(path, *a, **k):
            raise AssertionError(f"re-read {path}")

        monkeypatch.setattr(scan_module, "fingerprint_file", no_hashing)
        # the broken file is retried on every scan (it may have been repaired); nothing else is read
        (tmp_path / "arch" / "reposts" / "broken.jpg").unlink()
        s = scan(led, tmp_path / "arch", manifest=manifest)
        assert (s.new_items, s.new_sightings, s.new_links, s.unchanged) == (0, 0, 0, 8)
        assert led.counts() == before


def test_rescan_asks_the_ledger_per_batch_not_per_file(tmp_path, monkeypatch):
    from sqlalchemy import event

    for i in range(40):
        save(photo("coffee", 0.3).rotate(i * 9), tmp_path / "arch" / f"{i:02d}.jpg")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "arch")
        statements = []
        event.listen(led.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        for name in ("known_file", "item_by_sha", "add_sighting", "remember_file"):
            monkeypatch.setattr(led, name, lambda *a, _n=name, **k: pytest.fail(f"{_n} per file"))
        s = scan(led, tmp_path / "arch", batch_size=64)
        assert s.unchanged == 40 and s.new_sightings == 0
        # one batch: the files seen, the sightings recorded, and the commit's bookkeeping
        assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) < 10, statements


def test_rescan_adds_the_sightings_a_new_manifest_claims(tmp_path):
    make_archive(tmp_path / "arch")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "arch")
        second = tmp_path / "arch" / "second.csv"
        second.write_text("path,outlet,published_at,url\norig/rocket.jpg,newsite,2017-01-01,https://example.org/n\n")
        s = scan(led, tmp_path / "arch", manifest=second)
        assert s.new_items == 0 and s.new_sightings == 1
        s = scan(led, tmp_path / "arch", manifest=second)
        assert s.new_sightings == 0


def test_copy_of_known_file_adds_a_sighting_not_an_item(tmp_path):
    manifest = make_archive(tmp_path / "arch")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "arch", manifest=manifest)
        (tmp_path / "arch" / "copy.jpg").write_bytes((tmp_path / "arch" / "orig" / "rocket.jpg").read_bytes())
        s = scan(led, tmp_path / "arch", manifest=manifest)
        assert (s.new_items, s.new_sightings) == (0, 1)


def test_interrupted_scan_resumes_without_loss_or_duplicates(tmp_path):
    manifest = make_archive(tmp_path / "arch")
    seen = []

    def interrupt_after_six(path):
        seen.append(path)
        if len(seen) == 6:
            raise KeyboardInterrupt

    with Ledger(tmp_path / "l.db") as led:
        with pytest.raises(KeyboardInterrupt) as info:
            scan(led, tmp_path / "arch", manifest=manifest, progress=interrupt_after_six, batch_size=4)
        assert info.value.summary.interrupted
        # batch 1 (notes.txt + three originals) committed; batch 2 was rolled back
        assert led.counts()["items"] == 3
        s = scan(led, tmp_path / "arch", manifest=manifest, batch_size=4)
        assert led.counts() == {"items": 8, "sightings": 8, "outlets": 3, "links": 3, "parts": 0}
        assert s.unchanged == 3


def test_killed_scan_process_resumes(tmp_path):
    root = tmp_path / "arch"
    for i in range(60):
        img = photo(NAMES[i % 5], 0.5).rotate(i * 6, expand=False)
        save(img, root / f"{i:03d}.jpg")
    db = tmp_path / "l.db"
    cmd = [sys.executable, "-m", "provenance.cli", "scan", str(root), "--db", str(db), "--quiet", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.3)
        if db.exists() and _items(db) >= 1:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    assert _items(db) == 60
    with Ledger(db) as led:
        assert led.counts()["sightings"] == 60
    # the killed scan's worker processes ended with it (they are not left waiting for work)
    deadline = time.time() + 10
    while _processes_of(db) and time.time() < deadline:
        time.sleep(0.2)
    assert _processes_of(db) == []


def _processes_of(db: Path) -> list[int]:
    """Ids of running processes whose command line names `db` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(db).encode() in (entry / "cmdline").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":  # a zombie has ended; only its parent has not reaped it yet
                    found.append(int(entry.name))
        except OSError:  # it ended while we looked
            pass
    return found


def _items(db: Path) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(db, timeout=10)
        try:
            return con.execute("SELECT count(*) FROM item").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("hashes_only", [False, True])
def test_hostile_files_fail_one_by_one_and_scan_goes_on(tmp_path, hashes_only):
    root = tmp_path / "arch"
    save(photo("coffee"), root / "good.jpg")
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_text("hello")
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    (root / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
                                    + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    good = (root / "good.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 2])
    with Ledger(tmp_path / "l.db") as led:
        s = scan(led, root, hashes_only=hashes_only)
        reasons = {Path(p).name: r for p, r in s.failures}
        assert s.new_items == 1 and s.failed == 4
        assert "empty" in reasons["empty.jpg"]
        assert "not an image" in reasons["text.png"]
        assert "decompression bomb" in reasons["bomb.png"]
        assert "truncated" in reasons["truncated.jpg"]


def test_missing_manifest_file_is_reported_with_its_line(tmp_path):
    root = tmp_path / "arch"
    save(photo("coffee", 0.5), root / "a.jpg")
    (root / "m.csv").write_text("path,outlet,published_at,url\na.jpg,x,2016-01-01,u\ngone.jpg,y,2016-01-02,u\n")
    with Ledger(tmp_path / "l.db") as led:
        s = scan(led, root, manifest=root / "m.csv")
    assert s.failed == 1 and "gone.jpg" in s.failures[0][0] and "manifest line 3" in s.failures[0][1]


def test_scan_refuses_to_run_without_folder_or_with_bad_manifest(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        with pytest.raises(ProvenanceError, match="no such folder"):
            scan(led, tmp_path / "absent")
        (tmp_path / "m.csv").write_text("file,who\n")
        with pytest.raises(ManifestError):
            scan(led, tmp_path, manifest=tmp_path / "m.csv")


def test_parallel_workers_record_the_same_as_one(tmp_path):
    manifest = make_archive(tmp_path / "arch")
    with Ledger(tmp_path / "one.db") as a, Ledger(tmp_path / "two.db") as b:
        s1 = scan(a, tmp_path / "arch", manifest=manifest)
        s2 = scan(b, tmp_path / "arch", manifest=manifest, workers=2)
        assert s1.to_dict() == s2.to_dict()
        assert a.counts() == b.counts()


def test_scan_and_check_on_every_backend(db_url, tmp_path):
    manifest = make_archive(tmp_path / "arch")
    with Ledger(db_url) as led:
        s = scan(led, tmp_path / "arch", manifest=manifest)
        assert (s.new_items, s.new_links) == (8, 3)
        again = scan(led, tmp_path / "arch", manifest=manifest)
        assert (again.new_items, again.new_sightings, again.unchanged) == (0, 0, 8)
        from provenance import check

        (r,) = check(led, [tmp_path / "arch" / "reposts" / "chelsea_logo.jpg"])
        assert r.matches[0].method == "sha256" and r.matches[1].outlet == "statemedia"


def test_two_scans_racing_on_one_ledger_record_everything_once(db_url, tmp_path):
    manifest = make_archive(tmp_path / "arch")
    cmd = [sys.executable, "-m", "provenance.cli", "scan", str(tmp_path / "arch"), "--manifest", str(manifest),
           "--db", db_url, "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    summaries = [json.loads(o[0]) for o in outs]
    assert sum(s["new_items"] for s in summaries) == 8
    assert sum(s["new_sightings"] for s in summaries) == 8
    assert sum(s["new_links"] for s in summaries) == 3
    with Ledger(db_url) as led:
        assert led.counts() == {"items": 8, "sightings": 8, "outlets": 3, "links": 3, "parts": 0}


def test_scan_links_a_picture_found_only_in_its_frame(tmp_path):
    """A desktop screenshot of an article showing a known photograph small: at the scan's 1,024-px
    working size only the framed look finds it; the link's evidence gives the frame."""
    from .test_local_match import desktop_page

    save(photo("chelsea"), tmp_path / "arch" / "a" / "chelsea.png")
    save(desktop_page(photo("chelsea")), tmp_path / "arch" / "b" / "article.jpg", quality=85)
    report = tmp_path / "report.jsonl"
    with Ledger(tmp_path / "l.db") as led, open(report, "w") as fh:
        s = scan(led, tmp_path / "arch", report=fh, workers=1)
        assert (s.new_items, s.new_links) == (2, 1)
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    link = next(r for r in rows if r["type"] == "republication")
    assert Path(link["item"]["path"]).name == "article.jpg" and link["method"] == "orb"
    assert Path(link["earlier"]["path"]).name == "chelsea.png"
    framed = link["evidence"]["framed_in"]  # in the page's pixels: chelsea lies at (1500, 500)-(1951, 800)
    assert abs(framed[0] - 1500) <= 12 and abs(framed[1] - 500) <= 12 and abs(framed[2] - 1951) <= 12


def test_scan_links_each_picture_of_a_grid_collage(tmp_path, monkeypatch):
    """A 3x3 "photo report" re-publishing three archived photographs: the first look finds two,
    the cell look the rocket, searched in its own cell; the link's evidence gives that cell."""
    from provenance import local_match

    from .test_collage import NAMES, grid

    for name in ("rocket", "coffee", "clock"):
        save(photo(name), tmp_path / "arch" / "a" / f"{name}.png")
    collage, boxes = grid(list(NAMES), 3, cell=(420, 315))
    save(collage, tmp_path / "arch" / "b" / "grid.jpg", quality=85)
    report = tmp_path / "report.jsonl"
    with Ledger(tmp_path / "l.db") as led, open(report, "w") as fh:
        assert scan(led, tmp_path / "arch", report=fh, workers=1).new_links == 3
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    looks = {Path(r["earlier"]["path"]).stem: r["evidence"] for r in rows if r["type"] == "republication"}
    assert {name: ev["look"] for name, ev in looks.items()} == {"rocket": "cell", "coffee": "first", "clock": "first"}
    assert all(abs(a - b) <= 6 for a, b in zip(looks["rocket"]["framed_in"], boxes[NAMES.index("rocket")]))
    monkeypatch.setattr(local_match, "collage_cells", lambda image: [])
    with Ledger(tmp_path / "l2.db") as led:
        assert scan(led, tmp_path / "arch", workers=1).new_links == 2


def test_scan_links_a_photographed_screen_by_the_screen_look(tmp_path, monkeypatch):
    """A phone photo of a monitor showing an archived photograph, which no look at the whole file
    finds (the words are made to miss the original there): the scan's screen look searches the
    screen's picture, straightened, and links it; without that look, nothing is linked."""
    from provenance import local_index, local_match

    from .test_screen import KEYSTONE, photographed_screen

    query, _ = photographed_screen(photo("coffee"), KEYSTONE, seed=4)
    save(photo("coffee"), tmp_path / "arch" / "a" / "coffee.png")
    save(query, tmp_path / "arch" / "b" / "monitor.jpg", quality=90)
    candidates = local_index.LocalFeatureIndex.candidates

    def missed_but_on_the_screen(index, features, k=20):
        whole = tuple(features.original_size) == query.size  # any look at the whole file, or a part
        return [c for c in candidates(index, features, k) if not (whole and c[1] > 0)]

    monkeypatch.setattr(local_index.LocalFeatureIndex, "candidates", missed_but_on_the_screen)
    monkeypatch.setattr(local_match, "_framed_features", lambda image, size, looked=None: None)
    report = tmp_path / "report.jsonl"
    with Ledger(tmp_path / "l.db") as led, open(report, "w") as fh:
        assert scan(led, tmp_path / "arch", report=fh, workers=1).new_links == 1
    link = next(json.loads(line) for line in report.read_text().splitlines() if '"republication"' in line)
    assert Path(link["item"]["path"]).name == "monitor.jpg" and link["evidence"]["look"] == "screen"
    monkeypatch.setattr(sys.modules["provenance.scan"], "SCREEN_LOOK", False)
    with Ledger(tmp_path / "l2.db") as led:
        assert scan(led, tmp_path / "arch", workers=1).new_links == 0


def test_scan_links_a_tall_screenshot_seen_at_a_checks_size(tmp_path, monkeypatch):
    """A phone screenshot (1080 x 2340) showing a known photograph 600 px wide among text: on the
    1,024-px working image the photograph is too small to verify; decoded again as a check would
    decode it (prints.QUERY_LOOK_GAIN), it links."""
    from PIL import Image

    from provenance import prints

    canvas = Image.new("RGB", (1080, 2340), (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    for i in range(12):
        draw.rectangle((60, 200 + i * 40, 60 + (i * 137) % 900, 220 + i * 40), fill=(40, 40, 40))
    rocket = photo("rocket")
    canvas.paste(rocket.resize((600, round(rocket.height * 600 / rocket.width))), (240, 900))
    save(rocket, tmp_path / "arch" / "a" / "rocket.jpg")
    save(canvas, tmp_path / "arch" / "b" / "screenshot.png")
    with Ledger(tmp_path / "l.db") as led:
        assert scan(led, tmp_path / "arch", workers=1).new_links == 1
    monkeypatch.setattr(prints, "QUERY_LOOK_GAIN", float("inf"))  # the working image only
    with Ledger(tmp_path / "l2.db") as led:
        assert scan(led, tmp_path / "arch", workers=1).new_links == 0


def test_a_hashes_only_scan_is_completed_by_a_full_scan(db_url, tmp_path, monkeypatch):
    """A first pass records global hashes alone and links what they find; a later full scan reads
    those files again, gives them local features and links the crops. Nothing is doubled."""
    from sqlalchemy import text

    from provenance import check

    root = tmp_path / "arch"
    save(photo("chelsea"), root / "chelsea.jpg")
    save(photo("coffee"), root / "coffee.jpg")
    save(photo("coffee").resize((240, 160)), root / "coffee_small.jpg", quality=50)  # PDQ finds it
    w, h = photo("chelsea").size
    save(photo("chelsea").crop((w // 5, h // 6, w * 4 // 5, h * 5 // 6)), root / "chelsea_crop.jpg")  # ORB only

    def link_names(led):
        rows = led.session.execute(text(
            "SELECT a.path, b.path FROM match_link l JOIN sighting a ON a.item_id = l.earlier_item_id "
            "JOIN sighting b ON b.item_id = l.later_item_id"))
        return {frozenset(Path(p).name for p in row) for row in rows}

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a server ledger's index files
    with Ledger(db_url) as led:
        quick = scan(led, root, hashes_only=True)
        assert (quick.new_items, quick.completed) == (4, 0)
        assert led.session.execute(text("SELECT count(*) FROM local_features")).scalar() == 0
        assert link_names(led) == {frozenset({"coffee.jpg", "coffee_small.jpg"})}

        again = scan(led, root, hashes_only=True)  # a hashes-only rescan reads nothing
        assert (again.unchanged, again.completed, again.new_links) == (4, 0, 0)

        full = scan(led, root, workers=2)
        assert (full.new_items, full.completed, full.unchanged, full.new_links) == (0, 4, 0, 1)
        assert led.session.execute(text("SELECT count(*) FROM local_features")).scalar() == 4
        assert link_names(led) == {frozenset({"coffee.jpg", "coffee_small.jpg"}),
                                   frozenset({"chelsea.jpg", "chelsea_crop.jpg"})}
        assert led.counts()["items"] == 4 and led.counts()["links"] == 2

        scan_module = sys.modules["provenance.scan"]
        fingerprint_file = scan_module.fingerprint_file
        monkeypatch.setattr(scan_module, "fingerprint_file", lambda path, *a, **k: pytest.fail(f"re-read {path}"))
        last = scan(led, root)  # complete now: nothing is read again
        assert (last.unchanged, last.completed, last.new_links) == (4, 0, 0)
        monkeypatch.setattr(scan_module, "fingerprint_file", fingerprint_file)

        w, h = photo("chelsea").size
        query = save(photo("chelsea").crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4)), tmp_path / "q.jpg")
        (result,) = check(led, [query])
        assert {Path(m.path).name for m in result.matches if m.path} == {"chelsea.jpg", "chelsea_crop.jpg"}


def test_hashes_only_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from provenance.cli import app

    make_archive(tmp_path / "arch")
    db = str(tmp_path / "l.db")
    runner = CliRunner()
    quick = runner.invoke(app, ["scan", str(tmp_path / "arch"), "--db", db, "--hashes-only", "--json"])
    assert quick.exit_code == 0, quick.output
    first = json.loads(quick.stdout)
    assert (first["new_items"], first["completed"], first["failed"]) == (8, 0, 1)
    query = str(next((tmp_path / "arch").rglob("*.jpg")))
    warned = runner.invoke(app, ["check", query, "--db", db, "--json"])
    assert warned.exit_code == 0 and json.loads(warned.stdout)["matches"]  # its own bytes, at least
    assert "8 indexed images hold global hashes only" in " ".join(warned.stderr.split())
    full = runner.invoke(app, ["scan", str(tmp_path / "arch"), "--db", db])
    assert full.exit_code == 0, full.output
    assert "new items 0" in full.stdout and "completed 8" in full.stdout
    assert "global hashes only" not in runner.invoke(app, ["check", query, "--db", db]).stderr
    assert "--hashes-only" in runner.invoke(app, ["scan", "--help"]).stdout


def test_a_copy_at_another_path_completes_a_hashed_only_item(tmp_path):
    """The item is completed by whichever file with its content a full scan reads first, and then
    meets what was fully indexed while it was hashed only (a crop of it, here)."""
    import shutil

    from sqlalchemy import text

    save(photo("chelsea"), tmp_path / "first" / "chelsea.jpg")
    w, h = photo("chelsea").size
    save(photo("chelsea").crop((w // 5, h // 6, w * 4 // 5, h * 5 // 6)), tmp_path / "crops" / "crop.jpg")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "first", hashes_only=True)
        assert scan(led, tmp_path / "crops").new_links == 0  # the original has no local features yet
        (tmp_path / "second").mkdir()
        shutil.copy(tmp_path / "first" / "chelsea.jpg", tmp_path / "second" / "copy.jpg")
        s = scan(led, tmp_path / "second")
        assert (s.new_items, s.completed, s.new_sightings, s.new_links) == (0, 1, 1, 1)
        assert led.session.execute(text("SELECT count(*) FROM local_features")).scalar() == 2
        assert scan(led, tmp_path / "second").completed == 0


def test_the_writer_takes_the_workers_looks_for_a_frame_and_a_screen(tmp_path, monkeypatch):
    """Looking for an image's parts, a scan's worker has already looked for the picture framed in
    it and for a photographed screen; the writer, matching a file nothing matched, takes those
    instead of looking again: each is looked for once per file, and the scan links as before."""
    from provenance import local_match, parts

    from .test_screen import KEYSTONE, photographed_screen

    save(photo("rocket"), tmp_path / "arch" / "a" / "rocket.jpg")
    save(photo("astronaut"), tmp_path / "arch" / "a" / "astronaut.jpg")
    save(photographed_screen(photo("coffee"), KEYSTONE, seed=4)[0], tmp_path / "arch" / "b" / "monitor.jpg")
    save(photo("coffee"), tmp_path / "arch" / "c" / "coffee.jpg")
    looks = {"frame": 0, "screen": 0}

    def counted(name, look):
        def counting(image):
            looks[name] += 1
            return look(image)
        return counting

    monkeypatch.setattr(parts, "framed_picture", counted("frame", parts.framed_picture))
    monkeypatch.setattr(local_match, "framed_picture", counted("frame", local_match.framed_picture))
    monkeypatch.setattr(local_match, "screen_picture", counted("screen", local_match.screen_picture))
    with Ledger(tmp_path / "l.db") as led:
        summary = scan(led, tmp_path / "arch", workers=1)
        items = {name: led.item_by_sha(decode_image(path.read_bytes()).sha256).id
                 for name, path in (("monitor", tmp_path / "arch" / "b" / "monitor.jpg"),
                                    ("coffee", tmp_path / "arch" / "c" / "coffee.jpg"))}
        assert summary.new_items == 4 and summary.new_links == 1
        (link,) = led.links([items["coffee"]])  # the photograph, found on the monitor scanned before it
        assert (link.earlier_item_id, link.later_item_id) == (items["monitor"], items["coffee"])
    assert looks == {"frame": 4, "screen": 4}  # once per file, by the worker (6 and 7 when the writer looked again)
