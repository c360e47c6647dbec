"""The folder layout is the architecture: each subpackage is one layer, imports point down
only, there is no import circle, and the README's map names exactly the subpackages there
are. Read from the source with ``ast`` (every import counts: at module level, inside a
function, under ``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = "ireserve_salto_plugin"
ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / PACKAGE

# What each part may import of the package (besides itself). The root's face
# (``ireserve_salto_plugin``: the integration's name) and the host contract (``models``,
# ``hookspecs``) are leaves every layer above ``salto`` may read.
CONTRACT = {"", "models", "hookspecs"}
MAY_IMPORT: dict[str, set[str]] = {
    "salto": set(),
    "sandbox": {"salto"},
    "store": {"salto"} | CONTRACT,
    "park": {"salto"} | CONTRACT,
    "flow": {"salto", "store", "park"} | CONTRACT,
    "admin": {"salto", "store", "park", "flow"} | CONTRACT,
    "": set(),  # the package's __init__: nothing
    "models": set(),
    "hookspecs": {"models"},
    "plugin": {"salto", "store", "park", "flow", "admin"} | CONTRACT,
    "form": {"park", "admin"},
    # the event listener: started by the host beside the plugin (it adds no hook)
    "events": {"salto", "store", "park", "flow", "plugin"} | CONTRACT,
    "reference": {"salto", "store", "park", "flow", "admin", "plugin", "form", "sandbox", "events"}
    | CONTRACT,
    "support": {
        "salto",
        "store",
        "park",
        "flow",
        "admin",
        "plugin",
        "form",
        "sandbox",
        "reference",
        "events",
    }
    | CONTRACT,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join([*parts, *([child.module] if child.module else [])])
                if base == PACKAGE or base.startswith(PACKAGE + "."):
                    for alias in child.names:
                        full = f"{base}.{alias.name}"
                        found.append((full if full in modules else base, child.lineno, inner))
            elif isinstance(child, ast.Import):
                found.extend(
                    (alias.name, child.lineno, inner)
                    for alias in child.names
                    if alias.name.startswith(PACKAGE)
                )
            visit(child, inner)

    visit(tree, False)
    return found


def _part(module: str) -> str:
    rest = module[len(PACKAGE) + 1 :] if module != PACKAGE else ""
    return rest.split(".")[0]


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def test_imports_point_down_only() -> None:
    wrong = [
        f"{name}:{line} imports {target}"
        for name, imports in GRAPH.items()
        for target, line, _ in imports
        if _part(target) != _part(name) and _part(target) not in MAY_IMPORT[_part(name)]
    ]
    assert wrong == []
    assert set(MAY_IMPORT) == {_part(name) for name in GRAPH}, "a new part needs its rule"


def test_the_salto_client_stands_alone() -> None:
    """``salto/`` imports nothing else of the package, nor the plugin's libraries."""
    for name, path in _modules().items():
        if _part(name) != "salto":
            continue
        assert all(_part(target) == "salto" for target, _, _ in GRAPH[name]), name
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) (pluggy|marshmallow|redis|flask)\b", text, re.M), (
            name
        )


# Imported inside a function only because it needs an extra that a plain install lacks.
NEEDS_AN_EXTRA = {f"{PACKAGE}.reference.admin_web"}  # Flask ("admin")


def test_no_import_circle_and_none_inside_a_function() -> None:
    inside = [
        f"{name}:{line} imports {target} inside a function"
        for name, imports in GRAPH.items()
        for target, line, inner in imports
        if inner and target not in NEEDS_AN_EXTRA
    ]
    assert inside == []
    edges = {
        name: {target for target, _, _ in imports if target in GRAPH and target != name}
        for name, imports in GRAPH.items()
    }
    done: set[str] = set()

    def walk(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError(
                "import circle: " + " -> ".join([*trail[trail.index(name) :], name])
            )
        if name in done:
            return
        for target in sorted(edges[name]):
            walk(target, [*trail, name])
        done.add(name)

    for name in sorted(edges):
        walk(name, [])


def test_the_package_folder_is_small_and_each_part_says_what_it_is() -> None:
    entries = {
        path.name
        for path in SOURCE.iterdir()
        if path.name not in ("__init__.py", "py.typed", "__pycache__")
    }
    # 13: events/ joined the twelve (issue 33 names ireserve_salto_plugin.events)
    assert len(entries) <= 13, sorted(entries)
    for path in SOURCE.iterdir():
        if path.is_dir() and path.name != "__pycache__":
            init = path / "__init__.py"
            assert init.exists(), path.name
            assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), path.name


def test_the_readme_map_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^- `([\w.]+)(?:/|\.py)`", section, re.M))
    there = {
        path.name if path.is_dir() else path.stem
        for path in SOURCE.iterdir()
        if path.name not in ("__init__.py", "py.typed", "__pycache__")
        and (path.is_dir() or path.suffix == ".py")
    }
    assert named == there


def test_the_entry_point_imports_no_support_sandbox_or_reference_code() -> None:
    """What a host loads (``ireserve_salto_plugin.plugin``) carries none of the support
    CLI, the sandbox or the reference host: checked in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import sys, ireserve_salto_plugin.plugin; print(sorted(m for m in sys.modules "
        "if m.split('.')[1:2] in (['support'], ['sandbox'], ['reference']) "
        "and m.startswith('ireserve_salto_plugin.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert out == "[]"


def test_the_tests_mirror_the_package() -> None:
    """Every test file sits in the folder of the layer it tests, or in e2e/ when it crosses
    layers; none is left at the top of tests/."""
    tests = ROOT / "tests"
    layers = {p.name for p in SOURCE.iterdir() if (p / "__init__.py").exists()}
    assert not sorted(tests.glob("test_*.py"))
    folders = {p.parent.relative_to(tests).parts[0] for p in tests.rglob("test_*.py")}
    assert folders <= layers | {"e2e"}, folders - layers
    assert {"salto", "store", "park", "flow", "admin", "e2e"} <= folders


def test_no_module_of_the_package_is_over_350_lines() -> None:
    """A module that grows past this is split along its seams (issue 31)."""
    long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 350
    }
    assert not long, long


def test_the_readme_stays_readable() -> None:
    """The README links to the generated tables and docs/ instead of repeating them."""
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 450
