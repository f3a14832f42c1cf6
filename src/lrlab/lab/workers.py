"""Worker processes: the runs of a job, or the trials of a sweep, trained several at a time.

Small CPU models leave cores idle: the chapter's LeNet keeps two intra-op
threads busy only about 60 % of the time. Several processes with one thread
each fill the cores, and the operating system shares them fairly when there
are more processes than cores, so a job of five runs on two cores finishes
with every core busy until the end. What a run computes depends only on its
experiment, schedule, seed and its *threads per run* (torch's intra-op
threads, which split float sums and so decide their rounding) -- never on how
many workers trained beside it -- so a run gives the same numbers alone, in a
job of any number of workers, and as a Ray task.

`WorkerPool` starts processes with the ``spawn`` method (a clean interpreter:
forking a process whose OpenMP threads have run can hang), pins each to
`threads` torch threads, and serves one call at a time per worker over a pipe;
a call may send events (progress) before its result. A worker that dies is
reported at once, naming its exit code; Ctrl-C in the parent stops every
worker (workers ignore SIGINT, so only the parent decides). `Shards` uses it
to train a job's runs in lockstep, one epoch at a time, so the job keeps one
folder, one metrics file and one checkpoint, and resumes with any number of
workers.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from lrlab.errors import LrlabError, TrainError, invalid

if TYPE_CHECKING:
    from lrlab.lab.train import Trainer

__all__ = [
    "Shards",
    "WorkerContext",
    "WorkerPool",
    "auto_workers",
    "check_workers",
    "data_bytes",
    "default_threads",
    "plan_shards",
    "portable",
]

#: below this many training examples x epochs x runs a job runs in this process: starting workers
#: (a fresh interpreter importing torch and loading the data, 2-5 s each) would cost more than it saves
MIN_WORK = 300_000
#: at most this many workers per core: more only add switching and memory
WORKERS_PER_CORE = 4
#: a worker's peak memory beyond its data: the interpreter, torch, oneDNN's buffers, the data's loading
#: (measured: 951 MB for the chapter's LeNet with 220 MB of data, benchmarks/RESULTS.md section 5)
WORKER_BASE_BYTES = 768 * 2**20


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def memory_bytes() -> int | None:
    """The machine's physical memory, or None where it cannot be read."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None


def default_threads(device: str) -> int:
    """Torch threads per run unless told: one, whatever the job and the `device`.

    A run's numbers depend on its threads (they split float sums), so the default must not depend on the
    job's size: then ``lrlab train --seed 3`` repeats run 3 of a compare. The cores go to more runs at once.
    """
    return 1


def check_workers(workers: Any, where: str = "train") -> int | str:
    """`workers` as given: a count >= 1 or ``"auto"``, else a clear error."""
    if workers == "auto" or workers is None:
        return "auto"
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise invalid("workers", workers, "a whole number >= 1 or 'auto'", where=where, error=TrainError)
    return workers


