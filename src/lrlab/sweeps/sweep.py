"""Sweeps: a spec template, a grid (or a random search) and seeds, expanded into trials.

A sweep answers a question such as "how long should warmup last?" with data.
Its `template` (`lrlab.sweeps.template`) is a text spec with placeholders in
braces; its grid or random search (`lrlab.sweeps.grid`) gives the parameter
values; each setting runs once per seed.

`expand` turns a sweep into `Trial` values, one per setting and seed, in
grid order with the seeds innermost; each has a stable `Trial.trial_id`
(a filesystem-safe name and a short hash of the sorted parameters and the
seed) and the parsed schedule.

>>> sweep = Sweep("warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})", grid={"w": (0, 5)}, seeds=(0, 1))
>>> [t.spec for t in expand(sweep)][::2]
['warmup(cosine(0.3, steps=30, final_lr=0.01), steps=0)', 'warmup(cosine(0.3, steps=25, final_lr=0.01), steps=5)']
>>> expand(sweep)[2].trial_id  # doctest: +ELLIPSIS
'w=5_seed=0-...'

Sweeps are data too (`load_sweep` reads TOML, and YAML when PyYAML is
installed); the presets in ``lrlab/sweeps/presets/`` answer the exercises
of the learning-rate scheduling chapter. `lrlab.sweeps.summary` turns the
final metrics of the trials into a table and one sentence.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import numbers
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.errors import ScheduleError, SweepError, closest_names
from lrlab.lab.config import PER, TrainConfig
from lrlab.lab.stats import Metric
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse
from lrlab.sweeps.grid import Distribution, parse_grid, parse_random, parse_seeds
from lrlab.sweeps.template import Number, Template, bad, format_number, setting_label

__all__ = [
    "SweepError",
    "Metric",
    "Sweep",
    "Trial",
    "expand",
    "setting_id",
    "trial_id",
    "setting_label",
    "load_sweep",
    "sweep_from_dict",
    "sweep_names",
    "PERS",
]

#: what one unit of a schedule's clock is when training
PERS = PER  # the trainer's clocks (lrlab.lab.config)
#: the training defaults a sweep starts from: the trainer's own, not a copy
_DEFAULTS = TrainConfig()
#: the file formats `load_sweep` reads, by suffix
SUFFIXES = (".toml", ".yaml", ".yml")

_PRESETS = "presets"
_MAX_NAME = 80


def _metric(text: Any) -> Metric:
    return Metric.parse(text, where="conclusion_metric", error=SweepError)


# -- ids -------------------------------------------------------------------------
def _ident(params: Mapping[str, Number], extra: Sequence[tuple[str, Number]] = ()) -> str:
    items = [(k, format_number(v)) for k, v in sorted(params.items())]
    items += [(k, format_number(v)) for k, v in extra]
    name = "_".join(f"{k}={v}" for k, v in items) or "default"
    safe = re.sub(r"[^A-Za-z0-9.=+-]+", "_", name)[:_MAX_NAME]
    digest = hashlib.sha256(json.dumps(items).encode()).hexdigest()[:8]
    return f"{safe}-{digest}"


def setting_id(params: Mapping[str, Number]) -> str:
    """A stable, filesystem-safe id of a setting: ``"w=5-<hash>"`` (same for ``5`` and ``5.0``)."""
    return _ident(params)


def trial_id(params: Mapping[str, Number], seed: int) -> str:
    """A stable, filesystem-safe id of one run: ``"w=5_seed=0-<hash>"``."""
    return _ident(params, [("seed", seed)])


# -- the sweep ---------------------------------------------------------------------
@dataclass(frozen=True)
class Trial:
    """One run of a sweep: a setting of the parameters, a seed, and the schedule they give."""

    params: Mapping[str, Number]
    seed: int
    spec: str
    schedule: Schedule
    trial_id: str

    @property
    def setting_id(self) -> str:
        """The id of the setting (the parameters without the seed)."""
        return setting_id(self.params)

    @property
    def label(self) -> str:
        """``"lr=0.01, w=5"``."""
        return setting_label(self.params)


@dataclass(frozen=True)
class Sweep:
    """A sweep's definition: template, grid and/or random search, seeds, epochs, options.

    ``per`` says what one unit of the schedule's clock is when training
    (``"epoch"`` or ``"step"``); ``options`` holds training options passed
    through to the trainer unchanged (batch size, optimizer, ...).
    Everything is checked here; `expand` checks that every spec parses.
    """

    template: str
    grid: Mapping[str, Sequence[Number]] = field(default_factory=dict)
    random: Mapping[str, Distribution] = field(default_factory=dict)
    trials: int = 0
    search_seed: int = 0
    seeds: Sequence[int] = (0,)
    epochs: int = _DEFAULTS.epochs
    per: str = _DEFAULTS.per
    options: Mapping[str, Any] = field(default_factory=dict)
    conclusion_metric: Metric = field(default_factory=Metric)
    name: str = ""
    description: str = ""
    parsed_template: Template = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        template = Template(self.template)
        object.__setattr__(self, "parsed_template", template)
        if not isinstance(self.grid, Mapping):
            raise bad("grid", self.grid, "a table of parameter names to values")
        if not isinstance(self.random, Mapping):
            raise bad("random", self.random, "a table of parameter names to distributions")
        grid = parse_grid(self.grid, where="grid")
        random = parse_random(self.random, where="random")
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "random", random)
        for name in random:
            if name in grid:
                raise SweepError(
                    f"parameter {name!r} must be in the grid or the random search, not both; "
                    f"got grid {name}={list(grid[name])} and random {name}={str(random[name])!r}"
                )
        params = [*grid, *random]
        unknown = sorted(template.names - set(params))
        if unknown:
            word = unknown[0]
            hint = closest_names(word, params) if params else "add it to the grid"
            raise SweepError(
                f"template placeholder uses unknown parameter {word!r} ({hint}); "
                f"got template={self.template!r} with parameters {params}"
            )
        unused = [p for p in params if p not in template.names]
        if unused:
            raise SweepError(
                f"parameter {unused[0]!r} is not used by the template; add {{{unused[0]}}} to it or drop "
                f"the parameter; got template={self.template!r}"
            )
        if isinstance(self.trials, bool) or not isinstance(self.trials, numbers.Integral):
            raise bad("trials", self.trials, "a whole number")
        if random and self.trials < 1:
            raise bad("trials", self.trials, ">= 1 with a random search")
        if not random and self.trials != 0:
            raise bad("trials", self.trials, "0 without random parameters (add some with random)")
        ss = self.search_seed
        if isinstance(ss, bool) or not isinstance(ss, numbers.Integral) or ss < 0:
            raise bad("search_seed", ss, "a whole number >= 0")
        object.__setattr__(self, "seeds", parse_seeds(self.seeds))
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, numbers.Integral) or self.epochs < 1:
            raise bad("epochs", self.epochs, "a whole number >= 1")
        if self.per not in PERS:
            raise bad("per", self.per, " or ".join(repr(p) for p in PERS))
        if not isinstance(self.options, Mapping) or any(not isinstance(k, str) for k in self.options):
            raise bad("options", self.options, "a table of option names to values")
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "conclusion_metric", _metric(self.conclusion_metric))
        for key in ("name", "description"):
            if not isinstance(getattr(self, key), str):
                raise bad(key, getattr(self, key), "a string")

    @property
    def parameters(self) -> tuple[str, ...]:
        """Grid parameters in order, then random ones sorted."""
        return (*self.grid, *sorted(self.random))

    def describe(self) -> str:
        """The description with ``{epochs}``, ``{seeds}`` ("3 seeds"), ``{per}`` and ``{experiment}`` filled in.

        A preset's description can so say what a run with ``--epochs 3 --seeds 1`` really trained.

        >>> sweep = Sweep("constant({lr})", grid={"lr": [0.1]}, epochs=3, description="{epochs} epochs of {experiment}")
        >>> sweep.describe()
        '3 epochs of fashion-mnist-lenet'
        """
        values = {
            "epochs": self.epochs,
            "seeds": f"{len(self.seeds)} seed{'' if len(self.seeds) == 1 else 's'}",
            "per": self.per,
            "experiment": self.options.get("experiment", _DEFAULTS.experiment),
        }

        class Keep(dict[str, Any]):
            def __missing__(self, key: str) -> str:
                return "{" + key + "}"

        try:
            return " ".join(self.description.format_map(Keep(values)).split())
        except (ValueError, IndexError):
            return " ".join(self.description.split())

    def settings(self) -> list[dict[str, Number]]:
        """Every setting: the grid's product (first parameter slowest) times the random draws."""
        points = [dict(zip(self.grid, combo, strict=True)) for combo in itertools.product(*self.grid.values())]
        if self.random:
            rng = np.random.default_rng(int(self.search_seed))
            draws = [{n: self.random[n].sample(rng) for n in sorted(self.random)} for _ in range(self.trials)]
            points = [{**p, **d} for p in points for d in draws]
        out: dict[str, dict[str, Number]] = {}
        for point in points:
            out.setdefault(setting_id(point), point)  # repeated draws count once
        return list(out.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `sweep_from_dict` reads back into an equal sweep."""
        data: dict[str, Any] = {"template": self.template}
        if self.name:
            data["name"] = self.name
        if self.description:
            data["description"] = self.description
        data["grid"] = {k: list(v) for k, v in self.grid.items()}
        if self.random:
            data["random"] = {k: str(v) for k, v in self.random.items()}
            data["trials"] = int(self.trials)
            data["search_seed"] = int(self.search_seed)
        data.update(
            seeds=list(self.seeds),
            epochs=int(self.epochs),
            per=self.per,
            options=dict(self.options),
            conclusion_metric=str(self.conclusion_metric),
        )
        return data

    @property
    def fingerprint(self) -> str:
        """A short hash of everything that changes the runs (not the name or description)."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("name", "description")}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def expand(sweep: Sweep) -> list[Trial]:
    """Every trial of `sweep`: each setting (see `Sweep.settings`) with each seed, seeds innermost.

    Each expanded spec is parsed; a bad value raises `SweepError` naming the
    template, the parameter values and the parser's message.
    """
    trials: list[Trial] = []
    template = sweep.parsed_template
    for params in sweep.settings():
        text = template.render(params)
        try:
            schedule = parse(text)
        except ScheduleError as exc:
            raise SweepError(
                f"template {sweep.template!r} with {setting_label(params)} gives {text!r}, which is not a valid "
                f"schedule: {exc}"
            ) from None
        spec = str(schedule)
        for seed in sweep.seeds:
            trials.append(Trial(dict(params), int(seed), spec, schedule, trial_id(params, seed)))
    return trials


# -- files --------------------------------------------------------------------------
_FIELDS = (
    "template",
    "grid",
    "random",
    "trials",
    "search_seed",
    "seeds",
    "epochs",
    "per",
    "options",
    "conclusion_metric",
    "name",
    "description",
)


def sweep_from_dict(data: Mapping[str, Any], *, name: str = "") -> Sweep:
    """A sweep from a TOML/YAML table; unknown keys are errors (with the closest field names)."""
    where = f"sweep {name!r}" if name else "sweep"
    if not isinstance(data, Mapping):
        raise SweepError(f"{where} must be a table of fields; got {type(data).__name__}")
    for key in data:
        if key not in _FIELDS:
            raise SweepError(f"{where} has an unknown field {key!r}; {closest_names(str(key), _FIELDS)}")
    if "template" not in data:
        raise SweepError(f'{where} needs a template, e.g. template = "cosine({{lr}}, steps=30)"')
    kwargs = dict(data)
    kwargs.setdefault("name", name)
    try:
        grid = kwargs.get("grid", {})
        if not isinstance(grid, Mapping):
            raise bad("grid", grid, "a table of parameter names to lists or range strings")
        kwargs["grid"] = parse_grid(grid, where="grid")
        random = kwargs.get("random", {})
        if not isinstance(random, Mapping):
            raise bad("random", random, "a table of parameter names to distributions")
        kwargs["random"] = parse_random(random, where="random")
        kwargs["conclusion_metric"] = _metric(kwargs.get("conclusion_metric", "max:test_acc"))
        return Sweep(**kwargs)
    except SweepError as exc:
        raise SweepError(f"{where}: {exc}") from None


def sweep_names() -> list[str]:
    """The names of the sweeps shipped with lrlab."""
    folder = resources.files("lrlab.sweeps").joinpath(_PRESETS)
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(SUFFIXES))


