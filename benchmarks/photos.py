"""A corpus of real, freely licensed photographs for the benchmarks, taken from installed packages.

Why: matching quality measured on synthetic pictures says little about real ones, and the corpus
must be reproducible offline, so every photograph comes from a package that the project's
machines can install (never downloaded at run time). Nothing here is propaganda or violent.

Sources (each entry of ``CATALOGUE`` names its package, file, licence and author):

* ``skimage`` — the real photographs bundled with scikit-image (``skimage/data``); licences as
  stated in the docstrings of ``skimage.data`` (skimage/data/_fetchers.py). Textures, synthetic
  images, and ``moon`` and the ``motorcycle`` stereo pair (no licence stated) are left out.
  These are small (0.15-2 MP) and used whole.
* ``sklearn`` — ``china.jpg`` and ``flower.jpg`` of scikit-learn (CC-BY-2.0, per
  sklearn/datasets/images/README.txt).
* ``lomiri16`` / ``lomiri20`` — Debian packages ``lomiri-wallpapers-16.04`` and
  ``lomiri-wallpapers-20.04`` (licences per /usr/share/doc/<pkg>/copyright).
* ``mate`` — Debian package ``mate-backgrounds``, the ``nature/`` photographs (GPL-2+).
* ``plasma`` — Debian package ``plasma-workspace-wallpapers`` (GPL-2+ per its copyright file;
  each wallpaper's metadata.json says LGPL-3). Only the photographs; renders are left out.
* ``lxqt`` — Debian package ``lxqt-themes``, the photographs of ``/usr/share/lxqt/wallpapers``
  (LGPL-2.1+ per its copyright file; the folder's ``License`` file says CC-BY-SA-3.0, (c) LXQt
  Project Team, and credits most of them to stefonarch). Renders and logos are left out.
* ``palapeli`` — Debian package ``palapeli-data``, the 5 photographs of KDE's jigsaw-puzzle
  collection (GPL-2+ per its copyright file; author and licence per each puzzle's ``.desktop``
  file: public domain or GFDL, all from Wikimedia Commons).
* ``sddm`` — Debian package ``sddm-theme-maldives``, its ``background.jpg`` (CC-BY-3.0, (c) 2008
  Nevit Dilmen, per its copyright file).

Looked at and left out (no photographs, only renders, drawings or logos): the Debian packages
gnome-backgrounds (43), ukui-wallpapers, sway-backgrounds, desktop-base, xfdesktop4-data,
lomiri-wallpapers, lxde-common, fvwm-crystal, sddm-theme-maui and the rest of the wallpapers of
the packages above; budgie-backgrounds is not in Debian 12. kphotoalbum's demo pictures (0.4 MP
snapshots of people) would pull ~270 KDE packages, and libelementary-data's test pictures name
no author, so they are left out too.

Tiles: the source photographs are 0.7-20 MP, so most are cut into a grid of *non-overlapping*
tiles (the ``grid`` of each entry, chosen by looking at every tile so that tiles have content and
stay at 0.5-2 MP), and every tile is one distinct picture. A tile whose detail score is below
``MIN_DETAIL`` (plain sky, fog, bokeh) is dropped, and so are the few tiles listed in an entry's
``drop`` (judged by eye to be empty although they pass MIN_DETAIL, e.g. sky crossed by a cable);
a tile over ``MAX_PIXELS`` is downscaled. All tiles of one source file share ``Photo.source``, so
``split_halves`` keeps them in the same half.

Results are cached as raw PPM files under ``bench-cache/photos/`` (gitignored, ~0.6 GB); the
cache is rebuilt when the catalogue, the tiling rules or a source file's size change.

Run ``python benchmarks/photos.py`` to build the cache and print the count per source.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import random
import shutil
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / "bench-cache" / "photos"

#: Bump when the tiling or decoding rules change, so stale caches are rebuilt.
CACHE_VERSION = 3
#: Tiles (and whole photos) above this many pixels are downscaled to it: the benchmarks want
#: pictures of news-photo size (0.5-2 MP), not 20 MP camera originals.
MAX_PIXELS = 2_000_000
#: Mean Sobel gradient magnitude (grey levels, on a 256 px wide copy) below which a tile is
#: dropped: at 12 and under, tiles were plain sky, fog or out-of-focus bokeh when looked at
#: (e.g. the sky tiles of lomiri16-sunset scored 4-5, the busiest tiles 100-250).
MIN_DETAIL = 12.0

LOMIRI = "/usr/share/backgrounds"
MATE = "/usr/share/backgrounds/mate/nature"
PLASMA = "/usr/share/wallpapers"
LXQT = "/usr/share/lxqt/wallpapers"
PALAPELI = "/usr/share/palapeli/collection"
SDDM = "/usr/share/sddm/themes"


@dataclass
class Photo:
    """One photograph of the corpus.

    ``name`` is stable and unique (e.g. ``lomiri16-life-r1c2`` for a tile, ``skimage-coffee``
    for a whole photo); ``source`` is the package and file the pixels come from (shared by all
    tiles of that file); ``licence`` is the licence and credit of that file.
    """

    name: str
    image: Image.Image
    source: str
    licence: str


@dataclass(frozen=True)
class _Entry:
    """One catalogued source file: where it is, its licence, and how it is tiled."""

    collection: str  # key of COLLECTIONS
    key: str  # short stable name of the file within its collection
    path: str  # inside the Python package (pip collections) or absolute (Debian)
    licence: str
    grid: tuple[int, int] = (1, 1)  # (rows, columns) of non-overlapping tiles
    drop: tuple[str, ...] = ()  # tiles ("r0c1") left out by eye although over MIN_DETAIL


@dataclass(frozen=True)
class _Collection:
    """A package that provides photographs, and the one command that installs it."""

    package: str
    kind: str  # "pip" or "apt"
    description: str

    def install_command(self) -> str:
        if self.kind == "pip":
            return f"{sys.executable} -m pip install {self.package}"
        return f"apt-get install -y {self.package}"


COLLECTIONS: dict[str, _Collection] = {
    "skimage": _Collection("scikit-image", "pip", "scikit-image bundled data (skimage/data)"),
    "sklearn": _Collection("scikit-learn", "pip", "scikit-learn sample images"),
    "lomiri16": _Collection("lomiri-wallpapers-16.04", "apt", "Debian lomiri-wallpapers-16.04"),
    "lomiri20": _Collection("lomiri-wallpapers-20.04", "apt", "Debian lomiri-wallpapers-20.04"),
    "mate": _Collection("mate-backgrounds", "apt", "Debian mate-backgrounds"),
    "plasma": _Collection(
        "plasma-workspace-wallpapers", "apt", "Debian plasma-workspace-wallpapers"
    ),
    "lxqt": _Collection("lxqt-themes", "apt", "Debian lxqt-themes"),
    "palapeli": _Collection("palapeli-data", "apt", "Debian palapeli-data"),
    "sddm": _Collection("sddm-theme-maldives", "apt", "Debian sddm-theme-maldives"),
}

_PLASMA = "GPL-2+ (debian/copyright; LGPL-3 per the wallpaper's metadata.json), (c) "
_MATE = "GPL-2+, (c) "
_RISTO = _PLASMA + "Risto Saukonpaa"
_LXQT = ("CC-BY-SA-3.0 (wallpapers/License; LGPL-2.1+ per debian/copyright), "
         "(c) 2022 LXQt Project Team")
_STEFONARCH = _LXQT + ", photograph by stefonarch"
_PALAPELI = " (the puzzle's .desktop file; debian/copyright: GPL-2+), "

# Grids were chosen by looking at every tile (tiles of 0.5-2 MP): 4x5 only for large photos busy
# all over, 1x1 where cutting would split the subject (the bird of "bird") or leave near-identical
# texture tiles ("wood", "blinds", "greenmeadow") or empty ones (the fog of "darkesthour", the
# sky of "kite", the bokeh of the lxqt macro shots). Tiles below MIN_DETAIL are dropped afterwards
# (e.g. sunset's sky rows, seeding's dark bottom row).
CATALOGUE: tuple[_Entry, ...] = (
    # --- scikit-image: licences quoted from the skimage.data docstrings -----------------------
    _Entry("skimage", "astronaut", "data/astronaut.png",
           "Public domain (NASA; 'no known copyright restrictions')"),
    _Entry("skimage", "camera", "data/camera.png", "CC0-1.0, (c) Lav Varshney"),
    _Entry("skimage", "chelsea", "data/chelsea.png", "CC0-1.0, (c) Stefan van der Walt"),
    _Entry("skimage", "coffee", "data/coffee.png",
           "CC0-1.0, (c) Rachel Michetti (courtesy of Pikolo Espresso Bar)"),
    _Entry("skimage", "rocket", "data/rocket.jpg", "Public domain (SpaceX)"),
    _Entry("skimage", "hubble", "data/hubble_deep_field.jpg", "Public domain (NASA)"),
    _Entry("skimage", "retina", "data/retina.jpg", "CC0-1.0, (c) Mikael Haggstrom"),
    _Entry("skimage", "ihc", "data/ihc.png",
           "No known copyright restrictions (CMMI, per skimage.data.immunohistochemistry)"),
    # --- scikit-learn: sklearn/datasets/images/README.txt ----------------------------------------
    _Entry("sklearn", "china", "datasets/images/china.jpg", "CC-BY-2.0, (c) danielbuechele"),
    # The README credits "danielbuechele" for both images, but links flower.jpg to vultilion.
    _Entry("sklearn", "flower", "datasets/images/flower.jpg",
           "CC-BY-2.0, (c) flickr user vultilion"),
    # --- lomiri-wallpapers-16.04: /usr/share/doc/lomiri-wallpapers-16.04/copyright ------------
    # Bridge: the top row is blue sky crossed by the bridge's cables.
    _Entry("lomiri16", "bridge", f"{LOMIRI}/Bridge_by_Sander_Klootwijk.jpg",
           "CC-BY-SA-4.0, (c) 2018 Sander Klootwijk", (2, 4), ("r0c1", "r0c2")),
    _Entry("lomiri16", "dragonfly", f"{LOMIRI}/Dragonfly_by_Bolly.jpg",
           "CC-BY-SA-4.0, (c) 2018 'Bolly'", (4, 5)),
    _Entry("lomiri16", "fig", f"{LOMIRI}/Picture_0B_by_freespace.jpg",
           "CC-BY-4.0, (c) 2018 Trevor 'Freespace'", (3, 3)),
    _Entry("lomiri16", "brushes", f"{LOMIRI}/Picture_1A_by_freespace.jpg",
           "CC-BY-4.0, (c) 2018 Trevor 'Freespace'", (1, 2)),
    _Entry("lomiri16", "wine", f"{LOMIRI}/Wine_by_Jakkub_Mede.jpg",
           "CC-BY-4.0, (c) 2018 Jakub Mede", (5, 3)),
    _Entry("lomiri16", "aitzgorri", f"{LOMIRI}/aitzgorri_by_Aitzol_Berasategi.jpg",
           "CC-BY-4.0, (c) 2018 Aitzol Berasategi", (3, 4)),
    _Entry("lomiri16", "bird", f"{LOMIRI}/free_by_Peter_Nerlich.jpg",
           "CC-BY-SA-4.0, (c) 2018 Peter Nerlich"),
    _Entry("lomiri16", "friends", f"{LOMIRI}/friends_by_Aitzol_Berasategi.jpg",
           "CC-BY-4.0, (c) 2018 Aitzol Berasategi", (4, 3)),
    _Entry("lomiri16", "clock", f"{LOMIRI}/greentock_by_Peter_Nerlich.jpg",
           "CC-BY-SA-4.0, (c) 2018 Peter Nerlich", (2, 2)),
    _Entry("lomiri16", "life", f"{LOMIRI}/life_by_Aitzol_Berasategi.jpg",
           "CC-BY-4.0, (c) 2018 Aitzol Berasategi", (3, 4)),
    _Entry("lomiri16", "picos", f"{LOMIRI}/picosdeeuropa_by_Aitzol_Berasategi.jpg",
           "CC-BY-4.0, (c) 2018 Aitzol Berasategi", (3, 4)),
    _Entry("lomiri16", "seeding", f"{LOMIRI}/seeding_by_Clements_Engelhardt.jpg",
           "CC0-1.0, (c) 2018 Clemens Engelhardt", (4, 5)),
    _Entry("lomiri16", "sunset", f"{LOMIRI}/sunset_by_Aitzol_Berasategi.jpg",
           "CC-BY-4.0, (c) 2018 Aitzol Berasategi", (4, 5)),
    # --- lomiri-wallpapers-20.04 ----------------------------------------------------------------
    # 3x5 keeps the nuthatch whole in the middle tile; the right-hand bokeh tiles are dropped.
    _Entry("lomiri20", "nuthatch", f"{LOMIRI}/Kleiber_by_Lukas_Baubkus.jpg",
           "CC-BY-SA-3.0, (c) 2021 Lukas Baubkus", (3, 5)),
    # --- mate-backgrounds, nature/: /usr/share/doc/mate-backgrounds/copyright -------------------
    _Entry("mate", "aqua", f"{MATE}/Aqua.jpg", _MATE + "2008 Charles Barbin"),
    _Entry("mate", "blinds", f"{MATE}/Blinds.jpg",
           _MATE + "2008 Lennart Poettering, Andrea Cimitan"),
    _Entry("mate", "dune", f"{MATE}/Dune.jpg", _MATE + "2007 Marco Cogoni, 2008 Hylke Bons",
           (1, 2)),
    _Entry("mate", "freshflower", f"{MATE}/FreshFlower.jpg", _MATE + "2005 Jens Ansorg", (1, 2)),
    _Entry("mate", "garden", f"{MATE}/Garden.jpg", _MATE + "2008 Charles Barbin", (2, 3)),
    _Entry("mate", "greenmeadow", f"{MATE}/GreenMeadow.jpg",
           _MATE + "2005 Timothy Schellhase, 2008 Lapo Calamandrei"),
    _Entry("mate", "ladybird", f"{MATE}/LadyBird.jpg", _MATE + "2008 Charles Barbin", (2, 3)),
    _Entry("mate", "raindrops", f"{MATE}/RainDrops.jpg", _MATE + "2008 'blackcombwhistler07'",
           (2, 2)),
    _Entry("mate", "storm", f"{MATE}/Storm.jpg", _MATE + "2008 Sergey Nazarov"),
    _Entry("mate", "twowings", f"{MATE}/TwoWings.jpg", _MATE + "2008 Charles Barbin, Hylke Bons",
           (2, 3)),
    _Entry("mate", "wood", f"{MATE}/Wood.jpg", _MATE + "2008 Jean-Francois Fortin Tam"),
    _Entry("mate", "yellowflower", f"{MATE}/YellowFlower.jpg", _MATE + "2008 Charles Barbin",
           (2, 4)),
    # --- plasma-workspace-wallpapers: author per each wallpaper's metadata.json -----------------
    _Entry("plasma", "bythewater", f"{PLASMA}/BytheWater/contents/images/2560x1600.jpg",
           _PLASMA + "Maciej Wiklo", (2, 3)),
    _Entry("plasma", "coldripple", f"{PLASMA}/ColdRipple/contents/images/2560x1600.jpg", _RISTO),
    _Entry("plasma", "cups", f"{PLASMA}/ColorfulCups/contents/images/2560x1600.jpg",
           _PLASMA + "Dmitri Popov", (2, 3)),
    _Entry("plasma", "darkesthour", f"{PLASMA}/DarkestHour/contents/images/2560x1600.jpg", _RISTO),
    _Entry("plasma", "eveningglow", f"{PLASMA}/EveningGlow/contents/images/2560x1600.jpg",
           _PLASMA + "Ian Hex", (2, 3)),
    _Entry("plasma", "fallenleaf", f"{PLASMA}/FallenLeaf/contents/images/2560x1600.jpg",
           _PLASMA + "Martin Klapetek", (2, 3)),
    _Entry("plasma", "grey", f"{PLASMA}/Grey/contents/images/2560x1600.jpg",
           _PLASMA + "Sigi Sagi", (2, 3)),
    _Entry("plasma", "kite", f"{PLASMA}/Kite/contents/images/2560x1600.jpg", _RISTO),
    _Entry("plasma", "onestandsout", f"{PLASMA}/OneStandsOut/contents/images/2560x1600.jpg",
           _RISTO, (2, 3)),
    _Entry("plasma", "path", f"{PLASMA}/Path/contents/images/2560x1600.jpg", _RISTO, (2, 3)),
    _Entry("plasma", "summer1am", f"{PLASMA}/summer_1am/contents/images/2560x1600.jpg", _RISTO),
    # --- lxqt-themes: /usr/share/doc/lxqt-themes/copyright and wallpapers/License ----------------
    # The License file credits stefonarch for 8 of these; the other 3 carry only the team credit
    # (and the butterfly's file name names Kenneth Wimer).
    _Entry("lxqt", "butterflykw", f"{LXQT}/Butterfly-Kenneth-Wimer.jpg",
           _LXQT + ", photograph by Kenneth Wimer (per its file name)"),
    _Entry("lxqt", "valendas", f"{LXQT}/Valendas.png", _LXQT, (1, 2)),
    _Entry("lxqt", "aftertherain", f"{LXQT}/after-the-rain.jpg", _STEFONARCH, (2, 3)),
    _Entry("lxqt", "appleflower", f"{LXQT}/appleflower.png", _STEFONARCH),
    _Entry("lxqt", "beam", f"{LXQT}/beam.png", _STEFONARCH),
    _Entry("lxqt", "butterfly", f"{LXQT}/butterfly.png", _STEFONARCH),
    _Entry("lxqt", "cloud", f"{LXQT}/cloud.png", _LXQT, (1, 2)),
    _Entry("lxqt", "drop", f"{LXQT}/drop.png", _STEFONARCH),
    _Entry("lxqt", "flowers", f"{LXQT}/flowers.png", _STEFONARCH, (3, 3)),
    _Entry("lxqt", "fog", f"{LXQT}/fog.jpg", _STEFONARCH, (1, 2)),
    _Entry("lxqt", "hills", f"{LXQT}/this-is-not-windows.jpg", _STEFONARCH, (1, 2)),
    # --- palapeli-data: licence and author per each puzzle's .desktop file ----------------------
    _Entry("palapeli", "castle", f"{PALAPELI}/castle-maintenon.jpg",
           "GFDL" + _PALAPELI + "(c) 2008 Eric Pouhier (Wikimedia Commons: EPO_2432_wiki.jpg)"),
    _Entry("palapeli", "bridge", f"{PALAPELI}/cincinnati-bridge.jpg",
           "Public domain" + _PALAPELI
           + "Derek Jensen (Wikimedia Commons: Cincinnati-roebling-suspension-bridge.jpg)", (1, 2)),
    _Entry("palapeli", "citrus", f"{PALAPELI}/citrus-fruits.jpg",
           "Public domain" + _PALAPELI
           + "US Department of Agriculture (Wikimedia Commons: Citrus_fruits.jpg)", (1, 2)),
    _Entry("palapeli", "bee", f"{PALAPELI}/european-honey-bee.jpg",
           "Public domain" + _PALAPELI
           + "John Severns (Wikimedia Commons: European_honey_bee_extracts_nectar.jpg)", (1, 2)),
    _Entry("palapeli", "chameleon", f"{PALAPELI}/panther-chameleon-female.jpg",
           "GFDL" + _PALAPELI + "(c) B. Navez and others (Wikimedia Commons: "
           "FurciferPardalisFemale.JPG)", (2, 1)),
    # --- sddm-theme-maldives: /usr/share/doc/sddm-theme-maldives/copyright ----------------------
    _Entry("sddm", "maldives", f"{SDDM}/maldives/background.jpg",
           "CC-BY-3.0, (c) 2008 Nevit Dilmen (Wikimedia Commons user Nevit)", (2, 3)),
)


class MissingPackageError(RuntimeError):
    """A package that provides photographs is not installed; the message says how to install it."""


# ----------------------------------------------------------------------------------------------
# Locating and decoding source files
# ----------------------------------------------------------------------------------------------


def _package_dir(import_name: str) -> Path | None:
    """The folder of an importable package, found without importing it (sklearn is slow)."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _collection_root(collection: str) -> Path:
    """Where a collection's ``_Entry.path`` is relative to; MissingPackageError if absent."""
    info = COLLECTIONS[collection]
    if info.kind == "pip":
        root = _package_dir({"scikit-image": "skimage", "scikit-learn": "sklearn"}[info.package])
        if root is None:
            raise MissingPackageError(
                f"{info.description} is needed for the photo corpus; install it with: "
                f"{info.install_command()}  (or run: bash benchmarks/setup.sh)"
            )
        return root
    # Installed = any of its catalogued files is there (missing single files only warn).
    if not any(Path(e.path).exists() for e in CATALOGUE if e.collection == collection):
        raise MissingPackageError(
            f"{info.description} is needed for the photo corpus; install it with: "
            f"{info.install_command()}  (or run: bash benchmarks/setup.sh)"
        )
    return Path("/")


