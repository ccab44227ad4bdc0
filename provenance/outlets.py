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
from statistics import median

from .ledger import Ledger
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
    lags: dict[int, list[float]] = {}
    firsts = ledger.work_firsts()
    for oid, work, at in ledger.outlet_work_dates():
        first_at, first_outlet = firsts.get(work, (None, None))
        if oid == first_outlet:
            continue
        stats[oid].republished += 1
        if at is not None and first_at is not None:
            lags.setdefault(oid, []).append(max(0.0, float(at) - float(first_at)))
    for oid, values in lags.items():
        stats[oid].median_lag = timedelta(seconds=median(values))
        stats[oid].lag_samples = len(values)
    return sorted((s for s in stats.values() if s.sightings),
                  key=lambda s: (-s.first_published, -s.sightings, s.outlet))


def _ranked(counts: dict[int, int], names: dict[int, str]) -> list[tuple[str, int]]:
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:TOP * 2]  # room for ties before sorting by name
    return sorted(((names.get(k, str(k)), v) for k, v in top), key=lambda x: (-x[1], x[0]))[:TOP]
