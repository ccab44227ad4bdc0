"""Fingerprint algorithms: each a small object with a name, a version and a canonical string form.

A :class:`Fingerprint` always travels with the algorithm name and version that made it, and the
ledger stores all three, so an upgrade that changes an algorithm's output bumps its version and
re-indexes instead of silently comparing incomparable values.

To add an algorithm: write a module with a class that has ``name``, ``version``,
``compute(image) -> Fingerprint | None`` and ``distance(a, b)``, register it in ``ALGORITHMS``
below, and add it to ``tests/test_fingerprints.py``'s contract test.
"""

from __future__ import annotations

from .base import Fingerprint, Fingerprinter
from .information import information_score, is_low_information
from .pdq import PDQ
from .phash import PHash
from .sha256 import SHA256

#: Every image fingerprinter, by name. The order is the order they are computed and reported.
ALGORITHMS: dict[str, Fingerprinter] = {alg.name: alg for alg in (SHA256, PDQ, PHash)}

__all__ = [
    "ALGORITHMS",
    "Fingerprint",
    "Fingerprinter",
    "PDQ",
    "PHash",
    "SHA256",
    "information_score",
    "is_low_information",
]
