"""The attribution manifest of an archive: which outlet published which file, where and when.

CSV with a header row and at least the columns ``path,outlet,published_at,url``; ``path`` is
relative to the manifest's folder, ``published_at`` an ISO date or date-time (converted to UTC;
no zone means UTC). Every other column is kept as metadata. A malformed row is reported with its
line number and skipped; only a manifest that cannot be used at all raises ManifestError.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from .errors import ManifestError

REQUIRED_COLUMNS = ("path", "outlet", "published_at", "url")
#: A manifest cell longer than this is refused (a CSV field can otherwise hold a whole file).
MAX_FIELD = 8192


@dataclass(frozen=True)
class Attribution:
    """One manifest row: who published a file, where and when."""

    line: int
    outlet: str | None
    published_at: datetime | None
    published_precision: str | None
    url: str | None
    extra: dict = field(default_factory=dict)


@dataclass
class Manifest:
    """A parsed manifest: attributions by absolute file path, and the rows that were skipped."""

    source: str
    entries: dict[str, list[Attribution]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def for_path(self, path: str) -> list[Attribution]:
        """The attributions of one file (absolute path), possibly several outlets."""
        return self.entries.get(path, [])


def parse_date(text: str) -> tuple[datetime, str]:
    """An ISO date or date-time -> (UTC datetime, "day" or "second"); ValueError otherwise.

    A date-time without a zone is taken as UTC, like a bare date.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty date")
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        d = date.fromisoformat(value)
        return datetime(d.year, d.month, d.day, tzinfo=timezone.utc), "day"
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc), "second"
    return parsed.astimezone(timezone.utc), "second"


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Parse a manifest file; ManifestError if it is missing, unreadable or lacks a column."""
    manifest_path = Path(path)
    base = manifest_path.resolve().parent
    manifest = Manifest(source=str(path))
    csv.field_size_limit(MAX_FIELD)
    try:
        with open(manifest_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise ManifestError(
                    f"{path}: header lacks column(s) {', '.join(missing)}; "
                    f"expected {','.join(REQUIRED_COLUMNS)} (found: {','.join(header) or 'nothing'})"
                )
            reader.fieldnames = header
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    manifest.problems.append(f"{path}:{reader.line_num}: unreadable row ({exc}); skipped")
                    continue
                _add_row(manifest, base, row, reader.line_num)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such manifest file") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except IsADirectoryError:
        raise ManifestError(f"{path}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return manifest


def _add_row(manifest: Manifest, base: Path, row: dict, line: int) -> None:
    where = f"{manifest.source}:{line}"
    if None in row:  # more cells than header columns
        manifest.problems.append(f"{where}: more cells than header columns; skipped")
        return
    values = {k: (v or "").strip() for k, v in row.items()}
    rel = values.get("path", "")
    if not rel:
        manifest.problems.append(f"{where}: empty path; skipped")
        return
    if "\x00" in rel:
        manifest.problems.append(f"{where}: path contains a NUL byte; skipped")
        return
    published_at = precision = None
    if values.get("published_at"):
        try:
            published_at, precision = parse_date(values["published_at"])
        except ValueError as exc:
            manifest.problems.append(f"{where}: bad published_at ({exc}); skipped")
            return
    target = os.path.normpath(base / rel)
    extra = {k: v for k, v in values.items() if k not in REQUIRED_COLUMNS and k and v}
    manifest.entries.setdefault(target, []).append(
        Attribution(line, values.get("outlet") or None, published_at, precision, values.get("url") or None, extra)
    )
