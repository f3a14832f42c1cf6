"""Train the chapter's LeNet on Fashion-MNIST with lrlab schedules, several runs side by side.

A *job* is a list of `Run` (label, schedule, seed) trained in one process
with one `TrainConfig`. What a run computes depends only on the config, its
schedule and its seed, never on the other runs of the job:

* its weights are drawn from a torch RNG seeded with ``seed``;
* its batches come from a ``torch.Generator`` seeded with ``seed`` (a fresh
  ``randperm`` each epoch, the last partial batch included), so runs with the
  same seed see the same batches in the same order - a paired comparison of
  schedules - and ``lrlab train --seed 3`` repeats a run of ``compare``;
* plain minibatch SGD (no momentum, no weight decay) on the mean
  cross-entropy; the rate comes from `lrlab.torch.ScheduleLR`: with
  ``per="epoch"`` epoch ``e`` (from 0) trains at ``schedule(e)``, with
  ``per="step"`` update ``t`` (from 0) at ``schedule(t)``.

The data set lives in memory (on the device) as one float tensor, pixels / 255.
Runs are stepped one after another on each batch (``fused=False``), or all
runs of a seed in one vectorised pass (``fused=True``: ``torch.func.vmap``
over stacked parameters; each run keeps its own optimizer and scheduler).
A run whose loss stops being finite is stopped and marked diverged; the others
go on. After every epoch the job writes its metrics (`lrlab.lab.store`) and an
atomic checkpoint, so ``resume=True`` continues a killed job and ends with the
same numbers as a job never interrupted.
"""

from __future__ import annotations

import io
import json
import math
import platform
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import lrlab
from lrlab.errors import TrainError, invalid
from lrlab.frameworks.torch import ScheduleLR
from lrlab.lab.data import Dataset
from lrlab.lab.models import ModelConfig, build_model
from lrlab.lab.store import CHECKPOINT, JOB, METRICS, atomic_write_bytes, atomic_write_text, dumps, write_records
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse

__all__ = [
    "PER",
    "Listener",
    "Run",
    "RunOutcome",
    "TensorData",
    "TrainConfig",
    "Trainer",
    "resolve_fused",
    "to_tensors",
    "train",
]

PER = ("epoch", "step")
_FORMAT = 1
#: test images per forward pass: 500-1000 keep the activations in cache (2x faster than 5000 here)
_EVAL_BATCH = 1000
_CHECK_EVERY = 16  # batches between divergence checks (one host sync each)
#: channels_last (NHWC) convolutions measured 10-15 % faster than NCHW on the 2-core CPUs
#: (docs/experiments.md); the numbers differ from NCHW only by float rounding. Untested on CUDA: off there.
_CHANNELS_LAST = {"cpu": True}




@dataclass(frozen=True, init=False)
class Run:
    """One run of a job: a schedule (or its text spec) and a seed, with a label for tables and legends."""

    schedule: Schedule
    seed: int
    label: str

    def __init__(self, schedule: Schedule | str, seed: int = 0, label: str = "") -> None:
        if isinstance(schedule, str):
            schedule = parse(schedule)
        if not isinstance(schedule, Schedule):
            raise invalid("schedule", schedule, "a Schedule or a text spec", where="Run")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise invalid("seed", seed, "an integer >= 0", where="Run")
        object.__setattr__(self, "schedule", schedule)
        object.__setattr__(self, "seed", int(seed))
        object.__setattr__(self, "label", label or str(schedule))

    def identity(self) -> dict[str, Any]:
        return {"label": self.label, "schedule": str(self.schedule), "seed": self.seed}


@dataclass(frozen=True)
class TrainConfig:
    """What every run of a job shares: these decide the numbers."""

    epochs: int = 30
    batch_size: int = 256
    per: str = "epoch"
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise invalid(name, value, "an integer > 0", where="TrainConfig")
        if self.per not in PER:
            raise invalid("per", self.per, "'epoch' or 'step'", where="TrainConfig")
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelConfig(**self.model))

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_size": self.batch_size, "per": self.per, "model": self.model.to_dict()}


