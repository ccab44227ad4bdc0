"""PDQ (Meta's 256-bit perceptual hash) with its quality score.

The hex form is the reference implementation's: the first hex digit holds bits 255..252.
tests/test_fingerprints.py pins our output to the reference hashes in shared/conformance/pdq, so a
change cannot pass unnoticed.

The hash is computed here, in numpy, bit for bit as the reference (pdq/cpp/hashing/pdqhashing.cpp,
which the ``pdqhash`` bindings wrap), but ~10x faster: the reference blurs the whole luma image
with two passes of a box filter along each axis (the "Jarosz filter") and then keeps only 64x64
of the blurred pixels; the blur is linear and separable, so those 64x64 values are
``Rv @ luma @ Rh.T`` where row i of ``Rv`` holds the weights of the two box passes around the
i-th sampled row (about 2 * height/128 non-zero weights, cached per image size). Only the rows and
columns those weights touch are read. The DCT, the median threshold, the quality metric and the
dihedral variants (sign changes and a transpose of the 16x16 DCT) follow the reference.
tests/test_fingerprints.py checks the hashes and quality against the ``pdqhash`` bindings.
"""

from __future__ import annotations

import functools

import numpy as np

from ..media import DecodedImage
from .base import Fingerprint, hamming_hex

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_SIDE = 64  # the reference decimates to 64x64
# The 16x64 DCT matrix of the reference (dct64To16): DC dropped, rows 1..16 of the DCT-II.
_DCT = (np.sqrt(2.0 / _SIDE) * np.cos((np.pi / 2 / _SIDE) * np.outer(np.arange(1, 17), 2 * np.arange(_SIDE) + 1))
        ).astype(np.float32)
# Sign of DCT coefficient u under a flip of its axis: cos(pi/128 (u+1)(2(63-x)+1)) = (-1)^(u+1) ...
_FLIP = np.array([(-1.0) ** (u + 1) for u in range(16)], np.float32)
# The reference's order of the 8 dihedral variants as (transpose, flip rows, flip columns) of the
# 16x16 DCT: original, rotate 90, rotate 180, rotate 270, flip x, flip y, flip +1, flip -1.
_DIHEDRAL = ((0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1), (0, 1, 0), (0, 0, 1), (1, 0, 0), (1, 1, 1))


def _window(length: int) -> int:
    """The reference's Jarosz window for one axis (computeJaroszFilterWindowSize to 64)."""
    return (length + 2 * _SIDE - 1) // (2 * _SIDE)


@functools.lru_cache(maxsize=128)
def _sampler(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), each (64, k): the sampled outputs of two box passes along one axis.

    The reference's box1DFloat writes out[o] = mean(in[max(0, o - (F - h)) .. min(n - 1, o + h - 1)])
    with F the window and h = (F + 2) // 2; decimateFloat keeps out[int((i + 0.5) * n / 64)].
    """
    full = _window(length)
    half = (full + 2) // 2

    def span(o: int) -> range:
        return range(max(0, o - (full - half)), min(length - 1, o + half - 1) + 1)

    rows = []
    for i in range(_SIDE):
        sample = int((i + 0.5) * length / _SIDE)
        weights: dict[int, float] = {}
        outer = span(sample)
        for m in outer:
            inner = span(m)
            for k in inner:
                weights[k] = weights.get(k, 0.0) + 1.0 / (len(outer) * len(inner))
        rows.append(weights)
    width = max(len(w) for w in rows)
    idx = np.zeros((_SIDE, width), np.intp)
    wts = np.zeros((_SIDE, width), np.float32)
    for i, weights in enumerate(rows):
        keys = sorted(weights)
        idx[i, :len(keys)] = keys
        idx[i, len(keys):] = keys[-1]  # padding: weight 0
        wts[i, :len(keys)] = [weights[k] for k in keys]
    return idx, wts


def _buffer64(rgb: np.ndarray) -> np.ndarray:
    """The reference's 64x64 float buffer: luma, Jarosz-filtered, decimated."""
    row_idx, row_wts = _sampler(rgb.shape[0])
    return _filtered(rgb[row_idx].astype(np.float32) @ _LUMA, row_wts, rgb.shape[1])  # luma (64, k, width)


def _filtered(luma: np.ndarray, row_wts: np.ndarray, width: int) -> np.ndarray:
    """The 64x64 buffer from the luma of the rows the row sampler touches ((64, k, width))."""
    col_idx, col_wts = _sampler(width)
    rows = np.einsum("ik,ikw->iw", row_wts, luma)  # (64, width)
    return np.einsum("jk,ijk->ij", col_wts, rows[:, col_idx])  # (64, 64)


