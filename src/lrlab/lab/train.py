"""Train an experiment with lrlab schedules, several runs side by side on the same batches.

A *job* is a list of `Run` (label, schedule, seed) trained in one process
with one `TrainConfig` on one `Experiment` (the chapter's LeNet on
Fashion-MNIST unless told otherwise). What a run computes depends only on
the experiment, the config, its schedule and its seed, never on the other
runs of the job:

* its model is built with torch's RNG seeded with ``seed``;
* its random layers (dropout) draw from its own random state, seeded with
  ``seed`` and kept in the checkpoint, not from a state shared with the other runs;
* its batches follow an order drawn from a ``torch.Generator`` seeded with
  ``seed`` (`lrlab.lab.batches`), so runs with the same seed see the same
  batches in the same order -- a paired comparison of schedules -- and
  ``lrlab train --seed 3`` repeats a run of ``compare``;
* its optimizer is its own (``Run(..., optimizer=...)``), else the config's,
  else the experiment's, built at ``schedule(0)``; the rate comes from
  `lrlab.torch.ScheduleLR`: with ``per="epoch"`` epoch ``e`` (from 0) trains
  at ``schedule(e)``, with ``per="step"`` update ``t`` (from 0) at ``schedule(t)``;
* an optimizer with ``train()``/``eval()`` methods (the schedule-free ones)
  is switched to ``train()`` before each epoch's updates and to ``eval()``
  before the evaluation and the checkpoint: the records, the checkpoint and
  the final model are at schedule-free's averaged point x, not at y.

Runs are stepped one after another on each batch (``fused=False``), or all
runs of a seed in one vectorised pass (``fused=True``: ``torch.func.vmap``
over stacked parameters). A run whose loss stops being finite is stopped and
marked diverged; the others go on. After every epoch the job writes its
records and an atomic checkpoint through `lrlab.lab.store.JobStore`, so
``resume=True`` continues a killed job and ends with the same numbers as a
job never interrupted.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import platform
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import lrlab
from lrlab.errors import ExperimentError, TrainError, invalid
from lrlab.frameworks.torch import ScheduleLR
from lrlab.lab.batches import BatchSource, EvalSource, batch_source, eval_source
from lrlab.lab.config import SCHEDULEFREE_INSTALL, OptimizerSpec, TrainConfig
from lrlab.lab.experiment import Data, Experiment, Metric, call_user, cross_entropy, metric_names, resolve_experiment
from lrlab.lab.store import JobResults, JobStore, data_fingerprint, now, results_from_records
from lrlab.lab.workers import EpochTasks, auto_workers, check_workers, data_bytes, default_threads, portable, work_of
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse
from lrlab.schedules.units import bind, has_units, needs

__all__ = [
    "Listener",
    "Run",
    "RunOutcome",
    "TrainConfig",
    "Trainer",
    "resolve_device",
    "resolve_fused",
    "train",
]

_FORMAT = 2
_CHECK_EVERY = 16  # batches between divergence checks (one host sync each)
#: seeds are below 2**63 (torch's generators take a signed 64-bit seed)
SEED_LIMIT = 2**63
#: what torch says when an optimizer's step meets numbers too large for the parameters' type
_NON_FINITE = re.compile(r"overflow|non-finite|\bnan\b|\binf\b|infinity", re.IGNORECASE)


@dataclass(frozen=True, init=False)
class Run:
    """One run of a job: a schedule (or its text spec) and a seed, with a label for tables and legends.

    ``optimizer`` (a spec such as ``"schedulefree_sgd(momentum=0.9)"``) is the
    run's own optimizer in place of the job's; its default label is then
    ``"<schedule> @ <optimizer>"``.
    """

    schedule: Schedule
    seed: int
    label: str
    optimizer: OptimizerSpec | None

    def __init__(
        self, schedule: Schedule | str, seed: int = 0, label: str = "", optimizer: OptimizerSpec | str | None = None
    ) -> None:
        if isinstance(schedule, str):
            schedule = parse(schedule)
        if not isinstance(schedule, Schedule):
            raise invalid("schedule", schedule, "a Schedule or a text spec", where="Run")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise invalid("seed", seed, "an integer >= 0", where="Run", error=TrainError)
        if seed >= SEED_LIMIT:
            raise invalid("seed", seed, "< 2**63 (torch takes 64-bit signed seeds)", where="Run", error=TrainError)
        spec = None if optimizer is None else OptimizerSpec.parse(optimizer)
        object.__setattr__(self, "schedule", schedule)
        object.__setattr__(self, "seed", int(seed))
        object.__setattr__(self, "optimizer", spec)
        object.__setattr__(self, "label", label or (str(schedule) if spec is None else f"{schedule} @ {spec}"))

    def identity(self) -> dict[str, Any]:
        # a run without its own optimizer keeps the identity of earlier versions: their folders still resume
        own = {} if self.optimizer is None else {"optimizer": str(self.optimizer)}
        return {"label": self.label, "schedule": str(self.schedule), "seed": self.seed, **own}


def resolve_device(device: str | torch.device) -> torch.device:
    """`device` as a ``torch.device`` that torch can train on here, or a `TrainError` saying why not."""

    def refuse(requirement: str) -> TrainError:
        return invalid("device", str(device), requirement, where="train", error=TrainError)  # type: ignore[return-value]

    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise refuse("a torch device such as 'cpu' or 'cuda'") from None
    kind = resolved.type
    if kind == "cpu":
        return resolved
    if kind == "meta":
        raise refuse("a device that holds data ('meta' holds none)")
    backend = getattr(torch.backends, "mps", None) if kind == "mps" else getattr(torch, kind, None)
    available = getattr(backend, "is_available", None)
    if not callable(available) or not available():
        raise refuse(f"available (torch here has no {kind} device)")
    count = getattr(backend, "device_count", None)
    if resolved.index is not None and callable(count) and resolved.index >= count():
        raise refuse(f"one of the {count()} {kind} devices ({kind}:0 to {kind}:{count() - 1})")
    return resolved


def resolve_fused(fused: bool | str, device: torch.device) -> bool:
    """``"auto"``: plain on CPU (fusing measured slower there), fused on CUDA."""
    if fused == "auto":
        return device.type == "cuda"
    if isinstance(fused, bool):
        return fused
    raise invalid("fused", fused, "True, False or 'auto'", where="train", error=TrainError)


class Listener:
    """Hooks for progress display and logging; the default does nothing. Called from the training loop."""

    def started(self, trainer: Trainer) -> None:
        """The job is set up; ``trainer.epochs_done`` epochs are already done (resume)."""

    def batch(self, epoch: int, index: int, batches: int | None) -> None:
        """Batch `index` (from 1) of `batches` (None: not known) in epoch `epoch` (from 1) is done."""

    def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
        """Epoch `epoch` (from 1) is done; its records, one per run that trained in it."""

    def finished(self, trainer: Trainer) -> None:
        """All epochs are done."""

    def update(self, outcome: RunOutcome, index: int, lr: float) -> None:
        """A run is about to take its update `index` (from 0) at rate `lr` (called for `Trainer` loggers only)."""

    def close(self) -> None:
        """The job stopped, finished or not (an exception, Ctrl-C): release what is held open."""


@dataclass
class RunOutcome:
    """A run's state in a job, and its result so far."""

    index: int
    run: Run
    run_id: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: ScheduleLR
    diverged_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    # per-epoch accumulators, kept as tensors (no host sync per batch)
    loss_sum: torch.Tensor | None = None
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    seen: int = 0
    updates: int = 0
    seconds: float = 0.0
    lr_first: float = math.nan
    lr_last: float = math.nan
    stopped: bool = False  # diverged in the current epoch
    #: the run's own CPU random state for its training steps (dropout and other random layers draw from it),
    #: so its numbers do not depend on the runs trained beside it in the same process
    rng: torch.Tensor | None = None

    @property
    def live(self) -> bool:
        return self.diverged_epoch is None

    @property
    def final(self) -> dict[str, Any] | None:
        return self.history[-1] if self.history else None

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])