@dataclass(frozen=True)
class TensorData:
    """The data set as tensors on one device: images ``N x 1 x 28 x 28`` float32 in [0, 1], labels int64."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])


def to_tensors(data: Dataset, device: str | torch.device = "cpu") -> TensorData:
    """Move a `lrlab.lab.data.Dataset` to `device`: pixels / 255 as float32, one channel."""

    def images(a: np.ndarray[Any, Any]) -> torch.Tensor:
        x = torch.from_numpy(np.array(a, dtype=np.uint8)).to(device)
        return x.to(torch.float32).div_(255.0).unsqueeze(1).contiguous()  # in place: no second float copy

    def labels(a: np.ndarray[Any, Any]) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return TensorData(
        images(data.train_images),
        labels(data.train_labels),
        images(data.test_images),
        labels(data.test_labels),
        data.describe(),
    )


def _channels_last(data: TensorData) -> TensorData:
    cl = torch.channels_last
    return TensorData(
        data.train_x.contiguous(memory_format=cl),
        data.train_y,
        data.test_x.contiguous(memory_format=cl),
        data.test_y,
        data.source,
    )


def resolve_fused(fused: bool | str, device: torch.device) -> bool:
    """``"auto"``: plain on CPU (fusing measured slower there), fused on CUDA."""
    if fused == "auto":
        return device.type == "cuda"
    if isinstance(fused, bool):
        return fused
    raise invalid("fused", fused, "True, False or 'auto'", where="train")


class Listener:
    """Hooks for progress display; the default does nothing. Called from the training loop."""

    def started(self, trainer: Trainer) -> None:
        """The job is set up; ``trainer.epochs_done`` epochs are already done (resume)."""

    def batch(self, epoch: int, index: int, batches: int) -> None:
        """Batch `index` (from 1) of `batches` in epoch `epoch` (from 1) is done."""

    def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
        """Epoch `epoch` (from 1) is done; its records, one per run that trained in it."""

    def finished(self, trainer: Trainer) -> None:
        """All epochs are done."""


@dataclass
class RunOutcome:
    """A run's state in a job, and its result so far."""

    index: int
    run: Run
    run_id: str
    model: nn.Module
    optimizer: torch.optim.SGD
    scheduler: ScheduleLR
    diverged_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    # per-epoch accumulators, kept as tensors (no host sync per batch)
    loss_sum: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    seen: int = 0
    seconds: float = 0.0
    lr_first: float = math.nan
    lr_last: float = math.nan
    stopped: bool = False  # diverged in the current epoch

    @property
    def live(self) -> bool:
        return self.diverged_epoch is None

    @property
    def final(self) -> dict[str, Any] | None:
        return self.history[-1] if self.history else None

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])


def _versions() -> dict[str, str]:
    return {"lrlab": lrlab.__version__, "torch": torch.__version__, "python": platform.python_version()}


