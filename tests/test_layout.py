"""The shape of the tree a newcomer copies from: modules that do not import each other back, and
files short enough to read."""

import ast
import graphlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from devsupport.infra import REPO_ROOT

MAX_SOURCE_LINES = 400
# Where each importable root lives: a service's package sits under its src folder.
SOURCE_ROOTS = [
    REPO_ROOT / "shared" / "src",
    *sorted((REPO_ROOT / "services").glob("*/src")),
    REPO_ROOT,  # deploy, devsupport, bench, tests
]
CHECKED = ("services", "shared", "deploy", "devsupport", "bench")


def _tracked(*folders: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", *folders], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return [REPO_ROOT / line for line in listed.stdout.splitlines()]


def _module_name(path: Path) -> str:
    for root in SOURCE_ROOTS:
        if path.is_relative_to(root):
            parts = path.relative_to(root).with_suffix("").parts
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise AssertionError(f"{path} is under no source root")


def _imported(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Every module ``module`` imports, type-checking imports too; ``from a import b`` names
    ``a.b`` (which is ``a``'s attribute, or its submodule: both are kept, unknown ones drop)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_no_module_imports_another_that_imports_it_back() -> None:
    sources = {
        path: _module_name(path) for path in _tracked(*CHECKED, "tests") if path.suffix == ".py"
    }
    known = set(sources.values())
    graph: dict[str, set[str]] = {}
    for path, module in sources.items():
        tree = ast.parse(path.read_text(), str(path))
        imports = _imported(tree, module, path.name == "__init__.py")
        # A package's __init__ is not an edge: importing a.b runs a/__init__.py, but none of
        # ours imports its submodules.
        graph[module] = {name for name in imports if name in known and name != module}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None


def test_no_source_file_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in _tracked("services", "shared", "deploy")
        if path.suffix in {".py", ".sh", ".html", ".js", ".css"}
        and "/tests/" not in str(path)
        and (lines := len(path.read_text().splitlines())) > MAX_SOURCE_LINES
    }
    assert not long, f"over {MAX_SOURCE_LINES} lines: {long}"
