"""Presets: named lists of schedules (and, for training, their options) kept as data.

Each preset is a TOML file in ``lrlab/lab/experiments/``: a ``description``
and a list of ``[[runs]]`` tables with at least ``schedule`` (a text spec)
and usually a ``label``. A training preset (``chapter``) also sets training
options at top level -- any field of `lrlab.lab.config.TrainConfig`
(``experiment``, ``epochs``, ``batch_size``, ``per``, ``optimizer``), checked
by it (an unknown key is an error). The description may name those options
in braces (``{epochs} epochs``): `Preset.describe` fills in the values a job
actually ran with. A plotting preset may set ``steps``, the number of steps
to draw.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lrlab.errors import LabError, LrlabError, closest_names
from lrlab.lab.config import TrainConfig
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse

__all__ = ["Preset", "PresetRun", "load_preset", "preset_names"]

_FOLDER = "lrlab.lab.experiments"
#: top-level keys of a preset that are not training options
_OWN = ("runs", "description", "steps")


@dataclass(frozen=True)
class PresetRun:
    label: str
    schedule: Schedule


@dataclass(frozen=True)
class Preset:
    """A preset: its schedules, the training options it sets, and its description."""

    name: str
    description: str
    runs: tuple[PresetRun, ...]
    options: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None

    @property
    def config(self) -> TrainConfig:
        """The training config the preset sets (defaults for what it leaves out)."""
        try:
            return TrainConfig.from_dict(self.options)
        except LrlabError as exc:
            raise LabError(f"preset {self.name!r}: {exc}") from None

    def describe(self, config: TrainConfig | None = None) -> str:
        """The description with ``{epochs}``, ``{batch_size}``, ``{per}``, ... filled in from `config`."""
        values = (config or self.config).to_dict()
        values["optimizer"] = values["optimizer"] or "sgd"
        try:
            return self.description.format(**values)
        except (KeyError, IndexError, ValueError):
            return self.description


def preset_names() -> list[str]:
    """The names of the presets shipped with lrlab."""
    folder = resources.files(_FOLDER)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str | Path) -> Preset:
    """Load a shipped preset by name, or any preset file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, name = path.read_text(), path.stem
    else:
        name = str(name_or_path)
        names = preset_names()
        if name not in names:
            raise LabError(f"unknown preset {name!r}; {closest_names(name, names)}")
        text = resources.files(_FOLDER).joinpath(f"{name}.toml").read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"preset {name!r} is not valid TOML: {exc}") from None
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise LabError(f"preset {name!r} must have at least one [[runs]] table")
    parsed = []
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or "schedule" not in run:
            raise LabError(f"preset {name!r}: runs[{i}] must have a 'schedule'")
        unknown = sorted(set(run) - {"label", "schedule"})
        if unknown:
            raise LabError(
                f"preset {name!r}: runs[{i}] has an unknown key {unknown[0]!r}; a run has label and schedule"
            )
        parsed.append(PresetRun(str(run.get("label", run["schedule"])), parse(run["schedule"])))
    options = {k: v for k, v in data.items() if k not in _OWN}
    steps = data.get("steps")
    preset = Preset(name, str(data.get("description", "")), tuple(parsed), options, steps)
    preset.config  # noqa: B018 - checks the options now, naming the preset
    return preset
