"""The package's layers (ARCHITECTURE.md): each imports only the layers below it, the
tensor layers load neither Lightning nor pandas, modules and functions stay small."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "latentode"

#: layer -> the layers its modules may import (itself included)
ALLOWED = {
    "_version": set(),
    "nn": {"nn"},
    "data": {"data", "nn"},
    "models": {"models", "nn", "data"},
    "training": {"training", "models", "nn", "data"},
    "frames": {"frames", "data"},
    "naive": {"naive", "data", "frames"},
    "datasets": {"datasets", "data", "frames"},
    "estimators": {
        "estimators",
        "training",
        "models",
        "nn",
        "data",
        "frames",
        "naive",
        "_version",
    },  # fmt: skip
    "cli": {"cli", "estimators", "training", "datasets", "naive", "frames", "data", "_version"},
    "__init__": {"_version"},
    "__main__": {"cli"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    """Top-level latentode subpackages ``path`` imports (relative or absolute)."""
    tree = ast.parse(path.read_text())
    depth_of_file = len(path.relative_to(PKG).parts) - 1
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1
                base = list(path.relative_to(PKG).parts[:depth_of_file])
                base = base[: len(base) - up] if up else base
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    out.add(parts[0])
                else:  # ``from . import x`` at the top level
                    out.update(a.name for a in node.names)
            elif node.module and node.module.split(".")[0] == "latentode":
                parts = node.module.split(".")
                if len(parts) > 1:
                    out.add(parts[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "latentode" and len(parts) > 1:
                    out.add(parts[1])
    return out


SOURCES = sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_go_down_the_layers(path):
    layer = _layer(path)
    assert layer in ALLOWED, f"{path}: layer {layer!r} is not in ARCHITECTURE.md's table"
    wrong = _imported_layers(path) - ALLOWED[layer]
    assert not wrong, f"{path.relative_to(PKG)} ({layer}) imports {sorted(wrong)}"


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {m.split(".")[0] for m in out.stdout.split()}


@pytest.mark.parametrize(
    "statement",
    ["import latentode", "import latentode.nn", "import latentode.models", "import latentode.data"],
)
def test_tensor_layers_load_no_heavy_dependency(statement):
    heavy = {"lightning", "pandas", "sklearn", "matplotlib"} & _loaded_after(statement)
    assert not heavy, f"{statement!r} loads {sorted(heavy)}"


def test_top_level_names_load_lazily():
    import latentode

    assert latentode.LatentODE.__name__ == "LatentODE"
    assert latentode.SolverConfig.__name__ == "SolverConfig"
    assert isinstance(latentode.__version__, str)
    with pytest.raises(AttributeError, match="no attribute"):
        latentode.not_a_name  # noqa: B018


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_modules_and_functions_stay_small():
    long_modules, long_functions = [], []
    for path in SOURCES:
        text = path.read_text()
        if text.count("\n") > 420:  # "about 400"
            long_modules.append(f"{path.relative_to(PKG)}: {text.count(chr(10))} lines")
        for fn in _functions(ast.parse(text)):
            n = fn.end_lineno - fn.lineno + 1
            if ast.get_docstring(fn, clean=False) is not None:  # code lines only
                n -= fn.body[0].end_lineno - fn.body[0].lineno + 1
            if n > 80:
                long_functions.append(f"{path.relative_to(PKG)}:{fn.name}: {n} lines")
    assert not long_modules, long_modules
    assert not long_functions, long_functions