@functools.lru_cache(maxsize=1)
def _grey_luma() -> np.ndarray:
    """The luma _buffer64 computes for the pixel (v, v, v), for each grey level v (float32, 256).

    Computed by the very expression _buffer64 applies to every pixel, so a grey picture looked up
    in this table gives _buffer64's luma to within one unit in the last place: numpy's matrix
    product may round the tail of a row (widths not a multiple of 8) differently from its body.
    The hashes agree bit for bit on every informative sample (tests/test_video.py checks both).
    """
    levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return levels.astype(np.float32) @ _LUMA


def _quality(buf: np.ndarray) -> int:
    """computePDQImageDomainQualityMetric: summed truncated gradients of the 64x64 buffer."""
    dv = np.trunc((buf[:-1, :] - buf[1:, :]) * np.float32(100) / np.float32(255))
    dh = np.trunc((buf[:, :-1] - buf[:, 1:]) * np.float32(100) / np.float32(255))
    return min(100, int(np.abs(dv).sum() + np.abs(dh).sum()) // 90)


def _bits_hex(dct16: np.ndarray) -> str:
    """Bit i*16+j set when coefficient (i, j) exceeds the (lower) median; hex from bit 255 down."""
    flat = dct16.ravel()
    median = np.partition(flat, 127)[127]
    return np.packbits((flat > median)[::-1]).tobytes().hex()


def _transformed(dct16: np.ndarray, transpose: int, flip_rows: int, flip_cols: int) -> np.ndarray:
    out = dct16.T if transpose else dct16
    if flip_rows:
        out = out * _FLIP[:, None]
    if flip_cols:
        out = out * _FLIP[None, :]
    return out


def pdq_dihedral(rgb: np.ndarray) -> tuple[list[str], int]:
    """The 8 dihedral PDQ hashes (hex, reference order) and the quality of an RGB uint8 array."""
    buf = _buffer64(rgb)
    dct16 = _DCT @ buf @ _DCT.T
    return [_bits_hex(_transformed(dct16, *t)) for t in _DIHEDRAL], _quality(buf)


def pdq_grey(grey: np.ndarray, variants: tuple[int, ...] = (0,)) -> tuple[np.ndarray, int]:
    """Some dihedral PDQ hashes of a grey uint8 picture (h, w), as bytes, and its quality.

    Equal to pdq_dihedral of the picture repeated into three equal channels (the pdqhash
    bindings' input for a grey picture), at a third of its cost: luma is a table look-up, and
    only the asked variants (indices in the reference order) are thresholded. Returns a uint8
    array (len(variants), 32), each row the hash's hex form as bytes (first byte = bits 255..248).
    """
    row_idx, row_wts = _sampler(grey.shape[0])
    buf = _filtered(_grey_luma()[grey[row_idx]], row_wts, grey.shape[1])
    dct16 = _DCT @ buf @ _DCT.T
    out = np.empty((len(variants), 32), np.uint8)
    for n, v in enumerate(variants):
        flat = _transformed(dct16, *_DIHEDRAL[v]).ravel()
        out[n] = np.packbits((flat > np.partition(flat, 127)[127])[::-1])
    return out, _quality(buf)


class _PDQ:
    name = "pdq"
    #: 2: computed from the hash picture (media.HASH_SIDE), no longer the 1,024-px working image:
    #: the same file's hash moves by a median of 2 bits, but up to 20 (benchmarks/hash_picture.py).
    version = "2"
    bits = 256
    #: Meta's guidance: below quality 50 a PDQ hash is too unreliable to match on (flat,
    #: featureless images). We still store such hashes, but never match on them.
    min_quality = 50
    #: Distance at or below which two PDQ hashes are taken as the same picture. Meta suggests 31;
    #: measured on the tune half (66 photos, 1,000 items; benchmarks/match_quality.py): the
    #: 95th percentile of true pairs is 8 (JPEG q30), 12 (resize to 40%), 10 (mirror, through the
    #: dihedral variants), 6 (grayscale), 22 (colour shift); unrelated photographs lie at >= 86,
    #: but unrelated *generated* scenes (smooth gradients and shapes) came as close as 26. 24
    #: keeps every global edit's 95th percentile and stays under the closest false pair.
    match_threshold = 24

    def compute(self, decoded: DecodedImage) -> Fingerprint:
        """The PDQ hash of the hash picture and its quality (0-100)."""
        hashes, quality = self.dihedral(decoded)
        return Fingerprint(self.name, self.version, hashes[0], quality)

    def dihedral(self, decoded: DecodedImage) -> tuple[list[str], int]:
        """The 8 hashes of the image's rotations by 90 degrees and mirrors, and its quality.

        Order as the reference: original, rot90, rot180, rot270, flipx, flipy, flip+1, flip-1.
        A query hashed this way finds an indexed picture that was mirrored or turned.
        """
        return pdq_dihedral(_pixels(decoded))

    def distance(self, a: str, b: str) -> int:
        """Hamming distance of the 256 bits."""
        return hamming_hex(a, b)


def _pixels(decoded: DecodedImage) -> np.ndarray:
    return np.asarray(decoded.hash_picture, dtype=np.uint8)


PDQ = _PDQ()