def versions() -> dict[str, str]:
    """The versions a result depends on, recorded with every job."""
    return {"lrlab": lrlab.__version__, "torch": torch.__version__, "python": platform.python_version()}


def build_model(experiment: Experiment, seed: int) -> nn.Module:
    """``experiment.model(seed)`` with torch's global RNG seeded with `seed` for the call (and restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: nn.Module = call_user(
            experiment.name, f"model({seed})", experiment.model, (seed,), nn.Module, "a torch.nn.Module"
        )
    return model


def build_optimizer(spec: OptimizerSpec | Any, params: Any, lr: float, name: str) -> torch.optim.Optimizer:
    """The torch optimizer of `spec` (an `OptimizerSpec` or a factory ``f(params, lr)``) at rate `lr`.

    A schedule-free optimizer is built with ``warmup_steps=0`` (the schedule
    warms up) and put in train mode, ready to step.
    """
    if isinstance(spec, OptimizerSpec) and spec.schedule_free:
        try:
            schedulefree = importlib.import_module("schedulefree")  # an optional extra, without type hints
        except ImportError:
            raise TrainError(f"optimizer {spec} needs the schedulefree package: {SCHEDULEFREE_INSTALL}") from None
        made_free: torch.optim.Optimizer = getattr(schedulefree, spec.torch_name)(
            params, lr=lr, warmup_steps=0, **spec.kwargs
        )
        made_free.train()  # type: ignore[attr-defined]
        return made_free
    if isinstance(spec, OptimizerSpec):
        optimizer_class = getattr(torch.optim, spec.torch_name)
        result: torch.optim.Optimizer = optimizer_class(params, lr=lr, **spec.kwargs)
        return result
    made: torch.optim.Optimizer = call_user(
        name, "its optimizer factory", spec, (params, lr), torch.optim.Optimizer, "a torch optimizer"
    )
    return made


class Trainer:
    """A job: set it up with `Trainer(...)`, run it with `run()`. See the module docstring.

    `experiment` is an `Experiment` or a reference to one (a built-in name,
    ``module:factory``, a ``.py`` path; default: ``config.experiment``);
    `data` goes to a named experiment's factory (a folder of IDX files or a
    `lrlab.lab.data.Dataset` for the built-in ones). `threads` is torch's
    intra-op thread count per run while the job trains (None: as it is set
    now); it is recorded, and restored when the job ends. `workers` > 1 trains
    the runs in that many worker processes (`lrlab.lab.workers.EpochTasks`),
    ``"auto"`` as many as is fastest here (`lrlab.lab.workers.auto_workers`);
    the numbers are the same with any count. Everything is checked --
    the experiment built, its model run on a first batch through the loss and
    the metrics -- before anything is written to `out`.
    """

    def __init__(
        self,
        runs: Sequence[Run],
        config: TrainConfig | None = None,
        experiment: Experiment | str | None = None,
        *,
        data: Any = None,
        out: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
        device: str | torch.device = "cpu",
        fused: bool | str = "auto",
        channels_last: bool | None = None,
        listener: Listener | None = None,
        loggers: Sequence[Listener] = (),
        threads: int | None = None,
        workers: int | str = 1,
    ) -> None:
        if not runs:
            raise invalid("runs", list(runs), "a non-empty list of runs", where="train", error=TrainError)
        self.runs = [r if isinstance(r, Run) else Run(*r) for r in runs]
        config = config or TrainConfig()
        self.experiment = resolve_experiment(experiment if experiment is not None else config.experiment, data=data)
        self.config = config.replace(experiment=self.experiment.name)
        self.device = resolve_device(device)
        self.fused = resolve_fused(fused, self.device)
        if channels_last is None:
            channels_last = self.experiment.channels_last and self.device.type == "cpu"
        self.channels_last = bool(channels_last)
        self.optimizer_spec = self.config.optimizer or self.experiment.optimizer
        loaded = self.experiment.load_data()
        self.data: Data = loaded
        self.train_batches: BatchSource = batch_source(
            loaded.train, self.config.batch_size, self.device, self.channels_last, loaded.num_workers
        )
        self.test_batches: EvalSource | None = eval_source(
            loaded.test, self.device, self.channels_last, loaded.num_workers
        )
        self.metrics: dict[str, Metric] = dict(self.experiment.metrics)  # type: ignore[arg-type]
        self.metric_names = metric_names(self.experiment, has_test=self.test_batches is not None)
        self.listener = listener or Listener()
        self.loggers = list(loggers)
        self.batches = self.train_batches.count()
        #: each run's schedule on the job's clock: times with units ("500ba", "90ep", "0.2dur") bound
        self.schedules = [self._bound(r.schedule) for r in self.runs]
        self.epochs_done = 0
        self.job_id = uuid.uuid4().hex[:12]
        self.seconds = 0.0
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise invalid("threads", threads, "a whole number >= 1 (or None: one)", where="train", error=TrainError)
        #: torch's intra-op threads while this job trains (float sums are split by thread: they decide rounding)
        self.threads = threads or default_threads(self.device.type)
        #: what a worker process needs to build this job's experiment again
        self.experiment_reference = experiment if experiment is not None else config.experiment
        self.data_reference = data
        self.workers, self.workers_note = self._plan_workers(check_workers(workers))
        #: each worker process's peak memory (MiB), once a job with workers has ended
        self.worker_peak_mb: list[float] = []
        self._check_fit()
        #: a cheap hash of the data (`lrlab.lab.store.data_fingerprint`): a resume must find the same data
        self.data_fingerprint: str | None = data_fingerprint(loaded)
        self.store = JobStore(out) if out is not None else None
        if self.store is not None:
            self._job_record = self.store.open(self.identity(), self._job_dict(), resume=resume, overwrite=overwrite)
        try:
            if self.store is not None:
                self.job_id = str(self._job_record["job_id"])
                self._keep_stored_threads(threads)
                if "data_fingerprint" not in (self._job_record.get("identity") or {}):
                    self.data_fingerprint = None  # a job from before data fingerprints: keep its identity
            self.outcomes = [self._new_outcome(i, run) for i, run in enumerate(self.runs)]
            self.generators = {seed: torch.Generator().manual_seed(seed) for seed in self._seeds()}
            if self.store is not None and resume and self.store.has_checkpoint():
                self._load_checkpoint()
            elif self.store is not None:
                self.store.start([self.run_record(o) for o in self.outcomes], self.metric_names)
                self.store.remove_checkpoint()
        except BaseException:
            if self.store is not None:
                self.store.close()  # drop the folder's lock
            raise

    # -- setup ------------------------------------------------------------------------------
    def _plan_workers(self, asked: int | str) -> tuple[int, str]:
        """The worker processes this job trains in, and a note when it had to be fewer than asked."""
        runs = len(self.runs)
        if asked == "auto":
            work = work_of(self.train_batches.size, self.config.epochs, runs)
            count = auto_workers(runs, work, self.threads, data_bytes=data_bytes(self.data), device=self.device.type)
        else:
            assert isinstance(asked, int)
            count = min(asked, runs)
        if count > 1 and not portable((self.experiment_reference, self.data_reference)):
            note = (
                f"experiment {self.experiment.name!r} cannot be sent to worker processes (it is defined in "
                "__main__, a notebook or a file loaded by path: give it as 'package.module:factory' or a .py "
                "path to use workers); training in this process"
            )
            return 1, note
        if count > 1 and self.fused:
            return 1, "fused runs train together in one pass, in this process (--fused off to use workers)"
        return count, ""

    def _keep_stored_threads(self, asked: int | None) -> None:
        """On resume, train with the threads per run the job started with: its numbers depend on them."""
        stored = self._job_record.get("threads_per_run")
        if not isinstance(stored, int) or isinstance(stored, bool) or stored == self.threads:
            return
        if asked is not None:
            raise invalid(
                "threads",
                asked,
                f"{stored}, the threads per run this job started with (they decide its rounding)",
                where="resume",
                error=TrainError,
            )
        self.threads = stored

    @property
    def seed_rank(self) -> dict[int, int]:
        """Each seed's place in the order the job first meets it (its runs train in that order)."""
        return {seed: i for i, seed in enumerate(dict.fromkeys(r.seed for r in self.runs))}

    def _seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    @property
    def out(self) -> Path | None:
        return None if self.store is None else self.store.folder

    def identity(self) -> dict[str, Any]:
        """What decides the numbers: a resume must match it exactly."""
        config = {**self.config.to_dict(), "optimizer": self._optimizer_text()}
        return {
            "config": config,
            "runs": [{**r.identity(), **self._bound_entry(i)} for i, r in enumerate(self.runs)],
            "data": self.data.description,
            **({} if self.data_fingerprint is None else {"data_fingerprint": self.data_fingerprint}),
        }

    def _bound(self, schedule: Schedule) -> Schedule:
        """`schedule` on the job's clock (`TrainConfig.per`), if it has times with units; else itself."""
        if not has_units(schedule):
            return schedule
        if self.batches is None and "steps_per_epoch" in needs(schedule, self.config.per):
            need = needs(schedule, self.config.per)["steps_per_epoch"]
            raise TrainError(f"{need} needs the number of batches per epoch, which the training data do not say")
        return bind(schedule, per=self.config.per, steps_per_epoch=self.batches, epochs=self.config.epochs)

    def _bound_entry(self, index: int) -> dict[str, str]:
        """``{"bound_schedule": spec}`` for a run whose written schedule has units (else nothing: old identities)."""
        written, used = self.runs[index].schedule, self.schedules[index]
        return {} if used is written else {"bound_schedule": str(used)}

    def _optimizer_text(self) -> str:
        if isinstance(self.optimizer_spec, OptimizerSpec):
            return str(self.optimizer_spec)
        return self.experiment.optimizer_name()

    def _job_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "job_id": self.job_id,
            "identity": self.identity(),
            "run_ids": [f"{self.job_id}-{i}" for i in range(len(self.runs))],
            "experiment": self._experiment_record(),
            "device": str(self.device),
            "fused": self.fused,
            "channels_last": self.channels_last,
            "threads_per_run": self.threads,
            "workers": self.workers,
            "versions": versions(),
            "created": now(),
        }

    def _experiment_record(self) -> dict[str, Any]:
        e = self.experiment
        return {
            "name": e.name,
            "description": e.description,
            "metrics": self.metric_names,
            "goal": e.goal_metric(has_test=self.test_batches is not None),
            "reference": e.reference,
            "train_examples": self.train_batches.size,
            "test_examples": None if self.test_batches is None else self.test_batches.size,
        }

    def _check_fit(self) -> None:
        """Run a fresh model on two training examples through the loss and the metrics: fail before training."""
        name = self.experiment.name
        model = build_model(self.experiment, 0).to(self.device)
        generator = torch.Generator().manual_seed(0)
        order = self.train_batches.order(generator)
        try:
            x, y = next(iter(self.train_batches.batches(0, 1, order)))
        except StopIteration:
            raise ExperimentError(f"experiment {name!r}: the training data yield no batch") from None
        x, y = x[:2], y[:2]
        try:
            with torch.no_grad():
                out = model(x)
        except Exception as exc:
            raise ExperimentError(
                f"experiment {name!r}: the model cannot take a batch of inputs of shape {tuple(x.shape)} "
                f"({type(exc).__name__}: {exc})"
            ) from None
        try:
            loss = self.experiment.loss(out, y)
            ok = isinstance(loss, torch.Tensor) and loss.numel() == 1
        except Exception as exc:
            raise ExperimentError(
                f"experiment {name!r}: the model's output of shape {tuple(out.shape)} does not fit the loss with "
                f"targets of shape {tuple(y.shape)} ({type(exc).__name__}: {exc})"
            ) from None
        if not ok:
            raise ExperimentError(f"experiment {name!r}: the loss must give one number (a scalar tensor); got {loss!r}")
        for metric, spec in self.metrics.items():
            try:
                value = spec.fn(out, y)
                ok = isinstance(value, torch.Tensor) and value.numel() == 1
            except Exception as exc:
                raise ExperimentError(
                    f"experiment {name!r}: metric {metric!r} fails on the model's output ({type(exc).__name__}: {exc})"
                ) from None
            if not ok:
                raise ExperimentError(
                    f"experiment {name!r}: metric {metric!r} must give a scalar tensor; got {value!r}"
                )
        for optimizer in dict.fromkeys(self._optimizer_of(r) for r in self.runs):  # each once: fail before training
            build_optimizer(optimizer, model.parameters(), float(self.schedules[0](0)), name)

    def _optimizer_of(self, run: Run) -> OptimizerSpec | Any:
        """The run's own optimizer, else the job's (the config's, else the experiment's)."""
        return run.optimizer if run.optimizer is not None else self.optimizer_spec

    def _new_outcome(self, index: int, run: Run) -> RunOutcome:
        model = build_model(self.experiment, run.seed).to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        optimizer = build_optimizer(
            self._optimizer_of(run), model.parameters(), float(self.schedules[index](0)), self.experiment.name
        )
        scheduler = ScheduleLR(optimizer, self.schedules[index])
        outcome = RunOutcome(index, run, f"{self.job_id}-{index}", model, optimizer, scheduler)
        outcome.rng = torch.Generator().manual_seed(run.seed).get_state()
        return outcome

    def run_record(self, o: RunOutcome) -> dict[str, Any]:
        return {
            "type": "run",
            "run_id": o.run_id,
            "job_id": self.job_id,
            "index": o.index,
            "label": o.run.label,
            "schedule": str(o.run.schedule),
            **self._bound_entry(o.index),
            "seed": o.run.seed,
            **self.config.to_dict(),
            "optimizer": self._optimizer_text() if o.run.optimizer is None else str(o.run.optimizer),
            "optimizer_text": self._optimizer_description() if o.run.optimizer is None else o.run.optimizer.describe(),
            **({} if o.run.optimizer is None else {"run_optimizer": str(o.run.optimizer)}),
            "batches_per_epoch": self.batches,
            "data": self.data.description,
            "device": str(self.device),
            "fused": self.fused,
            "threads_per_run": self.threads,
            **versions(),
        }

    def _optimizer_description(self) -> str:
        if isinstance(self.optimizer_spec, OptimizerSpec):
            return self.optimizer_spec.describe()
        return f"{self._optimizer_text()} (a factory)"

    def results(self) -> JobResults:
        """The job's records so far as `JobResults`: what `lrlab.lab.store.read_results` gives for its folder."""
        job = self._job_record if self.store is not None else self._job_dict()
        return results_from_records(self._records(), job, self.out)

    # -- checkpoints ------------------------------------------------------------------------
    def _records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = [self.run_record(o) for o in self.outcomes]
        for epoch in range(1, self.epochs_done + 1):
            for o in self.outcomes:
                for rec in o.history:
                    if rec["epoch"] == epoch:
                        records.extend(_with_divergence(rec))
        if self.finished:
            records.append(self._end_record())
        return records

    @property
    def finished(self) -> bool:
        """Every epoch is done, or no run is left to train (all diverged): the job ends."""
        return self.epochs_done >= self.config.epochs or not any(o.live for o in self.outcomes)

    def _end_record(self) -> dict[str, Any]:
        end: dict[str, Any] = {"type": "end", "job_id": self.job_id, "epochs": self.epochs_done}
        end["seconds"] = round(self.seconds, 3)
        if self.worker_peak_mb:
            end["worker_peak_mb"] = self.worker_peak_mb
        return end

    def _save_checkpoint(self) -> None:
        assert self.store is not None
        import json

        self.store.save_checkpoint(
            {
                "format": _FORMAT,
                "job_id": self.job_id,
                "identity": json.dumps(self.identity(), sort_keys=True),
                "epochs_done": self.epochs_done,
                "seconds": self.seconds,
                "runs": [self.run_state(o) for o in self.outcomes],
                "generators": {str(seed): g.get_state() for seed, g in self.generators.items()},
                "torch_rng": torch.get_rng_state(),
            }
        )

    def _load_checkpoint(self) -> None:
        assert self.store is not None
        import json

        state = self.store.load_checkpoint()
        if state.get("format") != _FORMAT or state.get("identity") != json.dumps(self.identity(), sort_keys=True):
            raise TrainError(f"{self.store.folder} holds a checkpoint of another job; choose another --out folder")
        try:
            self.epochs_done = int(state["epochs_done"])
            self.seconds = float(state["seconds"])
            for o, saved in zip(self.outcomes, state["runs"], strict=True):
                self.load_run_state(o, saved)
            for seed, g in self.generators.items():
                g.set_state(state["generators"][str(seed)])
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            what = f"lacks {exc.args[0]!r}" if isinstance(exc, KeyError) else f"cannot be restored ({exc})"
            raise TrainError(
                f"{self.store.folder / 'checkpoint.pt'} {what}; delete it to train the job again from epoch 1"
            ) from None
        # The metrics file may hold records of the epoch that was cut short: rewrite it from the checkpoint.
        self.store.start(self._records(), self.metric_names)

    @staticmethod
    def run_state(o: RunOutcome) -> dict[str, Any]:
        """A run's state as plain data (a checkpoint's entry; also what a worker sends after an epoch)."""
        import json

        return {
            "model": o.model.state_dict(),
            "optimizer": o.optimizer.state_dict(),
            "scheduler": o.scheduler.state_dict(),
            "diverged_epoch": o.diverged_epoch,
            "updates": o.updates,
            "history": [json.dumps(r) for r in o.history],  # key order kept
            "rng": o.rng,
        }

    @staticmethod
    def load_run_state(o: RunOutcome, saved: dict[str, Any]) -> None:
        """Put a run where `run_state` left it."""
        import json

        o.model.load_state_dict(saved["model"])
        o.optimizer.load_state_dict(saved["optimizer"])
        o.scheduler.load_state_dict(saved["scheduler"])
        o.diverged_epoch = saved["diverged_epoch"]
        o.updates = int(saved.get("updates", 0))
        o.history = [json.loads(r) for r in saved["history"]]
        if saved.get("rng") is not None:  # checkpoints of earlier versions have none
            o.rng = saved["rng"]

    # -- training ---------------------------------------------------------------------------
    def run(self) -> list[RunOutcome]:
        """Train the remaining epochs; returns every run's outcome."""
        hooks = [self.listener, *self.loggers]
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        for hook in hooks:
            hook.started(self)
        shards: EpochTasks | None = None
        failed = True
        try:
            if self.workers > 1 and not self.finished:
                shards = EpochTasks(self, self.workers)
            while not self.finished:  # a job whose runs all diverged ends here
                self._epoch(self.epochs_done + 1, shards)
            if shards is not None:
                self.worker_peak_mb = shards.peak_memory()
            failed = False
            if self.store is not None and not self.store.ended():
                self.store.append([self._end_record()])
            for hook in hooks:
                hook.finished(self)
        finally:
            if shards is not None:
                shards.close(terminate=failed)
            torch.set_num_threads(before)
            if self.store is not None:
                self.store.close()
            for hook in hooks:
                hook.close()
        return self.outcomes

    def _epoch(self, epoch: int, shards: EpochTasks | None = None) -> None:
        started = time.perf_counter()
        records = self.train_epoch(epoch) if shards is None else shards.epoch(epoch)
        if self.store is not None:
            self.store.append(records)
        self.epochs_done = epoch
        self.seconds += time.perf_counter() - started
        if self.store is not None:
            self._save_checkpoint()
        for hook in (self.listener, *self.loggers):
            hook.epoch(epoch, records)

    def train_epoch(self, epoch: int, only: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Train and evaluate every live run for epoch `epoch` (from 1); return the epoch's records.

        `only`: train just the runs at these indices, drawing just their seeds' batch orders (a worker's task;
        `lrlab.lab.workers.EpochTasks` puts the other seeds' generators where one process would have them).
        """
        started = time.perf_counter()
        chosen = self.outcomes if only is None else [self.outcomes[i] for i in only]
        # Draw every seed's order, even for seeds whose runs all diverged: the orders must not
        # depend on which runs are left.
        seeds = self.generators if only is None else {o.run.seed for o in chosen if o.live}
        orders = {seed: self.train_batches.order(self.generators[seed]) for seed in seeds}
        groups: dict[int, list[RunOutcome]] = {}
        for o in chosen:
            if o.live:
                groups.setdefault(o.run.seed, []).append(o)
                o.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
                o.sums = {}
                o.seen = 0
                o.seconds = 0.0
                o.lr_first = o.lr
                o.stopped = False
                _optimizer_mode(o.optimizer, "train")
        trained = [o for group in groups.values() for o in group]
        streams = {seed: self.train_batches.batches(seed, epoch, orders[seed]) for seed in groups}
        b = 0
        while streams:
            for seed in list(streams):
                batch = next(streams[seed], None)
                if batch is None:
                    del streams[seed]
                    continue
                live = [o for o in groups[seed] if not o.stopped]
                if not live:
                    continue
                x, y = batch
                if self.fused and len(live) > 1:
                    self._step_fused(live, x, y)
                else:
                    for o in live:
                        self._step_plain(o, x, y)
            if not streams:
                break
            b += 1
            if b % _CHECK_EVERY == 0 or b == self.batches:
                self._check_divergence(trained)
            self.listener.batch(epoch, b, self.batches)
        self._check_divergence(trained)
        if self.batches is None:
            self.batches = b
        return self._finish_epoch(epoch, trained, started)

    def _autocast(self) -> Any:
        """The forward passes' float type: bfloat16 under torch's autocast when the config asks for it."""
        if self.config.precision == "bfloat16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _own_rng(self, o: RunOutcome) -> Any:
        """Run the block on the run's own CPU random state (dropout masks and the like), then put it back."""
        if o.rng is None:
            yield
            return
        outer = torch.get_rng_state()
        torch.set_rng_state(o.rng)
        try:
            yield
        finally:
            o.rng = torch.get_rng_state()
            torch.set_rng_state(outer)

    def _step_plain(self, o: RunOutcome, x: torch.Tensor, y: torch.Tensor) -> None:
        t0 = time.perf_counter()
        with self._own_rng(o):
            with self._autocast():
                outputs = o.model(x)
                loss = self.experiment.loss(outputs, y)
            o.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
        self._update(o, loss.detach(), outputs.detach(), y)
        o.seconds += time.perf_counter() - t0

    def _step_fused(self, live: list[RunOutcome], x: torch.Tensor, y: torch.Tensor) -> None:
        from torch.func import functional_call, vmap

        t0 = time.perf_counter()
        base = live[0].model
        names = [name for name, _ in base.named_parameters()]
        per_model = [dict(o.model.named_parameters()) for o in live]
        stacked = {name: torch.stack([p[name] for p in per_model]) for name in names}

        def forward(params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
            return functional_call(base, params, (inputs,))  # type: ignore[no-any-return]

        with self._autocast():
            outputs = vmap(forward, in_dims=(0, None))(stacked, x)  # K x B x ...
            losses = self._fused_losses(outputs, y)
        for o in live:
            o.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # type: ignore[no-untyped-call]
        share = (time.perf_counter() - t0) / len(live)
        for i, o in enumerate(live):
            t1 = time.perf_counter()
            self._update(o, losses[i].detach(), outputs[i].detach(), y)
            o.seconds += share + time.perf_counter() - t1

    def _fused_losses(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One loss per run of a fused step: the experiment's loss on each run's outputs."""
        k = outputs.shape[0]
        if self.experiment.loss is cross_entropy:  # one call for all runs (the numbers of earlier lrlab versions)
            flat = F.cross_entropy(outputs.reshape(k * len(y), -1), y.repeat(k), reduction="none")
            return flat.view(k, -1).mean(1)
        return torch.stack([self.experiment.loss(outputs[i], y) for i in range(k)])

    def _update(self, o: RunOutcome, loss: torch.Tensor, outputs: torch.Tensor, y: torch.Tensor) -> None:
        o.lr_last = o.lr
        for logger in self.loggers:
            logger.update(o, o.updates, o.lr_last)
        try:
            o.optimizer.step()
        except RuntimeError as exc:  # e.g. Adam at lr 1e38: "value cannot be converted to type float without overflow"
            if not _NON_FINITE.search(str(exc)):
                raise
            assert o.loss_sum is not None
            o.loss_sum += math.nan  # recorded as diverged in this epoch
            o.stopped = True
            return
        o.updates += 1
        if self.config.per == "step":
            o.scheduler.step()
        assert o.loss_sum is not None
        n = len(y)
        o.loss_sum += loss.to(torch.float64) * n
        _accumulate(o.sums, self.metrics, outputs, y, n)
        o.seen += n

    def _check_divergence(self, trained: list[RunOutcome]) -> None:
        running = [o for o in trained if not o.stopped]
        if not running:
            return
        sums = torch.stack([o.loss_sum for o in running if o.loss_sum is not None])
        finite = torch.isfinite(sums).tolist()
        for o, ok in zip(running, finite, strict=True):
            if not ok:
                o.stopped = True

    @torch.inference_mode()
    def _evaluate(self, model: nn.Module) -> list[torch.Tensor]:
        """The test loss sum and metric sums of `model` (tensors: no host sync), and the example count.

        The model is in eval mode meanwhile: dropout off, BatchNorm with its running statistics (which the
        test data must not change), and back in train mode after.
        """
        assert self.test_batches is not None
        model.eval()
        try:
            return self._evaluate_sums(model)
        finally:
            model.train()

    def _evaluate_sums(self, model: nn.Module) -> list[torch.Tensor]:
        assert self.test_batches is not None
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        sums: dict[str, torch.Tensor] = {}
        seen = 0
        for x, y in self.test_batches.batches():
            with self._autocast():
                outputs = model(x)
            n = len(y)
            loss_sum += self.experiment.loss(outputs, y).to(torch.float64) * n
            _accumulate(sums, self.metrics, outputs, y, n)
            seen += n
        count = torch.tensor(float(seen), dtype=torch.float64, device=self.device)
        return [loss_sum, *(_f64(sums.get(m), self.device) for m in self.metrics), count]

    def _finish_epoch(self, epoch: int, trained: list[RunOutcome], started: float) -> list[dict[str, Any]]:
        tests: list[list[torch.Tensor] | None] = []
        for o in trained:
            t0 = time.perf_counter()
            _optimizer_mode(o.optimizer, "eval")  # schedule-free: evaluate (and checkpoint) at the average x
            tests.append(None if o.stopped or self.test_batches is None else self._evaluate(o.model))
            o.seconds += time.perf_counter() - t0
        width = 1 + len(self.metrics)
        missing = [_f64(None, self.device)] * (width + 1)
        # one host sync for all runs
        values = torch.stack(
            [
                torch.stack(
                    [
                        _f64(o.loss_sum, self.device),
                        *(_f64(o.sums.get(m), self.device) for m in self.metrics),
                        *(t if t is not None else missing),
                    ]
                )
                for o, t in zip(trained, tests, strict=True)
            ]
        ).tolist()
        wall = time.perf_counter() - started
        records: list[dict[str, Any]] = []
        for o, row in zip(trained, values, strict=True):
            train_sums, test_sums, test_seen = row[:width], row[width:-1], row[-1]
            loss = train_sums[0] / o.seen if o.seen else math.nan
            diverged = o.stopped or not math.isfinite(loss)
            rec: dict[str, Any] = {"type": "epoch", "run_id": o.run_id, "epoch": epoch, "train_loss": loss}
            for name, total in zip(self.metrics, train_sums[1:], strict=True):
                rec[f"train_{name}"] = total / o.seen if o.seen else math.nan
            if self.test_batches is not None:
                tested = not diverged and test_seen > 0
                rec["test_loss"] = test_sums[0] / test_seen if tested else None
                for name, total in zip(self.metrics, test_sums[1:], strict=True):
                    rec[f"test_{name}"] = total / test_seen if tested else None
            rec.update(
                lr_first=o.lr_first,
                lr_last=o.lr_last,
                seconds=round(o.seconds, 4),
                epoch_seconds=round(wall, 4),
                images=o.seen,
                diverged=diverged,
            )
            if diverged:
                o.diverged_epoch = epoch
            elif self.config.per == "epoch":
                o.scheduler.step()
            o.history.append(rec)
            records.extend(_with_divergence(rec))
        return records


def _optimizer_mode(optimizer: torch.optim.Optimizer, mode: str) -> None:
    """``optimizer.train()`` or ``.eval()`` where it has them: a schedule-free optimizer steps at y, is judged at x."""
    method = getattr(optimizer, mode, None)
    if callable(method):
        method()


def _accumulate(
    sums: dict[str, torch.Tensor], metrics: dict[str, Metric], outputs: torch.Tensor, y: torch.Tensor, n: int
) -> None:
    """Add one batch's metric values to `sums` (a count stays an integer tensor: exact accuracy)."""
    for name, metric in metrics.items():
        value = metric.fn(outputs, y).detach()
        if metric.reduction == "mean":
            value = value.to(torch.float64) * n
        elif value.is_floating_point():
            value = value.to(torch.float64)
        sums[name] = value if name not in sums else sums[name] + value


def _f64(value: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    if value is None:
        return torch.tensor(math.nan, dtype=torch.float64, device=device)
    return value.to(torch.float64)


def _with_divergence(rec: dict[str, Any]) -> list[dict[str, Any]]:
    if not rec["diverged"]:
        return [rec]
    loss = rec["train_loss"]
    return [rec, {"type": "diverged", "run_id": rec["run_id"], "epoch": rec["epoch"], "loss": str(loss)}]


def train(
    runs: Sequence[Run],
    config: TrainConfig | None = None,
    experiment: Experiment | str | None = None,
    **options: Any,
) -> list[RunOutcome]:
    """Train `runs` together (see the module docstring and `Trainer` for the options).

    Returns one `RunOutcome` per run: its model, its ``history`` (the epoch
    records written to ``metrics.jsonl``) and ``diverged_epoch``.
    """
    return Trainer(runs, config, experiment, **options).run()
