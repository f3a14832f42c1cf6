"""The built-in experiments, by name, and the published numbers some of them are compared with.

Each name maps to ``"module:factory"``; the factory takes ``data=`` (a folder
of IDX files, a `lrlab.lab.data.Dataset`, or None to search) and returns an
`lrlab.Experiment`. Modules are imported only when an experiment is used.

The data files beside this module belong to the chapter's experiment: its
training preset (``chapter.toml``), its schedules (``chapter-schedules.toml``)
and the book's printed results (``chapter_results.json``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["BUILTIN", "REFERENCES", "reference"]

BUILTIN: dict[str, str] = {
    "fashion-mnist-lenet": "lrlab.lab.experiments.fashion_mnist:lenet",
    "fashion-mnist-lenet-tf": "lrlab.lab.experiments.fashion_mnist:lenet_tf",
    "fashion-mnist-lenet-xavier": "lrlab.lab.experiments.fashion_mnist:lenet_xavier",
    "fashion-mnist-mlp": "lrlab.lab.experiments.fashion_mnist:mlp",
}

#: published numbers by name: the file beside this module
REFERENCES = {"chapter": "chapter_results.json"}


def reference(name: str) -> dict[str, Any]:
    """The published numbers `name` (see `REFERENCES`), e.g. the d2l chapter's printed runs and bands."""
    text = resources.files(__name__).joinpath(REFERENCES[name]).read_text()
    data: dict[str, Any] = json.loads(text)
    return data
