"""Presets: named lists of schedules (and, for training, their options) kept as data.

Each preset is a TOML file beside this module: a ``description`` and a list
of ``[[runs]]`` tables with at least ``label`` and ``schedule`` (a text spec).
A training preset (``chapter``) also sets the training options at top level,
read and checked by `Preset.training`: ``per`` ("epoch" or "step"),
``epochs``, ``batch_size``, ``model`` ("lenet" or "tf") and ``init``
("torch" or "xavier").
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lrlab.errors import ScheduleError, closest_names
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse

__all__ = ["Preset", "PresetRun", "TrainingOptions", "load_preset", "preset_names"]


@dataclass(frozen=True)
class PresetRun:
    label: str
    schedule: Schedule
    options: dict[str, Any]


@dataclass(frozen=True)
class TrainingOptions:
    """A preset's training options (no torch needed to read them)."""

    per: str = "epoch"
    epochs: int = 30
    batch_size: int = 256
    model: str = "lenet"
    init: str = "torch"


_CHOICES = {"per": ("epoch", "step"), "model": ("lenet", "tf"), "init": ("torch", "xavier")}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    runs: tuple[PresetRun, ...]
    options: dict[str, Any]

    @property
    def training(self) -> TrainingOptions:
        """The training options, checked; defaults where the preset sets none."""
        values: dict[str, Any] = {}
        for key, default in TrainingOptions().__dict__.items():
            value = self.options.get(key, default)
            if isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise ScheduleError(f"preset {self.name!r}: {key} must be an integer > 0; got {key}={value!r}")
            elif value not in _CHOICES[key]:
                allowed = " or ".join(repr(c) for c in _CHOICES[key])
                raise ScheduleError(f"preset {self.name!r}: {key} must be {allowed}; got {key}={value!r}")
            values[key] = value
        return TrainingOptions(**values)


def preset_names() -> list[str]:
    """The names of the presets shipped with lrlab."""
    folder = resources.files("lrlab.lab.experiments")
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
            raise ScheduleError(f"unknown preset {name!r}; {closest_names(name, names)}")
        text = resources.files("lrlab.lab.experiments").joinpath(f"{name}.toml").read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(f"preset {name!r} is not valid TOML: {exc}") from None
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ScheduleError(f"preset {name!r} must have at least one [[runs]] table")
    parsed = []
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or "schedule" not in run:
            raise ScheduleError(f"preset {name!r}: runs[{i}] must have a 'schedule'")
        extra = {k: v for k, v in run.items() if k not in ("label", "schedule")}
        parsed.append(PresetRun(str(run.get("label", run["schedule"])), parse(run["schedule"]), extra))
    options = {k: v for k, v in data.items() if k not in ("runs", "description")}
    return Preset(name, str(data.get("description", "")), tuple(parsed), options)
