"""Outlets as publishers: who publishes first, who re-publishes, whom each copies, how late.

Read from the stored chains (works.py keeps them current), with a few GROUP BY queries, so it
stays fast on large ledgers (benchmarks/chain_speed.py). The measures, per outlet:

- ``first_published``: works whose first-seen sighting is the outlet's (ties are flagged on the
  work and credited to the first-listed outlet only);
- ``republished``: works the outlet holds a sighting of although another outlet was first;
- ``copies_from``: the outlets its sightings' chain parents belong to, most frequent first (the
  ``TOP`` most frequent);
- ``copied_by``: the reverse;
- ``median_lag``: over the works it re-published, its earliest claimed date minus the work's
  first-seen date (only works whose first-seen date is a claimed one; a date we merely indexed
  says nothing about the delay).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from .ledger import Ledger
from .ledger_works import NO_DATE
from .works import refresh

#: How many outlets ``copies_from`` and ``copied_by`` name.
TOP = 10


@dataclass
class OutletStats:
    """One outlet's record as a publisher."""

    outlet: str
    sightings: int = 0
    works: int = 0
    first_published: int = 0
    republished: int = 0
    copies_from: list[tuple[str, int]] = field(default_factory=list)
    copied_by: list[tuple[str, int]] = field(default_factory=list)
    median_lag: timedelta | None = None
    lag_samples: int = 0

    def to_dict(self) -> dict:
        return {
            "outlet": self.outlet,
            "sightings": self.sightings,
            "works": self.works,
            "first_published": self.first_published,
            "republished": self.republished,
            "copies_from": [{"outlet": o, "sightings": n} for o, n in self.copies_from],
            "copied_by": [{"outlet": o, "sightings": n} for o, n in self.copied_by],
            "median_lag_seconds": self.median_lag.total_seconds() if self.median_lag is not None else None,
            "lag_samples": self.lag_samples,
        }


def outlets(ledger: Ledger) -> list[OutletStats]:
    """Every outlet's record, the most prolific first publishers first.

    Brings stale works up to date first (and commits that), so the figures match ``chain``.
    """
    with ledger.reading():
        return _outlet_stats(ledger)


def _outlet_stats(ledger: Ledger) -> list[OutletStats]:
    if ledger.stale_work_ids():
        refresh(ledger)
        ledger.commit()
    names = ledger.outlet_names()
    stats = {oid: OutletStats(name) for oid, name in names.items()}
    for oid, sightings, works in ledger.outlet_totals():
        stats[oid].sightings, stats[oid].works = sightings, works
    for oid, count in ledger.outlet_first_counts().items():
        stats[oid].first_published = count
    copies: dict[int, dict[int, int]] = {}
    copied: dict[int, dict[int, int]] = {}
    for child, parent, count in ledger.outlet_copy_counts():
        copies.setdefault(child, {})[parent] = count
        copied.setdefault(parent, {})[child] = count
    for oid, row in copies.items():
        stats[oid].copies_from = _ranked(row, names)
    for oid, row in copied.items():
        stats[oid].copied_by = _ranked(row, names)
    _lags(stats, ledger)
    return sorted((s for s in stats.values() if s.sightings),
                  key=lambda s: (-s.first_published, -s.sightings, s.outlet))


def _ranked(counts: dict[int, int], names: dict[int, str]) -> list[tuple[str, int]]:
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:TOP * 2]  # room for ties before sorting by name
    return sorted(((names.get(k, str(k)), v) for k, v in top), key=lambda x: (-x[1], x[0]))[:TOP]


def _lags(stats: dict[int, OutletStats], ledger: Ledger) -> None:
    """Fill ``republished``, ``median_lag`` and ``lag_samples``; numpy, since a large ledger has
    hundreds of thousands of (outlet, work) pairs."""
    pairs = np.array(ledger.outlet_first_dates(), dtype=np.float64).reshape(-1, 3)
    works = np.array(ledger.work_first_dates(), dtype=np.float64).reshape(-1, 3)
    if not len(pairs) or not len(works):
        return
    size = int(max(works[:, 0].max(), pairs[:, 1].max())) + 1
    first_at = np.full(size, NO_DATE)
    first_outlet = np.full(size, -2.0)  # -2: not a live work
    first_at[works[:, 0].astype(np.int64)] = works[:, 1]
    first_outlet[works[:, 0].astype(np.int64)] = works[:, 2]
    outlet, work, at = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), pairs[:, 2]
    again = (first_outlet[work] != outlet) & (first_outlet[work] != -2)
    counts = np.bincount(outlet[again])
    for oid in np.flatnonzero(counts):
        if int(oid) in stats:
            stats[int(oid)].republished = int(counts[oid])
    dated = again & (at != NO_DATE) & (first_at[work] != NO_DATE)
    who, lag = outlet[dated], np.maximum(at[dated] - first_at[work[dated]], 0.0)
    order = np.lexsort((lag, who))
    who, lag = who[order], lag[order]
    starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]]) if len(who) else np.array([], dtype=np.int64)
    for begin, stop in zip(starts, np.r_[starts[1:], len(who)]):
        oid = int(who[begin])
        if oid in stats:
            stats[oid].median_lag = timedelta(seconds=float(np.median(lag[begin:stop])))
            stats[oid].lag_samples = int(stop - begin)
