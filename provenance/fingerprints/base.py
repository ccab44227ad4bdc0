"""What every fingerprint algorithm is and produces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..media import DecodedImage


@dataclass(frozen=True)
class Fingerprint:
    """One algorithm's fingerprint of one image: the value in its canonical string form."""

    algorithm: str
    version: str
    value: str
    quality: int | None = None


class Fingerprinter(Protocol):
    """The contract of an algorithm (tests/test_fingerprints.py checks every one)."""

    name: str
    version: str

    def compute(self, decoded: DecodedImage) -> Fingerprint | None:
        """The fingerprint of a decoded image, or None when the image is below the quality gate."""
        ...

    def distance(self, a: str, b: str) -> int:
        """Distance between two canonical values; 0 means identical."""
        ...


def hamming_hex(a: str, b: str) -> int:
    """Hamming distance between two equal-length hex strings."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {len(a)} and {len(b)} hex digits")
    return (int(a, 16) ^ int(b, 16)).bit_count()
