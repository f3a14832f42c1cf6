"""The architecture, enforced: a lower layer never imports a higher one (docs/architecture.md).

Every ``import`` in every module counts, including the ones inside functions
(a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "lrlab"

#: the layers, lowest first; a module may import its own layer and the ones before it
LAYERS = ["errors", "schedules", "frameworks", "lab", "sweeps", "reports", "front"]
#: where each module belongs, by its dotted name below ``lrlab`` (the first match wins)
PLACES = {
    "errors": "errors",
    "schedules": "schedules",
    "frameworks": "frameworks",
    "torch": "frameworks",  # the public re-exports of lrlab.frameworks.*
    "keras": "frameworks",
    "optax": "frameworks",
    "mxnet": "frameworks",
    "plateau": "frameworks",
    "compat": "frameworks",
    "lab": "lab",
    "sweeps": "sweeps",
    "reports": "reports",
    "cli": "front",
    "api": "front",
    "__main__": "front",
}
#: third-party packages a layer must never import
FORBIDDEN = {
    "errors": {"numpy", "torch", "keras", "jax", "optax", "matplotlib", "ray"},
    "schedules": {"torch", "keras", "jax", "optax", "mxnet", "matplotlib", "ray", "scipy"},
    "lab": {"matplotlib", "ray", "jinja2"},  # training never draws
    "reports": {"torch", "keras", "jax", "ray"},  # reports read files only
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(("lrlab", *parts)), path))
    return found


def layer_of(module: str) -> str | None:
    """The layer of ``lrlab.<...>`` (None for the root package, which re-exports the public surface)."""
    parts = module.split(".")
    if parts[0] != "lrlab" or len(parts) == 1:
        return None
    return PLACES.get(parts[1])  # None: a name of the root package (`from lrlab import __version__`)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            if base == "lrlab":  # `from lrlab import x`: x may be a subpackage
                names += [(node.lineno, f"lrlab.{alias.name}") for alias in node.names]
            else:
                names.append((node.lineno, base))
    return names


MODULES = _modules()


def test_every_module_has_a_layer() -> None:
    missing = [name for name, _ in MODULES if name != "lrlab" and name.split(".")[1] not in PLACES]
    assert not missing, f"add these to PLACES (and to docs/architecture.md): {missing}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_no_module_imports_a_higher_layer(module: str, path: Path) -> None:
    mine = layer_of(module)
    if mine is None:
        return  # the root package: checked by test_the_root_package_imports_only_the_core
    bad = []
    for line, target in _imports(path, module):
        top = target.split(".")[0]
        if top in FORBIDDEN.get(mine, set()):
            bad.append(f"line {line}: {target} (the {mine} layer must not use {top})")
        theirs = layer_of(target) if top == "lrlab" else None
        if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
            bad.append(f"line {line}: {target} is in the {theirs} layer, above {mine}")
    assert not bad, f"{path.relative_to(SRC.parent)}: " + "; ".join(bad)


def test_the_root_package_imports_only_the_core_at_import_time() -> None:
    """``import lrlab`` loads the schedules; the lab's functions are found lazily (module ``__getattr__``)."""
    tree = ast.parse((SRC / "__init__.py").read_text())
    eager = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    targets = [n.module or "" for n in eager if isinstance(n, ast.ImportFrom)] + [
        a.name for n in eager if isinstance(n, ast.Import) for a in n.names
    ]
    layers = {layer_of(t) for t in targets if t.startswith("lrlab.")}
    assert layers <= {"errors", "schedules"}, targets


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The test above would notice a schedule module importing the lab."""
    bad = tmp_path / "decay.py"
    bad.write_text("def f():\n    from lrlab.lab.train import Trainer\n    import torch\n")
    found = _imports(bad, "lrlab.schedules.decay")
    assert (2, "lrlab.lab.train") in found and (3, "torch") in found
    assert LAYERS.index(layer_of("lrlab.lab.train") or "") > LAYERS.index("schedules")
