"""The modules import one another in layers: no circle among the engine, the limits, the preamble and the options.

Two views of the same claim. The source's imports, read with `ast` (every import: at the top, inside a function,
under `if TYPE_CHECKING:`), make a graph of the package, in which none of these modules shares a circle with
another. And a fresh interpreter imports each of them while the modules above it are blocked, so that no import
at run time reaches up either.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpexplain
import bpexplain.engine
import bpexplain.options

PACKAGE = Path(bpexplain.__file__).parent
# lowest first: each may import those before it, never those after it
LAYERS = ("bpexplain.limits", "bpexplain.options", "bpexplain.preamble", "bpexplain.engine")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str) -> set[str]:
    """Every module of the package that `name`'s source imports, wherever the import statement stands."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def _reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph[m])
    return seen


GRAPH = {m: _imports(m) for m in MODULES}


def test_the_graph_is_read_from_the_source() -> None:
    assert "bpexplain.options" in GRAPH["bpexplain.engine"]
    assert "bpexplain.preamble" in GRAPH["bpexplain.engine"]  # `from . import preamble`
    assert "bpexplain.limits" in GRAPH["bpexplain.options"]
    assert "bpexplain.spec" in GRAPH["bpexplain.preamble"]
    assert "bpexplain.layers" in GRAPH["bpexplain.spec"]  # inside parse_network, counted all the same
    assert "bpexplain.options" in GRAPH["bpexplain.preamble"]  # under `if TYPE_CHECKING:`, counted all the same
    assert "bpexplain.layers.base" in GRAPH["bpexplain.preamble"]


@pytest.mark.parametrize("module", LAYERS)
def test_no_module_of_the_four_reaches_one_above_it(module: str) -> None:
    above = set(LAYERS[LAYERS.index(module) + 1 :])
    assert not _reachable(module, GRAPH) & above


@pytest.mark.parametrize("module", ["bpexplain.options", "bpexplain.preamble", "bpexplain.engine"])
def test_no_circle_passes_through_the_options_the_preamble_or_the_engine(module: str) -> None:
    assert module not in _reachable(module, GRAPH)


@pytest.mark.parametrize("module", LAYERS[:-1])
def test_each_imports_at_run_time_with_the_modules_above_it_blocked(module: str) -> None:
    above = LAYERS[LAYERS.index(module) + 1 :]
    script = (
        "import sys\n"
        "class Blocked:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name in {above!r}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Blocked())\n"
        f"import {module}\n"
        f"assert not set({above!r}) & set(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()


def test_the_engine_still_hands_out_the_options() -> None:
    assert bpexplain.engine.RunOptions is bpexplain.options.RunOptions
    assert bpexplain.engine.check_options is bpexplain.options.check_options


# the error type and the record base it is built on
ERRORS = {"bpexplain.errors"} | _reachable("bpexplain.errors", GRAPH)


def test_the_limits_import_only_the_errors() -> None:
    assert _reachable("bpexplain.limits", GRAPH) == ERRORS


def test_the_document_is_read_below_the_vocabulary_and_the_vocabulary_below_the_network() -> None:
    assert _reachable("bpexplain.yamldoc", GRAPH) == ERRORS | {"bpexplain.limits"}
    assert _reachable("bpexplain.reader", GRAPH) == ERRORS | {"bpexplain.limits", "bpexplain.yamldoc"}
    assert {"bpexplain.yamldoc", "bpexplain.reader"} <= GRAPH["bpexplain.spec"]
    assert not _reachable("bpexplain.spec", GRAPH) & {"bpexplain.options", "bpexplain.preamble", "bpexplain.engine"}


def test_spec_still_hands_out_what_was_imported_from_it_before_the_split() -> None:
    import bpexplain.reader
    import bpexplain.spec
    import bpexplain.yamldoc

    for module in (bpexplain.yamldoc, bpexplain.reader):
        for name in set(bpexplain.spec.__all__) & set(vars(module)):
            assert getattr(bpexplain.spec, name) is getattr(module, name), name
    moved = {"parse_document", "read_network_text", "bundled_names", "Document", "format_path"}
    assert moved <= set(vars(bpexplain.yamldoc)) and moved <= set(bpexplain.spec.__all__)
    assert {"Reader", "ParamInit", "describe", "format_shape", "_shape_of"} <= set(vars(bpexplain.reader))
