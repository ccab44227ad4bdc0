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
from .fingerprints import PDQ, PHash, SHA256, Fingerprint, information_score, is_low_information
from .media import QUERY_WORKING_SIDE, DecodedImage, ExifFacts, decode_image, decode_with_larger, read_file
from .parts import Looked, PartPrints, search_parts

if TYPE_CHECKING:
    from PIL import Image

    from .video import VideoPrints


@dataclass
class QueryFeatures:
    """The query side of the local-feature stage, computed where the file is decoded.

    Matching a new file against the ledger extracts its ORB features at the query working size
    (up to 1 MP, 1,500 features) and those of its mirror image: ~90 ms of pure computation that
    does not depend on the ledger. A scan's workers compute them (``fingerprint_file``) and send
    this compact form (the two feature sets as ``LocalFeatures.to_bytes``, ~100 kB) to the one
    writer, which rebuilds the working images from the picture it receives anyway (a resize and
    a grey conversion, ~2 ms: cheaper to redo than to pickle) and only searches and verifies.
    """

    plain: bytes
    mirrored: bytes

    @classmethod
    def compute(cls, image: "Image.Image", original_size: tuple[int, int] | None = None) -> "QueryFeatures":
        """Query features of a working image and of its mirror, as ``local_match.search`` makes them
        (positions in the pixels of the file, of `original_size`, when the image is a reduced copy)."""
        query = local_features.extract(image, for_query=True, keep_working=True, original_size=original_size)
        mirrored = local_features.extract_mirrored(query)
        return cls(query.to_bytes(), mirrored.to_bytes())

    def unpack(self, image: "Image.Image") -> tuple[local_features.LocalFeatures, local_features.LocalFeatures]:
        """(query, mirrored query) with their working images, from the image they were computed on.

        Equal, array for array, to what ``extract(image, for_query=True, keep_working=True)`` and
        ``extract_mirrored`` return (but for the OpenCV keypoints, which verification never uses).
        """
        import cv2

        query = local_features.LocalFeatures.from_bytes(self.plain)
        mirrored = local_features.LocalFeatures.from_bytes(self.mirrored)
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        colour = local_features._resize(rgb, query.working_size)
        gray = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
        query.working, query.working_colour, query.pyramid = gray, colour, local_features._pyramid(gray)
        m_gray = cv2.flip(gray, 1)  # = gray[:, ::-1], but numpy's strided copy of RGB takes ~20 ms
        mirrored.working, mirrored.working_colour = m_gray, cv2.flip(colour, 1)
        mirrored.pyramid = local_features._pyramid(m_gray)
        return query, mirrored


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
    #: Precomputed query-side local features (scan workers), used by ``Matcher.match``.
    query: QueryFeatures | None = field(default=None, repr=False)
    #: The picture framed in the image, fingerprinted on its own (parts.py), when it has one.
    parts: list[PartPrints] = field(default_factory=list, repr=False)
    #: What looking for those parts found in ``decoded`` (the framed picture, a photographed
    #: screen), which ``Matcher.match`` need not look for again; None when nothing was looked for.
    looked: Looked | None = field(default=None, repr=False)

    def get(self, algorithm: str) -> Fingerprint | None:
        """This image's fingerprint of one algorithm."""
        return next((fp for fp in self.fingerprints if fp.algorithm == algorithm), None)

    @property
    def local_record(self) -> tuple[str, str, bytes] | None:
        """(algorithm, version, blob) of the local features, as the ledger stores them."""
        if self.local_blob is None:
            return None
        return (local_features.ALGORITHM, local_features.VERSION, self.local_blob)


