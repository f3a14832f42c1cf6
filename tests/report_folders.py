"""Result folders for the report tests, written record by record from a few made-up numbers.

`job_folder` writes what `lrlab.lab.train` writes for a 3-seed compare job (``job.json`` with its
experiment record, ``metrics.jsonl``); `sweep_folder` writes what `lrlab.sweeps.run` writes for a
grid sweep (``sweep.json``, and per trial its job folder and ``result.json``). No torch, no training.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lrlab.lab.store import dumps
from lrlab.schedules.spec import parse
from lrlab.sweeps.run import TrialRecord
from lrlab.sweeps.sweep import Sweep, expand

COS = "cosine(0.3, steps=20, final_lr=0.01)"
CONST = "constant(0.3)"
HUGE = "constant(9.0)"
# final (train loss, train acc, test loss, test acc) per seed, invented for the test
FINALS = {
    COS: [(0.20, 0.93, 0.30, 0.90), (0.22, 0.92, 0.32, 0.89), (0.18, 0.94, 0.29, 0.91)],
    CONST: [(0.15, 0.95, 0.35, 0.88), (0.17, 0.94, 0.37, 0.86), (0.16, 0.945, 0.36, 0.87)],
}
KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")
CHAPTER = {
    "name": "fashion-mnist-lenet",
    "description": "the d2l chapter's LeNet (ReLU, max pooling) on Fashion-MNIST",
    "metrics": list(KEYS),
    "goal": "max:test_acc",
    "reference": "chapter",
    "train_examples": 2000,
    "test_examples": 500,
}


def job_folder(
    folder: Path,
    *,
    epochs: int = 3,
    complete: bool = True,
    experiment: dict[str, Any] | None = None,
    legacy: bool = False,
) -> Path:
    """Write a 3-seed compare job of cosine and constant, with one run ("huge") that diverged in epoch 2.

    `experiment` is ``job.json``'s experiment record (default: the chapter's, on 500 test images);
    ``legacy=True`` writes the folder of an lrlab before experiments: no ``job.json``, no test loss.
    """
    experiment = experiment or CHAPTER
    keys = ("train_loss", "train_acc", "test_acc") if legacy else tuple(experiment["metrics"])
    folder.mkdir(parents=True, exist_ok=True)
    runs = [(label, spec, seed) for label, spec in (("cosine", COS), ("constant", CONST)) for seed in range(3)]
    runs.append(("huge", HUGE, 0))
    config = {"experiment": experiment["name"], "epochs": epochs, "batch_size": 256, "per": "epoch", "optimizer": "sgd"}
    records: list[dict[str, Any]] = []
    for i, (label, spec, seed) in enumerate(runs):
        record = {"type": "run", "run_id": f"job-{i}", "job_id": "job", "label": label, "schedule": spec, "seed": seed}
        if legacy:
            record.update(per="epoch", epochs=epochs, batch_size=256, model={"variant": "lenet", "init": "torch"})
            record.update(data="synthetic", lrlab="0.1.0", torch="2.13.0+cpu", device="cpu")
        else:
            record.update(config, optimizer_text="SGD (no momentum, no weight decay)", batches_per_epoch=8)
            record.update(data="2000 train + 500 test images", device="cpu", threads_per_run=2, lrlab="0.1.0")
        records.append(record)
    for epoch in range(1, epochs + 1):
        for i, (_, spec, seed) in enumerate(runs):
            if spec == HUGE:
                if epoch == 2:
                    records.append(epoch_record(i, epoch, dict.fromkeys(keys, None), 9.0, diverged=True))
                    records.append({"type": "diverged", "run_id": f"job-{i}", "epoch": 2, "loss": "nan"})
                elif epoch == 1:
                    records.append(epoch_record(i, epoch, dict.fromkeys(keys, 2.3), 9.0))
                continue
            final = dict(zip(KEYS, FINALS[spec][seed], strict=True))
            if epoch < epochs:  # earlier epochs: worse
                final = {k: v + 0.5 if "loss" in k else v - 0.2 for k, v in final.items()}
            records.append(epoch_record(i, epoch, {k: final[k] for k in keys}, 0.3 / epoch))
    if complete:
        records.append({"type": "end", "job_id": "job", "epochs": epochs, "seconds": 1.0})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if not legacy:
        identity = {"config": config, "runs": [{"label": a, "schedule": b, "seed": c} for a, b, c in runs]}
        job = {"format": 2, "job_id": "job", "identity": {**identity, "data": "2000 train + 500 test images"}}
        job.update(experiment=experiment, device="cpu", threads_per_run=2)
        job["versions"] = {"lrlab": "0.1.0", "torch": "2.13.0+cpu", "python": "3.11.7"}
        (folder / "job.json").write_text(json.dumps(job))
    return folder


def epoch_record(i: int, epoch: int, values: dict[str, Any], lr: float, diverged: bool = False) -> dict[str, Any]:
    return {
        "type": "epoch",
        "run_id": f"job-{i}",
        "epoch": epoch,
        **values,
        "lr_first": lr,
        "lr_last": lr,
        "seconds": 0.1,
        "diverged": diverged,
    }


def sweep_folder(
    folder: Path,
    *,
    template: str = "cosine({lr}, steps={steps})",
    grid: Mapping[str, Sequence[float]] | None = None,
    seeds: Sequence[int] = (0, 1),
    epochs: int = 3,
    per: str = "epoch",
    batches_per_epoch: int = 4,
) -> Sweep:
    """Write a finished sweep: each trial's test accuracy grows with lr and steps, a little noise per seed."""
    sweep = Sweep(
        template=template,
        grid=grid if grid is not None else {"lr": (0.1, 0.3, 1.0), "steps": (2, 3, 5)},
        seeds=tuple(seeds),
        epochs=epochs,
        per=per,
        name="made-up",
        description="A sweep written by hand for the report tests.",
    )
    trials = expand(sweep)
    folder.mkdir(parents=True, exist_ok=True)
    stored = {
        "format": 1,
        "fingerprint": sweep.fingerprint,
        "sweep": sweep.to_dict(),
        "trials": [t.trial_id for t in trials],
        "data": "made-up data",
        "versions": {"lrlab": "0.1.0", "torch": "2.13.0+cpu", "python": "3.11.7"},
    }
    (folder / "sweep.json").write_text(json.dumps(stored, indent=2))
    experiment = {**CHAPTER, "metrics": ["train_loss", "train_acc", "test_loss", "test_acc"]}
    for trial in trials:
        out = folder / "trials" / trial.trial_id
        out.mkdir(parents=True)
        config = {
            "experiment": "fashion-mnist-lenet",
            "epochs": epochs,
            "batch_size": 64,
            "per": per,
            "optimizer": "sgd",
        }
        run = {
            "type": "run",
            "run_id": f"{trial.trial_id}-0",
            "job_id": trial.trial_id,
            "label": trial.label,
            "schedule": trial.spec,
            "seed": trial.seed,
            **config,
            "batches_per_epoch": batches_per_epoch,
        }
        records: list[dict[str, Any]] = [run]
        schedule = parse(trial.spec)
        step = float(sum(float(v) for v in trial.params.values()))
        for epoch in range(1, epochs + 1):
            acc = min(0.99, 0.3 + 0.05 * step * epoch / epochs + 0.01 * trial.seed)
            loss = 2.3 * math.exp(-0.2 * step * epoch / epochs)
            t = (epoch - 1) * (batches_per_epoch if per == "step" else 1)
            last = t + (batches_per_epoch - 1 if per == "step" else 0)
            values = {"train_loss": loss, "train_acc": acc, "test_loss": loss * 1.1, "test_acc": acc - 0.02}
            records.append(
                epoch_record(0, epoch, values, float(schedule(t)))
                | {"run_id": run["run_id"], "lr_last": float(schedule(last))}
            )
        records.append({"type": "end", "job_id": trial.trial_id, "epochs": epochs, "seconds": 1.0})
        (out / "metrics.jsonl").write_text("".join(dumps(r) + "\n" for r in records))
        (out / "job.json").write_text(json.dumps({"format": 2, "job_id": trial.trial_id, "experiment": experiment}))
        final = records[-2]
        metrics = {k: float(final[k]) for k in ("train_loss", "train_acc", "test_acc")}
        record = TrialRecord(trial.trial_id, dict(trial.params), trial.seed, trial.spec, "done", epochs, None, metrics)
        (out / "result.json").write_text(dumps(record.to_dict()) + "\n")
    return sweep
