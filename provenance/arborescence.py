"""The spanning arborescence of greatest weight (Chu-Liu/Edmonds), for attribution chains.

chain.py scores every possible "c was copied from p" edge of a work and asks for the tree of
greatest total score: choosing each copy's best parent on its own can make cycles (A from B,
B from A), and this is the classic exact answer to that. Iterative, so a work with thousands
of copies cannot exhaust the recursion limit; O(nodes x edges) at worst, and a cycle to contract
is rare in practice because dates make most scores lopsided.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from itertools import count

Node = Hashable


def max_arborescence(nodes: Iterable[Node], edges: Iterable[tuple[Node, Node, float]], root: Node) -> dict[Node, Node]:
    """{node: parent} of the spanning arborescence rooted at ``root`` with the greatest total weight.

    ``edges`` are (parent, child, weight); every node must have an edge from ``root`` or be
    reachable from it. Among equal choices the edge listed first wins, so callers make results
    deterministic by listing edges in a fixed order.
    """
    current = [(u, v, float(w), None) for u, v, w in edges if v != root and u != v]
    live = [n for n in nodes if n != root]
    levels: list[tuple[set, tuple, dict]] = []
    fresh = count()
    while True:
        best: dict = {}
        for edge in current:
            v = edge[1]
            if v not in best or edge[2] > best[v][2]:
                best[v] = edge
        missing = [n for n in live if n not in best]
        if missing:
            raise ValueError(f"nodes not reachable from the root: {missing[:5]}")
        cycle = _find_cycle(best, root, live)
        if cycle is None:
            break
        members = set(cycle)
        merged = ("cycle", next(fresh))
        contracted = []
        for edge in current:
            u, v, w, _ = edge
            if u in members and v in members:
                continue
            if v in members:  # entering the cycle: pay for the cycle edge it replaces
                contracted.append((u, merged, w - best[v][2], edge))
            elif u in members:
                contracted.append((merged, v, w, edge))
            else:
                contracted.append((u, v, w, edge))
        levels.append((members, merged, best))
        live = [n for n in live if n not in members] + [merged]
        current = contracted

    chosen = dict(best)
    for members, merged, best_then in reversed(levels):
        expanded = {}
        for v, edge in chosen.items():
            inner = edge[3]  # the edge one level down that this one stands for
            expanded[inner[1]] = inner
            if v == merged:
                for x in members:
                    if x != inner[1]:
                        expanded[x] = best_then[x]
        chosen = expanded
    return {v: edge[0] for v, edge in chosen.items()}


def _find_cycle(best: dict, root: Node, nodes: list[Node]) -> list[Node] | None:
    """A cycle among the chosen incoming edges, or None."""
    state: dict = {}
    for start in nodes:
        if start in state:
            continue
        path = []
        v = start
        while v != root and v not in state:
            state[v] = start
            path.append(v)
            v = best[v][0]
        if v != root and state.get(v) == start:
            return path[path.index(v):]
    return None