def _read(text: str, suffix: str, name: str) -> Any:
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SweepError(f"sweep {name!r} is not valid TOML: {exc}") from None
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise SweepError(f"reading the YAML sweep {name!r} needs PyYAML: pip install pyyaml") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SweepError(f"sweep {name!r} is not valid YAML: {exc}") from None


def load_sweep(name_or_path: str | Path) -> Sweep:
    """Load a shipped sweep by name (see `sweep_names`) or a ``.toml``/``.yaml`` file by path.

    >>> load_sweep("exercise-warmup-length").grid
    {'w': (0, 1, 2, 5, 10)}
    """
    path = Path(name_or_path)
    if path.suffix in SUFFIXES or path.exists():
        if not path.is_file():
            raise SweepError(f"sweep file {str(path)!r} does not exist")
        if path.suffix not in SUFFIXES:
            raise bad("sweep file", str(path), "a .toml, .yaml or .yml file")
        return sweep_from_dict(_read(path.read_text(), path.suffix, path.stem), name=path.stem)
    name = str(name_or_path)
    names = sweep_names()
    if name not in names:
        raise SweepError(f"unknown sweep {name!r}; {closest_names(name, names)}")
    folder = resources.files("lrlab.sweeps").joinpath(_PRESETS)
    for suffix in SUFFIXES:
        entry = folder.joinpath(name + suffix)
        if entry.is_file():
            return sweep_from_dict(_read(entry.read_text(), suffix, name), name=name)
    raise SweepError(f"unknown sweep {name!r}")  # pragma: no cover


