"""The `provenance` command: parse, call one library function, render. Nothing imports this.

Exit codes (one place, ``EXIT_CODES``): 0 the command ran (a scan with failed files still ran);
1 ``check`` found no match for any query (``explain``: no look verified the pair); 2 the command
could not run (bad arguments, no such folder, bad manifest header, unreadable or newer ledger);
130 interrupted.
"""

from __future__ import annotations

import json
import os
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

from .chain import Chain, work_chain
from .check import CheckResult, Checker, expand_queries, explain_match
from .history import History, history
from .errors import LedgerError, ManifestError, NotFoundError, ProvenanceError
from .ledger import ENV_VAR, Ledger, open_ledger
from .manifest import parse_date
from .parts import wording as part_wording
from .scan import Claim, ScanSummary, index_files, scan as run_scan
from .works import parse_work_ref, work_of_item

EXIT_OK, EXIT_NO_MATCH, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES = {ManifestError: EXIT_USAGE, LedgerError: EXIT_USAGE, NotFoundError: EXIT_USAGE, ProvenanceError: EXIT_USAGE}

app = typer.Typer(
    help="Have we seen this picture before, who published it first, and who copied it from whom?\n\n"
    "Index archives of images with their attribution, check screenshots against them, and follow "
    "every sighting of a picture back to its first publication.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
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
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes that fingerprint in parallel "
                                                   "(default: every core).", show_default=False)] = None,
    hashes_only: Annotated[bool, typer.Option(
        "--hashes-only", help="A first pass over a large backlog, several times faster: record images' "
        "SHA-256, PDQ and pHash alone, and link the copies, re-encodings, resizes, mirrors and recolourings "
        "they find. A later scan without this option completes those images: crops, screenshots, collages.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no per-file lines.")] = False,
):
    """Index every image and video under ARCHIVE, attributed by the manifest; link re-publications.

    Incremental and safe to re-run: unchanged files are not read again and nothing is recorded
    twice. A bad file gets one line and the scan goes on. Exit 0 when the scan ran (even with
    failed files), 2 when it could not run, 130 when interrupted (re-run to continue).
    """
    with _ledger(db) as ledger:
        report_fh = open(report, "a", encoding="utf-8") if report else None
        try:
            summary = _run_with_progress(ledger, archive, manifest, report_fh, workers, quiet or json_out, hashes_only)
        finally:
            if report_fh:
                report_fh.close()
        _print_summary(summary, json_out, quiet)
        _warn_if_outdated(ledger)


def _progress_bar(verb: str, quiet: bool) -> Progress:
    """A progress bar on stderr for long work (only on a terminal): done/total, times, a name."""
    columns = (TextColumn(f"[bold]{verb}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[name]}", style="dim"))
    return Progress(*columns, console=err, disable=quiet or not err.is_terminal, transient=True)


def _run_with_progress(ledger, archive, manifest, report_fh, workers, quiet, hashes_only) -> ScanSummary:
    with _progress_bar("scanning", quiet) as bar:
        task = bar.add_task("scan", total=None, name="")

        def tick(path: str) -> None:
            bar.update(task, advance=1, name=Path(path).name[-40:])

        return run_scan(ledger, archive, manifest=manifest, report=report_fh, workers=workers or os.cpu_count() or 1,
                        progress=tick, on_total=lambda n: bar.update(task, total=n), hashes_only=hashes_only)


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
        + (f" · completed {s.completed}" if s.completed else "")
    )


def _warn_if_outdated(ledger: Ledger) -> None:
    """Items fingerprinted by an older version are invisible to that algorithm's search: say so."""
    from .reindex import has_outdated

    if has_outdated(ledger):
        err.print("[yellow]warning[/]: some items were fingerprinted by an older version of an algorithm and "
                  "are not matched by it until `provenance reindex` fingerprints them again")


def _warn_if_hashed_only(ledger: Ledger) -> None:
    """Images a `scan --hashes-only` left without local features are found by a check only as
    copies, re-encodings, resizes, mirrors and recolourings: say so, with how many."""
    with ledger.reading():
        count = ledger.hashed_only_count()
    if count:
        err.print(f"[yellow]warning[/]: {count} indexed image{'s' if count > 1 else ''} hold global "
                  "hashes only (`scan --hashes-only`): their copies and re-encodings are found, but not "
                  "their crops, screenshots, collages or photos of a screen, until a scan without "
                  "--hashes-only completes them")


