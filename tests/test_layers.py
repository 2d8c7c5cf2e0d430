"""The package layers of partreid_core import one way: a module imports only its own layer and lower ones.

Layers, lowest first (:data:`LAYERS`); analysis sits below experiments because the experiments layer wires
the analysis hooks into runs. Every import counts: module-level and inside functions, relative and absolute.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: groups of top-level packages (or modules: ``config``, ``registry``, ``cli``), lowest first
LAYERS: tuple[tuple[str, ...], ...] = (("config", "registry"), ("data", "losses"), ("models",), ("evaluation",),
                                       ("engine",), ("analysis",), ("experiments",), ("reporting",),
                                       ("commands", "cli"))


@dataclass(frozen=True)
class Edge:
    """``file`` (relative to the package's parent) line ``line`` imports top-level ``target`` from ``source``."""

    file: str
    line: int
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source} -> {self.target}"


def _top(root: Path, f: Path) -> str:
    """The top-level package (or module) a file belongs to: ``engine/hooks.py`` -> engine, ``cli.py`` -> cli;
    the package's own ``__init__.py`` is ``""``."""
    parts = f.relative_to(root).with_suffix("").parts
    return "" if parts == ("__init__",) else parts[0]


def _module_path(root: Path, f: Path) -> list[str]:
    """``engine/hooks.py`` -> [pkg, engine, hooks]; a package's ``__init__.py`` names the package."""
    parts = [root.name, *f.relative_to(root).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def import_edges(root: Path) -> list[Edge]:
    """Every import between two different top-level parts of the package at ``root`` (the folder with its
    ``__init__.py``), in every module, at any depth of the syntax tree."""
    pkg = root.name
    edges = []
    for f in sorted(root.rglob("*.py")):
        source = _top(root, f)
        here = _module_path(root, f)
        package = here if f.name == "__init__.py" else here[:-1]
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            modules: list[tuple[str, ...]] = []
            if isinstance(node, ast.Import):
                modules = [tuple(a.name.split(".")) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    mod = (*base, *(node.module.split(".") if node.module else ()))
                else:
                    mod = tuple((node.module or "").split("."))
                # `from pkg import engine` / `from .. import records`: a name may itself be a module
                modules = [(*mod, a.name) if len(mod) == 1 else mod for a in node.names]
            for mod in modules:
                if mod[0] != pkg or len(mod) < 2:
                    continue
                target = mod[1]
                is_part = (root / target).is_dir() or (root / f"{target}.py").is_file()
                if is_part and target != source:  # not a name of the package's own __init__, not the same part
                    edges.append(Edge(str(f.relative_to(root.parent)), node.lineno, source, target))
    return edges


def layer_violations(root: Path, layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    """One line per import of a higher layer (or of a part no layer names), naming the file and the edge."""
    rank = {name: i for i, group in enumerate(layers) for name in group}
    out = []
    for e in import_edges(root):
        if e.source == "":
            continue  # the package's __init__ may name any layer
        if e.source not in rank or e.target not in rank:
            out.append(f"{e} (not in any layer)")
        elif rank[e.target] > rank[e.source]:
            out.append(f"{e} (a higher layer)")
    return out


def package_graph(root: Path) -> dict[str, set[str]]:
    """Top-level part -> the parts it imports."""
    graph: dict[str, set[str]] = {}
    for e in import_edges(root):
        graph.setdefault(e.source, set()).add(e.target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return [*path[path.index(m):], m]
            if m not in state and (c := visit(m)):
                return c
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


# ---------------------------------------------------------------------------------------------


def test_every_top_level_part_is_in_a_layer():
    pkg = ROOT / "partreid_core"
    parts = {p.name for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    parts |= {p.stem for p in pkg.glob("*.py") if p.stem != "__init__"}
    assert parts == {name for group in LAYERS for name in group}


def test_no_module_imports_a_higher_layer():
    bad = layer_violations(ROOT / "partreid_core")
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)


def test_the_package_graph_has_no_cycle():
    graph = package_graph(ROOT / "partreid_core")
    assert graph["engine"] and "analysis" not in graph["engine"]  # the graph is read, and the engine is task-free
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "fakepkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("statement", [
    "from ..engine.trainer import train",                   # relative, module level
    "from fakepkg.engine import trainer",                   # absolute
    "import fakepkg.engine.trainer",
    "def f():\n    from .. import engine\n    return engine",   # inside a function
])
def test_the_check_catches_a_planted_violation(tmp_path, statement):
    root = _fake_package(tmp_path, {"models/__init__.py": "", "models/net.py": statement + "\n",
                                    "engine/__init__.py": "", "engine/trainer.py": "from ..models import net\n",
                                    "config.py": ""})
    layers = (("config",), ("models",), ("engine",))
    bad = layer_violations(root, layers)
    assert len(bad) == 1 and bad[0].startswith("fakepkg/models/net.py:") and "models -> engine" in bad[0], bad
    assert find_cycle(package_graph(root)) == ["engine", "models", "engine"]


def test_the_check_accepts_lower_layers_and_names_a_part_outside_the_layers(tmp_path):
    root = _fake_package(tmp_path, {"models/__init__.py": "from ..config import x\nfrom . import net\n",
                                    "models/net.py": "from fakepkg.config import y\n", "config.py": "",
                                    "extra.py": "from .models import net\n"})
    layers = (("config",), ("models",))
    assert layer_violations(root, layers) == ["fakepkg/extra.py:1: extra -> models (not in any layer)"]
    assert find_cycle(package_graph(root)) is None
