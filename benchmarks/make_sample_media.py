"""Rebuild ``sample_media/``: a small demo archive of freely licensed photographs.

What it writes (all deterministic, a few MB):

* ``archive/`` — the folder to scan:
  * 8 originals (``archive/*.jpg``, long side at most 1024 px, JPEG quality 85), each
    "published" by a fictional outlet in 2016;
  * ``archive/reposts/``: re-publications of some originals by the fictional ``demo-reposter``
    (re-encoded, resized, logo-stamped, screenshot-framed, cropped, captioned, and one repost of
    a repost), with later dates;
  * ``archive/manifest.csv`` (``path,outlet,published_at,url``, paths relative to ``archive/``)
    listing the originals and the reposts;
  * ``archive/bad/``: a truncated JPEG and a text file named ``.jpg``, NOT in the manifest, so
    that a scan of ``archive/`` finds them and reports them as failed files;
* ``queries/`` — beside ``archive/``, not scanned: 3 images an investigator might check;
* ``README.md``: the commands to try, every file, where its photograph comes from, and its
  licence.

Re-running it removes what it generated before, including the files of the older flat layout
(originals, ``reposts/``, ``bad/`` and ``manifest.csv`` at the top of ``sample_media/``).

Needs the Debian wallpaper packages and scikit-image (``bash benchmarks/setup.sh``).
Usage: ``python benchmarks/make_sample_media.py``.
"""

from __future__ import annotations

import csv
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import edits, photos  # noqa: E402

OUT = photos.REPO_ROOT / "sample_media"
ARCHIVE = OUT / "archive"  # scanned; manifest paths are relative to it
LONG_SIDE = 1024  # px: web-publication size, and keeps the folder at a few MB
QUALITY = 85


@dataclass(frozen=True)
class Original:
    file: str
    source_key: str  # photos.load_source key
    outlet: str
    published_at: str
    slug: str
    about: str


@dataclass(frozen=True)
class Repost:
    file: str
    of: str  # file name (inside archive/) it was made from
    edit: str  # edits.EDITS name
    published_at: str
    about: str


ORIGINALS = (
    Original("aitzgorri.jpg", "lomiri16-aitzgorri", "demo-agency", "2016-03-14T09:30:00Z",
             "autumn-in-the-hills", "mountain ridge above autumn larches"),
    Original("picos.jpg", "lomiri16-picos", "demo-agency", "2016-05-02T11:05:00Z",
             "trail-to-the-peaks", "mountain trail below snowy limestone peaks"),
    Original("seeding.jpg", "lomiri16-seeding", "demo-monitor", "2016-06-21T19:45:00Z",
             "dandelions-at-dusk", "dandelion clocks against the low sun"),
    Original("creek.jpg", "lomiri16-life", "demo-statemedia", "2016-07-09T08:00:00Z",
             "forest-creek", "a creek over rocks in a forest"),
    Original("dogs.jpg", "lomiri16-friends", "demo-monitor", "2016-08-18T16:20:00Z",
             "dogs-at-the-window", "two spaniels at a cabin window (portrait)"),
    Original("fig.jpg", "lomiri16-fig", "demo-agency", "2016-09-05T12:10:00Z",
             "fig-on-a-plate", "half a fig in a red bowl on concrete"),
    Original("rocket.jpg", "skimage-rocket", "demo-statemedia", "2016-10-12T22:40:00Z",
             "launch-pad-at-night", "a rocket on its launch pad at night"),
    Original("coffee.jpg", "skimage-coffee", "demo-agency", "2016-11-30T07:55:00Z",
             "morning-espresso", "an espresso cup on a wooden table"),
)

