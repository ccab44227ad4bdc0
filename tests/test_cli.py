"""The CLI end to end, in-process through Typer's runner, on a temporary ledger."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provenance.cli import app

from .test_scan import make_archive

runner = CliRunner()


@pytest.fixture
def scanned(tmp_path):
    manifest = make_archive(tmp_path / "arch")
    db = str(tmp_path / "l.db")
    result = runner.invoke(app, ["scan", str(tmp_path / "arch"), "--manifest", str(manifest), "--db", db,
                                 "--report", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 0, result.output
    return tmp_path, db, result


def test_scan_summary_and_failures(scanned):
    _, _, result = scanned
    assert "files seen 10 · new items 8 · new sightings 8 · new re-publication links 3" in result.stdout
    assert "failed 1" in result.stdout
    assert "broken.jpg" in result.stderr and "truncated" in result.stderr


def test_rescan_json_summary(scanned):
    tmp_path, db, _ = scanned
    result = runner.invoke(app, ["scan", str(tmp_path / "arch"), "--manifest", str(tmp_path / "arch" / "manifest.csv"),
                                 "--db", db, "--json"])
    summary = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (summary["new_items"], summary["new_links"], summary["unchanged"]) == (0, 0, 8)


def test_check_json_one_object_per_query_and_exit_codes(scanned):
    tmp_path, db, _ = scanned
    (tmp_path / "bad.png").write_text("not an image")
    q = str(tmp_path / "arch" / "reposts" / "coffee_small.jpg")
    result = runner.invoke(app, ["check", q, str(tmp_path / "bad.png"), "--db", db, "--json"])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == [q, str(tmp_path / "bad.png")]
    first = lines[0]["matches"]
    assert first[0]["method"] == "sha256"
    by_outlet = {m["outlet"]: m for m in first}
    assert by_outlet["agency"]["method"] == "pdq" and by_outlet["agency"]["first_seen"].startswith("2016-02-01")
    for key in ("path", "outlet", "published_at", "url", "method", "distance", "first_seen"):
        assert key in first[0]
    assert lines[1]["error"] and lines[1]["matches"] == []


def test_check_without_match_exits_1(scanned, tmp_path):
    _, db, _ = scanned
    from PIL import Image

    Image.new("RGB", (300, 200), (10, 200, 30)).save(tmp_path / "green.png")
    result = runner.invoke(app, ["check", str(tmp_path / "green.png"), "--db", db])
    assert result.exit_code == 1 and "no match" in result.stdout


def test_history_by_query_and_by_id(scanned):
    tmp_path, db, _ = scanned
    result = runner.invoke(app, ["history", str(tmp_path / "arch" / "reposts" / "chelsea_logo.jpg"), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    h = json.loads(result.stdout)
    assert h["first_seen"]["outlet"] == "statemedia" and h["first_seen"]["source"] == "claimed"
    assert len(h["items"]) == 2 and len(h["links"]) == 1
    text = runner.invoke(app, ["history", str(h["items"][0]), "--db", db])
    assert text.exit_code == 0 and "first seen 2016-03-01" in text.stdout
    missing = runner.invoke(app, ["history", "999", "--db", db])
    assert missing.exit_code == 2 and "no item 999" in missing.stderr


def test_index_command_and_bad_date(tmp_path):
    from .conftest import photo, save

    p = save(photo("coffee"), tmp_path / "c.jpg")
    db = str(tmp_path / "l.db")
    ok = runner.invoke(app, ["index", str(p), "--outlet", "amaq", "--published", "2016-11-09", "--url", "u", "--db", db])
    assert ok.exit_code == 0 and "new items 1" in ok.stdout
    bad = runner.invoke(app, ["index", str(p), "--published", "9 Nov", "--db", db])
    assert bad.exit_code == 2 and "--published" in bad.stderr


def test_errors_that_stop_a_command_exit_2(tmp_path):
    result = runner.invoke(app, ["scan", str(tmp_path / "absent"), "--db", str(tmp_path / "l.db")])
    assert result.exit_code == 2 and "no such folder" in result.stderr
    (tmp_path / "m.csv").write_text("a,b\n")
    result = runner.invoke(app, ["scan", str(tmp_path), "--manifest", str(tmp_path / "m.csv"), "--db", str(tmp_path / "l.db")])
    assert result.exit_code == 2 and "lacks column" in result.stderr
    (tmp_path / "junk.db").write_bytes(b"junk" * 1000)
    result = runner.invoke(app, ["check", str(tmp_path / "m.csv"), "--db", str(tmp_path / "junk.db")])
    assert result.exit_code == 2 and "cannot open ledger" in result.stderr


def test_db_from_environment(scanned, monkeypatch):
    tmp_path, db, _ = scanned
    result = runner.invoke(app, ["check", str(tmp_path / "arch" / "orig" / "rocket.jpg"), "--json"], env={"PROVENANCE_DB": db})
    assert result.exit_code == 0 and json.loads(result.stdout)["matches"]


def test_reindex_after_an_upgrade_and_the_warning_before_it(scanned, monkeypatch):
    from provenance import local_features
    from provenance.fingerprints import PDQ

    tmp_path, db, _ = scanned
    query = str(tmp_path / "arch" / "reposts" / "coffee_small.jpg")
    clean = runner.invoke(app, ["check", query, "--db", db])
    assert clean.exit_code == 0 and "reindex" not in clean.stderr
    monkeypatch.setattr(PDQ, "version", "99")  # as installing a build whose algorithms changed
    monkeypatch.setattr(local_features, "VERSION", "99")
    warned = runner.invoke(app, ["check", query, "--db", db, "--json"])
    assert "provenance reindex" in warned.stderr and json.loads(warned.stdout)["matches"]  # its own bytes still
    counted = runner.invoke(app, ["reindex", "--dry-run", "--json", "--db", db])
    assert counted.exit_code == 0 and json.loads(counted.stdout) == {"outdated": 8}
    done = runner.invoke(app, ["reindex", "--db", db, "--workers", "1"])
    assert done.exit_code == 0, done.output
    assert "outdated items 8 · re-indexed 8 (0 keyframes, 0 parts) · parts found 0 · no usable copy 0" in done.stdout
    assert "index files of other versions removed 4" in done.stdout  # the older PDQ and ORB indexes, with stamps
    after = runner.invoke(app, ["check", query, "--db", db, "--json"])
    assert "reindex" not in after.stderr and after.exit_code == 0
    assert json.loads(runner.invoke(app, ["reindex", "--dry-run", "--json", "--db", db]).stdout) == {"outdated": 0}
    missing = runner.invoke(app, ["reindex", "--db", str(tmp_path / "absent.db")])
    assert missing.exit_code == 2


def test_every_command_has_help():
    for command in ("scan", "index", "check", "history", "reindex"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "--db" in result.stdout


def test_installed_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "provenance.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "check" in result.stdout


def test_readme_main_job_on_sample_media(tmp_path):
    """The README's main command, on the shipped sample media, in a real subprocess."""
    from .conftest import SAMPLE_MEDIA

    db = str(tmp_path / "demo.db")
    archive = SAMPLE_MEDIA / "archive"
    scan_run = subprocess.run([sys.executable, "-m", "provenance.cli", "scan", str(archive), "--manifest",
                               str(archive / "manifest.csv"), "--db", db, "--json"], capture_output=True, text=True)
    assert scan_run.returncode == 0, scan_run.stderr
    summary = json.loads(scan_run.stdout)
    assert (summary["new_items"], summary["failed"]) == (15, 2)
    assert summary["new_links"] >= 7
    check_run = subprocess.run([sys.executable, "-m", "provenance.cli", "check", str(SAMPLE_MEDIA / "queries"),
                                "--db", db, "--json"], capture_output=True, text=True)
    assert check_run.returncode == 0, check_run.stderr
    results = {Path(r["query"]).name: r for r in map(json.loads, check_run.stdout.splitlines())}
    paths = {name: {Path(m["path"]).name for m in r["matches"]} for name, r in results.items()}
    assert "coffee.jpg" in paths["coffee_screenshot.jpg"]
    assert "aitzgorri.jpg" in paths["aitzgorri_crop.jpg"]
    assert paths["unrelated_cat.jpg"] == set()
    shot = next(m for m in results["coffee_screenshot.jpg"]["matches"] if m["path"].endswith("coffee.jpg"))
    assert shot["outlet"] == "demo-agency" and shot["first_seen"].startswith("2016-11-30")


