"""Exports (CSV, JSON Lines, PDQ lists), hash-list imports, graph files, timeline pictures, and the
commands that drive them and the investigator's judgements."""

from __future__ import annotations

import csv
import io
import json
from xml.etree import ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from provenance import Ledger, export_ledger, export_pdq, import_hash_list, plot_chain, reject_link, work_chain
from provenance.cli import app
from provenance.exchange import chain_to_dot, chain_to_graphml, parse_hash_list
from provenance.review import add_note
from provenance.works import work_of_item

from .test_works import add_item, add_seen, commit, crop_link, dup_link

runner = CliRunner()
PDQ_A = "f" * 16 + "0" * 48
PDQ_NEAR_A = "f" * 16 + "0" * 44 + "000f"  # 4 bits away
PDQ_B = "0f" * 32


def small_ledger(led: Ledger) -> dict[str, int]:
    """agency's picture, relay's crop of it, echo's re-post of the crop; one unrelated picture."""
    ids = {"o": add_item(led, "o", pdq=PDQ_A), "c": add_item(led, "c", size=(300, 200)),
           "r": add_item(led, "r", size=(240, 160)), "x": add_item(led, "x", pdq=PDQ_B)}
    add_seen(led, ids["o"], "agency", "2016-01-01")
    add_seen(led, ids["c"], "relay", "2016-01-02")
    add_seen(led, ids["r"], "echo", "2016-01-05")
    add_seen(led, ids["x"], "other", "2016-02-01")
    crop_link(led, ids["o"], ids["c"])
    dup_link(led, ids["c"], ids["r"])
    commit(led)
    return ids


def test_export_csv_and_jsonl_carry_chains_reviews_and_notes(db_url, tmp_path):
    with Ledger(db_url) as led:
        ids = small_ledger(led)
        work = work_of_item(led, ids["o"])
        add_note(led, "seen on a poster too", work_id=work, by="analyst")
        link = led.link_between(ids["c"], ids["r"])
        reject_link(led, link, by="analyst", note="different compression artefacts? no: different scene")
        summary = export_ledger(led, tmp_path / "csv")
        assert summary.rows == {"items": 4, "sightings": 4, "works": 3, "links": 2, "notes": 1, "events": 2}
        with open(tmp_path / "csv" / "sightings.csv", newline="") as fh:
            sightings = {row["outlet"]: row for row in csv.DictReader(fh)}
        assert sightings["relay"]["chain_basis"] == "crop" and sightings["agency"]["parent_sighting_id"] == ""
        assert sightings["relay"]["parent_sighting_id"] == sightings["agency"]["sighting_id"]
        with open(tmp_path / "csv" / "links.csv", newline="") as fh:
            links = {int(row["link_id"]): row for row in csv.DictReader(fh)}
        assert (links[link]["status"], links[link]["reviewed_by"]) == ("rejected", "analyst")

        selected = export_ledger(led, tmp_path / "jsonl", fmt="jsonl", work_ids=[work])
        assert selected.rows["items"] == 2 and selected.rows["notes"] == 1
        works = [json.loads(line) for line in (tmp_path / "jsonl" / "works.jsonl").read_text().splitlines()]
        assert [w["work_id"] for w in works] == [work] and isinstance(works[0]["flags"], list)
        link_rows = [json.loads(line) for line in (tmp_path / "jsonl" / "links.jsonl").read_text().splitlines()]
        assert all(isinstance(r["evidence"], dict) for r in link_rows)


def test_pdq_lists_round_trip_and_imports_join_works(db_url, tmp_path):
    with Ledger(db_url) as led:
        ids = small_ledger(led)
        work = work_of_item(led, ids["o"])
        buf = io.StringIO()
        assert export_pdq(led, buf, work_ids=[work]) == 3
        lines = buf.getvalue().splitlines()
        assert f"{PDQ_A},90" in lines and all(len(line.split(",")[0]) == 64 for line in lines)

        shared = tmp_path / "shared.txt"
        shared.write_text(f"# from a partner\n{PDQ_NEAR_A},100,poster.jpg\n{'ab' * 32},20\nnot-a-hash,50\n{PDQ_A}\n")
        summary = import_hash_list(led, shared, source="partner-list")
        assert (summary.hashes, summary.new_items, summary.new_links) == (3, 3, 1)
        assert summary.unmatched_low_quality == 2 and len(summary.problems) == 1 and "line 4" in summary.problems[0]
        near = next(v for v in led.sightings(range(1, 50)) if v.outlet == "partner-list" and v.path.endswith("#2"))
        assert work_of_item(led, near.item_id) == work  # joined agency's picture's work
        assert led.item(near.item_id).kind == "hash" and near.published_source is None
        assert any(r["type"] == "new_sighting" for r in summary.report)
        again = import_hash_list(led, shared, source="partner-list")
        assert (again.new_items, again.new_sightings, again.new_links) == (0, 0, 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.text(max_size=80),
    st.builds(lambda h, q: f"{h},{q}", st.text("0123456789abcdefABCDEF", min_size=64, max_size=64),
              st.integers(-5, 120)),
), max_size=20))
def test_hash_list_parser_never_fails_and_keeps_only_valid_lines(lines):
    entries, problems = parse_hash_list(lines)
    for e in entries:
        assert len(e.value) == 64 and e.value == e.value.lower() and (e.quality is None or 0 <= e.quality <= 100)
    assert len(entries) + len(problems) <= len(lines)


