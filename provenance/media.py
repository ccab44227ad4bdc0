"""Safe loading of media files: bytes -> a decoded, EXIF-oriented working image plus file facts.

Everything that touches untrusted bytes goes through here, so the limits live in one place:
a file larger than ``MAX_FILE_BYTES`` is not read, a header that claims more than
``MAX_PIXELS`` pixels is refused before any pixel is decoded (decompression bombs), and every
decoder failure becomes a :class:`~provenance.errors.MediaError` naming the file and the reason.

Each file is read once; the SHA-256, the EXIF facts and the pixels all come from that one read.
JPEGs are decoded in Pillow's draft mode at the smallest scale that still covers
``WORKING_SIDE``, since no fingerprint needs more pixels than that. The global hashes take a
smaller copy of the same decode, the hash picture (``HASH_SIDE``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import exifread
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import MediaError

#: The largest file we read into memory as an image.
MAX_FILE_BYTES = 256 * 1024 * 1024
#: The largest image (in pixels) we agree to decode: 100 MP, twice a 50 MP camera's frame.
MAX_PIXELS = 100_000_000
#: The longest side of the working image the local features are computed from when indexing
#: (at 640: local_features.py); decoding more only costs time and memory.
WORKING_SIDE = 1024
#: The same for a query: a picture inside a 1080x2400 phone screenshot keeps its detail.
QUERY_WORKING_SIDE = 2400
#: The global hashes (PDQ, pHash) and the information score are computed from a smaller copy, the
#: hash picture: the decoded image reduced by a whole factor to a longest side of 512-1023 px
#: (``hash_picture``). They reduce the picture to 64x64 or less anyway, so more pixels only cost
#: time (from the working image, the same file's PDQ differed by a median of 2 bits:
#: benchmarks/hash_picture.py); and a scan of global hashes alone (``scan --hashes-only``) never
#: pays for the working image.
HASH_SIDE = 512

# Pillow's own bomb guard warns at MAX_IMAGE_PIXELS and raises at twice that; ours is stricter
# and checked first, so Pillow's is only a second net.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False
logging.getLogger("exifread").setLevel(logging.ERROR)

IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .jfif .png .gif .bmp .tif .tiff .webp .heic .avif .ppm .pgm .pbm .ico".split()
)
VIDEO_EXTENSIONS = frozenset(".mp4 .m4v .mov .mkv .webm .avi .wmv .flv .mpg .mpeg .ts .3gp".split())

# Magic numbers of the formats we accept, so a file is judged by its content, not its name.
_IMAGE_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",  # TIFF
    b"P1", b"P2", b"P3", b"P4", b"P5", b"P6",  # PNM
    b"\x00\x00\x01\x00",  # ICO
)


def looks_like_image(head: bytes) -> bool:
    """True when the first bytes of a file carry a known image signature (RIFF/WEBP included)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(sig) for sig in _IMAGE_SIGNATURES)


