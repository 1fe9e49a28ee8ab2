"""Imports point down the floors (utils -> io -> data -> models -> ... -> cli), never up.

Every module of the package is parsed (not imported) and every ``import`` / ``from ... import``
of a ``latentatlas`` module is checked, including imports inside functions: a module may import
its own package, any package on a lower floor, and a package on its own floor only if the
package-level graph of such same-floor imports has no cycle. ``latentatlas/__init__.py`` (the
public facade: ``load``, ``available_models``) may import anything lazily; ``_version`` and
``__main__`` are outside the floors. The floor table lives in one place: :data:`FLOORS`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import latentatlas

PACKAGE_ROOT = Path(latentatlas.__file__).resolve().parent

#: The floors, lowest first. A package may import packages on its own or lower floors.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("_version",),
    ("utils",),
    ("io",),
    ("data",),
    ("models",),
    ("scoring", "directions", "metrics", "training"),
    ("analysis", "editing", "report"),
    ("pipelines",),
    ("cli", "studio", "__main__"),
)
#: Modules outside the floor rule: the package facade (lazy imports of the public API).
FACADE = {"latentatlas"}


def floor_of(package: str, floors=FLOORS) -> int:
    for i, names in enumerate(floors):
        if package in names:
            return i
    raise KeyError(f"package {package!r} has no floor in the table; add it to FLOORS")


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every latentatlas import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from latentatlas import data` imports the subpackage `latentatlas.data`.
            if target == "latentatlas":
                found += [(node.lineno, f"latentatlas.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found
            if name == "latentatlas" or name.startswith("latentatlas.")]


def package_of(module: str) -> str:
    """'latentatlas.models.stylegan2' -> 'models'; the facade 'latentatlas' -> 'latentatlas'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph(root: Path = PACKAGE_ROOT) -> list[tuple[str, int, str, str]]:
    """(file, line, importing package, imported package) for every import between packages."""
    edges = []
    for path in sorted(root.rglob("*.py")):
        if "zoo" in path.relative_to(root).parts:
            continue
        mod = module_name(path, root)
        src_pkg = package_of(mod)
        for line, target in imported_modules(path.read_text("utf-8"), mod,
                                             path.name == "__init__.py"):
            dst_pkg = package_of(target)
            if dst_pkg != src_pkg:
                edges.append((str(path.relative_to(root)), line, src_pkg, dst_pkg))
    return edges


def violations(edges, floors=FLOORS) -> list[str]:
    """Upward imports, and cycles among same-floor packages."""
    bad = []
    same_floor: dict[str, set[str]] = {}
    for file, line, src, dst in edges:
        if src in FACADE:
            continue
        if dst in FACADE:
            bad.append(f"{file}:{line}: {src} imports the package facade 'latentatlas' "
                       "(import the module that defines the name instead)")
            continue
        fs, fd = floor_of(src, floors), floor_of(dst, floors)
        if fd > fs:
            bad.append(f"{file}:{line}: {src} (floor {fs}) imports {dst} (floor {fd}): upward")
        elif fd == fs:
            same_floor.setdefault(src, set()).add(dst)
    for cycle in _cycles(same_floor):
        bad.append("same-floor import cycle: " + " -> ".join(cycle))
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "active"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "active":
                found.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_every_package_has_a_floor():
    packages = {package_of(module_name(p)) for p in PACKAGE_ROOT.rglob("*.py")
                if "zoo" not in p.relative_to(PACKAGE_ROOT).parts}
    missing = sorted(p for p in packages - FACADE if not any(p in f for f in FLOORS))
    assert not missing, f"packages without a floor in FLOORS: {missing}"


def test_imports_point_down_the_floors():
    bad = violations(import_graph())
    assert not bad, "upward or circular imports:\n" + "\n".join(bad)


def test_version_module_imports_nothing():
    tree = ast.parse((PACKAGE_ROOT / "_version.py").read_text("utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_a_planted_upward_import_is_caught(tmp_path):
    """The check itself can fail: a synthetic package where models imports cli, inside a
    function, and a same-floor cycle between scoring and training."""
    root = tmp_path / "latentatlas"
    for pkg, body in {
        "utils": "",
        "models": "def f():\n    from latentatlas.cli import main\n",
        "cli": "from latentatlas.models import f\n",
        "scoring": "from . import x\nfrom ..training import loop\n",
        "training": "import latentatlas.scoring.base\n",
    }.items():
        (root / pkg).mkdir(parents=True)
        (root / pkg / "__init__.py").write_text(body)
    (root / "__init__.py").write_text("")
    bad = violations(import_graph(root))
    assert any("models (floor 4) imports cli (floor 8): upward" in b for b in bad), bad
    assert any("cycle" in b and "scoring" in b and "training" in b for b in bad), bad
    assert len(bad) == 2, bad  # cli -> models (downward) and the relative `from . import x` pass


@pytest.mark.parametrize("package, expected", [("utils", 1), ("cli", 8), ("pipelines", 7)])
def test_floor_table(package, expected):
    assert floor_of(package) == expected
