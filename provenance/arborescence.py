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
    deterministic by listing edges in a fixed order. Every round contracts all the cycles of the
    chosen edges at once, so even a work full of ties needs few rounds.
    """
    current = [(u, v, float(w), None) for u, v, w in edges if v != root and u != v]
    live = [n for n in nodes if n != root]
    levels: list[tuple[dict, dict]] = []
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
        cycles = _find_cycles(best, root, live)
        if not cycles:
            break
        into: dict = {}  # cycle member -> the node standing for its cycle
        members: dict = {}
        for cycle in cycles:
            merged = ("cycle", next(fresh))
            members[merged] = cycle
            for x in cycle:
                into[x] = merged
        contracted = []
        for edge in current:
            u, v, w, _ = edge
            cu, cv = into.get(u, u), into.get(v, v)
            if cu == cv:
                continue
            if v in into:  # entering a cycle: pay for the cycle edge it replaces
                w -= best[v][2]
            contracted.append((cu, cv, w, edge))
        levels.append((members, best))
        live = [n for n in live if n not in into] + list(members)
        current = contracted

    chosen = dict(best)
    for members, best_then in reversed(levels):
        expanded = {}
        for v, edge in chosen.items():
            inner = edge[3]  # the edge one level down that this one stands for
            expanded[inner[1]] = inner
            for x in members.get(v, ()):
                if x != inner[1]:
                    expanded[x] = best_then[x]
        chosen = expanded
    return {v: edge[0] for v, edge in chosen.items()}


def _find_cycles(best: dict, root: Node, nodes: list[Node]) -> list[list[Node]]:
    """Every cycle among the chosen incoming edges (they are disjoint)."""
    state: dict = {}
    cycles = []
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
            cycles.append(path[path.index(v):])
    return cycles
