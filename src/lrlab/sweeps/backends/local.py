"""The ``local`` backend: the trials on this machine, several at a time in worker processes, or one after another.

With ``job.workers`` > 1 each worker process (`lrlab.lab.workers.WorkerPool`,
pinned to the sweep's threads per trial) gets the experiment once and then
trains one trial after another, each a task of `lrlab.lab.workers.Executor`
(the loop a compare's run-epochs go through); the parent writes
``results.jsonl`` as each ends. A trial's numbers are the same whichever
worker, or this process, trained it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lrlab.sweeps.backends import register_backend

if TYPE_CHECKING:
    from lrlab.lab.config import TrainConfig
    from lrlab.lab.experiment import Experiment
    from lrlab.lab.workers import WorkerContext
    from lrlab.sweeps.run import SweepJob, TrialRecord
    from lrlab.sweeps.sweep import Trial


@register_backend("local", description="the trials on this machine: --workers at a time, or one after another")
def run_local(job: SweepJob) -> None:
    """Train every trial here: in ``job.workers`` worker processes, or one after another in this process."""
    from lrlab.lab.workers import portable

    workers = min(job.workers, len(job.trials))
    if workers > 1 and not portable(job.experiment):
        job.log.line(
            f"note: experiment {job.experiment.name!r} cannot be sent to worker processes (defined in __main__, a "
            "notebook or a file loaded by path); training one trial at a time in this process"
        )
        workers = 1
    if workers <= 1:
        for trial in job.trials:
            job.done(job.train(trial, listener=job.progress(trial)))
        return
    _run_in_workers(job, workers)


def _run_in_workers(job: SweepJob, workers: int) -> None:
    from lrlab.lab.workers import Executor, Task, WorkerPool

    job.log.line(f"training {workers} trials at a time in worker processes of {job.threads} thread(s) each")
    with WorkerPool(workers, job.threads or 1) as pool:
        pool.call_all(_receive_experiment, job.experiment)
        executor = Executor(pool)  # the scheduling loop a compare's run-epochs go through
        for trial in job.trials:
            args = (trial, job.config, job.folder(trial), job.device, job.threads)
            executor.submit(Task(trial, _train_trial, args))
        while executor.pending():
            _, _, record = executor.next()
            job.done(record)


def _receive_experiment(context: WorkerContext, experiment: Experiment) -> None:
    """Keep the sweep's experiment (with its data loaded) in this worker for all its trials."""
    context.state["experiment"] = experiment


def _train_trial(
    context: WorkerContext, trial: Trial, config: TrainConfig, folder: Path, device: str, threads: int | None
) -> TrialRecord:
    """`lrlab.sweeps.run.run_trial` in a worker, with the experiment it was sent."""
    from lrlab.sweeps.run import run_trial

    return run_trial(trial, config, context.state["experiment"], folder, device=device, threads=threads)
