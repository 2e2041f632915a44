"""An import-linter contract type of our own: no import cycles between modules at all.

import-linter's `acyclic_siblings` checks cycles between sibling packages; this checks the
finer rule the architecture states — no module may reach itself through imports, counting
imports inside functions too (a lazy import hides a cycle from Python, not from a reader).
Configured in `pyproject.toml` (`contract_types`), run by `lint-imports` in `make lint`.
"""

from __future__ import annotations

import grimp
from importlinter import Contract, ContractCheck, fields, output


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is deep enough to exhaust recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child) & modules
                    work.append((child, iter(sorted(imported))))
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
                if len(component) > 1:
                    components.append(sorted(component))
    return components


class AcyclicModulesContract(Contract):
    """No module in `packages` imports itself through a chain of imports."""

    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        modules: set[str] = set()
        for package in self.packages:  # type: ignore[attr-defined]
            modules |= {package} | graph.find_descendants(package)
        cycles = []
        for component in strongly_connected(graph, modules):
            first, members = component[0], set(component)
            # one concrete loop through the component, to show where to cut it
            step = min(graph.find_modules_directly_imported_by(first) & members)
            back = graph.find_shortest_chain(importer=step, imported=first) or (step, first)
            cycles.append({"modules": component, "loop": [first, *back]})
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"{len(cycle['modules'])} modules import each other in a cycle:")
            output.print(" -> ".join(cycle["loop"]))
            output.new_line()
