"""Worker processes: the runs of a job, or the trials of a sweep, trained several at a time.

Small CPU models leave cores idle: the chapter's LeNet keeps two intra-op
threads busy only about 60 % of the time. Several processes with one thread
each fill the cores. What a run computes depends only on its
experiment, schedule, seed and its *threads per run* (torch's intra-op
threads, which split float sums and so decide their rounding) -- never on how
many workers trained beside it -- so a run gives the same numbers alone, in a
job of any number of workers, and as a Ray task.

`WorkerPool` starts processes with the ``spawn`` method (a clean interpreter:
forking a process whose OpenMP threads have run can hang), pins each to
`threads` torch threads, and serves one call at a time per worker over a pipe;
a call may send events (progress) before its result. A worker that dies is
reported at once, naming its exit code; Ctrl-C in the parent stops every
worker (workers ignore SIGINT, so only the parent decides).

`Executor` is the one scheduling loop over a pool: a job's runs go through it
one epoch of one run a task (`EpochTasks`), a sweep's trials one trial a task
(the ``local`` backend), and a free worker always takes the next task, so five
runs on two workers keep both cores busy to the end. The job keeps one folder,
one metrics file and one checkpoint, and resumes with any number of workers.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from lrlab.errors import LrlabError, TrainError, invalid

if TYPE_CHECKING:
    from lrlab.lab.train import Trainer

__all__ = [
    "EpochTasks",
    "Executor",
    "Task",
    "WorkerContext",
    "WorkerPool",
    "auto_workers",
    "check_workers",
    "data_bytes",
    "default_threads",
    "keep_freed_memory",
    "portable",
]

#: below this many training examples x epochs x runs a job runs in this process: starting workers
#: (a fresh interpreter importing torch and loading the data, 2-5 s each) would cost more than it saves
MIN_WORK = 300_000
#: workers per core: the `Executor` keeps each busy until the job's last run-epoch, so more would only add
#: switching, start-up and memory (chapter job, 2 cores: 2 workers 15.4-17.2 s an epoch, 5 in step 17.2-18.8 s)
WORKERS_PER_CORE = 1
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


#: glibc ``mallopt`` parameters: the sizes above which freed memory goes back to the system, and above which
#: a block gets its own mapping
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Let this process's allocator keep and reuse the blocks it frees (glibc only; True if it took).

    A training step allocates its activations (5 MB for LeNet's first layer at batch 256) and frees them.
    By default glibc hands such blocks back to the kernel and maps them afresh on the next step: about 750
    page faults and 1.5-2.5 ms of kernel time a step. Raising the thresholds to 32 MB and 128 MB keeps them;
    the numbers do not change, the peak memory hardly does. Called in lrlab's own processes (the workers and
    the ``lrlab`` command), never in a user's: the allocator is the whole process's.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)) and bool(mallopt(_M_TRIM_THRESHOLD, 128 * 2**20))


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
    (`work` = examples x epochs x runs below `MIN_WORK`). Otherwise one worker
    per core's worth of threads (`WORKERS_PER_CORE`), at most one per run and
    within half the machine's memory at `WORKER_BASE_BYTES` plus the data per
    worker: the runs' epochs are dealt out as workers come free, so five runs
    keep two workers busy to the end.
    """
    if device != "cpu" or runs < 2 or work < MIN_WORK:
        return 1
    limit = max(1, cores() // threads) * WORKERS_PER_CORE
    memory = memory_bytes()
    if memory is not None:
        limit = min(limit, max(1, int(memory * 0.5 // (WORKER_BASE_BYTES + data_bytes))))
    return max(1, min(runs, limit))


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
    keep_freed_memory()
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

    def call_all(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        """``fn(context, *args)`` in every worker (all idle), and each worker's result, in worker order."""
        for index in range(len(self.workers)):
            self.call(index, fn, *args)
        results: list[Any] = [None] * len(self.workers)
        while self.busy():
            index, value = self.wait()
            results[index] = value
        return results

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
            # a dead worker first: a busy one's results must not hide it
            for ready in sorted(wait([*conns, *sentinels]), key=lambda r: r not in sentinels):
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


# -- one scheduling loop ---------------------------------------------------------------------------------
@dataclass
class Task:
    """A call for whichever worker comes free: ``fn(context, *args)``.

    `key` names the task for its caller. `home` is the worker it would rather
    go to (the one that holds its state already); `prepare(worker)`, when
    given, makes the arguments at dispatch, for the worker it goes to (a run's
    state is sent only where it is not held).
    """

    key: Any
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    home: int | None = None
    prepare: Callable[[int], tuple[Any, ...]] | None = None
    #: lower goes first (a run-epoch's epoch: the job's oldest epoch ends, and is saved, first)
    priority: int = 0


class Executor:
    """The one scheduling loop of every job of runs: tasks queue here and go to the first free worker.

    A job's run-epochs (`EpochTasks`) and a sweep's trials (the ``local``
    backend) are both tasks. A free worker takes a task of the lowest
    priority queued: one that would rather be with it, else the oldest. So
    no worker idles while work waits, the oldest epoch ends first, and a run
    stays on its worker while that keeps the cores even.
    """

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.queue: list[Task] = []
        #: the task each busy worker is on
        self.running: dict[int, Task] = {}

    def submit(self, task: Task) -> None:
        """Queue `task`; it starts at once if a worker is free."""
        self.queue.append(task)
        self._dispatch()

    def pending(self) -> bool:
        """Whether a task is queued or running."""
        return bool(self.queue or self.running)

    def next(self, on_event: Callable[[int, tuple[Any, ...]], None] | None = None) -> tuple[Task, int, Any]:
        """The next task to end, the worker that ran it and its result; the freed worker takes the next task."""
        worker, value = self.pool.wait(on_event)
        task = self.running.pop(worker)
        self._dispatch()
        return task, worker, value

    def _dispatch(self) -> None:
        idle = [w for w in range(len(self.pool)) if w not in self.running]
        while idle and self.queue:
            best = min(t.priority for t in self.queue)
            tier = [t for t in self.queue if t.priority == best]
            # a task of the first tier goes to its home worker when that one is free, else to any free worker
            worker, task = next(((w, t) for t in tier for w in idle if t.home == w), (idle[0], tier[0]))
            idle.remove(worker)
            self._start(worker, task)

    def _start(self, worker: int, task: Task) -> None:
        self.queue.remove(task)
        args = task.prepare(worker) if task.prepare is not None else task.args
        self.running[worker] = task
        self.pool.call(worker, task.fn, *args)


# -- a job's runs, one epoch of one run a task ---------------------------------------------------------------
@dataclass(frozen=True)
class JobSpec:
    """What a worker needs to build a job's `Trainer` (no folder: the parent writes): everything it takes."""

    runs: list[tuple[str, int, str, str | None]]
    run_ids: list[str]
    job_id: str
    config: dict[str, Any]
    experiment: Any
    data: Any
    device: str
    channels_last: bool
    threads: int
    updates: bool = False  # send every update's rate (the job has loggers that want them)


def _setup_job(context: WorkerContext, spec: JobSpec) -> int | None:
    """Build the job's `Trainer` in this worker; returns its batches per epoch."""
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
        fused=False,
        channels_last=spec.channels_last,
        listener=Ticks(),
        loggers=[Updates()] if spec.updates else [],
        threads=spec.threads,
        workers=1,
    )
    trainer.job_id = spec.job_id
    for outcome, run_id in zip(trainer.outcomes, spec.run_ids, strict=True):
        outcome.run_id = run_id
    context.state["trainer"] = trainer
    return trainer.batches


def _pack(value: Any) -> bytes:
    """`value` as bytes, its tensors copied: torch would send a tensor through a pipe as shared memory, which
    the sender goes on changing (a run's weights while it trains its next epoch)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _run_epoch(
    context: WorkerContext, run: int, epoch: int, state: bytes | None, order_state: bytes
) -> tuple[list[dict[str, Any]], bytes]:
    """Train run `run` for `epoch`: from `state` (None: as this worker left it), its seed's batch order drawn
    from `order_state`. Returns its records, and its state and its seed's generator state after (packed)."""
    trainer: Trainer = context.state["trainer"]
    outcome = trainer.outcomes[run]
    if state is not None:
        trainer.load_run_state(outcome, pickle.loads(state))
    generator = trainer.generators[outcome.run.seed]
    generator.set_state(pickle.loads(order_state))
    records = trainer.train_epoch(epoch, only=[run])
    return records, _pack((trainer.run_state(outcome), generator.get_state()))


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


class EpochTasks:
    """A job's runs trained in worker processes, one epoch of one run a task, through the `Executor`.

    Each run's next epoch is queued as soon as its last one ends, so the
    workers never wait for each other: five runs on two workers keep both busy
    to the end. The job (the parent `Trainer`) keeps its folder, records and
    checkpoint: `epoch` returns once every live run has finished that epoch,
    with the runs' states (model, optimizer, scheduler, random state) and the
    seeds' batch-order generators put where one process would have them, so
    the records, the checkpoint and a resume are the same with any number of
    workers. A run's state travels only when it changes worker. The batch
    counter the job shows is the mean over its live runs.
    """

    def __init__(self, trainer: Trainer, workers: int) -> None:
        self.trainer = trainer
        self.pool = WorkerPool(max(1, min(workers, len(trainer.outcomes))), trainer.threads)
        self.executor = Executor(self.pool)
        #: the worker holding each run's latest state (None: only the job has it)
        self.holder: dict[int, int | None] = {o.index: None for o in trainer.outcomes}
        #: each run's latest state, where it is newer than the job's copy
        self.latest: dict[int, dict[str, Any]] = {}
        #: each (seed, epoch)'s batch-order generator state at the epoch's start
        self.starts: dict[tuple[int, int], Any] = {}
        #: finished (run, epoch)s: their records and states
        self.results: dict[tuple[int, int], tuple[list[dict[str, Any]], dict[str, Any]]] = {}
        #: batches done of each (run, epoch) being trained, for the job's batch counter
        self.ticks: dict[tuple[int, int], int] = {}
        self.current, self.shown, self.live = 0, 0, [o.index for o in trainer.outcomes if o.live]
        try:
            spec = JobSpec(
                runs=[(str(o.run.schedule), o.run.seed, o.run.label, _optimizer_text(o.run)) for o in trainer.outcomes],
                run_ids=[o.run_id for o in trainer.outcomes],
                job_id=trainer.job_id,
                config=trainer.config.to_dict(),
                experiment=trainer.experiment_reference,
                data=trainer.data_reference,
                device=str(trainer.device),
                channels_last=trainer.channels_last,
                threads=trainer.threads,
                updates=bool(trainer.loggers),
            )
            self.pool.call_all(_setup_job, spec)
            first = trainer.epochs_done + 1
            for seed, g in trainer.generators.items():
                self.starts[(seed, first)] = g.get_state()
            if first <= trainer.config.epochs:
                for o in trainer.outcomes:
                    if o.live:
                        self._submit(o.index, first)
        except BaseException:
            self.pool.close(terminate=True)
            raise
        self.since = time.perf_counter()

    def _submit(self, run: int, epoch: int) -> None:
        seed = self.trainer.outcomes[run].run.seed

        def prepare(worker: int) -> tuple[Any, ...]:
            state = None
            if self.holder[run] != worker:
                state = _pack(self.latest.get(run) or self.trainer.run_state(self.trainer.outcomes[run]))
            self.holder[run] = worker
            return run, epoch, state, _pack(self.starts[(seed, epoch)])

        self.executor.submit(Task((run, epoch), _run_epoch, home=self.holder[run], prepare=prepare, priority=epoch))

    def _finished(self, task: Task, value: Any) -> None:
        run, epoch = task.key
        records, packed = value
        state, order_after = pickle.loads(packed)
        seed = self.trainer.outcomes[run].run.seed
        self.latest[run] = state
        self.starts[(seed, epoch + 1)] = order_after
        self.results[(run, epoch)] = (records, state)
        if self.trainer.batches is not None:
            self.ticks[(run, epoch)] = self.trainer.batches
        if state["diverged_epoch"] is None and epoch < self.trainer.config.epochs:
            self._submit(run, epoch + 1)

    def _tick(self, worker: int, event: tuple[Any, ...]) -> None:
        if event[0] == "update":  # a run's update and its rate, for the job's loggers (TensorBoard)
            _, run, update, lr = event
            for logger in self.trainer.loggers:
                logger.update(self.trainer.outcomes[run], update, lr)
            return
        if event[0] != "batch":
            return
        _, epoch, index = event
        run = self.executor.running[worker].key[0]
        self.ticks[(run, epoch)] = index
        self._show(epoch)

    def _show(self, epoch: int) -> None:
        """Move the job's batch counter for `epoch` to the mean of its live runs' batches (or the slowest's)."""
        if epoch != self.current or not self.live:
            return
        batches = self.trainer.batches
        done = [self.ticks.get((run, epoch), 0) for run in self.live]
        target = min(done) if batches is None else sum(min(d, batches) for d in done) // len(done)
        while self.shown < target:
            self.shown += 1
            self.trainer.listener.batch(epoch, self.shown, batches)

    def epoch(self, epoch: int) -> list[dict[str, Any]]:
        """Wait until every live run has trained `epoch`; put the job's runs and generators there; its records."""
        trainer = self.trainer
        self.current, self.shown = epoch, 0
        self.live = [o.index for o in trainer.outcomes if o.live]
        while any((run, epoch) not in self.results for run in self.live):
            task, _, value = self.executor.next(self._tick)
            self._finished(task, value)
            self._show(epoch)
        by_run: dict[str, list[dict[str, Any]]] = {}
        for run in self.live:
            records, state = self.results.pop((run, epoch))
            trainer.load_run_state(trainer.outcomes[run], state)
            if self.latest.get(run) is state:
                del self.latest[run]  # the job's copy is the latest now
            for rec in records:
                by_run.setdefault(rec["run_id"], []).append(rec)
        for seed, g in trainer.generators.items():
            after = self.starts.get((seed, epoch + 1))
            if after is not None:
                g.set_state(after)
            else:  # every run of this seed has diverged: draw its order as one process does
                trainer.train_batches.order(g)
        for key in [k for k in self.starts if k[1] <= epoch]:
            del self.starts[key]
        for key in [k for k in self.ticks if k[1] <= epoch]:
            del self.ticks[key]
        now = time.perf_counter()
        wall, self.since = round(now - self.since, 4), now
        # the records in the order one process writes them: runs grouped by seed, in job order
        rank = trainer.seed_rank
        order = sorted(trainer.outcomes, key=lambda o: (rank[o.run.seed], o.index))
        records = [rec for o in order for rec in by_run.get(o.run_id, [])]
        for rec in records:
            if rec.get("type") == "epoch":
                rec["epoch_seconds"] = wall  # the job's epoch, as one process records it
        return records

    def peak_memory(self) -> list[float]:
        """Each worker's peak resident memory so far, in MiB (once no task is left)."""
        assert not self.executor.pending(), "peak_memory while tasks run"
        try:
            values = self.pool.call_all(_peak_memory)
        except TrainError:  # a worker gone after its last task: the job's numbers are all in
            return []
        return [round(float(v), 1) for v in values]

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