# --- reindex --------------------------------------------------------------------------------

@app.command()
def reindex(
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes that fingerprint in parallel "
                                                   "(default: every core).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count the outdated items.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no per-item lines.")] = False,
):
    """Fingerprint again the items an older version of an algorithm fingerprinted, from their files.

    After an upgrade that changes an algorithm's output (a new version of PDQ, pHash or the
    local features), search compares only values of the new version: until this runs, the items
    indexed before are invisible to it, and check and scan warn. Images indexed before parts
    existed, or searched by another version of the parts finder, are searched for the picture
    framed in them (a post's), which is indexed on its own.

    Each item is read from a sighting's path whose file still has the item's SHA-256. Resumable
    and safe to re-run, like a scan. Exit 0 when it ran (items without a readable copy are
    listed), 2 when it could not run, 130 when interrupted (re-run to continue).
    """
    from .reindex import outdated_items, reindex as run_reindex

    with _ledger(db, create=False) as ledger:
        if dry_run:
            count = len(outdated_items(ledger))
            if json_out:
                _emit_json({"outdated": count})
            else:
                out.print(f"outdated items {count}" + (": run `provenance reindex`" if count else ""))
            return
        with _progress_bar("re-indexing", quiet or json_out) as bar:
            task = bar.add_task("reindex", total=None, name="")
            summary = run_reindex(ledger, workers=workers or os.cpu_count() or 1,
                                  progress=lambda n: bar.update(task, advance=n),
                                  on_total=lambda n: bar.update(task, total=n))
    if json_out:
        _emit_json(summary.to_dict())
        return
    if not quiet:
        for item_id, reason in summary.unreadable:
            err.print(f"[red]no usable copy[/]: item {item_id}: {escape(reason)}")
        for item_id, reason in summary.frames_left:
            err.print(f"[yellow]keyframe left[/]: item {item_id}: {escape(reason)}")
        for item_id, reason in summary.parts_left:
            err.print(f"[yellow]part left[/]: item {item_id}: {escape(reason)}")
    s = summary
    out.print(f"outdated items {s.outdated} · re-indexed {s.refreshed} ({s.frames_refreshed} keyframes, "
              f"{s.parts_refreshed} parts) · parts found {s.parts_added} · "
              f"no usable copy {len(s.unreadable)} · keyframes left {len(s.frames_left)} · "
              f"parts left {len(s.parts_left)} · "
              f"index files of other versions removed {len(s.removed_files)}")


# --- index ----------------------------------------------------------------------------------

