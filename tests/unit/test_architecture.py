"""The house rules import-linter cannot say, checked on the tree: small files and functions
(a longer file needs a stated reason), no import cycles counting imports inside functions,
thin routes, model-neutral code outside the model folders, few top-level rooms. The layers
themselves are import-linter's contracts in pyproject.toml (`lint-imports`, run here too)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "editserve"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_ROOMS = 20
# A file over MAX_FILE_LINES needs its reason here (relative to src/editserve).
LONG_FILES_WITH_A_REASON: dict[str, str] = {}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def is_package(name: str) -> bool:
    return (PACKAGE.parent / Path(*name.split(".")) / "__init__.py").exists()


def imports_of(name: str, path: Path, *, top_level_only: bool) -> set[str]:
    """Modules of editserve that ``name`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            # `from pkg import module` imports pkg.module too
            found.update(
                f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}")
            )
    return {module for module in found if module.startswith("editserve")}


def is_module(name: str) -> bool:
    path = PACKAGE.parent / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_no_file_over_the_limit_without_a_reason() -> None:
    """Python and the workbench's JavaScript alike."""
    files = [path for _, path in modules()] + sorted((PACKAGE / "web" / "js").glob("*.js"))
    long = {
        name: n
        for path in files
        if (n := len(path.read_text().splitlines())) > MAX_FILE_LINES
        and (name := str(path.relative_to(PACKAGE))) not in LONG_FILES_WITH_A_REASON
    }
    assert not long, f"files over {MAX_FILE_LINES} lines (split, or state a reason): {long}"


def test_few_top_level_rooms() -> None:
    rooms = [p for p in PACKAGE.iterdir() if not p.name.startswith((".", "__"))]
    rooms = [p for p in rooms if p.is_dir() or p.suffix == ".py"]
    assert len(rooms) <= MAX_ROOMS, sorted(p.name for p in rooms)


def test_the_import_contracts_hold() -> None:
    """The layers, no cycles, a client apart, torch-free API nodes (pyproject.toml)."""
    tool = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.fail("lint-imports is missing: install the dev extra (import-linter)")
    run = subprocess.run([tool, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


def test_no_function_over_the_limit() -> None:
    long = {}
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{name}.{node.name}"] = length
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_import_cycles() -> None:
    """No cycle between modules, counting imports inside functions and under TYPE_CHECKING
    (a lazy import keeps torch or psycopg out of a process; it still depends)."""
    graph = {name: imports_of(name, path, top_level_only=False) for name, path in modules()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            # importing a.b.c runs a/__init__ and a/b/__init__ first: not an edge back
            if target == node or node.startswith(target + "."):
                continue
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target in graph and not state.get(target):
                visit(target, [*trail, target])
        state[node] = 2

    for name in sorted(graph):
        if not state.get(name):
            visit(name, [name])
    assert not cycles, f"import cycles: {cycles}"


def test_routes_are_thin() -> None:
    """No route module reads the store, and none imports another route."""
    for name, path in modules():
        if not name.startswith("editserve.api.routes."):
            continue
        text = path.read_text()
        assert "editserve.store" not in text, f"{name} imports the store"
        assert not re.search(r"\.store\b", text), f"{name} touches the store"
        others = {m for m in imports_of(name, path, top_level_only=False)}
        assert not {m for m in others if m.startswith("editserve.api.routes.")}, name


def test_only_model_folders_name_a_model() -> None:
    """A new model touches its folder and the registry; nothing else of the server names
    one. (The client is a caller of the API: it has a default model, as any caller would.)"""
    allowed = ("editserve.models.qwen_", "editserve.models.registry", "editserve.client")
    for name, path in modules():
        if name.startswith(allowed):
            continue
        text = path.read_text().lower()
        assert "qwen_edit_plus" not in text and "qwen-image-edit-plus" not in text, name


def test_no_upward_imports() -> None:
    """Nothing imports the CLI, and no subpackage imports the package's own __init__."""
    for name, path in modules():
        found = imports_of(name, path, top_level_only=False)
        if name not in ("editserve.__main__",):
            assert "editserve.commands.main" not in found, f"{name} imports the CLI"
        if name != "editserve" and name != "editserve.__main__":
            tree = ast.parse(path.read_text())
            bare = [
                node
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)
                and node.module == "editserve"
                and not node.level
            ]
            assert not bare, f"{name} imports the editserve package itself"
