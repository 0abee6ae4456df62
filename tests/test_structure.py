"""The code's shape, checked: no import circle in the product's packages (type-only
imports included: a circle there is a circle in the design), and the relay a library
that imports nothing of the gateway or the runner."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "podium_cli", "relay", "runners")
pytestmark = pytest.mark.unit


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The product modules ``path`` imports, wherever in the file (functions,
    ``TYPE_CHECKING`` blocks)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
    return named & known


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path, known) - {name} for name, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_circles() -> None:
    assert circles(graph()) == []


def test_the_circle_finder_finds_one() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_relay_imports_nothing_of_the_gateway_or_the_runner() -> None:
    outside = {
        (name, target)
        for name, targets in graph().items()
        if name.split(".")[0] == "relay"
        for target in targets
        if target.split(".")[0] != "relay"
    }
    assert outside == set()


def test_the_command_line_needs_the_standard_library_alone() -> None:
    """``podium publish`` installs into any user image: nothing but the standard library
    (the gateway's packages load only when ``podium`` runs the gateway)."""
    found = {}
    for path in (ROOT / "podium_cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("podium_cli", "__future__"):
                    found.setdefault(path.name, set()).add(name)
    assert found == {"main.py": {"gateway.app"}}  # main()'s lazy import, for the gateway


RUNNER_PROGRAM = {
    "runners.main", "runners.guard", "runners.framework", "runners.source",
    "runners.readiness", "runners.door", "runners.listens", "runners.__main__",
}  # fmt: skip


def test_the_gateway_imports_nothing_of_the_runners_program() -> None:
    """What the two agree on is in runners.contract (and the pure names, spec, git URL
    and sandbox checks); how the runner runs is its own."""
    reached = {
        (name, target)
        for name, targets in graph().items()
        if name.split(".")[0] == "gateway"
        for target in targets
        if target in RUNNER_PROGRAM
    }
    assert reached == set()


def test_the_architecture_map_names_only_what_exists() -> None:
    """Every path docs/architecture.md names is in the tree (a move updates the map)."""
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:relay|runners|gateway|docs|tests)/[\w/.]*)`", text))
    named |= set(re.findall(r"(?<![\w/])((?:relay|runners|gateway)/[\w/]+\.py)\b", text))
    assert len(named) > 30
    assert sorted(p for p in named if not (ROOT / p).exists()) == []


def test_the_domain_imports_nothing_of_http() -> None:
    """Dashboards and their life know nothing of the front door, the pages or the hub."""
    http = ("gateway.front", "gateway.web", "gateway.hub")
    reached = {
        (name, target)
        for name, targets in graph().items()
        if name.startswith("gateway.domain")
        for target in targets
        if target.startswith(http)
    }
    assert reached == set()


def test_no_two_classes_share_a_name() -> None:
    """A name means one thing (the admin's Rules, the relay's Policy, the PodLauncher
    over the KubeLauncher options)."""
    where: dict[str, list[str]] = {}
    for module, path in modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(module)
    assert {name: found for name, found in where.items() if len(found) > 1} == {}


def test_tests_and_benchmarks_share_only_the_support_packages() -> None:
    """No test module imports another test module or a conftest; the benchmarks import
    from ``tests.support`` and ``tests.kubesim`` only."""
    shared = ("tests.support", "tests.kubesim")
    found = []
    for folder in ("tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                named = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                if isinstance(node, ast.Import):
                    named = [alias.name for alias in node.names]
                for module in named:
                    if not module.startswith("tests") or module.startswith(shared):
                        continue
                    if folder == "bench" or module.rsplit(".", 1)[-1].startswith(
                        ("test_", "conftest")
                    ):
                        found.append(f"{path.relative_to(ROOT)} imports {module}")
    assert found == []


def test_no_module_is_over_400_lines() -> None:
    """A module longer than that does more than one thing (STYLE.md): split it."""
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert long == {}