def auto_workers(runs: int, work: float, threads: int, *, data_bytes: int = 0, device: str = "cpu") -> int:
    """The worker count ``"auto"`` picks, and why it is fastest here.

    One on a GPU (its runs go fused into one pass) or for a small job
    (`work` = examples x epochs x runs below `MIN_WORK`). Otherwise one run per
    worker, up to `WORKERS_PER_CORE` per core (the OS shares the cores fairly,
    so uneven shares still keep every core busy) and up to half the machine's
    memory at `WORKER_BASE_BYTES` plus the data per worker.
    """
    if device != "cpu" or runs < 2 or work < MIN_WORK:
        return 1
    limit = max(1, cores() // threads) * WORKERS_PER_CORE
    memory = memory_bytes()
    if memory is not None:
        limit = min(limit, max(1, int(memory * 0.5 // (WORKER_BASE_BYTES + data_bytes))))
    return max(1, min(runs, limit))


def plan_shards(runs: int, workers: int) -> list[list[int]]:
    """Runs ``0..runs-1`` dealt to `workers` shards in turn (sizes differ by at most one)."""
    count = max(1, min(workers, runs))
    return [list(range(k, runs, count)) for k in range(count)]


def portable(value: Any) -> bool:
    """Whether `value` can be sent to a spawned worker: it pickles, and by names a fresh process can import.

    Functions from ``__main__`` (a notebook, a script) or from a user file loaded by path pickle here but
    cannot be found in a new interpreter.
    """
    from lrlab.lab.experiment import USER_MODULE_PREFIX

    try:
        data = pickle.dumps(value)
    except Exception:
        return False
    return b"__main__" not in data and USER_MODULE_PREFIX.encode() not in data


# -- the pool ----------------------------------------------------------------------------------------------
class WorkerContext:
    """What a call sees in its worker: its index, a place to keep state between calls, and `emit` for events."""

    def __init__(self, index: int, conn: Connection) -> None:
        self.index = index
        self.state: dict[str, Any] = {}
        self._conn = conn

    def emit(self, *event: Any) -> None:
        """Send an event (a progress tick) to the parent before the call's result."""
        self._conn.send(("event", event))


def _serve(conn: Connection, index: int, threads: int) -> None:
    """A worker's life: pin the threads, then run each call sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    context = WorkerContext(index, conn)
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent is gone
            return
        if message is None:
            return
        fn, args = message
        try:
            reply = ("ok", fn(context, *args))
        except BaseException as exc:  # sent to the parent, which raises it
            reply = ("error", _portable_error(exc))
        conn.send(reply)


def _portable_error(exc: BaseException) -> Any:
    """The exception itself when it pickles (lrlab's errors do), else its text with the worker's traceback."""
    if isinstance(exc, LrlabError):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:
            pass
    return f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_exception(exc))}"


@dataclass
class _Worker:
    process: Any
    conn: Connection
    busy: bool = False


class WorkerPool:
    """`count` spawned processes of `threads` torch threads each, serving calls ``fn(context, *args)``.

    `call` sends a call to a worker; `wait` returns the next result, calling
    `on_event(worker, event)` for the events that come first. `close` stops the
    workers (at once when `terminate`, as after an error or Ctrl-C). Use it as
    a context manager.
    """

    def __init__(self, count: int, threads: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.threads = threads
        self.workers: list[_Worker] = []
        try:
            for index in range(count):
                parent, child = context.Pipe()
                process = context.Process(
                    target=_serve, args=(child, index, threads), name=f"lrlab-worker-{index}", daemon=True
                )
                process.start()
                child.close()
                self.workers.append(_Worker(process, parent))
        except BaseException:
            self.close(terminate=True)
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        self.close(terminate=kind is not None)

    def __len__(self) -> int:
        return len(self.workers)

    def call(self, index: int, fn: Callable[..., Any], *args: Any) -> None:
        """Send ``fn(context, *args)`` to worker `index` (which must be idle)."""
        worker = self.workers[index]
        assert not worker.busy, f"worker {index} is busy"
        try:
            worker.conn.send((fn, args))
        except (BrokenPipeError, OSError):
            raise self._died(index) from None
        worker.busy = True

    def busy(self) -> list[int]:
        """The workers with a call in progress."""
        return [i for i, w in enumerate(self.workers) if w.busy]

    def wait(self, on_event: Callable[[int, tuple[Any, ...]], None] | None = None) -> tuple[int, Any]:
        """The next result as ``(worker, value)``; an error in the worker is raised here."""
        while True:
            busy = self.busy()
            if not busy:
                raise RuntimeError("WorkerPool.wait with no call in progress")
            conns = {self.workers[i].conn: i for i in busy}
            sentinels = {self.workers[i].process.sentinel: i for i in busy}
            for ready in wait([*conns, *sentinels]):
                if ready in sentinels and ready not in conns:
                    index = sentinels[ready]
                    if not self.workers[index].conn.poll():
                        raise self._died(index)
                    continue
                index = conns[ready]  # type: ignore[index]
                try:
                    kind, value = self.workers[index].conn.recv()
                except (EOFError, OSError):
                    raise self._died(index) from None
                if kind == "event":
                    if on_event is not None:
                        on_event(index, value)
                    continue
                self.workers[index].busy = False
                if kind == "error":
                    if isinstance(value, BaseException):
                        raise value
                    raise TrainError(f"worker {index} failed: {value}")
                return index, value

    def _died(self, index: int) -> TrainError:
        process = self.workers[index].process
        process.join(timeout=1)
        code = process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self.close(terminate=True)
        return TrainError(f"worker {index} (pid {process.pid}) stopped unexpectedly ({how}); rerun with --resume")

    def close(self, terminate: bool = False) -> None:
        """Stop the workers: ask them to finish, or (`terminate`) end them now."""
        for worker in self.workers:
            if terminate:
                if worker.process.is_alive():
                    worker.process.terminate()
            else:
                with contextlib.suppress(BrokenPipeError, OSError):
                    worker.conn.send(None)
        for worker in self.workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():  # pragma: no cover - a stuck worker
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self.workers = []


# -- a job's runs in shards ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardSpec:
    """What a worker needs to set up its shard of a job: everything a `Trainer` takes, its runs, their ids."""

    runs: list[tuple[str, int, str, str | None]]
    indices: list[int]
    run_ids: list[str]
    job_id: str
    config: dict[str, Any]
    experiment: Any
    data: Any
    device: str
    fused: bool
    channels_last: bool
    threads: int
    updates: bool = False  # send every update's rate (the job has loggers that want them)


def _setup_shard(context: WorkerContext, spec: ShardSpec) -> int | None:
    """Build the shard's `Trainer` in this worker (no folder: the parent writes); returns its batches per epoch."""
    from lrlab.lab.config import TrainConfig
    from lrlab.lab.train import Listener, Run, Trainer

    class Ticks(Listener):
        def batch(self, epoch: int, index: int, batches: int | None) -> None:
            context.emit("batch", epoch, index)

    class Updates(Listener):
        def update(self, outcome: Any, index: int, lr: float) -> None:
            context.emit("update", outcome.index, index, lr)

    trainer = Trainer(
        [Run(*run) for run in spec.runs],
        TrainConfig.from_dict(spec.config),
        spec.experiment,
        data=spec.data,
        device=spec.device,
        fused=spec.fused,
        channels_last=spec.channels_last,
        listener=Ticks(),
        loggers=[Updates()] if spec.updates else [],
        threads=spec.threads,
        workers=1,
    )
    trainer.job_id = spec.job_id
    for outcome, index, run_id in zip(trainer.outcomes, spec.indices, spec.run_ids, strict=True):
        outcome.index, outcome.run_id = index, run_id
    context.state["trainer"] = trainer
    return trainer.batches


def _load_shard(context: WorkerContext, states: list[dict[str, Any]], generators: dict[int, Any]) -> None:
    """Put the runs where the job's checkpoint left them (resume)."""
    trainer: Trainer = context.state["trainer"]
    for outcome, state in zip(trainer.outcomes, states, strict=True):
        trainer.load_run_state(outcome, state)
    for seed, g in trainer.generators.items():
        g.set_state(generators[seed])


def _shard_epoch(context: WorkerContext, epoch: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    """Train one epoch of the shard: its records, its runs' states, its seeds' generator states."""
    trainer: Trainer = context.state["trainer"]
    records = trainer.train_epoch(epoch)
    states = [trainer.run_state(o) for o in trainer.outcomes]
    generators = {seed: g.get_state() for seed, g in trainer.generators.items()}
    return records, states, generators


def _optimizer_text(run: Any) -> str | None:
    """A run's own optimizer as its spec text (None: the job's)."""
    own = getattr(run, "optimizer", None)
    return None if own is None else str(own)


def _peak_memory(context: WorkerContext) -> float:
    """This worker's peak resident memory in MiB: ``VmHWM`` of its own address space.

    Not ``ru_maxrss``: Linux keeps that across the fork and exec that start a worker, so it would report
    the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # pragma: no cover - not Linux
        pass
    return math.nan


class Shards:
    """A job's runs dealt to worker processes that train them in lockstep with the job, one epoch at a time.

    The job (the parent `Trainer`) keeps its folder, its records and its
    checkpoint: after each epoch the workers send their records and their
    runs' states (model, optimizer, scheduler), which the job stores exactly
    as if it had trained them itself. The batch counter the job shows is the
    slowest worker's.
    """

    def __init__(self, trainer: Trainer, workers: int) -> None:
        self.trainer = trainer
        self.shards = plan_shards(len(trainer.outcomes), workers)
        self.pool = WorkerPool(len(self.shards), trainer.threads)
        self.ticks = [0] * len(self.shards)
        self.shown = 0
        try:
            for k, shard in enumerate(self.shards):
                runs = [trainer.outcomes[i].run for i in shard]
                spec = ShardSpec(
                    runs=[(str(r.schedule), r.seed, r.label, _optimizer_text(r)) for r in runs],
                    indices=list(shard),
                    run_ids=[trainer.outcomes[i].run_id for i in shard],
                    job_id=trainer.job_id,
                    config=trainer.config.to_dict(),
                    experiment=trainer.experiment_reference,
                    data=trainer.data_reference,
                    device=str(trainer.device),
                    fused=trainer.fused,
                    channels_last=trainer.channels_last,
                    threads=trainer.threads,
                    updates=bool(trainer.loggers),
                )
                self.pool.call(k, _setup_shard, spec)
            self._gather()
            if trainer.epochs_done:
                generators = {seed: g.get_state() for seed, g in trainer.generators.items()}
                for k, shard in enumerate(self.shards):
                    states = [trainer.run_state(trainer.outcomes[i]) for i in shard]
                    self.pool.call(k, _load_shard, states, generators)
                self._gather()
        except BaseException:
            self.pool.close(terminate=True)
            raise

    def _gather(self, on_event: Callable[[int, tuple[Any, ...]], None] | None = None) -> list[Any]:
        results: list[Any] = [None] * len(self.shards)
        while self.pool.busy():
            index, value = self.pool.wait(on_event)
            results[index] = value
        return results

    def _tick(self, worker: int, event: tuple[Any, ...]) -> None:
        if event[0] == "update":  # a run's update and its rate, for the job's loggers (TensorBoard)
            _, run, update, lr = event
            for logger in self.trainer.loggers:
                logger.update(self.trainer.outcomes[run], update, lr)
            return
        kind, epoch, index = event
        if kind != "batch":
            return
        self.ticks[worker] = index
        slowest = min(self.ticks)
        while self.shown < slowest:
            self.shown += 1
            self.trainer.listener.batch(epoch, self.shown, self.trainer.batches)

    def epoch(self, epoch: int) -> list[dict[str, Any]]:
        """Train `epoch` in every worker; update the job's runs and generators; return the epoch's records."""
        trainer = self.trainer
        self.ticks = [0] * len(self.shards)
        self.shown = 0
        # a shard whose runs have all diverged sits the epoch out (its seeds' orders serve no run any more)
        live = [k for k, shard in enumerate(self.shards) if any(trainer.outcomes[i].live for i in shard)]
        for k in range(len(self.shards)):
            if k in live:
                self.pool.call(k, _shard_epoch, epoch)
            else:
                self.ticks[k] = sys.maxsize  # not waited for by the batch counter
        results = self._gather(self._tick)
        by_run: dict[str, list[dict[str, Any]]] = {}
        for k in live:
            shard, (records, states, generators) = self.shards[k], results[k]
            for i, state in zip(shard, states, strict=True):
                trainer.load_run_state(trainer.outcomes[i], state)
            for seed, g_state in generators.items():
                trainer.generators[seed].set_state(g_state)
            for rec in records:
                by_run.setdefault(rec["run_id"], []).append(rec)
        # the records in the order one process writes them: runs grouped by seed, in job order
        rank = trainer.seed_rank
        order = sorted(trainer.outcomes, key=lambda o: (rank[o.run.seed], o.index))
        return [rec for o in order for rec in by_run.get(o.run_id, [])]

    def peak_memory(self) -> list[float]:
        """Each worker's peak resident memory so far, in MiB."""
        for k in range(len(self.shards)):
            self.pool.call(k, _peak_memory)
        return [round(float(v), 1) for v in self._gather()]

    def close(self, terminate: bool = False) -> None:
        self.pool.close(terminate=terminate)


def describe_plan(runs: int, workers: int, threads: int, *, chosen: bool) -> str:
    """One line for the start of a job: how its runs are spread, and how to change it."""
    how = "chosen for this machine; --workers to change" if chosen else "as asked"
    per = "thread" if threads == 1 else "threads"
    unit = "run" if runs == 1 else "runs"
    if workers == 1:
        return f"training {runs} {unit} in this process, {threads} {per} per run ({how})"
    return f"training {runs} {unit} on {workers} worker processes of {threads} {per} each, {cores()} cores ({how})"


def data_bytes(data: Any) -> int:
    """The bytes of the tensors and arrays in an experiment's `Data` (0 for streamed data): each worker holds a copy."""
    total = 0
    stack: list[Any] = [getattr(data, "train", None), getattr(data, "test", None)]
    while stack:
        item: Any = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(item)
        elif hasattr(item, "element_size") and hasattr(item, "nelement"):
            total += int(item.element_size() * item.nelement())
        elif hasattr(item, "nbytes"):
            total += int(item.nbytes)
    return total


def work_of(examples: int | None, epochs: int, runs: int) -> float:
    """A job's size for `auto_workers`: training examples x epochs x runs (inf when the count is unknown)."""
    return math.inf if examples is None else float(examples) * epochs * runs
