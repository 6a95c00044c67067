"""The layers import one way only: every import in the project, also those inside functions.

Why a test: a layer rule that is only written down erodes with the first convenient import.
The order (docs/design.md): core < rules < benchmarks < backends, run < analysis, training < cli,
with one more rule: analysis reads run directories and core only, so reports and notebooks
never depend on benchmark, backend or engine code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("specs_eval", "training", "analysis", "leaderboards")

#: module prefix -> layer (longest prefix wins)
LAYER_OF = {
    "specs_eval": "core",  # the package root holds only __version__
    "specs_eval.core": "core",
    "leaderboards": "core",  # published numbers as data
    "specs_eval.rules": "rules",
    "specs_eval.benchmarks": "benchmarks",
    "specs_eval.backends": "backends",
    "specs_eval.models": "backends",
    "specs_eval.run": "run",
    "analysis": "analysis",
    "training": "training",
    "specs_eval.cli": "cli",
    "specs_eval.lmms": "cli",
    "specs_eval.__main__": "cli",
}

#: layer -> the layers it may import
ALLOWED = {
    "core": {"core"},
    "rules": {"core", "rules"},
    "benchmarks": {"core", "rules", "benchmarks"},
    "backends": {"core", "backends"},
    "run": {"core", "rules", "benchmarks", "backends", "run"},
    "analysis": {"core", "analysis"},
    "training": {"core", "rules", "benchmarks", "backends", "run", "analysis", "training"},
    "cli": {"core", "rules", "benchmarks", "backends", "run", "analysis", "training", "cli"},
}


def layer(module: str) -> str | None:
    best = None
    for prefix in LAYER_OF:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return LAYER_OF[best] if best is not None else None


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(root: Path, dotted: str) -> bool:
    p = root / Path(*dotted.split("."))
    return p.is_dir() or p.with_suffix(".py").exists()


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in the file, wherever it sits."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from pkg import module`` imports the module
            out += [(node.lineno, target)] + [(node.lineno, f"{target}.{a.name}") for a in node.names
                                              if _is_module(root, f"{target}.{a.name}")]
    return out


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            src = layer(module_name(path, root))
            assert src is not None, f"{path} belongs to no layer: add it to LAYER_OF"
            for line, target in imports(path, root):
                dst = layer(target)
                if dst is not None and dst not in ALLOWED[src]:
                    bad.append(f"{path.relative_to(root)}:{line}: {src} imports {dst} ({target})")
    return bad


def test_layers_import_one_way():
    assert violations() == []


def test_every_module_has_a_layer():
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            assert layer(module_name(path)) is not None, path


@pytest.mark.parametrize("module,target", [
    ("specs_eval/core/io.py", "specs_eval.benchmarks"),        # core reaching up
    ("specs_eval/rules/extract.py", "specs_eval.benchmarks.base"),  # the old benchmarks <-> scoring cycle
    ("analysis/gf.py", "specs_eval.benchmarks"),              # analysis reaching into the harness
    ("specs_eval/backends/hf.py", "specs_eval.run.engine"),
])
def test_a_wrong_arrow_is_caught(tmp_path, module, target):
    """Break one arrow on purpose, inside a function body, in a copy of the tree: the test must see it."""
    for pkg in PACKAGES:
        for src in (ROOT / pkg).rglob("*.py"):
            dst = tmp_path / src.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    path = tmp_path / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _broken():\n    import {target}\n", encoding="utf-8")
    found = violations(tmp_path)
    assert len(found) == 1 and target in found[0], found
