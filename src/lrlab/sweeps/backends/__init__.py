"""Where a sweep's trials run: a registry of backends, one module each.

A backend is a function that takes a `lrlab.sweeps.run.SweepJob` (the
unfinished trials, the trainer's config and data, the runner's hooks), trains
every trial and hands each finished record to ``job.done``. The runner
(`lrlab.sweeps.run`) does the rest: the folder, resuming, ``results.jsonl``,
the progress log. A module of this package registers its backend with
`register_backend`; every module here is loaded with the package, so a new
backend is one new module::

    @register_backend("slurm", description="each trial as a Slurm job", takes=("address",))
    def run_slurm(job: SweepJob) -> None:
        for trial in job.trials:
            ...  # send job.run_trial(trial, job.config, job.data, job.folder(trial)) there
            job.done(record)

Built in: ``local`` (this process, one trial after another) and ``ray``
(Ray tasks; ``asha=True`` runs them under Ray Tune's ASHA scheduler).

>>> sorted(BACKENDS), sorted(get_backend("ray").takes)
(['local', 'ray'], ['address', 'asha'])
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lrlab.errors import SweepError

if TYPE_CHECKING:
    from lrlab.sweeps.run import SweepJob

__all__ = ["BACKEND_OPTIONS", "Backend", "BACKENDS", "register_backend", "get_backend"]

#: the options of `lrlab.sweeps.run.run_sweep` that only some backends take
BACKEND_OPTIONS = ("address", "asha")

Runner = Callable[["SweepJob"], None]


@dataclass(frozen=True)
class Backend:
    """A registered backend: its name, the function that runs a `SweepJob`, a one-line description, its options."""

    name: str
    run: Runner
    description: str
    takes: frozenset[str] = frozenset()


#: the backends by name, in the order registered
BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, *, description: str, takes: Iterable[str] = ()) -> Callable[[Runner], Runner]:
    """Register the decorated function as backend `name`; `takes` lists the `BACKEND_OPTIONS` it accepts."""
    options = frozenset(takes)
    unknown = sorted(options - set(BACKEND_OPTIONS))
    if unknown:
        known = ", ".join(BACKEND_OPTIONS)
        raise SweepError(f"backend {name!r} takes unknown options {unknown}; the options are {known}")

    def register(run: Runner) -> Runner:
        if name in BACKENDS:
            raise SweepError(f"backend {name!r} is registered twice (by {BACKENDS[name].run.__module__} first)")
        BACKENDS[name] = Backend(name, run, description, options)
        return run

    return register


def get_backend(name: str) -> Backend:
    """The backend called `name`; an unknown name raises `SweepError` listing the valid ones."""
    if name not in BACKENDS:
        raise SweepError(f"backend must be {' or '.join(repr(n) for n in BACKENDS)}; got backend={name!r}")
    return BACKENDS[name]


def _load() -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_load()
