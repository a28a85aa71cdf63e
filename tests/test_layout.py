"""The package layout and its one direction of dependency (design: frontends -> ir <- passes <- targets).

Read from the source with ``ast`` (every import, module level and inside functions), so a lazy
import cannot hide a wrong-way dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PKG = Path(__file__).resolve().parents[1] / "neurosim"
SHARED = ("neurosim.ir", "neurosim.frontends", "neurosim.passes", "neurosim.hdl", "neurosim.report",
          "neurosim.commands", "neurosim.errors", "neurosim.fileio", "neurosim.constants", "neurosim.torch",
          "neurosim.workloads")
#: the module names every target package holds
TARGET_MODULES = ("config", "model", "hdl", "verify", "report", "plots", "bench", "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported neurosim module, at module level?) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from pkg import sub` depends on the submodule, `from pkg import name` on pkg itself
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        for name in names:
            if name == "neurosim" or name.startswith("neurosim."):
                out.append((name, id(node) in top))
    return out


def _resolve(name: str) -> str | None:
    """The module an imported name lives in (``neurosim.ir.nm.parse_nm`` -> ``neurosim.ir.nm``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _edges(module_level_only: bool = False):
    for mod, path in MODULES.items():
        for name, at_top in _imports(path):
            dep = _resolve(name)
            if dep and dep != mod and (at_top or not module_level_only):
                yield mod, dep


def _under(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


def test_no_module_level_import_cycle():
    g = nx.DiGraph(list(_edges(module_level_only=True)))
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_shared_layers_never_import_a_target():
    wrong = sorted({(m, d) for m, d in _edges() if any(_under(m, s) for s in SHARED) and _under(d, "neurosim.targets")})
    assert not wrong, f"shared layers importing a target: {wrong}"
    assert not [(m, d) for m, d in _edges() if _under(m, "neurosim.ir") and
                any(_under(d, s) for s in ("neurosim.frontends", "neurosim.passes", "neurosim.hdl", "neurosim.report"))]


def test_targets_never_import_each_other():
    targets = sorted({m.split(".")[2] for m in MODULES if m.count(".") >= 2 and m.startswith("neurosim.targets.")})
    assert {"neuromorphic", "sat"} <= set(targets)
    wrong = sorted({(m, d) for m, d in _edges() for a in targets for b in targets
                    if a != b and _under(m, f"neurosim.targets.{a}") and _under(d, f"neurosim.targets.{b}")})
    assert not wrong, f"one target importing another: {wrong}"


@pytest.mark.parametrize("target", ["neuromorphic", "sat"])
def test_every_target_holds_the_same_module_names(target):
    root = PKG / "targets" / target
    present = {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if (p / "__init__.py").exists()}
    assert set(TARGET_MODULES) <= present, f"{target} lacks {sorted(set(TARGET_MODULES) - present)}"


def test_a_targets_hdl_never_imports_its_cycle_model():
    wrong = sorted({(m, d) for m, d in _edges() for t in ("neuromorphic", "sat")
                    if _under(m, f"neurosim.targets.{t}.hdl") and _under(d, f"neurosim.targets.{t}.model")
                    and d != "neurosim.targets.sat.model.tile"})  # the tile contract is the shared spec, not model internals
    assert not wrong, wrong


def test_no_module_named_after_a_target():
    prefixed = sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*") if p.name.startswith(("sat_", "neuromorphic_")))
    assert not prefixed, prefixed


def test_the_root_parser_and_the_targets_do_not_import_each_other():
    assert not [(m, d) for m, d in _edges() if _under(m, "neurosim.targets") and d == "neurosim.cli"]