def fingerprint_image(decoded: DecodedImage, *, local: bool = True, keep_image: bool = False,
                      query: bool = False, grey: Image.Image | None = None, parts: bool = False) -> ImagePrints:
    """Compute every fingerprint of a decoded image (local features only when asked).

    ``parts`` (with ``local``) also finds and fingerprints the picture framed in it (parts.py), for
    an image that is indexed.

    ``query=True`` also computes the query-side local features that matching the image against
    the ledger needs (:class:`QueryFeatures`), unless the image is too poor in information to be
    matched at all. ``grey``, a small grey copy of the picture already at hand (a video sample's
    thumbnail), stands in for the hash picture in pHash and the information score, which both
    reduce the picture to grey first anyway (video.keyframe_prints).
    """
    dihedral, quality = PDQ.dihedral(decoded)
    prints = [
        SHA256.compute(decoded),
        Fingerprint(PDQ.name, PDQ.version, dihedral[0], quality),
        PHash.compute(decoded if grey is None else grey),
    ]
    blob = None
    if local:
        blob = local_features.extract(decoded.image, original_size=decoded.size).to_bytes()
    information = information_score(decoded if grey is None else grey)
    query_features = None
    if query and not is_low_information(information):
        query_features = QueryFeatures.compute(decoded.image, decoded.size)
    found_parts, looked = [], None
    if parts and local and not is_low_information(information):
        found_parts, looked = search_parts(decoded)
    return ImagePrints(
        name=decoded.name,
        sha256=decoded.sha256,
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        file_size=decoded.file_size,
        exif=decoded.exif,
        information=information,
        fingerprints=prints,
        pdq_dihedral=dihedral,
        local_blob=blob,
        decoded=decoded if keep_image else None,
        query=query_features,
        parts=found_parts,
        looked=looked,
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


#: A file to be matched is decoded a second time, larger, for its query side when that gives
#: the query features this many times the pixels of the working image (tall phone screenshots,
#: wide pictures: the working image's long side bounds them far below a check's 1 MP).
QUERY_LOOK_GAIN = 1.5


def fingerprint_file(path: str, keep_image: bool = True, hashes_only: bool = False, parts: bool = True,
                     local: bool = True) -> FileOutcome:
    """Read, decode and fingerprint one file; a bad file becomes an outcome with its error.

    ``keep_image`` keeps a decoded image on the prints, and computes the query-side local
    features (:class:`QueryFeatures`), for matching the new file against the ledger: in a scan
    this runs in the worker processes, so the one writer only searches and verifies. The stored
    fingerprints always come from the working image (and its hash picture); the query side sees
    the file as a check would (``_wants_larger_look``). ``hashes_only`` computes an image's
    global hashes alone, from a decode that skips the working image (``scan --hashes-only``); a
    video is fingerprinted whole. ``parts`` also finds and fingerprints the picture framed in an
    image (parts.py), from the larger decode when there is one; ``local=False`` leaves out the
    image's own local features, the costliest print (reindex searching for parts an image whose
    features are current).
    """
    from .video import fingerprint_video, is_video_file  # imported late: video.py imports this module

    try:
        st = os.stat(path)
        if is_video_file(path):
            return FileOutcome(path, None, None, st.st_size, st.st_mtime_ns, video=fingerprint_video(path))
        data = read_file(path)
        if hashes_only:
            decoded = decode_image(data, name=path, hashes_only=True)
            return FileOutcome(path, fingerprint_image(decoded, local=False), None, st.st_size, st.st_mtime_ns)
        if not keep_image and not parts:
            return FileOutcome(path, fingerprint_image(decode_image(data, name=path), local=local), None, st.st_size,
                               st.st_mtime_ns)
        decoded, larger = decode_with_larger(data, path, QUERY_WORKING_SIDE)
        prints = fingerprint_image(decoded, keep_image=keep_image, local=local or keep_image)
        if not is_low_information(prints.information):
            look = larger() if _wants_larger_look(decoded) else decoded
            if keep_image:
                prints.decoded, prints.query = look, QueryFeatures.compute(look.image, look.size)
            if parts:  # from the larger decode (more of the part's pixels), in a scan and a reindex alike
                prints.parts, prints.looked = search_parts(look)
        return FileOutcome(path, prints, None, st.st_size, st.st_mtime_ns)
    except MediaError as exc:
        return FileOutcome(path, None, exc.reason)
    except FileNotFoundError:
        return FileOutcome(path, None, "no such file")
    except OSError as exc:
        return FileOutcome(path, None, f"cannot read: {exc.strerror or exc}")


def _wants_larger_look(decoded: DecodedImage) -> bool:
    """Whether a file's query features would get QUERY_LOOK_GAIN times more pixels from the file
    decoded at a check's size than from its working image."""
    def pixels(size: tuple[int, int]) -> int:
        w, h = local_features.working_size(size, for_query=True)
        return w * h

    return pixels(decoded.size) >= QUERY_LOOK_GAIN * pixels(decoded.image.size)
