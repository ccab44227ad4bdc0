"""The `provenance` command: parse, call one library function, render. Nothing imports this.

Exit codes (one place, ``EXIT_CODES``): 0 the command ran (a scan with failed files still ran);
1 ``check`` found no match for any query; 2 the command could not run (bad arguments, no such
folder, bad manifest header, unreadable or newer ledger); 130 interrupted.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .chain import History, history
from .check import CheckResult, Checker, expand_queries
from .errors import LedgerError, ManifestError, NotFoundError, ProvenanceError
from .ledger import ENV_VAR, Ledger, open_ledger
from .manifest import parse_date
from .scan import Claim, ScanSummary, index_files, scan as run_scan

EXIT_OK, EXIT_NO_MATCH, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES = {ManifestError: EXIT_USAGE, LedgerError: EXIT_USAGE, NotFoundError: EXIT_USAGE, ProvenanceError: EXIT_USAGE}

app = typer.Typer(
    help="Have we seen this picture before, who published it first, and who copied it from whom?\n\n"
    "Index archives of images with their attribution, check screenshots against them, and follow "
    "every sighting of a picture back to its first publication.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", envvar=ENV_VAR, help="Ledger: a SQLite file path or an SQLAlchemy URL (postgresql://...). "
                 "Default ./provenance.db.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON / JSON Lines).")]


@contextmanager
def _ledger(db: str | None, *, create: bool = True, readonly: bool = False):
    """Open the ledger for one command, mapping every library error to an exit code."""
    signal.signal(signal.SIGTERM, _terminate)
    ledger = None
    try:
        ledger = open_ledger(db, create=create, readonly=readonly)
        yield ledger
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: everything committed before this point is kept; re-run to continue")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except ProvenanceError as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        raise typer.Exit(EXIT_CODES.get(type(exc), EXIT_USAGE)) from None
    finally:
        if ledger is not None:
            ledger.close()


def _terminate(signum, frame):  # kill -TERM behaves like Ctrl-C: roll back the batch in flight
    raise KeyboardInterrupt


def _parse_published(value: str | None) -> tuple[datetime | None, str | None]:
    if not value:
        return None, None
    try:
        return parse_date(value)
    except ValueError as exc:
        err.print(f"[red]error[/]: --published: {exc}")
        raise typer.Exit(EXIT_USAGE) from None


# --- scan -----------------------------------------------------------------------------------

@app.command()
def scan(
    archive: Annotated[Path, typer.Argument(help="Folder to index (recursively).", show_default=False)],
    manifest: Annotated[Optional[Path], typer.Option(help="CSV with columns path,outlet,published_at,url "
                                                     "(paths relative to the manifest's folder).")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Append each new re-publication found to this "
                                                   "JSON Lines file.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes that fingerprint in parallel.")] = 1,
    db: DbOption = None,
    json_out: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no per-file lines.")] = False,
):
    """Index every image under ARCHIVE, attributed by the manifest; link re-publications.

    Incremental and safe to re-run: unchanged files are not read again and nothing is recorded
    twice. A bad file gets one line and the scan goes on. Exit 0 when the scan ran (even with
    failed files), 2 when it could not run, 130 when interrupted (re-run to continue).
    """
    with _ledger(db) as ledger:
        report_fh = open(report, "a", encoding="utf-8") if report else None
        try:
            summary = _run_with_progress(ledger, archive, manifest, report_fh, workers, quiet or json_out)
        finally:
            if report_fh:
                report_fh.close()
        _print_summary(summary, json_out, quiet)


def _run_with_progress(ledger, archive, manifest, report_fh, workers, quiet) -> ScanSummary:
    show = not quiet and err.is_terminal
    columns = (TextColumn("[bold]scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[name]}", style="dim"))
    with Progress(*columns, console=err, disable=not show, transient=True) as bar:
        task = bar.add_task("scan", total=None, name="")

        def tick(path: str) -> None:
            bar.update(task, advance=1, name=Path(path).name[-40:])

        return run_scan(ledger, archive, manifest=manifest, report=report_fh, workers=workers,
                        progress=tick, on_total=lambda n: bar.update(task, total=n))


def _print_summary(summary: ScanSummary, json_out: bool, quiet: bool) -> None:
    if json_out:
        out.print_json(json.dumps(summary.to_dict()))
        return
    if not quiet:
        for line in summary.manifest_problems:
            err.print(f"[yellow]manifest[/]: {escape(line)}")
        for path, reason in summary.failures:
            err.print(f"[red]failed[/]: {escape(path)}: {escape(reason)}")
    s = summary
    out.print(
        f"files seen {s.files_seen} · new items {s.new_items} · new sightings {s.new_sightings} · "
        f"new re-publication links {s.new_links} · unchanged {s.unchanged} · skipped {s.skipped} · failed {s.failed}"
    )


# --- index ----------------------------------------------------------------------------------

@app.command()
def index(
    files: Annotated[list[Path], typer.Argument(help="Image files to index.", show_default=False)],
    outlet: Annotated[Optional[str], typer.Option(help="Who published them, e.g. amaq.")] = None,
    published: Annotated[Optional[str], typer.Option(help="Claimed publication date, ISO (2016-11-09 or "
                                                     "2016-11-09T14:30:00+03:00).")] = None,
    url: Annotated[Optional[str], typer.Option(help="Where they were published.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Index a few files at hand with one attribution; report what they re-publish."""
    when, precision = _parse_published(published)
    claim = Claim(outlet, when, precision, url, "cli")
    with _ledger(db) as ledger:
        summary = index_files(ledger, files, claim)
        _print_summary(summary, json_out, quiet=False)