@app.command()
def index(
    files: Annotated[list[Path], typer.Argument(help="Image or video files to index.", show_default=False)],
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
    queries: Annotated[list[Path], typer.Argument(help="Images or videos (or folders of them) to look up.", show_default=False)],
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
        _warn_if_outdated(ledger)
        _warn_if_hashed_only(ledger)
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


@app.command(name="explain")
def explain_cmd(
    query: Annotated[Path, typer.Argument(help="The image to verify.", show_default=False)],
    item: Annotated[str, typer.Argument(help="The indexed item: its id or SHA-256 (or its first 8+ hex digits).",
                                        show_default=False)],
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Why an image does or does not match one indexed item: each look at it, its figures, the verdict.

    For the match an investigator expected and check did not report, or to show how strong a
    reported one is. Every look of the local-feature stage is tried, whether or not check would
    take it, against the item and against the picture framed in it when that is indexed on its own
    (a post's picture: "part N"). Exit 0 if some look verifies the pair, 1 if none does, 2 on errors.
    """
    with _ledger(db, create=False, readonly=True) as ledger:
        item_id = resolve_item(ledger, item)
        looks = explain_match(ledger, str(query), item_id)  # one item's features: no index to load
    if json_out:
        _emit_json({"query": str(query), "item_id": item_id, "looks": [f.to_dict() for f in looks]})
    else:
        table = Table(title=f"{escape(str(query))} against item {item_id}", title_justify="left")
        for col in ("look", "inliers", "seen", "hull", "blocks", "detail"):
            table.add_column(col, no_wrap=True)
        table.add_column("verdict", overflow="fold", min_width=16)
        for f in looks:
            placed = f.visible_share > 0  # the geometry put the original in the query
            table.add_row(
                f.look + (f" (part {f.part_item_id})" if f.part_item_id is not None else ""),
                f"{f.inliers}/{f.descriptor_matches}" if f.inliers else "-",
                f"{f.visible_share:.0%}" if placed else "-",
                f"{f.hull_share:.1%}" if placed else "-",
                f"{round(f.block_share * f.blocks_compared)}/{f.blocks_compared}" if placed else "-",
                f"{f.detail_ncc:.2f}" if placed else "-",
                "[green]match[/]" if f.refusal is None else escape(f.refusal))
        out.print(table)
    raise typer.Exit(EXIT_OK if any(f.refusal is None for f in looks) else EXIT_NO_MATCH)


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
            escape(_evidence_text(m.method, m.distance, m.evidence) + _moment_text(m.evidence)),
            escape("\n".join(x for x in (m.path, m.url) if x)),
        )
    out.print(table)


_LOOK_TEXT = {"index": "second look, at the index's scale", "crop": "second look, at the scale of a crop",
              "framed": "second look, at the picture framed in the query",
              "strong": "second look, at its strong corners only",
              "screen": "second look, at the picture on a photographed screen, straightened",
              "framed_on_screen": "second look, at the picture framed in the page on a photographed "
                                  "screen, straightened",
              "cell": "second look, at one picture of the collage"}


def _evidence_text(method: str, distance: float | None, ev: dict) -> str:
    text = _method_text(method, distance, ev)
    part = ev.get("part")
    if part:
        text += f" ({part_wording(part.get('method', 'framed')).place.format(id=part['item_id'], box=part['box'])})"
    return text


def _method_text(method: str, distance: float | None, ev: dict) -> str:
    if method == "sha256":
        return "identical bytes"
    if method == "video":
        return _clip_text(distance, ev)
    if method == "thumb":
        return f"thumbnail distance {distance or 0:.2f} (<= {ev.get('threshold')})"
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
    if ev.get("second_look"):
        text += f" ({_LOOK_TEXT.get(ev.get('look'), 'second look')})"
    if ev.get("proposed_by_hash") is not None:
        text += f" (proposed by that picture's PDQ hash, {ev['proposed_by_hash']} bits away)"
    if ev.get("found_via") is not None:
        text += f" (found through item {ev['found_via']}, another copy of the picture)"
    return text


def _clip_text(distance: float | None, ev: dict) -> str:
    """A clip match (video_match.py): which part of the query shows which part of the source."""
    parts = [f"{float(ev.get('query_share', 0)):.0%} of the query matched "
             f"({ev.get('matched_samples')}/{ev.get('query_samples')} samples, mean distance {distance or 0:.0f}/{ev.get('bits')})"]
    for seg in ev.get("segments", []):
        parts.append(f"query {seg['query']} = source {seg['source']} (offset {seg['offset_s']:+.1f} s)")
    if ev.get("mirrored"):
        parts.append("mirrored")
    return "; ".join(parts)


def _moment_text(ev: dict) -> str:
    """Where in a video a picture matched (video_match.py), or nothing for an image."""
    if "keyframe_item_id" not in ev and ev.get("in_video") != "query":
        return ""
    where = "in the query video" if ev.get("in_video") == "query" else "in the video"
    text = f"; {where} at {ev.get('timecode')}"
    if ev.get("range_s"):
        a, b = ev["range_s"]
        text += f" (same picture {a:.1f}-{b:.1f} s)"
    if ev.get("keyframe_timestamp_s") is not None:
        text += f", keyframe at {float(ev['keyframe_timestamp_s']):.1f} s ({float(ev.get('from_keyframe_s') or 0):+.1f} s)"
    if ev.get("timecode_basis") == "video file":
        text += ", moment checked on the frames of the video file"
    if ev.get("moments"):
        text += "; also at " + ", ".join(mo["timecode"] for mo in ev["moments"][1:])
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
    item_or_query: Annotated[str, typer.Argument(help="A work (W12), an item id, a SHA-256 (or its first 8+ hex "
                                                 "digits), or an image file to look up.", show_default=False)],
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Every sighting of a work in date order: who, where, when, and how each copy is linked.

    Each date shows its source; the chain's most likely source of each sighting, conflicts (flags),
    notes, merges, splits and reviewed links follow.
    """
    with _ledger(db, create=False, readonly=True) as ledger:
        work = parse_work_ref(item_or_query)
        item_id = ledger.work_item_ids(ledger.resolve_work_id(work))[0] if work is not None \
            else resolve_item(ledger, item_or_query)
        part = ledger.parts_by_item([item_id]).get(item_id)
        if part is not None:  # a part has no sightings of its own: its whole's history is its
            whole = part_wording(part.method).whole.format(whole=part.whole_item_id)
            err.print(f"item {item_id} is {whole} (a part, at {[part.x0, part.y0, part.x1, part.y1]}): "
                      f"the history of item {part.whole_item_id}")
            item_id = part.whole_item_id
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
        work = f"W{h.work_id}: " if h.work_id is not None else ""
        out.print(f"{work}[bold]first seen[/] {_date(fs.date)} ({_first_seen_source(fs)}) by "
                  f"{escape(fs.outlet or 'unknown outlet')}, item {fs.item_id}; {len(h.item_ids)} item(s), "
                  f"{len(h.sightings)} sighting(s)")
        for aside in fs.set_aside:
            out.print(f"  [dim]set aside: {escape(aside['outlet'] or '-')} {aside['date'][:10]}: {escape(aside['why'] or '')}[/]")
    table = Table(title_justify="left")
    for col in ("#", "item", "outlet", "claimed", "indexed", "EXIF taken", "where", "linked", "source (chain)"):
        table.add_column(col, overflow="fold")
    sighting_no = {s.sighting_id: n for n, s in enumerate(h.sightings, 1)}
    for n, s in enumerate(h.sightings, 1):
        links = []
        for ln in h.links_of(s.item_id):
            other = ln.earlier_item_id if ln.later_item_id == s.item_id else ln.later_item_id
            arrow = "copy of" if ln.later_item_id == s.item_id else "copied as"
            links.append(f"{arrow} {other} ({ln.method} {ln.distance:g})" if ln.distance is not None else f"{arrow} {other}")
            if ln.evidence.get("timecode") is not None:  # a picture at a moment of a video, or a clip's start
                links[-1] += f" at {ln.evidence['timecode']}"
        links += [f"link {ln.id} {ln.status}" + (f" by {ln.reviewed_by}" if ln.reviewed_by else "")
                  for ln in h.links_of(s.item_id) if ln.status != "auto" and ln.later_item_id == s.item_id]
        claimed, source = _claim_and_source(h, s, sighting_no)
        table.add_row(
            str(n), str(s.item_id), escape(s.outlet or "-"), escape(claimed),
            _date(s.indexed_at), _date(s.exif_taken_at),
            escape("\n".join(x for x in (s.url, s.path) if x)), escape("\n".join(links) or "-"), escape(source),
        )
    out.print(table)
    _print_flags(h.flags)
    for note in h.notes:
        on = f"item {note['item_id']}" if note["item_id"] else f"W{note['work_id']}"
        out.print(f"[bold]note[/] on {on} by {escape(note['author'] or '-')} ({_date(note['created_at'])}): "
                  f"{escape(note['text'])}")
    for e in h.events:
        out.print(f"[dim]{_date(e['at'])} {_event_text(e)}[/]")


def _claim_and_source(h: History, s, sighting_no: dict[int, int]) -> tuple[str, str]:
    """The claimed date with its source (and why it is doubted), and the chain's parent."""
    node = h.node(s.sighting_id)
    claimed = f"{_date(s.published_at)} ({s.published_source})" if s.published_at else "-"
    claim = next((d for d in node.dates if d.kind == "claimed"), None) if node else None
    if claim is not None and not claim.credible:
        claimed += f"\n! {claim.doubt}"
    if node is None:
        return claimed, "-"
    if node.parent_sighting_id is None:
        return claimed, node.basis
    return claimed, f"#{sighting_no.get(node.parent_sighting_id, '?')} {node.basis} ({node.confidence})"


def _first_seen_source(fs) -> str:
    return f"claimed, {fs.basis}" if fs.source == "claimed" and fs.basis else fs.source


def _print_flags(flags) -> None:
    for f in flags:
        out.print(f"[yellow]flag[/] {f.kind}: {escape(f.message)}")


def _event_text(e: dict) -> str:
    who = f" by {escape(e['actor'])}" if e.get("actor") else ""
    why = f": {escape(e['note'])}" if e.get("note") else ""
    if e["kind"] == "merged":
        return f"W{e['other_work_id']} merged into W{e['work_id']} (link {e['link_id']}){who}"
    if e["kind"] == "split":
        return f"W{e['other_work_id']} split off from W{e['work_id']}{who}{why}"
    return f"link {e['link_id']} {e['kind'].removeprefix('link_')}{who}{why}"


# --- chain ------------------------------------------------------------------------------------

def resolve_work(ledger: Ledger, ref: str) -> int:
    """A work id from "W12", or from anything ``resolve_item`` takes (the work of that item)."""
    work = parse_work_ref(ref)
    if work is not None:
        return ledger.resolve_work_id(work)
    return work_of_item(ledger, resolve_item(ledger, ref))


WorkArgument = Annotated[str, typer.Argument(help="A work (W12), an item id, a SHA-256 (8+ hex digits), or an "
                                             "image file to look up.", show_default=False, metavar="WORK_OR_QUERY")]


@app.command(name="chain")
def chain_cmd(
    work_or_query: WorkArgument,
    dot: Annotated[Optional[Path], typer.Option(help="Also write the chain for Graphviz to this .dot file "
                                                "('-': standard output).")] = None,
    graphml: Annotated[Optional[Path], typer.Option(help="Also write the chain as GraphML (Gephi, yEd) to this "
                                                    "file ('-': standard output).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Also draw the timeline, one lane per outlet, into "
                                                 "FILE.png, FILE.svg or FILE.html.")] = None,
    max_nodes: Annotated[int, typer.Option(min=0, help="Show at most this many sightings in the terminal "
                                           "(0: all); --json and the files always hold all.")] = 200,
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Who copied whom: every sighting of a work as a tree, each under its most likely source.

    Each link says why (a crop, an added frame, lower resolution, the dates), how sure it is, and
    the other possible sources where the evidence is ambiguous. Conflicting dates are flagged.
    """
    from .exchange import chain_to_dot, chain_to_graphml
    from .plot import plot_chain

    with _ledger(db, create=False, readonly=True) as ledger:
        c = work_chain(ledger, resolve_work(ledger, work_or_query))
        for target, render in ((dot, chain_to_dot), (graphml, chain_to_graphml)):
            if target is not None:
                _write_text(target, render(c))
        if plot is not None:
            plot_chain(c, plot)
        if json_out:
            _emit_json(c.to_dict())
        elif "-" not in (str(dot), str(graphml)):
            _print_chain(c, max_nodes)
            if plot is not None:
                out.print(f"timeline drawn into {escape(str(plot))}")


def _write_text(target: Path, text: str) -> None:
    if str(target) == "-":
        sys.stdout.write(text)
        return
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ProvenanceError(f"{target}: cannot write ({exc.strerror or exc})") from None


def _emit_json(value) -> None:
    """JSON on standard output, unadorned (rich's highlighting is slow on large documents)."""
    sys.stdout.write(json.dumps(value, default=str, indent=2) + "\n")


def _print_chain(c: Chain, max_nodes: int = 0) -> None:
    from rich.tree import Tree

    fs = c.first_seen
    head = f"[bold]W{c.work_id}[/]: {len(c.item_ids)} item(s), {len(c.nodes)} sighting(s)"
    if fs:
        head += (f"; first seen {_date(fs.date)} ({_first_seen_source(fs)}) by "
                 f"{escape(fs.outlet or 'an unnamed source')}")
        if fs.tied_with:
            head += f" [yellow](tied with {escape(', '.join(fs.tied_with))})[/]"
    tree = Tree(head)
    flagged = {sid for f in c.flags for sid in f.sighting_ids}
    children = c.children()

    def label(n) -> str:
        mark = " [yellow]![/]" if n.sighting_id in flagged else ""
        text = (f"[bold]{escape(n.outlet or '(no outlet)')}[/] {_date(n.date)} ({n.date_source}) · item {n.item_id} · "
                f"sighting {n.sighting_id}{mark}")
        if n.parent_sighting_id is None:
            return text + f" [dim]— {n.basis}: {escape(n.reason)}[/]"
        text += f"\n[dim]{n.basis}, {n.confidence}: {escape(n.reason)}[/]"
        for alt in n.alternatives:
            text += f"\n[dim]  or from sighting {alt.sighting_id} ({escape(alt.outlet or '-')}): {escape(alt.reason)}[/]"
        return text

    shown = 0

    def grow(branch, parent_id) -> None:
        nonlocal shown
        for n in children.get(parent_id, []):
            if max_nodes and shown >= max_nodes:
                return
            shown += 1
            grow(branch.add(label(n)), n.sighting_id)

    grow(tree, None)
    out.print(tree)
    if shown < len(c.nodes):
        out.print(f"[dim]... and {len(c.nodes) - shown} more sighting(s): --max-nodes 0 shows all; --json, --dot, "
                  "--graphml and --plot hold all[/]")
    _print_flags(c.flags)


# --- outlets ----------------------------------------------------------------------------------

@app.command(name="outlets")
def outlets_cmd(
    limit: Annotated[int, typer.Option(min=0, help="Show only the first N outlets (0: all).")] = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Per outlet: works published first, works re-published from others, whom it copies, how late.

    The lag is the median, over the works it re-published, of its first claimed date minus the
    work's first-seen date.
    """
    from .outlets import outlets

    with _ledger(db, create=False) as ledger:
        stats = outlets(ledger)
    if limit:
        stats = stats[:limit]
    if json_out:
        _emit_json([s.to_dict() for s in stats])
        return
    table = Table(title_justify="left")
    for col in ("outlet", "sightings", "works", "first", "re-published", "copies most from", "median lag"):
        table.add_column(col, overflow="fold")
    for s in stats:
        copies = ", ".join(f"{escape(o)} ({n})" for o, n in s.copies_from[:3]) or "-"
        table.add_row(escape(s.outlet), str(s.sightings), str(s.works), str(s.first_published), str(s.republished),
                      copies, _duration(s.median_lag) + (f" (n={s.lag_samples})" if s.lag_samples else ""))
    out.print(table)


def _duration(value) -> str:
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# --- export / import ------------------------------------------------------------------------------

@app.command(name="export")
def export_cmd(
    destination: Annotated[Path, typer.Argument(help="A folder for csv and jsonl (one file per table); a file for "
                                                "pdq ('-': standard output).", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl: items, sightings (with chain parents), works, "
                                     "links (with reviews), notes, events; pdq: the works' PDQ hashes as hex,quality "
                                     "lines.")] = "csv",
    work: Annotated[Optional[list[str]], typer.Option(help="Only this work (W12, an item id, ...); repeat for "
                                                      "more. Default: everything.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Export the ledger for other tools, or the PDQ hashes of selected works for hash sharing."""
    from .exchange import export_ledger, export_pdq

    if fmt not in ("csv", "jsonl", "pdq"):
        err.print(f"[red]error[/]: --format must be csv, jsonl or pdq, not {escape(fmt)}")
        raise typer.Exit(EXIT_USAGE)
    with _ledger(db, create=False) as ledger:
        works = [resolve_work(ledger, w) for w in work] if work else None
        if fmt == "pdq":
            if str(destination) == "-":
                count = export_pdq(ledger, sys.stdout, work_ids=works)
            else:
                try:
                    with open(destination, "w", encoding="utf-8") as fh:
                        count = export_pdq(ledger, fh, work_ids=works)
                except OSError as exc:
                    raise ProvenanceError(f"{destination}: cannot write ({exc.strerror or exc})") from None
            result = {"format": "pdq", "file": str(destination), "hashes": count}
        else:
            result = export_ledger(ledger, destination, fmt=fmt, work_ids=works).to_dict()
    if json_out:
        err.print_json(json.dumps(result)) if str(destination) == "-" else _emit_json(result)
    elif str(destination) != "-":
        rows = result.get("rows") or {"hashes": result.get("hashes")}
        out.print(f"exported to {escape(str(destination))}: " + " · ".join(f"{k} {v}" for k, v in rows.items()))


@app.command(name="import")
def import_cmd(
    hash_list: Annotated[Path, typer.Argument(help="A list of PDQ hashes, one hex[,quality] per line.",
                                              show_default=False)],
    source: Annotated[str, typer.Option(help="Who shared the list (a programme, a partner): the outlet of every "
                                        "sighting it adds.", show_default=False)],
    published: Annotated[Optional[str], typer.Option(help="When the list says the pictures were published "
                                                     "(ISO date).")] = None,
    url: Annotated[Optional[str], typer.Option(help="Where the list came from.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Import a hash list: each hash becomes a sighting by SOURCE, linked to the matching pictures.

    Hashes below PDQ's quality gate (or without a quality) are recorded but matched with nothing.
    A malformed line is reported and skipped.
    """
    from .exchange import import_hash_list

    when, precision = _parse_published(published)
    with _ledger(db) as ledger:
        summary = import_hash_list(ledger, hash_list, source=source, published_at=when, precision=precision, url=url)
    if json_out:
        _emit_json(summary.to_dict())
        return
    for problem in summary.problems:
        err.print(f"[yellow]{escape(str(hash_list))}[/]: {escape(problem)}")
    out.print(f"hashes {summary.hashes} · new items {summary.new_items} · new sightings {summary.new_sightings} · "
              f"new links {summary.new_links} · not matched (low or no quality) {summary.unmatched_low_quality} · "
              f"skipped lines {len(summary.problems)}")


# --- judgements -------------------------------------------------------------------------------

link_app = typer.Typer(help="Confirm or reject a match link; kept with who and why, shown in history and exports.",
                       no_args_is_help=True, rich_markup_mode="markdown")
work_app = typer.Typer(help="Judgements on whole works.", no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(link_app, name="link")
app.add_typer(work_app, name="work")

ByOption = Annotated[Optional[str], typer.Option("--by", help="Who judges (default: $PROVENANCE_USER, else the "
                                                 "login name).")]
NoteOption = Annotated[Optional[str], typer.Option("--note", help="Why, in a few words.")]
LinkArgument = Annotated[str, typer.Argument(help="A link id (see history --json), or ITEM:ITEM, the two items it "
                                             "joins.", show_default=False, metavar="LINK")]


@link_app.command("reject")
def link_reject(link: LinkArgument, by: ByOption = None, note: NoteOption = None, db: DbOption = None,
                json_out: JsonOption = False):
    """Mark a link as wrong: kept as rejected, never re-created by a later scan.

    If the link held a work together the work is split; the part with the oldest item keeps the id.
    """
    from .review import find_link, reject_link

    with _ledger(db, create=False) as ledger:
        review = reject_link(ledger, find_link(ledger, link), by=by, note=note)
    _print_review(review, json_out, "rejected")


@link_app.command("confirm")
def link_confirm(link: LinkArgument, by: ByOption = None, note: NoteOption = None, db: DbOption = None,
                 json_out: JsonOption = False):
    """Confirm a link (a rejected one is accepted again, which may merge two works)."""
    from .review import confirm_link, find_link

    with _ledger(db, create=False) as ledger:
        review = confirm_link(ledger, find_link(ledger, link), by=by, note=note)
    _print_review(review, json_out, "confirmed")


@work_app.command("split")
def work_split(
    work: WorkArgument,
    items: Annotated[str, typer.Option(help="The items to take out, comma-separated (e.g. 7,8).", show_default=False)],
    by: ByOption = None,
    note: NoteOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Take items out of a work into a new one: every link joining them to the rest is rejected."""
    from .review import split_work

    try:
        moved = [int(x) for x in items.replace(" ", "").split(",") if x]
    except ValueError:
        err.print(f"[red]error[/]: --items: expected item ids separated by commas, not {escape(items)}")
        raise typer.Exit(EXIT_USAGE) from None
    with _ledger(db, create=False) as ledger:
        review = split_work(ledger, resolve_work(ledger, work), moved, by=by, note=note)
    _print_review(review, json_out, "split")


@app.command(name="note")
def note_cmd(
    target: Annotated[str, typer.Argument(help="An item id or a work (W12).", show_default=False)],
    text: Annotated[str, typer.Argument(help="The note.", show_default=False)],
    by: ByOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
):
    """Attach a note to an item or a work; it shows in history and exports."""
    from .review import add_note

    with _ledger(db, create=False) as ledger:
        work = parse_work_ref(target)
        if work is not None:
            note_id = add_note(ledger, text, work_id=work, by=by)
        elif target.isdigit():
            note_id = add_note(ledger, text, item_id=int(target), by=by)
        else:
            raise ProvenanceError(f"{target}: expected an item id or a work (W12)")
    if json_out:
        _emit_json({"note_id": note_id})
    else:
        out.print(f"note {note_id} added")


# --- schema --------------------------------------------------------------------------------

db_app = typer.Typer(help="The ledger's schema: which migration it is at, and upgrading it deliberately.",
                     no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(db_app, name="db")


@db_app.command("current")
def db_current(db: DbOption = None, json_out: JsonOption = False):
    """Show the ledger's schema revision and this build's newest one; changes nothing."""
    from .migrate import status

    state = _schema_call(status, db)
    if json_out:
        _emit_json(state.to_dict())
        return
    revision = ",".join(state.revisions) or "none (made before migrations, or empty)"
    verdict = "up to date" if state.up_to_date else "upgrade pending: run `provenance db upgrade` (any open also upgrades)"
    out.print(f"revision {revision} · head {state.head} · schema version {state.schema_version} · {verdict}")


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = None,
    json_out: JsonOption = False,
    sql: Annotated[bool, typer.Option("--sql", help="Print the SQL of the upgrade instead of running it "
                                      "(for review by the database's administrator).")] = False,
    dialect: Annotated[Optional[str], typer.Option(help="With --sql and no ledger: the SQL that makes a new "
                                                   "ledger in an empty database, for postgresql or sqlite.")] = None,
):
    """Upgrade the ledger's schema to this build's newest revision (what any open does anyway).

    Lets a team upgrade a shared PostgreSQL ledger at a moment it chooses; safe beside other
    processes (they wait for the upgrade). A ledger from a newer provenance is refused (exit 2).
    With --sql nothing is changed: the SQL is printed (nothing when the ledger is up to date).
    """
    from .migrate import upgrade, upgrade_sql

    if sql:
        script = _schema_call(lambda target: upgrade_sql(target, dialect=dialect), db)
        if json_out:
            _emit_json({"sql": script})
        else:
            sys.stdout.write(script)
        return
    before, after = _schema_call(upgrade, db)
    if json_out:
        _emit_json({"before": before.to_dict(), "after": after.to_dict(), "upgraded": before != after})
    elif before.revisions == after.revisions:
        out.print(f"already at {after.head}")
    else:
        out.print(f"upgraded {','.join(before.revisions) or 'none'} -> {','.join(after.revisions)}")


def _schema_call(fn, db: str | None):
    try:
        return fn(db)
    except ProvenanceError as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        raise typer.Exit(EXIT_CODES.get(type(exc), EXIT_USAGE)) from None


def _print_review(review, json_out: bool, verb: str) -> None:
    if json_out:
        _emit_json(review.to_dict())
        return
    text = f"{verb}: link(s) {', '.join(map(str, review.link_ids))}" if review.link_ids else verb
    if review.work_id is not None:
        text += f"; work W{review.work_id}"
    if review.new_work_ids:
        text += "; split off " + ", ".join(f"W{w}" for w in review.new_work_ids)
    out.print(text)


if __name__ == "__main__":  # pragma: no cover
    app()
