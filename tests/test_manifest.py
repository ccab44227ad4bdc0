import csv
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from provenance.errors import ManifestError
from provenance.manifest import parse_date, read_manifest


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_rows_resolves_paths_and_keeps_extra_columns(tmp_path):
    m = read_manifest(_write(tmp_path / "m.csv",
                             "path,outlet,published_at,url,caption\n"
                             "a/x.jpg,amaq,2016-11-09,https://e.org/1,hello\n"
                             "y.png,sana,2016-11-10T08:30:00+03:00,,\n"))
    (x,) = m.for_path(str(tmp_path / "a" / "x.jpg"))
    assert x.outlet == "amaq" and x.url == "https://e.org/1" and x.extra == {"caption": "hello"}
    assert x.published_at == datetime(2016, 11, 9, tzinfo=timezone.utc) and x.published_precision == "day"
    (y,) = m.for_path(str(tmp_path / "y.png"))
    assert y.published_at == datetime(2016, 11, 10, 5, 30, tzinfo=timezone.utc) and y.url is None
    assert m.problems == []


def test_same_file_listed_twice_gives_two_attributions(tmp_path):
    m = read_manifest(_write(tmp_path / "m.csv", "path,outlet,published_at,url\nx.jpg,a,2016-01-01,u1\nx.jpg,b,2016-01-02,u2\n"))
    assert [a.outlet for a in m.for_path(str(tmp_path / "x.jpg"))] == ["a", "b"]


def test_malformed_rows_are_named_by_line_and_skipped(tmp_path):
    m = read_manifest(_write(tmp_path / "m.csv",
                             "path,outlet,published_at,url\n"
                             "ok.jpg,a,2016-01-01,u\n"
                             ",a,2016-01-01,u\n"
                             "bad.jpg,a,09/11/2016,u\n"
                             "extra.jpg,a,2016-01-01,u,surplus\n"))
    assert len(m.entries) == 1
    assert [p.split(":")[1] for p in m.problems] == ["3", "4", "5"]
    assert "empty path" in m.problems[0] and "bad published_at" in m.problems[1] and "more cells" in m.problems[2]


@pytest.mark.parametrize("text, message", [
    ("path,outlet,url\nx,a,u\n", "lacks column(s) published_at"),
    ("", "lacks column(s)"),
])
def test_bad_header_is_an_error(tmp_path, text, message):
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(_write(tmp_path / "m.csv", text))


def test_missing_and_binary_manifests(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        read_manifest(tmp_path / "none.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    with pytest.raises(ManifestError, match="not UTF-8"):
        read_manifest(tmp_path / "bin.csv")


@pytest.mark.parametrize("text, expected, precision", [
    ("2016-11-09", datetime(2016, 11, 9, tzinfo=timezone.utc), "day"),
    ("2016-11-09T10:00:00Z", datetime(2016, 11, 9, 10, tzinfo=timezone.utc), "second"),
    ("2016-11-09 10:00:00", datetime(2016, 11, 9, 10, tzinfo=timezone.utc), "second"),
])
def test_parse_date(text, expected, precision):
    assert parse_date(text) == (expected, precision)


@pytest.mark.parametrize("text", ["", "yesterday", "2016-13-01", "2016-02-30", "09/11/2016", "2016-11-09T25:00"])
def test_parse_date_refuses(text):
    with pytest.raises(ValueError):
        parse_date(text)


cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(cell, cell, cell, cell), max_size=8))
def test_any_row_content_is_parsed_or_reported_never_crashes(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("m") / "m.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "outlet", "published_at", "url"])
        w.writerows(rows)
    m = read_manifest(path)
    assert sum(len(v) for v in m.entries.values()) + len(m.problems) <= len(rows)
