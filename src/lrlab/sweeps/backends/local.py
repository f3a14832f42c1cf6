"""The ``local`` backend: every trial in this process, one after another, with a progress bar of its batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrlab.sweeps.backends import register_backend

if TYPE_CHECKING:
    from lrlab.sweeps.run import SweepJob


@register_backend("local", description="one trial after another in this process")
def run_local(job: SweepJob) -> None:
    """Train each trial here, one after another."""
    for trial in job.trials:
        job.done(job.train(trial, listener=job.progress(trial)))
