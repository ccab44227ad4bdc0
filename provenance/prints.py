"""Everything computed from one image file, once: the unit of work of indexing and checking.

:func:`fingerprint_file` is a pure function of a path (no ledger, no globals), so a scan can
run it in worker processes and hand the small, picklable :class:`ImagePrints` back to the one
process that writes the ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import local_features
from .errors import MediaError
from .fingerprints import PDQ, PHash, SHA256, Fingerprint, information_score
from .media import DecodedImage, ExifFacts, load_image

if TYPE_CHECKING:
    from .video import VideoPrints


@dataclass
class ImagePrints:
    """The fingerprints and file facts of one image; small and picklable (no pixels)."""

    name: str
    sha256: str
    format: str
    width: int
    height: int
    file_size: int
    exif: ExifFacts
    information: float
    fingerprints: list[Fingerprint]
    pdq_dihedral: list[str]
    local_blob: bytes | None = None
    decoded: DecodedImage | None = field(default=None, repr=False)

    def get(self, algorithm: str) -> Fingerprint | None:
        """This image's fingerprint of one algorithm."""
        return next((fp for fp in self.fingerprints if fp.algorithm == algorithm), None)

    @property
    def local_record(self) -> tuple[str, str, bytes] | None:
        """(algorithm, version, blob) of the local features, as the ledger stores them."""
        if self.local_blob is None:
            return None
        return (local_features.ALGORITHM, local_features.VERSION, self.local_blob)


def fingerprint_image(decoded: DecodedImage, *, local: bool = True, keep_image: bool = False) -> ImagePrints:
    """Compute every fingerprint of a decoded image (local features only when asked)."""
    dihedral, quality = PDQ.dihedral(decoded)
    prints = [
        SHA256.compute(decoded),
        Fingerprint(PDQ.name, PDQ.version, dihedral[0], quality),
        PHash.compute(decoded),
    ]
    blob = None
    if local:
        blob = local_features.extract(decoded.image, original_size=decoded.size).to_bytes()
    return ImagePrints(
        name=decoded.name,
        sha256=decoded.sha256,
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        file_size=decoded.file_size,
        exif=decoded.exif,
        information=information_score(decoded),
        fingerprints=prints,
        pdq_dihedral=dihedral,
        local_blob=blob,
        decoded=decoded if keep_image else None,
    )


@dataclass
class FileOutcome:
    """The result of fingerprinting one file: prints (an image's or a video's), or the reason it failed."""

    path: str
    prints: ImagePrints | None = None
    error: str | None = None
    size: int = 0
    mtime_ns: int = 0
    video: "VideoPrints | None" = None


def fingerprint_file(path: str, keep_image: bool = True) -> FileOutcome:
    """Read, decode and fingerprint one file; a bad file becomes an outcome with its error.

    ``keep_image`` keeps the working image on the prints, for the local-feature stage of
    matching the new file against the ledger.
    """
    from .video import fingerprint_video, is_video_file  # imported late: video.py imports this module

    try:
        st = os.stat(path)
        if is_video_file(path):
            return FileOutcome(path, None, None, st.st_size, st.st_mtime_ns, video=fingerprint_video(path))
        decoded = load_image(path)
        return FileOutcome(path, fingerprint_image(decoded, keep_image=keep_image), None, st.st_size, st.st_mtime_ns)
    except MediaError as exc:
        return FileOutcome(path, None, exc.reason)
    except FileNotFoundError:
        return FileOutcome(path, None, "no such file")
    except OSError as exc:
        return FileOutcome(path, None, f"cannot read: {exc.strerror or exc}")
