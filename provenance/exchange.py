"""Getting data out of the ledger and hash lists into it.

- :func:`export_ledger`: the items, sightings, works, links, notes and events as CSV files or
  JSON Lines, one file per table, optionally for selected works only. Sightings carry their
  chain parent and its reason; links their review (who rejected or confirmed them and why).
- :func:`export_pdq`: the PDQ hashes of selected works as the plain ``hex,quality`` lines that
  hash-sharing programmes exchange (Meta's PDQ tools write ``hash,quality[,name]``).
- :func:`import_hash_list`: such a list back in. A hash comes without its file, so each becomes
  an item of kind "hash" (ledger_works.add_hash_item) with one sighting whose source is the list
  (outlet = who shared it, published_source "import", the file and line kept), linked to every
  indexed picture within PDQ's match threshold, so it joins (or merges) works like a file would.
- :func:`chain_to_dot` and :func:`chain_to_graphml`: a work's chain for Graphviz and Gephi.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO
from xml.etree import ElementTree as ET

from .chain import Chain
from .errors import ProvenanceError
from .fingerprints import PDQ
from .ledger import Ledger
from .works import refresh

TABLES = ("items", "sightings", "works", "links", "notes", "events")
FORMATS = ("csv", "jsonl")
#: Columns holding JSON text: nested objects in JSON Lines, kept as text in CSV.
_JSON_COLUMNS = {"evidence_json": "evidence", "flags_json": "flags", "extra_json": "extra"}
_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass
class ExportSummary:
    folder: str
    format: str
    files: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"folder": self.folder, "format": self.format, "files": self.files, "rows": self.rows}


def selected_items(ledger: Ledger, work_ids: Iterable[int] | None) -> list[int] | None:
    """The items of these works (None: everything)."""
    if work_ids is None:
        return None
    live = {ledger.resolve_work_id(w) for w in work_ids}
    members = ledger.members(live)
    return sorted(i for items in members.values() for i in items)


def export_ledger(ledger: Ledger, folder: str | os.PathLike, *, fmt: str = "csv",
                  work_ids: Iterable[int] | None = None) -> ExportSummary:
    """Write each table to ``folder/<table>.csv`` (or ``.jsonl``); see the module docstring."""
    if fmt not in FORMATS:
        raise ProvenanceError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    with ledger.reading():
        if ledger.stale_work_ids():
            refresh(ledger)
            ledger.commit()
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvenanceError(f"{folder}: cannot create folder ({exc.strerror or exc})") from None
    summary = ExportSummary(str(out), fmt)
    with ledger.reading():  # one snapshot, and no lock left for a scan beside it to wait for
        items = selected_items(ledger, work_ids)
        for table in TABLES:
            path = out / f"{table}.{fmt}"
            rows = ledger.export_rows(table, items)
            with open(path, "w", encoding="utf-8", newline="") as fh:
                count = _write_csv(fh, rows) if fmt == "csv" else _write_jsonl(fh, rows)
            summary.files[table], summary.rows[table] = str(path), count
    return summary


def _write_csv(fh: IO[str], rows: Iterable[dict]) -> int:
    writer = None
    count = 0
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            writer.writeheader()
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
        count += 1
    return count


def _write_jsonl(fh: IO[str], rows: Iterable[dict]) -> int:
    count = 0
    for row in rows:
        record = {}
        for key, value in row.items():
            if key in _JSON_COLUMNS:
                record[_JSON_COLUMNS[key]] = json.loads(value) if value else None
            else:
                record[key] = value.isoformat() if isinstance(value, datetime) else value
        fh.write(json.dumps(record, sort_keys=False, default=str) + "\n")
        count += 1
    return count


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# --- PDQ lists ---------------------------------------------------------------------------------

def export_pdq(ledger: Ledger, out: IO[str], *, work_ids: Iterable[int] | None = None) -> int:
    """Write ``hex,quality`` lines for the PDQ hashes of these works (all when None); returns the count."""
    with ledger.reading():
        items = selected_items(ledger, work_ids)
        if items is None:
            rows = ((item, value, quality)
                    for item, value, quality, _ in ledger.iter_fingerprints(PDQ.name, PDQ.version))
        else:
            rows = ledger.fingerprint_values(items, PDQ.name, PDQ.version)
        seen: set[str] = set()
        for _item, value, quality in rows:
            if value in seen:
                continue
            seen.add(value)
            out.write(f"{value},{'' if quality is None else quality}\n")
    return len(seen)


@dataclass(frozen=True)
class HashLine:
    """One usable line of a hash list."""

    line: int
    value: str  # 64 lower-case hex digits
    quality: int | None
    label: str | None = None  # anything after the quality (Meta's tools write the file name)


def parse_hash_list(lines: Iterable[str]) -> tuple[list[HashLine], list[str]]:
    """Parse ``hex[,quality[,label]]`` lines; blank lines and ``#`` comments are skipped.

    A malformed line is reported (with its number) and skipped, never fatal.
    """
    entries: list[HashLine] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, 1):
        text = raw.strip().lstrip("\ufeff")
        if not text or text.startswith("#"):
            continue
        cells = [c.strip() for c in text.split(",")]
        value = cells[0]
        if value.lower() in ("hash", "pdq", "hex", "signal"):  # a header row
            continue
        if not _HEX.fullmatch(value):
            problems.append(f"line {number}: not a 256-bit PDQ hash in hex ({value[:20]!r}); skipped")
            continue
        quality = None
        if len(cells) > 1 and cells[1]:
            if not cells[1].isdigit() or not 0 <= int(cells[1]) <= 100:
                problems.append(f"line {number}: quality {cells[1][:10]!r} is not a whole number 0-100; skipped")
                continue
            quality = int(cells[1])
        label = ",".join(cells[2:]) or None
        entries.append(HashLine(number, value.lower(), quality, label))
    return entries, problems


@dataclass
class ImportSummary:
    source: str
    hashes: int = 0
    new_items: int = 0
    new_sightings: int = 0
    new_links: int = 0
    unmatched_low_quality: int = 0
    problems: list[str] = field(default_factory=list)
    report: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"source": self.source, "hashes": self.hashes, "new_items": self.new_items,
                "new_sightings": self.new_sightings, "new_links": self.new_links,
                "unmatched_low_quality": self.unmatched_low_quality, "problems": self.problems,
                "changes": self.report}


def import_hash_list(ledger: Ledger, path: str | os.PathLike, *, source: str, published_at: datetime | None = None,
                     precision: str | None = None, url: str | None = None) -> ImportSummary:
    """Record every hash of a ``hex,quality`` list as a sighting by ``source``; link and commit.

    A hash without a quality, or below PDQ's quality gate, is recorded but matched with nothing
    (PDQ's own rule: such hashes are unreliable).
    """
    from .matcher import Match, Matcher  # the matcher loads search indexes: only when importing

    list_path = Path(path)
    try:
        with open(list_path, encoding="utf-8") as fh:
            entries, problems = parse_hash_list(fh)
    except FileNotFoundError:
        raise ProvenanceError(f"{path}: no such hash list") from None
    except UnicodeDecodeError as exc:
        raise ProvenanceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ProvenanceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    summary = ImportSummary(source, problems=problems)
    matcher = Matcher(ledger, use_local=False)
    where = str(list_path.resolve())
    for entry in entries:
        summary.hashes += 1
        item, created = ledger.add_hash_item(PDQ.name, PDQ.version, entry.value, entry.quality)
        extra = {"hash_list": list_path.name, "line": entry.line, **({"label": entry.label} if entry.label else {})}
        _, new_sighting = ledger.add_sighting(item.id, outlet=source, path=f"{where}#{entry.line}", url=url,
                                              published_at=published_at, published_precision=precision,
                                              published_source="import", extra=extra)
        summary.new_sightings += int(new_sighting)
        if not created:
            continue
        summary.new_items += 1
        if entry.quality is None or entry.quality < PDQ.min_quality:
            summary.unmatched_low_quality += 1
            continue
        hits = [Match(hit.item_id, PDQ.name, float(hit.distance), {
            "threshold": PDQ.match_threshold, "bits": PDQ.bits, "query_quality": entry.quality,
            "transform": "original", "edits": [], "imported": True})
            for hit in matcher.pdq.search([entry.value], PDQ.match_threshold) if hit.item_id != item.id]
        for m in filter(None, matcher.wholes(hits)):  # a hash near a post's picture links the post (parts.py)
            summary.new_links += int(ledger.add_link(m.item_id, item.id, m.method, m.distance, m.evidence))
        matcher.pdq.add(item.id, entry.value)
    summary.report = refresh(ledger)
    ledger.commit()
    return summary


# --- graphs ------------------------------------------------------------------------------------

def chain_to_dot(chain: Chain) -> str:
    """The chain as a Graphviz digraph (``dot -Tsvg``): one box per sighting, edges parent -> child."""
    name = f"W{chain.work_id}" if chain.work_id is not None else "chain"
    lines = [f"digraph {_dot_id(name)} {{", "  rankdir=LR;", '  node [shape=box, fontsize=10, fontname="Helvetica"];',
             '  edge [fontsize=9, fontname="Helvetica"];']
    flagged = {sid for f in chain.flags for sid in f.sighting_ids}
    for n in chain.nodes:
        label = f"{n.outlet or '(no outlet)'}\n{n.date:%Y-%m-%d} ({n.date_source})\nitem {n.item_id}, sighting {n.sighting_id}"
        style = ', color="darkorange", penwidth=2' if n.sighting_id in flagged else ""
        style += ", style=dashed" if n.date_source == "indexed" else ""
        lines.append(f"  s{n.sighting_id} [label={_dot_str(label)}{style}];")
    for n in chain.nodes:
        if n.parent_sighting_id is not None:
            lines.append(f"  s{n.parent_sighting_id} -> s{n.sighting_id} [label={_dot_str(n.basis)}, "
                         f"tooltip={_dot_str(n.reason)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_id(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) else _dot_str(text)


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_GRAPHML_NODE_KEYS = (("outlet", "string"), ("date", "string"), ("date_source", "string"), ("item_id", "int"),
                      ("url", "string"), ("path", "string"), ("flagged", "boolean"))
_GRAPHML_EDGE_KEYS = (("basis", "string"), ("reason", "string"), ("confidence", "string"))


def chain_to_graphml(chain: Chain) -> str:
    """The chain as GraphML (Gephi, yEd, networkx), with outlet, dates and reasons as attributes."""
    ns = "http://graphml.graphdrawing.org/xmlns"
    root = ET.Element("graphml", xmlns=ns)
    for scope, keys in (("node", _GRAPHML_NODE_KEYS), ("edge", _GRAPHML_EDGE_KEYS)):
        for name, kind in keys:
            ET.SubElement(root, "key", {"id": f"{scope[0]}_{name}", "for": scope, "attr.name": name, "attr.type": kind})
    graph = ET.SubElement(root, "graph", id=f"W{chain.work_id}", edgedefault="directed")
    flagged = {sid for f in chain.flags for sid in f.sighting_ids}
    for n in chain.nodes:
        node = ET.SubElement(graph, "node", id=f"s{n.sighting_id}")
        values = {"outlet": n.outlet or "", "date": n.date.isoformat(), "date_source": n.date_source,
                  "item_id": str(n.item_id), "url": n.url or "", "path": n.path or "",
                  "flagged": "true" if n.sighting_id in flagged else "false"}
        for name, value in values.items():
            ET.SubElement(node, "data", key=f"n_{name}").text = value
    for n in chain.nodes:
        if n.parent_sighting_id is None:
            continue
        edge = ET.SubElement(graph, "edge", id=f"e{n.sighting_id}", source=f"s{n.parent_sighting_id}",
                             target=f"s{n.sighting_id}")
        for name, value in (("basis", n.basis), ("reason", n.reason), ("confidence", n.confidence)):
            ET.SubElement(edge, "data", key=f"e_{name}").text = value
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
