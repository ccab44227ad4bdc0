"""Works as the investigator sees them: stable ids, kept-up-to-date chains, and what changed.

The ledger keeps which items form which work (ledger_works.py: merges and splits happen there,
in the transaction that writes the links), and chain.py says what a work's chain and first-seen
date are. This module joins the two: :func:`refresh` re-derives the chain of every work that
changed, stores it (so ``outlets`` reads one table and nothing is recomputed per query), and
returns what changed as report rows, which a scan writes to its ``--report``:

- ``new_work``: a picture not seen before (a work whose chain was never derived);
- ``new_sighting``: a new sighting of a known work, with its most likely parent;
- ``chain_change``: a known sighting's parent changed, a work's first sighting changed, or two
  works merged, or a work was split.

A work is named ``W<id>`` to people (``W12``); a merged work's id still resolves to the work it
joined.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from .chain import Chain, infer_chain
from .chain_facts import SightingFacts, WorkFacts, item_facts, judge_surrounds, link_facts
from .errors import NotFoundError
from .ledger import Ledger
from .ledger_works import WorkChanges

#: Works derived per round of queries: bounds memory on a full rebuild.
BATCH_WORKS = 500


def parse_work_ref(text: str) -> int | None:
    """The work id in "W12" (or "w12"); None when the text is not a work reference."""
    m = re.fullmatch(r"[Ww](\d+)", text.strip())
    return int(m.group(1)) if m else None


def work_of_item(ledger: Ledger, item_id: int) -> int:
    """The id of the work an item belongs to."""
    ledger.item(item_id)  # NotFoundError for an unknown item
    work = ledger.work_ids_of([item_id]).get(item_id)
    if work is None:  # written by code that bypassed the ledger's bookkeeping
        ledger.backfill_works()
        work = ledger.work_ids_of([item_id]).get(item_id)
    if work is None:
        raise NotFoundError(f"item {item_id} belongs to no work (a video keyframe: ask for its video)")
    return work


def refresh(ledger: Ledger, *, works: Iterable[int] = (), changes: WorkChanges | None = None) -> list[dict]:
    """Fold pending writes into works, re-derive and store the chain of every work that changed.

    Returns the report rows (see the module docstring). Does not commit.
    """
    done = ledger.flush_works()
    if changes is not None:
        done.update(changes)
    targets = set(ledger.stale_work_ids()) | set(works) | done.touched
    live = {row["merged_into_id"] or w for w, row in ledger.work_rows(targets).items()}
    rows: list[dict] = [{"type": "chain_change", "change": "merged", "work_id": w, "merged_work_id": other,
                         "link_id": link} for w, other, link in done.merged]
    rows += [{"type": "chain_change", "change": "split", "work_id": w, "new_work_id": other} for w, other in done.split]
    if live:
        ledger.lock_works()  # one process at a time rewrites a work's stored chain (PostgreSQL)
    names = ledger.outlet_names() if live else {}
    for batch in _batches(sorted(live), BATCH_WORKS):
        old = ledger.work_rows(batch)
        chains = [infer_chain(facts, work_id) for work_id, facts in _facts_by_work(ledger, batch)]
        before = ledger.chain_parents(n.sighting_id for c in chains for n in c.nodes)
        for chain in chains:
            rows += _report(chain, old[chain.work_id], before, names)
        ledger.save_chains([(c.work_id, _summary(c), _edges(c)) for c in chains])
    return rows


def rebuild(ledger: Ledger) -> int:
    """Give every item a work and derive every work's chain again (after bulk loads, upgrades).

    Commits; returns the number of works derived.
    """
    ledger.backfill_works()
    ids = ledger.live_work_ids()
    ledger.mark_stale(ids)
    ledger.commit()
    for batch in _batches(ids, BATCH_WORKS * 4):
        refresh(ledger, works=batch)
        ledger.commit()
    return len(ids)


def _facts_by_work(ledger: Ledger, work_ids: list[int]) -> Iterator[tuple[int, WorkFacts]]:
    """The chain-inference facts of several works, loaded in a few queries."""
    members = ledger.members(work_ids)
    work_of = {i: w for w, items in members.items() for i in items}
    facts = {w: WorkFacts({}, [], []) for w in work_ids}
    for row in ledger.item_facts(work_of):
        facts[work_of[row[0]]].items[row[0]] = item_facts(row)
    for row in ledger.sighting_facts(work_of):
        facts[work_of[row[1]]].sightings.append(SightingFacts(*row))
    for r in ledger.link_facts(work_of):
        w = work_of.get(r[1])
        if w is not None and work_of.get(r[2]) == w:
            facts[w].links.append(link_facts(r))
    for w in work_ids:
        if facts[w].items:
            facts[w].links = judge_surrounds(ledger, facts[w].links, facts[w].items)
            yield w, facts[w]


def _summary(chain: Chain) -> dict:
    fs = chain.first_seen
    first = chain.node(fs.sighting_id) if fs else None
    return {
        "item_count": len(chain.item_ids),
        "sighting_count": len(chain.nodes),
        "first_seen_at": fs.date if fs else None,
        "first_seen_precision": fs.precision if fs else None,
        "first_seen_source": fs.source if fs else None,
        "first_sighting_id": fs.sighting_id if fs else None,
        "first_item_id": fs.item_id if fs else chain.item_ids[0],
        "first_outlet_id": first.outlet_id if first else None,
        "flags_json": json.dumps([f.to_dict() for f in chain.flags], sort_keys=True),
    }


def _edges(chain: Chain) -> list[dict]:
    outlet_of = {n.sighting_id: n.outlet_id for n in chain.nodes}
    return [
        {
            "sighting_id": n.sighting_id, "work_id": chain.work_id, "item_id": n.item_id, "outlet_id": n.outlet_id,
            "parent_sighting_id": n.parent_sighting_id,
            "parent_outlet_id": outlet_of.get(n.parent_sighting_id) if n.parent_sighting_id else None,
            "date_at": n.date, "date_source": n.date_source, "basis": n.basis, "reason": n.reason,
            "alternatives_json": json.dumps([a.to_dict() for a in n.alternatives]),
        }
        for n in chain.nodes
    ]


def _report(chain: Chain, old: dict, before: dict[int, int | None], names: dict[int, str]) -> list[dict]:
    """What changed in one work since its chain was last stored."""
    work = chain.work_id
    fs = chain.first_seen
    if not old["item_count"]:  # never derived: a new picture
        return [{"type": "new_work", "work_id": work, "items": chain.item_ids,
                 "first_seen": fs.to_dict() if fs else None, "flags": [f.to_dict() for f in chain.flags],
                 "sightings": [_sighting(n) for n in chain.nodes]}]
    rows = []
    for n in chain.nodes:
        if n.sighting_id not in before:
            parent = chain.node(n.parent_sighting_id) if n.parent_sighting_id else None
            rows.append({"type": "new_sighting", "work_id": work, **_sighting(n),
                         "parent": _sighting(parent) if parent else None})
        elif before[n.sighting_id] != n.parent_sighting_id:
            rows.append({"type": "chain_change", "change": "parent", "work_id": work, "sighting_id": n.sighting_id,
                         "outlet": n.outlet, "old_parent_sighting_id": before[n.sighting_id],
                         "new_parent_sighting_id": n.parent_sighting_id, "basis": n.basis, "reason": n.reason})
    if fs is not None and old["first_sighting_id"] is not None and old["first_sighting_id"] != fs.sighting_id:
        rows.append({"type": "chain_change", "change": "first_seen", "work_id": work,
                     "old": {"sighting_id": old["first_sighting_id"], "outlet": names.get(old["first_outlet_id"]),
                             "date": old["first_seen_at"].isoformat() if old["first_seen_at"] else None,
                             "source": old["first_seen_source"]},
                     "new": fs.to_dict()})
    return rows


def _sighting(n) -> dict:
    return {"sighting_id": n.sighting_id, "item_id": n.item_id, "outlet": n.outlet, "url": n.url, "path": n.path,
            "date": n.date.isoformat(), "date_source": n.date_source, "basis": n.basis, "reason": n.reason}


def _batches(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