# --- check ----------------------------------------------------------------------------------

@app.command()
def check(
    queries: Annotated[list[Path], typer.Argument(help="Images (or folders of images) to look up.", show_default=False)],
    db: DbOption = None,
    json_out: JsonOption = False,
    record: Annotated[bool, typer.Option(help="Also index the queries in the ledger (with --outlet/--url).")] = False,
    outlet: Annotated[Optional[str], typer.Option(help="With --record: who published the query.")] = None,
    published: Annotated[Optional[str], typer.Option(help="With --record: claimed publication date (ISO).")] = None,
    url: Annotated[Optional[str], typer.Option(help="With --record: where the query was published.")] = None,
    visual: Annotated[Optional[Path], typer.Option(help="Draw the query beside its best match, matched region "
                                                   "and correspondences, into this PNG (one query).")] = None,
):
    """List the indexed items that show the same picture as each query, best first, with evidence.

    Checking writes nothing to the ledger unless --record is given. With --json, exactly one JSON
    object per query per line. Exit 0 if any query matched, 1 if none did, 2 on errors.
    """
    claim = None
    if record:
        when, precision = _parse_published(published)
        claim = Claim(outlet, when, precision, url, "cli")
    with _ledger(db, create=record, readonly=not record) as ledger:
        checker = Checker(ledger)
        any_match = False
        results = []
        for query in expand_queries(str(q) for q in queries):
            result = checker.check_path(query, record=claim)
            any_match |= bool(result.matches)
            results.append(result)
            if json_out:
                sys.stdout.write(json.dumps(result.to_dict(), default=str) + "\n")
                sys.stdout.flush()
            else:
                _print_check(result)
        if visual is not None and results and results[0].matches:
            from .visual import draw_match

            draw_match(results[0].query, results[0].matches[0], visual)
            if not json_out:
                out.print(f"evidence picture written to {visual}")
    raise typer.Exit(EXIT_OK if any_match else EXIT_NO_MATCH)


def _print_check(result: CheckResult) -> None:
    if result.error:
        out.print(f"[bold]{escape(result.query)}[/]: [red]cannot check[/]: {escape(result.error)}")
        return
    if not result.matches:
        out.print(f"[bold]{escape(result.query)}[/]: no match in the ledger")
        return
    table = Table(title=f"{escape(result.query)}: {len(result.matches)} match(es)", title_justify="left")
    for col in ("item", "outlet", "published", "first seen", "method", "evidence", "path / url"):
        table.add_column(col, overflow="fold")
    for m in result.matches:
        fs = m.first_seen
        table.add_row(
            str(m.item_id),
            escape(m.outlet or "-"),
            _date(m.published_at),
            f"{_date(fs.date)} ({fs.source}{', ' + escape(fs.outlet) if fs.outlet else ''})" if fs else "-",
            m.method,
            escape(_evidence_text(m.method, m.distance, m.evidence)),
            escape("\n".join(x for x in (m.path, m.url) if x)),
        )
    out.print(table)