def test_graph_files_and_timeline_pictures(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        ids = small_ledger(led)
        chain = work_chain(led, work_of_item(led, ids["o"]))
    dot = chain_to_dot(chain)
    assert dot.startswith("digraph") and dot.count("->") == 2
    root = ET.fromstring(chain_to_graphml(chain).split("\n", 1)[1])
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) == 3 and len(root.findall(".//g:edge", ns)) == 2
    for suffix in ("png", "svg", "html"):
        assert plot_chain(chain, tmp_path / f"t.{suffix}") == suffix
    with Image.open(tmp_path / "t.png") as png:
        assert png.size[0] > 1000
    ET.parse(tmp_path / "t.svg")
    html = (tmp_path / "t.html").read_text()
    assert "<svg" in html and "relay" in html and "crop" in html


def test_commands_for_chains_outlets_exchange_and_judgements(tmp_path):
    db = str(tmp_path / "l.db")
    with Ledger(db) as led:
        ids = small_ledger(led)
        work = work_of_item(led, ids["o"])
    ok = runner.invoke(app, ["chain", f"W{work}", "--db", db, "--dot", str(tmp_path / "w.dot"),
                             "--plot", str(tmp_path / "w.svg")])
    assert ok.exit_code == 0, ok.output
    assert "agency" in ok.stdout and "crop" in ok.stdout and (tmp_path / "w.dot").exists()
    as_json = json.loads(runner.invoke(app, ["chain", str(ids["r"]), "--db", db, "--json"]).stdout)
    assert as_json["work_id"] == work and as_json["first_seen"]["outlet"] == "agency"
    short = runner.invoke(app, ["chain", f"W{work}", "--db", db, "--max-nodes", "1"])
    assert short.exit_code == 0 and "2 more sighting(s)" in short.stdout
    dot = runner.invoke(app, ["chain", f"W{work}", "--db", db, "--dot", "-"])
    assert dot.stdout.startswith("digraph")
    assert runner.invoke(app, ["chain", "W999", "--db", db]).exit_code == 2

    stats = json.loads(runner.invoke(app, ["outlets", "--db", db, "--json"]).stdout)
    assert stats[0]["outlet"] == "agency" and stats[0]["first_published"] == 1
    assert "relay" in runner.invoke(app, ["outlets", "--db", db]).stdout

    assert runner.invoke(app, ["export", str(tmp_path / "out"), "--db", db]).exit_code == 0
    assert (tmp_path / "out" / "items.csv").exists()
    pdq = runner.invoke(app, ["export", "-", "--format", "pdq", "--work", f"W{work}", "--db", db])
    assert pdq.exit_code == 0 and f"{PDQ_A},90" in pdq.stdout
    (tmp_path / "list.txt").write_text(f"{PDQ_NEAR_A},100\n")
    imported = runner.invoke(app, ["import", str(tmp_path / "list.txt"), "--source", "partner", "--db", db, "--json"])
    assert imported.exit_code == 0 and json.loads(imported.stdout)["new_links"] == 1

    note = runner.invoke(app, ["note", f"W{work}", "verified with the photographer", "--by", "lead", "--db", db])
    assert note.exit_code == 0
    rejected = runner.invoke(app, ["link", "reject", f"{ids['c']}:{ids['r']}", "--by", "analyst",
                                   "--note", "another scene", "--db", db, "--json"])
    assert rejected.exit_code == 0 and json.loads(rejected.stdout)["new_work_ids"]
    split = runner.invoke(app, ["work", "split", f"W{work}", "--items", str(ids["c"]), "--by", "analyst", "--db", db])
    assert split.exit_code == 0 and "split off" in split.stdout
    history = runner.invoke(app, ["history", f"W{work}", "--db", db])
    assert history.exit_code == 0
    assert "verified with the photographer" in history.stdout and "rejected" in history.stdout
    assert "claimed, manifest" in history.stdout
    hist_json = json.loads(runner.invoke(app, ["history", str(ids["o"]), "--db", db, "--json"]).stdout)
    assert hist_json["work_id"] == work and {e["kind"] for e in hist_json["events"]} >= {"split", "link_rejected"}
    assert hist_json["sightings"][0]["dates"][0]["source"] == "claimed by agency (manifest)"
    confirm = runner.invoke(app, ["link", "confirm", f"{ids['c']}:{ids['r']}", "--db", db])
    assert confirm.exit_code == 0
    bad = runner.invoke(app, ["link", "reject", "nonsense", "--db", db])
    assert bad.exit_code == 2
    for command in (["chain"], ["outlets"], ["export"], ["import"], ["note"], ["link", "reject"], ["link", "confirm"],
                    ["work", "split"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "--db" in result.stdout