def plan_sweep(
    base: Sweep | str | Path | None = None,
    *,
    template: str | None = None,
    grid: Mapping[str, Any] | Sequence[str] | None = None,
    random: Mapping[str, Any] | Sequence[str] | None = None,
    seeds: Any = None,
    options: Mapping[str, Any] | None = None,
    where: str = "",
    **fields: Any,
) -> Sweep:
    """A sweep from `base` (a `Sweep`, a shipped name or a file; None: nothing) with the given values on top.

    The command line and `lrlab.sweep` both build their sweep here. `grid` and
    `random` add to (or replace) the base's parameters, in table or ``NAME=VALUES``
    form; `options` (training options: ``experiment``, ``batch_size``,
    ``optimizer``) add to the base's; `fields` (``epochs``, ``per``, ``trials``,
    ``search_seed``, ``conclusion_metric``) replace it where not None. `where`
    prefixes option names in errors (``"--"`` on the command line).
    """
    from lrlab.sweeps.grid import parse_grid, parse_random, parse_seeds

    if isinstance(base, Sweep):
        data = base.to_dict()
    elif base is not None:
        data = load_sweep(base).to_dict()
    elif template is None:
        raise SweepError(f"a sweep needs a template such as 'cosine({{lr}}, steps=30)' (or a preset: {where}preset)")
    else:
        data = {}
    if template is not None:
        data["template"] = template
    if grid:
        data["grid"] = {
            **(data.get("grid") or {}),
            **{k: list(v) for k, v in parse_grid(grid, where=f"{where}grid").items()},
        }
    if random:
        data["random"] = {
            **(data.get("random") or {}),
            **{k: str(v) for k, v in parse_random(random, where=f"{where}random").items()},
        }
    data.update({k: v for k, v in fields.items() if v is not None})
    if seeds is not None:
        data["seeds"] = list(parse_seeds(seeds, where=f"{where}seeds"))
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if given:
        data["options"] = {**(data.get("options") or {}), **given}
    return sweep_from_dict(data, name=str(data.get("name", "")))