def _evidence_text(method: str, distance: float | None, ev: dict) -> str:
    if method == "sha256":
        return "identical bytes"
    if method in ("pdq", "phash"):
        text = f"distance {distance:.0f}/{ev.get('bits')} (<= {ev.get('threshold')})"
        if ev.get("query_quality") is not None:
            text += f", quality {ev['query_quality']}/{ev.get('indexed_quality')}"
        if ev.get("transform") not in (None, "original"):
            text += f", {ev['transform']}"
        return text
    text = f"{ev.get('inliers', distance)} verified points"
    if ev.get("ncc_blocks") is not None:
        text += f", {float(ev['ncc_blocks']):.0%} of blocks agree"
    if ev.get("visible_share") is not None:
        text += f", {float(ev['visible_share']):.0%} of original visible"
    if ev.get("edits"):
        text += "; " + ", ".join(ev["edits"])
    return text


def _date(value: datetime | None) -> str:
    if value is None:
        return "-"
    if value.time() == datetime.min.time():
        return value.date().isoformat()
    return value.strftime("%Y-%m-%d %H:%M") + (" UTC" if value.tzinfo else "")


# --- history --------------------------------------------------------------------------------

@app.command(name="history")
def history_cmd(
    item_or_query: Annotated[str, typer.Argument(help="An item id, a SHA-256 (or its first 8+ hex digits), "
                                                 "or an image file to look up.", show_default=False)],
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Every sighting of a work in date order: who, where, when, and how each copy is linked."""
    with _ledger(db, create=False, readonly=True) as ledger:
        item_id = resolve_item(ledger, item_or_query)
        h = history(ledger, item_id)
        if json_out:
            out.print_json(json.dumps(h.to_dict(), default=str))
        else:
            _print_history(h)


def resolve_item(ledger: Ledger, ref: str) -> int:
    """An item id from an id, a SHA-256 prefix, or an image file (exact copy or best match)."""
    if ref.isdigit() and not Path(ref).exists():
        return ledger.item(int(ref)).id
    if re.fullmatch(r"[0-9a-fA-F]{8,64}", ref) and not Path(ref).exists():
        item = ledger.item_by_sha_prefix(ref.lower())
        if item is None:
            raise NotFoundError(f"no item whose SHA-256 starts with {ref}")
        return item.id
    result = Checker(ledger).check_path(ref)
    if result.error:
        raise NotFoundError(f"{ref}: {result.error}")
    if not result.matches:
        raise NotFoundError(f"{ref}: not in the ledger and matches nothing in it")
    return result.matches[0].item_id


def _print_history(h: History) -> None:
    fs = h.first_seen
    if fs:
        out.print(f"[bold]first seen[/] {_date(fs.date)} ({fs.source}) by {escape(fs.outlet or 'unknown outlet')}, "
                  f"item {fs.item_id}; {len(h.item_ids)} item(s), {len(h.sightings)} sighting(s)")
    table = Table(title_justify="left")
    for col in ("#", "item", "outlet", "claimed", "indexed", "EXIF taken", "where", "linked"):
        table.add_column(col, overflow="fold")
    for n, s in enumerate(h.sightings, 1):
        links = []
        for ln in h.links_of(s.item_id):
            other = ln.earlier_item_id if ln.later_item_id == s.item_id else ln.later_item_id
            arrow = "copy of" if ln.later_item_id == s.item_id else "copied as"
            links.append(f"{arrow} {other} ({ln.method} {ln.distance:g})" if ln.distance is not None else f"{arrow} {other}")
        table.add_row(
            str(n), str(s.item_id), escape(s.outlet or "-"),
            f"{_date(s.published_at)} ({s.published_source})" if s.published_at else "-",
            _date(s.indexed_at), _date(s.exif_taken_at),
            escape("\n".join(x for x in (s.url, s.path) if x)), escape("\n".join(links) or "-"),
        )
    out.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