def test_check_says_when_the_second_look_found_it(tmp_path):
    """A small copy of a crop is found by the second look, and the evidence says so."""
    from .conftest import save, small_copy_of_a_crop

    large, small = small_copy_of_a_crop()
    db = str(tmp_path / "l.db")
    indexed = runner.invoke(app, ["index", str(save(large, tmp_path / "large.png")), "--outlet", "amaq", "--db", db])
    assert indexed.exit_code == 0, indexed.output
    query = save(small, tmp_path / "q.png")
    result = runner.invoke(app, ["check", str(query), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    match = json.loads(result.stdout)["matches"][0]
    assert match["method"] == "orb" and match["evidence"]["second_look"] is True
    assert match["evidence"]["look"] == "index"
    text = runner.invoke(app, ["check", str(query), "--db", db], env={"COLUMNS": "300"})
    assert "second look, at the index's scale" in text.stdout


def test_check_gives_the_frame_it_found_the_picture_in(tmp_path):
    """A picture small in a large page is found in its frame, given in the file's pixels (the
    check works on the page reduced to 2,400 px), and shown at its own size: not "scaled"."""
    from .conftest import photo, save
    from .test_local_match import desktop_page

    db = str(tmp_path / "l.db")
    original = save(photo("rocket"), tmp_path / "rocket.png")
    assert runner.invoke(app, ["index", str(original), "--outlet", "sana", "--db", db]).exit_code == 0
    query = save(desktop_page(photo("rocket")), tmp_path / "page.png")
    result = runner.invoke(app, ["check", str(query), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    evidence = json.loads(result.stdout)["matches"][0]["evidence"]
    assert evidence["second_look"] is True and evidence["look"] == "framed"
    assert max(abs(a - b) for a, b in zip(evidence["framed_in"], [1500, 500, 2140, 927])) <= 12
    assert abs(evidence["scale"] - 1.0) < 0.05 and "scaled" not in evidence["edits"]
    text = runner.invoke(app, ["check", str(query), "--db", db], env={"COLUMNS": "300"})
    assert "picture framed in the query" in text.stdout


def test_explain_gives_each_look_its_figures_and_verdict(tmp_path):
    """explain: a small copy of a crop verifies at the index's scale, not at its own (nor
    mirrored), and those looks say why they refuse it; an unrelated picture is refused at every
    look (exit 1); an unknown item is an error (exit 2)."""
    from .conftest import photo, save, small_copy_of_a_crop

    large, small = small_copy_of_a_crop()
    db = str(tmp_path / "l.db")
    assert runner.invoke(app, ["index", str(save(large, tmp_path / "large.png")), "--db", db]).exit_code == 0
    query = save(small, tmp_path / "q.png")
    result = runner.invoke(app, ["explain", str(query), "1", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    looks = {f["look"]: f for f in json.loads(result.stdout)["looks"]}
    assert {"first", "mirrored", "index"} <= set(looks)
    assert looks["index"]["refusal"] is None and looks["index"]["inliers"] >= 8
    assert looks["first"]["refusal"] and looks["mirrored"]["refusal"]  # as check found: only a second look

    other = save(photo("coffee"), tmp_path / "coffee.png")
    text = runner.invoke(app, ["explain", str(other), "1", "--db", db], env={"COLUMNS": "200"})
    assert text.exit_code == 1, text.output
    assert "against item 1" in text.stdout and "match" not in text.stdout.replace("matches", "")
    assert runner.invoke(app, ["explain", str(query), "99", "--db", db]).exit_code == 2


@pytest.mark.parametrize("look, says", [
    ("strong", "at its strong corners only"), ("framed", "at the picture framed in the query"),
    ("screen", "at the picture on a photographed screen, straightened"),
    ("framed_on_screen", "at the picture framed in the page on a photographed screen, straightened"),
    ("cell", "at one picture of the collage"),
])
def test_check_names_the_look_that_found_a_match(look, says):
    from provenance.cli import _evidence_text

    text = _evidence_text("orb", 40.0, {"inliers": 40, "second_look": True, "look": look, "edits": ["framed"]})
    assert text.startswith("40 verified points; framed") and f"(second look, {says})" in text


def test_check_says_when_a_parts_global_hash_proposed_the_match():
    from provenance.cli import _evidence_text

    text = _evidence_text("orb", 27.0, {"inliers": 27, "second_look": True, "look": "framed_on_screen",
                                        "proposed_by_hash": 58})
    assert text.endswith("(proposed by that picture's PDQ hash, 58 bits away)")
    assert "PDQ hash" not in _evidence_text("orb", 27.0, {"inliers": 27, "proposed_by_hash": None})
