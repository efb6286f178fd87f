"""The client package stands alone and its modules form no import cycle, counting every
import: those inside functions and under ``if TYPE_CHECKING:`` too."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"
CLIENT = SRC / "editserve" / "client"
ALLOWED_OUTSIDE = {"editserve._version"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = SRC / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(path: Path) -> set[str]:
    """Every editserve module that ``path`` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(
                f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}")
            )
    return {module for module in found if module.split(".")[0] == "editserve"}


def client_graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(CLIENT.rglob("*.py"))}


def related(a: str, b: str) -> bool:
    """A package and its own submodules (importing one imports the other's package)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def test_the_client_imports_nothing_of_editserve_outside_it() -> None:
    outside = {
        f"{name} -> {target}"
        for name, targets in client_graph().items()
        for target in targets
        if not related(target, "editserve.client") and target not in ALLOWED_OUTSIDE
    }
    assert not outside, f"the client imports from the rest of editserve: {sorted(outside)}"


def test_no_import_cycles_in_the_client() -> None:
    graph = client_graph()
    edges = {
        name: {t for t in targets if t in graph and not related(name, t)}
        for name, targets in graph.items()
    }
    cycles = []
    for start in edges:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for target in edges[node]:
                if target == start:
                    cycles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    assert not cycles, "import cycles in the client:\n" + "\n".join(sorted(cycles))
