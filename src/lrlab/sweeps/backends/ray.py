"""The ``ray`` backend: each trial as a Ray task, or (``asha=True``) under Ray Tune's ASHA scheduler.

Both join the Ray cluster at ``address`` or start Ray here for the sweep
(`_ray_session`), and write into the same folder layout as the local backend.
Plain tasks run every trial to its end, ``max_concurrent`` at a time. ASHA
reports the conclusion metric after every epoch and stops trials that fall
behind at its rungs; a stopped trial is marked ``stopped`` with the epochs it
finished, and is never trained again.

``ray`` is imported only when a sweep runs on this backend.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.errors import SweepError
from lrlab.lab.experiment import USER_MODULE_PREFIX
from lrlab.sweeps.backends import register_backend

if TYPE_CHECKING:
    from lrlab.lab.config import TrainConfig
    from lrlab.sweeps.run import SweepJob, TrialRecord
    from lrlab.sweeps.sweep import Trial


@contextmanager
def _ray_session(address: str | None, max_concurrent: int | None) -> Iterator[Any]:
    """The ``ray`` module, joined to the cluster at `address` or to one started here (and shut down after)."""
    try:
        import ray
    except ImportError:
        raise SweepError('backend="ray" needs Ray: pip install "lrlab[ray]" (or "ray[tune]")') from None
    if ray.is_initialized():  # the caller's Ray: leave it running
        yield ray
        return
    if address is not None:
        _probe(address)
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=max_concurrent or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


#: seconds to wait for a Ray cluster's port to answer before giving up
PROBE_SECONDS = 10.0


def _probe(address: str, timeout: float = PROBE_SECONDS) -> None:
    """Refuse at once an `address` whose port does not answer (``ray.init`` would retry for minutes).

    ``HOST:PORT`` is the cluster's GCS (``ray start --head`` prints it), ``ray://HOST:PORT``
    a Ray Client server; ``auto`` and ``local`` are Ray's own words and are left to it.
    """
    import socket

    if address in ("auto", "local"):
        return
    text = address.removeprefix("ray://")
    host, sep, port_text = text.rpartition(":")
    start = "start one with `ray start --head` and give the address it prints, or leave out --address to start Ray here"
    if not sep or not host or not port_text.isdigit():
        raise SweepError(f"address must be HOST:PORT or ray://HOST:PORT ({start}); got address={address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port_text)), timeout=timeout):
            pass
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise SweepError(f"no Ray cluster answers at {address} ({reason}); {start}") from None


@register_backend(
    "ray", description="each trial as a Ray task (with asha: under Ray Tune's ASHA)", takes=("address", "asha")
)
def run_ray(job: SweepJob) -> None:
    """Run the trials as Ray tasks, or under Ray Tune's ASHA scheduler when ``job.asha``."""
    if not job.trials:
        return
    with _ray_session(job.address, job.max_concurrent) as ray:
        _by_value(ray)
        (_run_asha if job.asha else _run_tasks)(ray, job)


def _by_value(ray: Any) -> None:
    """Let Ray's pickler send experiments from user files (loaded by path) by value: workers cannot import those."""
    import sys

    for name, module in list(sys.modules.items()):
        if name.startswith(USER_MODULE_PREFIX):
            ray.cloudpickle.register_pickle_by_value(module)


def _run_tasks(ray: Any, job: SweepJob) -> None:
    task = ray.remote(num_cpus=1)(job.run_trial)
    data = ray.put(job.experiment)
    limit = job.max_concurrent or len(job.trials)
    queue = list(job.trials)
    pending: list[Any] = []
    while queue or pending:
        while queue and len(pending) < limit:
            trial = queue.pop(0)
            pending.append(
                task.remote(trial, job.config, data, job.folder(trial), device=job.device, threads=job.threads)
            )
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            job.done(ray.get(ref))


def _run_asha(ray: Any, job: SweepJob) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    metric = job.sweep.conclusion_metric
    by_id = {t.trial_id: t for t in job.trials}
    trainable = tune.with_parameters(
        _trainable,
        trials=by_id,
        folders={tid: str(job.folder(t)) for tid, t in by_id.items()},
        train=job.run_trial,
        config=job.config,
        experiment=job.experiment,
        device=job.device,
        threads=job.threads,
        metric=metric.name,
    )
    scheduler = ASHAScheduler(
        time_attr="epoch",
        metric=metric.name,
        mode="max" if metric.higher_is_better else "min",
        max_t=job.config.epochs,
        grace_period=1,
        reduction_factor=2,
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"trial": tune.grid_search(list(by_id))},
        tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=job.max_concurrent, num_samples=1),
        run_config=_run_config(tune, job.out.resolve()),
    )
    grid = tuner.fit()
    outcomes = [grid[i] for i in range(len(grid))]
    failed = {str(r.config["trial"]): r.error for r in outcomes if r.error is not None and r.config}
    for tid, trial in by_id.items():
        record = job.finished(trial)
        epochs = job.epochs_done(trial)
        if record is None and tid not in failed and epochs is not None:
            # Tune ends a trial at its last report, before the trainer closes its job: resuming one that ran
            # all its epochs trains nothing, writes the job's end record and marks it done. One that ASHA
            # stopped keeps its finished epochs as its result, and is not trained again.
            record = job.train(trial) if epochs >= job.config.epochs else job.complete(trial, "stopped")
        if record is not None:
            job.done(record)
    if failed:
        tid, error = next(iter(failed.items()))
        raise SweepError(f"{len(failed)} trial(s) failed under Ray Tune, e.g. {tid}: {error}; rerun to resume them")


def _run_config(tune: Any, folder: Path) -> Any:
    kwargs: dict[str, Any] = {"storage_path": str(folder / "ray"), "name": "tune", "verbose": 0}
    make: Callable[..., Any] = getattr(tune, "RunConfig", None) or __import__("ray.train").train.RunConfig
    return make(**kwargs)


def _trainable(
    params: dict[str, Any],
    *,
    trials: dict[str, Trial],
    folders: dict[str, str],
    train: Callable[..., TrialRecord],
    config: TrainConfig,
    experiment: Any,
    device: str,
    threads: int | None,
    metric: str,
) -> None:
    """What Tune runs for one trial: the sweep's trainer, reporting `metric` after every epoch."""
    from ray import tune

    from lrlab.lab.train import Listener

    trial = trials[params["trial"]]

    class Report(Listener):
        def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
            value = records[0].get(metric)
            tune.report({"epoch": epoch, metric: math.nan if value is None else float(value)})

    train(trial, config, experiment, Path(folders[trial.trial_id]), device=device, listener=Report(), threads=threads)