class Trainer:
    """A job: set it up with `Trainer(...)`, run it with `run()`. See the module docstring."""

    def __init__(
        self,
        runs: Sequence[Run],
        config: TrainConfig,
        data: TensorData | Dataset,
        *,
        out: str | Path | None = None,
        resume: bool = False,
        device: str | torch.device = "cpu",
        fused: bool | str = "auto",
        channels_last: bool | None = None,
        listener: Listener | None = None,
    ) -> None:
        if not runs:
            raise invalid("runs", list(runs), "a non-empty list of runs", where="train")
        self.runs = [r if isinstance(r, Run) else Run(*r) for r in runs]
        self.config = config
        try:
            self.device = torch.device(device)
        except RuntimeError:
            raise invalid("device", device, "a torch device such as 'cpu' or 'cuda'", where="train") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise invalid("device", str(device), "available (torch sees no CUDA device)", where="train")
        self.fused = resolve_fused(fused, self.device)
        if channels_last is None:
            channels_last = _CHANNELS_LAST.get(self.device.type, False)
        self.channels_last = bool(channels_last)
        data = data if isinstance(data, TensorData) else to_tensors(data, self.device)
        if self.channels_last:
            data = _channels_last(data)
        self.data = data
        if self.data.train_x.device != self.device:
            raise invalid("data", str(self.data.train_x.device), f"on the training device {self.device}", where="train")
        self.out = Path(out) if out is not None else None
        self.listener = listener or Listener()
        self.batches = math.ceil(self.data.n_train / config.batch_size)
        self.epochs_done = 0
        self.job_id = uuid.uuid4().hex[:12]
        self.seconds = 0.0
        self._metrics: IO[str] | None = None
        self._job_record = self._job_dict()
        if self.out is not None:
            self._prepare_out(resume)
        self.outcomes = [self._new_outcome(i, run) for i, run in enumerate(self.runs)]
        self.generators = {seed: torch.Generator().manual_seed(seed) for seed in self._seeds()}
        if self.out is not None and resume and (self.out / CHECKPOINT).is_file():
            self._load_checkpoint()
        elif self.out is not None:
            self._start_metrics()

    # -- setup ------------------------------------------------------------------------------
    def _seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    def _identity(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "runs": [r.identity() for r in self.runs]}

    def _job_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "job_id": self.job_id,
            **self._identity(),
            "run_ids": [f"{self.job_id}-{i}" for i in range(len(self.runs))],
            "data": self.data.source,
            "device": str(self.device),
            "fused": self.fused,
            "channels_last": self.channels_last,
            "versions": _versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def _prepare_out(self, resume: bool) -> None:
        assert self.out is not None
        job_file = self.out / JOB
        if job_file.is_file():
            try:
                stored = json.loads(job_file.read_text())
            except json.JSONDecodeError:
                stored = {}
            if not resume:
                raise TrainError(
                    f"{self.out} already holds the results of job {stored.get('job_id', '?')}; "
                    "pass --resume to continue it, or choose another --out folder"
                )
            mine = self._identity()
            theirs = {"config": stored.get("config"), "runs": stored.get("runs")}
            if theirs != mine:
                raise TrainError(
                    f"{self.out} holds a different job ({_difference(theirs, mine)}); "
                    "resume it with the same options, or choose another --out folder"
                )
            self.job_id = str(stored["job_id"])
            self._job_record = {**self._job_dict(), "created": stored.get("created")}
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(job_file, _json(self._job_record))

    def _new_outcome(self, index: int, run: Run) -> RunOutcome:
        model = build_model(self.config.model, run.seed).to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        optimizer = torch.optim.SGD(model.parameters(), lr=float(run.schedule(0)))
        scheduler = ScheduleLR(optimizer, run.schedule)
        return RunOutcome(index, run, f"{self.job_id}-{index}", model, optimizer, scheduler)

    def run_record(self, o: RunOutcome) -> dict[str, Any]:
        return {
            "type": "run",
            "run_id": o.run_id,
            "job_id": self.job_id,
            "index": o.index,
            "label": o.run.label,
            "schedule": str(o.run.schedule),
            "seed": o.run.seed,
            **self.config.to_dict(),
            "optimizer": "SGD (no momentum, no weight decay), mean cross-entropy",
            "batches_per_epoch": self.batches,
            "data": self.data.source,
            "device": str(self.device),
            "fused": self.fused,
            **_versions(),
        }

    def _start_metrics(self) -> None:
        assert self.out is not None
        write_records(self.out / METRICS, [self.run_record(o) for o in self.outcomes])
        (self.out / CHECKPOINT).unlink(missing_ok=True)

    # -- checkpoints ------------------------------------------------------------------------
    def _records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = [self.run_record(o) for o in self.outcomes]
        for epoch in range(1, self.epochs_done + 1):
            for o in self.outcomes:
                for rec in o.history:
                    if rec["epoch"] == epoch:
                        records.extend(_with_divergence(rec))
        if self.epochs_done == self.config.epochs:
            records.append(self._end_record())
        return records

    def _end_record(self) -> dict[str, Any]:
        return {"type": "end", "job_id": self.job_id, "epochs": self.epochs_done, "seconds": round(self.seconds, 3)}

    def _save_checkpoint(self) -> None:
        assert self.out is not None
        state = {
            "format": _FORMAT,
            "job_id": self.job_id,
            "identity": _json(self._identity()),
            "epochs_done": self.epochs_done,
            "seconds": self.seconds,
            "runs": [
                {
                    "model": o.model.state_dict(),
                    "optimizer": o.optimizer.state_dict(),
                    "scheduler": o.scheduler.state_dict(),
                    "diverged_epoch": o.diverged_epoch,
                    "history": [json.dumps(r) for r in o.history],  # key order kept
                }
                for o in self.outcomes
            ],
            "generators": {str(seed): g.get_state() for seed, g in self.generators.items()},
            "torch_rng": torch.get_rng_state(),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(self.out / CHECKPOINT, buffer.getvalue())

    def _load_checkpoint(self) -> None:
        assert self.out is not None
        path = self.out / CHECKPOINT
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise TrainError(
                f"{path} cannot be read ({type(exc).__name__}: {exc}); delete the folder to start again"
            ) from None
        if state.get("format") != _FORMAT or state.get("identity") != _json(self._identity()):
            raise TrainError(f"{path} belongs to another job; choose another --out folder")
        self.epochs_done = int(state["epochs_done"])
        self.seconds = float(state["seconds"])
        for o, saved in zip(self.outcomes, state["runs"], strict=True):
            o.model.load_state_dict(saved["model"])
            o.optimizer.load_state_dict(saved["optimizer"])
            o.scheduler.load_state_dict(saved["scheduler"])
            o.diverged_epoch = saved["diverged_epoch"]
            o.history = [json.loads(r) for r in saved["history"]]
        for seed, g in self.generators.items():
            g.set_state(state["generators"][str(seed)])
        torch.set_rng_state(state["torch_rng"])
        # The metrics file may hold records of the epoch that was cut short: rewrite it from the checkpoint.
        write_records(self.out / METRICS, self._records())

    # -- training ---------------------------------------------------------------------------
    def run(self) -> list[RunOutcome]:
        """Train the remaining epochs; returns every run's outcome."""
        self.listener.started(self)
        try:
            if self.out is not None:
                self._metrics = (self.out / METRICS).open("a")
            while self.epochs_done < self.config.epochs:
                self._epoch(self.epochs_done + 1)
            if self._metrics is not None and not self._has_end():
                self._write([self._end_record()])
        finally:
            if self._metrics is not None:
                self._metrics.close()
                self._metrics = None
        self.listener.finished(self)
        return self.outcomes

    def _has_end(self) -> bool:
        assert self.out is not None
        tail = (self.out / METRICS).read_text().rstrip().rsplit("\n", 1)[-1]
        return '"type": "end"' in tail

    def _write(self, records: list[dict[str, Any]]) -> None:
        if self._metrics is not None:
            self._metrics.write("".join(dumps(r) + "\n" for r in records))
            self._metrics.flush()

    def _epoch(self, epoch: int) -> None:
        started = time.perf_counter()
        bs = self.config.batch_size
        n = self.data.n_train
        # Draw every seed's order, even for seeds whose runs all diverged: the orders must not
        # depend on which runs are left.
        orders = {seed: torch.randperm(n, generator=g).to(self.device) for seed, g in self.generators.items()}
        groups: dict[int, list[RunOutcome]] = {}
        for o in self.outcomes:
            if o.live:
                groups.setdefault(o.run.seed, []).append(o)
                o.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
                o.correct = torch.zeros((), dtype=torch.int64, device=self.device)
                o.seen = 0
                o.seconds = 0.0
                o.lr_first = o.lr
                o.stopped = False
        trained = [o for group in groups.values() for o in group]
        for b in range(self.batches):
            for seed, group in groups.items():
                live = [o for o in group if not o.stopped]
                if not live:
                    continue
                idx = orders[seed][b * bs : (b + 1) * bs]
                x = self.data.train_x[idx]
                y = self.data.train_y[idx]
                if self.fused and len(live) > 1:
                    self._step_fused(live, x, y)
                else:
                    for o in live:
                        self._step_plain(o, x, y)
            if (b + 1) % _CHECK_EVERY == 0 or b + 1 == self.batches:
                self._check_divergence(trained)
            self.listener.batch(epoch, b + 1, self.batches)
        records = self._finish_epoch(epoch, trained, started)
        self._write(records)
        self.epochs_done = epoch
        self.seconds += time.perf_counter() - started
        if self.out is not None:
            self._save_checkpoint()
        self.listener.epoch(epoch, records)

    def _step_plain(self, o: RunOutcome, x: torch.Tensor, y: torch.Tensor) -> None:
        t0 = time.perf_counter()
        logits = o.model(x)
        loss = F.cross_entropy(logits, y)
        o.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self._update(o, loss.detach(), logits.detach(), y)
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

        logits = vmap(forward, in_dims=(0, None))(stacked, x)  # K x B x 10
        k = len(live)
        losses = F.cross_entropy(logits.reshape(k * len(y), -1), y.repeat(k), reduction="none").view(k, -1).mean(1)
        for o in live:
            o.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # type: ignore[no-untyped-call]
        share = (time.perf_counter() - t0) / k
        for i, o in enumerate(live):
            t1 = time.perf_counter()
            self._update(o, losses[i].detach(), logits[i].detach(), y)
            o.seconds += share + time.perf_counter() - t1

    def _update(self, o: RunOutcome, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        o.lr_last = o.lr
        o.optimizer.step()
        if self.config.per == "step":
            o.scheduler.step()
        assert o.loss_sum is not None and o.correct is not None
        o.loss_sum += loss.to(torch.float64) * len(y)
        o.correct += (logits.argmax(1) == y).sum()
        o.seen += len(y)

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
    def _test_correct(self, model: nn.Module) -> torch.Tensor:
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        x, y = self.data.test_x, self.data.test_y
        for start in range(0, len(y), _EVAL_BATCH):
            logits = model(x[start : start + _EVAL_BATCH])
            correct += (logits.argmax(1) == y[start : start + _EVAL_BATCH]).sum()
        return correct

    def _finish_epoch(self, epoch: int, trained: list[RunOutcome], started: float) -> list[dict[str, Any]]:
        tests: list[torch.Tensor | None] = []
        for o in trained:
            t0 = time.perf_counter()
            tests.append(None if o.stopped else self._test_correct(o.model))
            o.seconds += time.perf_counter() - t0
        # one host sync for all runs
        values = torch.stack(
            [
                torch.stack(
                    [
                        _f64(o.loss_sum, self.device),
                        _f64(o.correct, self.device),
                        _f64(t, self.device),
                    ]
                )
                for o, t in zip(trained, tests, strict=True)
            ]
        ).tolist()
        wall = time.perf_counter() - started
        n_test = len(self.data.test_y)
        records: list[dict[str, Any]] = []
        for o, (loss_sum, correct, test_correct) in zip(trained, values, strict=True):
            loss = loss_sum / o.seen if o.seen else math.nan
            diverged = o.stopped or not math.isfinite(loss)
            rec = {
                "type": "epoch",
                "run_id": o.run_id,
                "epoch": epoch,
                "train_loss": loss,
                "train_acc": correct / o.seen if o.seen else math.nan,
                "test_acc": None if diverged else test_correct / n_test,
                "lr_first": o.lr_first,
                "lr_last": o.lr_last,
                "seconds": round(o.seconds, 4),
                "epoch_seconds": round(wall, 4),
                "images": o.seen,
                "diverged": diverged,
            }
            if diverged:
                o.diverged_epoch = epoch
            elif self.config.per == "epoch":
                o.scheduler.step()
            o.history.append(rec)
            records.extend(_with_divergence(rec))
        return records


def _f64(value: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    if value is None:
        return torch.tensor(math.nan, dtype=torch.float64, device=device)
    return value.to(torch.float64)


def _with_divergence(rec: dict[str, Any]) -> list[dict[str, Any]]:
    if not rec["diverged"]:
        return [rec]
    loss = rec["train_loss"]
    return [rec, {"type": "diverged", "run_id": rec["run_id"], "epoch": rec["epoch"], "loss": str(loss)}]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _difference(theirs: dict[str, Any], mine: dict[str, Any]) -> str:
    tc, mc = theirs.get("config") or {}, mine["config"]
    for key in mc:
        if tc.get(key) != mc[key]:
            return f"it has {key}={tc.get(key)!r}, this one {key}={mc[key]!r}"
    return f"its runs are {theirs.get('runs')!r}"


def train(
    runs: Sequence[Run],
    config: TrainConfig | None = None,
    data: TensorData | Dataset | None = None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    device: str | torch.device = "cpu",
    fused: bool | str = "auto",
    channels_last: bool | None = None,
    listener: Listener | None = None,
) -> list[RunOutcome]:
    """Train `runs` together (see the module docstring); Fashion-MNIST is found or fetched when `data` is None.

    Returns one `RunOutcome` per run: its model, its ``history`` (the epoch
    records written to ``metrics.jsonl``) and ``diverged_epoch``.
    """
    if data is None:
        from lrlab.lab.data import load_fashion_mnist

        data = load_fashion_mnist()
    trainer = Trainer(
        runs,
        config or TrainConfig(),
        data,
        out=out,
        resume=resume,
        device=device,
        fused=fused,
        channels_last=channels_last,
        listener=listener,
    )
    return trainer.run()