@dataclass
class ExifFacts:
    """The EXIF facts an investigator cares about, as found in the file (all optional)."""

    taken_at: datetime | None = None
    make: str | None = None
    model: str | None = None
    software: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict without the empty fields."""
        out = {
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "make": self.make,
            "model": self.model,
            "software": self.software,
            "gps_lat": self.gps_lat,
            "gps_lon": self.gps_lon,
            "error": self.error,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class DecodedImage:
    """One image file, decoded: the working picture and the facts of the file it came from."""

    name: str
    sha256: str
    file_size: int
    format: str
    width: int  # of the full image, after EXIF orientation
    height: int
    image: Image.Image  # RGB, EXIF-oriented, longest side <= WORKING_SIDE (the hash picture: hashes_only)
    exif: ExifFacts = field(default_factory=ExifFacts)
    #: The hash picture, when the decode made it (None: reduced from ``image`` on demand).
    hash_image: Image.Image | None = field(default=None, repr=False)

    @property
    def hash_picture(self) -> Image.Image:
        """The picture the global hashes are computed from (see HASH_SIDE)."""
        if self.hash_image is None:
            self.hash_image = hash_picture(self.image)
        return self.hash_image

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


def read_file(path: str | os.PathLike) -> bytes:
    """Read a media file whole, refusing empty, oversized, unreadable files with a clear reason."""
    name = str(path)
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise MediaError(name, "empty file")
        if size > MAX_FILE_BYTES:
            raise MediaError(name, f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit")
        with open(path, "rb") as fh:
            return fh.read()
    except MediaError:
        raise
    except IsADirectoryError:
        raise MediaError(name, "is a directory") from None
    except OSError as exc:
        raise MediaError(name, f"cannot read: {exc.strerror or exc}") from None


def load_image(path: str | os.PathLike, working_side: int = WORKING_SIDE) -> DecodedImage:
    """Read and decode one image file (see :func:`decode_image`)."""
    return decode_image(read_file(path), name=str(path), working_side=working_side)


def decode_image(data: bytes, name: str = "<bytes>", working_side: int = WORKING_SIDE,
                 hashes_only: bool = False) -> DecodedImage:
    """Decode untrusted image bytes into a :class:`DecodedImage`, or raise MediaError saying why.

    The working image's longest side is at most ``working_side`` (queries ask for more than
    indexing does: a photo inside a tall phone screenshot needs the detail). ``hashes_only``
    skips the working image, the costliest part of a decode after the decoding itself: its
    ``image`` is then the hash picture, which is all the global hashes need.
    """
    return _decode(data, name, working_side, keep_whole=False, hashes_only=hashes_only)[0]


def hash_picture(img: Image.Image) -> Image.Image:
    """``img`` reduced by the largest whole factor that keeps its longest side at HASH_SIDE or more
    (box averaging, a fraction of a resize's cost); the image itself when it is already small."""
    factor = max(img.size) // HASH_SIDE
    return img.reduce(factor) if factor > 1 else img


def decode_with_larger(data: bytes, name: str, larger_side: int) -> tuple[DecodedImage, Callable[[], DecodedImage]]:
    """The file decoded at WORKING_SIDE, and a function that gives it at ``larger_side`` too, as
    ``decode_image`` would: reduced from the same decode when that one was whole (no JPEG draft:
    a PNG phone screenshot, a JPEG under 2,048 px), so the file is not decoded twice for it."""
    decoded, whole = _decode(data, name, WORKING_SIDE, keep_whole=True)

    def larger() -> DecodedImage:
        if whole is None:
            return decode_image(data, name, larger_side)
        return replace(decoded, image=_shrink(whole, larger_side))

    return decoded, larger


def _shrink(img: Image.Image, side: int) -> Image.Image:
    """The working image: longest side at most ``side`` (in place)."""
    if max(img.size) > side:
        img.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return img


def _decode(data: bytes, name: str, working_side: int, keep_whole: bool,
            hashes_only: bool = False) -> tuple[DecodedImage, Image.Image | None]:
    """decode_image, and with ``keep_whole`` a copy of the image before it was reduced when it
    was decoded at full resolution (a draft decode at any side starts from other pixels)."""
    if not data:
        raise MediaError(name, "empty file")
    if not looks_like_image(data[:16]):
        raise MediaError(name, _not_an_image_reason(data, name))
    sha = hashlib.sha256(data).hexdigest()
    fmt = "image"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "unknown"
            raw_w, raw_h = img.size
            if raw_w <= 0 or raw_h <= 0:
                raise MediaError(name, f"image claims an empty size {raw_w}x{raw_h}")
            if raw_w * raw_h > MAX_PIXELS:
                raise MediaError(
                    name,
                    f"refused: header claims {raw_w}x{raw_h} pixels, over the {MAX_PIXELS} "
                    "pixel limit (possible decompression bomb)",
                )
            if fmt == "JPEG":
                # DCT-domain downscaling: the smallest 1/2, 1/4 or 1/8 scale whose longer side
                # still covers working_side (draft wants both sides covered: ask proportionally).
                long_side = max(raw_w, raw_h)
                if long_side > working_side:
                    k = working_side / long_side
                    img.draft("RGB", (max(1, int(raw_w * k)), max(1, int(raw_h * k))))
            img.load()
            scale_back = raw_w / img.size[0] if img.size[0] else 1.0
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(name, "not an image Pillow can decode (unknown or unsupported format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(name, f"refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, MemoryError) as exc:
        raise MediaError(name, f"corrupt or truncated {fmt} file: {_short(exc)}") from None
    width = round(img.size[0] * scale_back)
    height = round(img.size[1] * scale_back)
    whole = img.copy() if keep_whole and scale_back == 1.0 else None
    # from the decode itself, not the working image: a hashes-only decode gives the same picture
    # (a copy whenever _shrink, which works in place, will reduce img: every working side is
    # at least 2 * HASH_SIDE)
    hashed = hash_picture(img)
    return DecodedImage(
        name=name,
        sha256=sha,
        file_size=len(data),
        format=fmt,
        width=width,
        height=height,
        image=hashed if hashes_only else _shrink(img, working_side),
        exif=read_exif(data),
        hash_image=hashed,
    ), whole


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def _not_an_image_reason(data: bytes, name: str) -> str:
    ext = Path(name).suffix.lower()
    head = data[:16]
    if head[4:8] == b"ftyp" or head[:4] == b"\x1aE\xdf\xa3" or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return "a video file, not an image"
    if ext in IMAGE_EXTENSIONS:
        return f"named {ext} but its content is not an image (no image signature)"
    return "not an image (no known image signature)"


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: alpha over white, 16-bit and float ranges rescaled."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


# --- EXIF -----------------------------------------------------------------------------------

def read_exif(data: bytes) -> ExifFacts:
    """The EXIF facts of an image file (exifread); a broken EXIF block never fails the file."""
    facts = ExifFacts()
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False)
    except Exception as exc:  # exifread raises a zoo of types on hostile input
        facts.error = f"unreadable EXIF: {_short(exc)}"
        return facts
    facts.taken_at = parse_exif_datetime(_tag(tags, "EXIF DateTimeOriginal") or _tag(tags, "Image DateTime"))
    facts.make = _tag(tags, "Image Make")
    facts.model = _tag(tags, "Image Model")
    facts.software = _tag(tags, "Image Software")
    facts.gps_lat = _gps(tags, "GPS GPSLatitude", "GPS GPSLatitudeRef", "S")
    facts.gps_lon = _gps(tags, "GPS GPSLongitude", "GPS GPSLongitudeRef", "W")
    return facts


def _tag(tags: dict, key: str) -> str | None:
    value = tags.get(key)
    if value is None:
        return None
    text = str(value).strip().strip("\x00").strip()
    return text or None


def parse_exif_datetime(text: str | None) -> datetime | None:
    """EXIF's 'YYYY:MM:DD HH:MM:SS' to a datetime; None for blanks and the all-zero placeholder."""
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d"):
        try:
            return datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
    return None


def _gps(tags: dict, key: str, ref_key: str, negative_ref: str) -> float | None:
    value = tags.get(key)
    if value is None or not getattr(value, "values", None) or len(value.values) < 3:
        return None
    try:
        d, m, s = (float(v.num) / float(v.den) if v.den else 0.0 for v in value.values[:3])
    except (AttributeError, TypeError, ZeroDivisionError):
        return None
    result = d + m / 60.0 + s / 3600.0
    if _tag(tags, ref_key) == negative_ref:
        result = -result
    return round(result, 7)