REPOSTS = (
    Repost("reposts/aitzgorri_q30.jpg", "aitzgorri.jpg", "recompress_q30", "2016-03-15T06:12:00Z",
           "re-encoded at JPEG quality 30"),
    Repost("reposts/picos_small.jpg", "picos.jpg", "resize_40", "2016-05-20T13:00:00Z",
           "downscaled to 40% per side"),
    Repost("reposts/creek_logo.jpg", "creek.jpg", "logo_corner", "2016-07-10T10:30:00Z",
           "a (fictional) outlet logo stamped in a corner"),
    Repost("reposts/creek_logo_cropped.jpg", "reposts/creek_logo.jpg", "crop_logo_recompress",
           "2017-01-22T18:00:00Z",
           "a repost of the logo repost: cropped, second logo, downscaled, JPEG ~50"),
    Repost("reposts/seeding_screenshot.jpg", "seeding.jpg", "social_screenshot",
           "2016-12-01T21:15:00Z", "inside a social-media post screenshot"),
    Repost("reposts/fig_crop.jpg", "fig.jpg", "crop_80", "2016-09-06T09:00:00Z",
           "cropped to 80% of the area"),
    Repost("reposts/rocket_caption.jpg", "rocket.jpg", "caption_banner", "2017-03-03T12:00:00Z",
           "a caption band added above or below"),
)

#: (file inside sample_media/, made from (a file inside archive/ or a photos key), how) — not in
#: the manifest, and outside archive/ so that a scan of the archive never indexes them.
QUERIES: tuple[tuple[str, str, str], ...] = (
    ("queries/coffee_screenshot.jpg", "coffee.jpg", "social_screenshot"),
    ("queries/aitzgorri_crop.jpg", "aitzgorri.jpg", "crop_50"),
    ("queries/unrelated_cat.jpg", "skimage-chelsea", "none"),
)