def _source_path(entry: _Entry) -> Path:
    return _collection_root(entry.collection) / entry.path.lstrip("/")


def _source_label(entry: _Entry) -> str:
    """Human-readable origin: package and file."""
    info = COLLECTIONS[entry.collection]
    if info.kind == "pip":
        prefix = {"scikit-image": "skimage", "scikit-learn": "sklearn"}[info.package]
        return f"{info.package}: {prefix}/{entry.path}"
    return f"{info.package}: {entry.path}"


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im.convert("RGB")


def _detail(image: Image.Image) -> float:
    """Mean gradient magnitude of a 256 px wide grey copy: low for sky, fog and bokeh."""
    width = 256
    height = max(1, round(image.height * width / image.width))
    grey = np.asarray(image.convert("L").resize((width, height), Image.BILINEAR), np.float32)
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    gx[:, 1:-1] = grey[:, 2:] - grey[:, :-2]
    gy[1:-1, :] = grey[2:, :] - grey[:-2, :]
    # Central differences are half a Sobel's gain on smooth gradients; *4 puts the score on
    # the Sobel scale that MIN_DETAIL was chosen on.
    return float(np.mean(np.hypot(gx, gy)) * 4.0)


def _fit_pixels(image: Image.Image, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Downscale (never upscale) so that width*height <= max_pixels."""
    pixels = image.width * image.height
    if pixels <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / pixels)
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.LANCZOS)


def tile_boxes(width: int, height: int, rows: int, cols: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping boxes (left, top, right, bottom) of a rows x cols grid covering the image."""
    return [
        (c * width // cols, r * height // rows, (c + 1) * width // cols, (r + 1) * height // rows)
        for r in range(rows)
        for c in range(cols)
    ]


def _photos_of(entry: _Entry) -> list[Photo]:
    """Decode one source file and cut it into its tiles (or keep it whole)."""
    image = _open_rgb(_source_path(entry))
    rows, cols = entry.grid
    base = f"{entry.collection}-{entry.key}"
    if (rows, cols) == (1, 1):
        return [Photo(base, _fit_pixels(image), _source_label(entry), entry.licence)]
    photos = []
    for index, box in enumerate(tile_boxes(image.width, image.height, rows, cols)):
        r, c = divmod(index, cols)
        if f"r{r}c{c}" in entry.drop:
            continue
        tile = image.crop(box)
        if _detail(tile) < MIN_DETAIL:
            continue
        photos.append(
            Photo(f"{base}-r{r}c{c}", _fit_pixels(tile), _source_label(entry), entry.licence)
        )
    return photos


def load_source(key: str) -> Photo:
    """One catalogued source file, whole and untiled (e.g. ``"lomiri16-life"``), at full size.

    For sample media and demos; the benchmarks use ``load_photos``.
    """
    for entry in CATALOGUE:
        if f"{entry.collection}-{entry.key}" == key:
            image = _open_rgb(_source_path(entry))
            return Photo(key, image, _source_label(entry), entry.licence)
    raise KeyError(f"no catalogued source {key!r}")


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------


def _catalogue_fingerprint(entries: list[_Entry]) -> str:
    """Changes when an entry, a tiling rule or a source file's size changes."""
    parts = [f"v{CACHE_VERSION}", str(MAX_PIXELS), str(MIN_DETAIL)]
    for entry in entries:
        path = _source_path(entry)
        size = path.stat().st_size if path.exists() else -1
        parts.append(f"{entry}|{size}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _cache_folder(cache_dir: Path, collection: str, fingerprint: str) -> Path:
    return cache_dir / f"{collection}-{fingerprint}"


def _read_cache(folder: Path) -> list[Photo] | None:
    index_file = folder / "index.json"
    if not index_file.exists():
        return None
    try:
        records = json.loads(index_file.read_text())
        photos = []
        for rec in records:
            with Image.open(folder / f"{rec['name']}.ppm") as im:
                im.load()
                photos.append(Photo(rec["name"], im.convert("RGB"), rec["source"], rec["licence"]))
        return photos
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt


def _write_cache(folder: Path, photos: list[Photo]) -> None:
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")  # concurrent builders don't clash
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for photo in photos:
        # Raw PPM: exact pixels, and 5x faster to read back than PNG (the corpus is ~265
        # pictures of ~1 MP, ~0.6 GB on disk; it is a cache, so speed wins over size).
        photo.image.save(tmp / f"{photo.name}.ppm")
    records = [{"name": p.name, "source": p.source, "licence": p.licence} for p in photos]
    (tmp / "index.json").write_text(json.dumps(records, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    try:
        tmp.rename(folder)
    except OSError:  # another process finished first: its copy is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)


def _load_collection(collection: str, cache_dir: Path) -> list[Photo]:
    """All photos of one collection, from the cache or freshly decoded (then cached)."""
    _collection_root(collection)  # raises MissingPackageError with the install command
    entries = [e for e in CATALOGUE if e.collection == collection]
    present = []
    for entry in entries:
        if _source_path(entry).exists():
            present.append(entry)
        else:
            warnings.warn(
                f"{_source_label(entry)} is missing although the package is installed "
                "(another package version?); the corpus is smaller",
                stacklevel=3,
            )
    fingerprint = _catalogue_fingerprint(present)
    folder = _cache_folder(cache_dir, collection, fingerprint)
    cached = _read_cache(folder)
    if cached is not None:
        return cached
    photos = [photo for entry in present for photo in _photos_of(entry)]
    # Older caches of this collection are stale now.
    for old in cache_dir.glob(f"{collection}-*"):
        if old != folder and ".tmp" not in old.name:
            shutil.rmtree(old, ignore_errors=True)
    _write_cache(folder, photos)
    return photos


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def load_photos(
    min_count: int = 250,
    *,
    sources: tuple[str, ...] | None = None,
    cache_dir: Path | str | None = None,
) -> list[Photo]:
    """The photo corpus, in a fixed order (catalogue order, then tile row and column).

    ``sources`` restricts it to some collections (keys of ``COLLECTIONS``, e.g. ``("skimage",)``
    for tests that must not need the Debian packages); all of them by default. A collection whose
    package is not installed raises MissingPackageError naming the install command; fewer than
    ``min_count`` photos raises ValueError.
    """
    chosen = tuple(COLLECTIONS) if sources is None else tuple(sources)
    unknown = [s for s in chosen if s not in COLLECTIONS]
    if unknown:
        raise ValueError(f"unknown photo sources {unknown}; known: {list(COLLECTIONS)}")
    folder = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    photos: list[Photo] = []
    for collection in COLLECTIONS:  # catalogue order, whatever order `sources` has
        if collection in chosen:
            photos.extend(_load_collection(collection, folder))
    if len(photos) < min_count:
        raise ValueError(
            f"only {len(photos)} photos from {list(chosen)}, {min_count} needed; "
            "install every source with: bash benchmarks/setup.sh"
        )
    return photos


#: Seed of the split: changing it changes which photos are "tune" and which "report".
SPLIT_SEED = 20240611


def split_halves(photos: list[Photo]) -> tuple[list[Photo], list[Photo]]:
    """Deterministic (tune, report) halves, each keeping the input order.

    All tiles of one source file go to the same half (so a threshold is never tuned on one
    part of a picture and reported on its neighbour). Within each collection the source files
    are taken largest first (files with as many tiles in an order shuffled with a fixed seed),
    and each goes to the half that has fewer photos of that collection so far, or on a tie
    fewer photos overall. That balances each collection's mix across the halves and, since
    every collection ends with its smallest files, the halves' sizes too (132/133 of 265).
    """
    groups: dict[str, list[Photo]] = {}
    for photo in photos:
        groups.setdefault(photo.source, []).append(photo)
    by_collection: dict[str, list[str]] = {}
    for source in groups:
        by_collection.setdefault(source.split(":", 1)[0], []).append(source)
    rng = random.Random(SPLIT_SEED)
    counts = [0, 0]
    half_of: dict[str, int] = {}
    for collection in sorted(by_collection):
        sources = sorted(by_collection[collection])
        rng.shuffle(sources)
        sources.sort(key=lambda source: -len(groups[source]))  # stable: ties stay shuffled
        in_collection = [0, 0]
        for source in sources:
            half = min((0, 1), key=lambda h: (in_collection[h], counts[h]))
            half_of[source] = half
            counts[half] += len(groups[source])
            in_collection[half] += len(groups[source])
    tune = [p for p in photos if half_of[p.source] == 0]
    report = [p for p in photos if half_of[p.source] == 1]
    return tune, report


def _main() -> None:
    photos = load_photos(min_count=0)
    per_source = Counter(p.name.split("-", 1)[0] for p in photos)
    print(f"{len(photos)} photos")
    for collection, count in per_source.items():
        print(f"  {collection:9s} {count:4d}  ({COLLECTIONS[collection].description})")
    sizes = np.array([p.image.width * p.image.height for p in photos]) / 1e6
    print(f"  megapixels: min {sizes.min():.2f}, median {np.median(sizes):.2f}, "
          f"max {sizes.max():.2f}")
    tune, report = split_halves(photos)
    print(f"  split: {len(tune)} tune, {len(report)} report")


if __name__ == "__main__":
    _main()
