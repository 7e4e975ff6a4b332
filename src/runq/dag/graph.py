"""Pure graph rules over task names: cycles (to report them) and a stable topological order.

`deps[name]` lists the names `name` waits for (its `after`). Iterative throughout: a generated
file can chain thousands of tasks, deeper than Python's recursion limit.
"""
from __future__ import annotations

import heapq
from collections import deque


def strongly_connected(deps: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's components, each listed in file order (the order of `deps`)."""
    position = {name: i for i, name in enumerate(deps)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root, root_deps in deps.items():
        if root in index:
            continue
        work = [(root, iter(root_deps))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(deps[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component, key=position.__getitem__))
    return components


def find_cycles(deps: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per knot, as a closed path: ["a", "b", "a"] means a waits for b, b for a."""
    position = {name: i for i, name in enumerate(deps)}
    cycles = []
    for component in strongly_connected(deps):
        start = component[0]
        if len(component) == 1 and start not in deps[start]:
            continue
        cycles.append(_shortest_cycle(start, set(component), deps))
    return sorted(cycles, key=lambda cycle: position[cycle[0]])


def _shortest_cycle(start: str, members: set[str], deps: dict[str, list[str]]) -> list[str]:
    came_from: dict[str, str] = {}
    frontier = deque([start])
    while frontier:
        node = frontier.popleft()
        for child in deps[node]:
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in came_from:
                came_from[child] = node
                frontier.append(child)
    raise ValueError(f"{start} is not on a cycle")


def topological_order(deps: dict[str, list[str]]) -> list[str]:
    """Every name after the names it waits for; ties keep file order. Assumes no cycle."""
    position = {name: i for i, name in enumerate(deps)}
    waiting = {name: len(set(after)) for name, after in deps.items()}
    dependants: dict[str, list[str]] = {name: [] for name in deps}
    for name, after in deps.items():
        for dep in set(after):
            dependants[dep].append(name)
    ready = [position[name] for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    names = list(deps)
    order = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for child in dependants[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    if len(order) != len(deps):
        raise ValueError("the graph has a cycle")
    return order
