"""What a training job concludes: its runs' final metric per schedule and seed, through `lrlab.lab.stats`.

A ``compare`` job trains each schedule with the same seeds, and runs with one
seed see the same initial weights and batches, so `job_comparison` judges
the best schedule's lead by the *paired* differences over seeds. ``train``
is a compare of one.
"""

from __future__ import annotations

import math
from typing import Any

from lrlab.lab.stats import Comparison, Metric, compare_settings
from lrlab.lab.store import JobResults, RunResults

__all__ = ["final_value", "goal_of", "job_comparison"]


def goal_of(results: JobResults) -> Metric:
    """The metric a job is judged by: its experiment's goal (``max:test_acc`` for jobs that record none)."""
    experiment = results.job.get("experiment") or {}
    return Metric.parse(experiment.get("goal") or "max:test_acc")


def final_value(run: RunResults, name: str) -> float:
    """`run`'s last recorded value of metric `name`, NaN when it diverged or has none."""
    if run.diverged_epoch is not None or run.final is None:
        return math.nan
    value: Any = run.final.get(name)
    return float(value) if isinstance(value, int | float) else math.nan


def job_comparison(results: JobResults, metric: Metric | str | None = None) -> Comparison:
    """Each label's final `metric` (default: the job's goal) over its seeds, ranked, and the one-sentence conclusion."""
    target = Metric.parse(metric) if metric is not None else goal_of(results)
    settings: dict[str, dict[int, float]] = {}
    diverged: dict[str, int] = {}
    for label, runs in results.by_label().items():
        settings[label] = {run.seed: final_value(run, target.name) for run in runs}
        diverged[label] = sum(1 for run in runs if run.diverged_epoch is not None)
    return compare_settings(settings, target, diverged=diverged)
