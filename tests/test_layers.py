"""The house keeps its floors: a module never imports one on a higher floor, no import
cycle anywhere (imports inside functions and under TYPE_CHECKING count too), and a
pipeline step never imports the runner or another step. Read from the source with `ast`,
so it also sees imports that are never executed."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support import REPO

# Lowest first. A module may import its own floor and the floors below.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("parsers",),
    ("storage",),
    ("gateway.settings", "gateway.worktime", "gateway.tokens", "gateway.senders", "gateway.logs", "gateway.lifecycle",
     "gateway.sla", "gateway.register", "gateway.knowledge"),
    ("gateway.outbound",),
    ("gateway.pipeline",),
    ("gateway.intake",),
    ("gateway.sources",),
    ("gateway.service",),
    ("gateway.register.export", "gateway.register.html"),
    ("gateway.cli",),
)
# parsers and storage are both at the bottom, and neither knows the other
APART = {("parsers", "storage"), ("storage", "parsers")}
STEPS = {f"gateway.pipeline.{name}" for name in ("classify", "thread", "screen", "answers", "route", "acknowledge", "notify")}
RUNNERS = {"gateway.pipeline.runner", "gateway.pipeline.promises"}
Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # `from gateway.outbound import outbox`


def project_graph() -> Graph:
    files = [p for top in ("gateway", "parsers", "storage") for p in (REPO / top).rglob("*.py") if "migrations" not in p.parts]
    names = {module_name(p): p for p in files}
    tops = {"gateway", "parsers", "storage"}  # `from gateway import logs`: the empty package itself is no edge
    return {name: {i for i in imports(path, name) if i in names and i not in (name, *tops)} for name, path in names.items()}


def floor(module: str) -> int | None:
    """The floor of the longest prefix naming the module (gateway.register.export above
    gateway.register)."""
    found = [(len(p), level) for level, prefixes in enumerate(FLOORS) for p in prefixes
             if module == p or module.startswith(p + ".")]  # fmt: skip
    return max(found)[1] if found else None


def top(module: str) -> str:
    return module.split(".")[0]


def violations(graph: Graph) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            here, there = floor(module), floor(target)
            if here is None or there is None:
                found.append(f"{module} -> {target}: a module on no floor (add it to FLOORS)")
            elif there > here or (top(module), top(target)) in APART:
                found.append(f"{module} -> {target}: imports upwards")
            elif module in STEPS and (target in STEPS or target in RUNNERS):
                found.append(f"{module} -> {target}: a step imports the runner or another step")
    return found + [f"cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_project_keeps_its_floors_and_has_no_cycle() -> None:
    graph = project_graph()
    assert len(graph) > 60 and graph["gateway.pipeline.runner"], "the import graph was not read"
    assert violations(graph) == []


def test_the_checker_catches_an_upward_import_a_step_importing_a_step_and_a_cycle() -> None:
    graph = project_graph()
    wrong = {**graph, "parsers.mime": graph["parsers.mime"] | {"storage.db"},
             "gateway.outbound.compose": graph["gateway.outbound.compose"] | {"gateway.pipeline.tickets"},
             "gateway.pipeline.notify": graph["gateway.pipeline.notify"] | {"gateway.pipeline.acknowledge"},
             "gateway.settings": graph["gateway.settings"] | {"gateway.tokens"},
             "gateway.tokens": graph["gateway.tokens"] | {"gateway.settings"}}  # fmt: skip
    found = violations(wrong)
    assert "parsers.mime -> storage.db: imports upwards" in found
    assert "gateway.outbound.compose -> gateway.pipeline.tickets: imports upwards" in found
    assert "gateway.pipeline.notify -> gateway.pipeline.acknowledge: a step imports the runner or another step" in found
    assert "cycle: gateway.settings -> gateway.tokens" in found