def _save_jpeg(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(path, "JPEG", quality=QUALITY)


def _web_size(img: Image.Image) -> Image.Image:
    """Downscale so the long side is at most LONG_SIDE (never upscale)."""
    if max(img.size) <= LONG_SIDE:
        return img
    return edits._resize_long(img, LONG_SIDE)


def _open(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def _url(outlet: str, published_at: str, slug: str) -> str:
    return f"https://example.org/{outlet}/{published_at[:10].replace('-', '/')}/{slug}"


def _apply(edit_name: str, img: Image.Image, seed: str) -> Image.Image:
    edit: Callable[..., Image.Image] = edits.EDITS[edit_name]
    return edit(img, random.Random(f"sample-media:{seed}"))


def _clean() -> None:
    """Remove what this script generates (and only that), in the current and the old layout."""
    for folder in (ARCHIVE, OUT):  # OUT: the flat layout used before archive/ existed
        for sub in ("reposts", "bad"):
            shutil.rmtree(folder / sub, ignore_errors=True)
        for path in folder.glob("*.jpg"):
            path.unlink()
        (folder / "manifest.csv").unlink(missing_ok=True)
    if ARCHIVE.exists() and not any(ARCHIVE.iterdir()):
        ARCHIVE.rmdir()
    shutil.rmtree(OUT / "queries", ignore_errors=True)
    (OUT / "README.md").unlink(missing_ok=True)


def build() -> list[str]:
    """Write the folder; returns README table rows of (file, what, source, licence)."""
    OUT.mkdir(exist_ok=True)
    _clean()
    ARCHIVE.mkdir()
    rows: list[list[str]] = []
    table: list[str] = []
    sources: dict[str, photos.Photo] = {}
    for item in ORIGINALS:
        photo = photos.load_source(item.source_key)
        sources[item.file] = photo
        _save_jpeg(_web_size(photo.image), ARCHIVE / item.file)
        rows.append([item.file, item.outlet, item.published_at,
                     _url(item.outlet, item.published_at, item.slug)])
        table.append(f"| `archive/{item.file}` | original by {item.outlet}: {item.about} | "
                     f"{photo.source} | {photo.licence} |")
    for item in REPOSTS:
        out = _apply(item.edit, _open(ARCHIVE / item.of), item.file)
        _save_jpeg(out, ARCHIVE / item.file)
        slug = Path(item.file).stem.replace("_", "-")
        rows.append([item.file, "demo-reposter", item.published_at,
                     _url("demo-reposter", item.published_at, slug)])
        root = item.of
        while root.startswith("reposts/"):
            root = next(r.of for r in REPOSTS if r.file == root)
        photo = sources[root]
        table.append(f"| `archive/{item.file}` | repost of `archive/{item.of}` by demo-reposter: "
                     f"{item.about} "
                     f"(`{item.edit}`) | {photo.source} | {photo.licence} |")
    for file, made_from, how in QUERIES:
        if how == "none":
            photo = photos.load_source(made_from)
            out = _web_size(photo.image)
            what = "query: a photograph that is in no outlet's archive (should match nothing)"
        else:
            photo = sources[made_from]
            out = _apply(how, _open(ARCHIVE / made_from), file)
            what = f"query: `{how}` of `archive/{made_from}` (should be traced to it)"
        _save_jpeg(out, OUT / file)
        table.append(f"| `{file}` | {what} | {photo.source} | {photo.licence} |")
    bad = ARCHIVE / "bad"
    bad.mkdir()
    data = (ARCHIVE / "rocket.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(data[: len(data) * 2 // 5])  # header and 40% of scans
    (bad / "not_an_image.jpg").write_text("This is a text file with a .jpg name.\n")
    table.append("| `archive/bad/truncated.jpg` | broken: the first 40% of the bytes of "
                 "`archive/rocket.jpg` | see `archive/rocket.jpg` | see `archive/rocket.jpg` |")
    table.append("| `archive/bad/not_an_image.jpg` | broken: a text file named .jpg | generated "
                 "| - |")
    with open(ARCHIVE / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["path", "outlet", "published_at", "url"])
        writer.writerows(rows)
    return table


README_HEAD = """# Sample media

A small demonstration archive for `provenance`: freely licensed photographs "published" by
**fictional outlets**, their re-publications, two broken files, and a few pictures to check.
Everything here is generated by `benchmarks/make_sample_media.py` (re-run it rather than editing
files by hand); it needs the packages that `benchmarks/setup.sh` installs.

## Try it

From the repository root:

```sh
provenance scan sample_media/archive --manifest sample_media/archive/manifest.csv --db /tmp/demo.db
provenance check sample_media/queries --db /tmp/demo.db
```

The scan indexes the 8 originals and the 7 reposts of `archive/`, links each repost to what it
was copied from, and reports the 2 files of `archive/bad/` as failed (it goes on past them).
The check traces `coffee_screenshot.jpg` and `aitzgorri_crop.jpg` to their originals (the crop
also to the re-encoded repost of its original, which shows the same picture) and finds nothing
for `unrelated_cat.jpg`. The queries are outside `archive/`, so the scan never indexes them.

## The outlets are fictional

`demo-agency`, `demo-statemedia`, `demo-monitor` and `demo-reposter` are invented names, the URLs
are under `https://example.org/` (a reserved example domain) and the dates are made up. The
logos and captions in the reposts are generated with invented outlet names and random words.
No photograph here shows or implies anything about any real outlet or event.

## Layout

- `archive/` — the folder to scan:
  - `*.jpg` — 8 originals, downscaled to at most 1024 px on the long side, JPEG quality 85.
  - `reposts/` — re-publications by `demo-reposter`, made with `benchmarks/edits.py`, dated
    after their originals; `creek_logo_cropped.jpg` is a repost of the repost `creek_logo.jpg`.
  - `manifest.csv` — `path,outlet,published_at,url` for the originals and the reposts (paths
    relative to `archive/`, ISO 8601 UTC date-times).
  - `bad/` — a truncated JPEG and a text file named `.jpg`. **Not in the manifest**: the scan
    finds them in the folder and reports them as failed files.
- `queries/` — 3 pictures an investigator might check, beside `archive/` and not in it (so not
  scanned, and not in the manifest).

## Files, sources and licences

Each photograph comes from a package, never from the web; "source" names the package and the
exact file. The originals here are modified (downscaled and re-encoded); the reposts and queries
are further modified as described. Licences:
CC0-1.0 (https://creativecommons.org/publicdomain/zero/1.0/),
CC-BY-4.0 (https://creativecommons.org/licenses/by/4.0/),
and public domain as stated by scikit-image's `skimage.data` docstrings. Each Debian package's
copyright file (`/usr/share/doc/<package>/copyright`) has the full licence texts. Paths below
are relative to `sample_media/`.

| file | what | source (package: file) | licence, author |
| --- | --- | --- | --- |
"""


def main() -> None:
    table = build()
    (OUT / "README.md").write_text(README_HEAD + "\n".join(table) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
