"""The one place the benchmarks call lrlab's trainer (``lrlab.lab.train``, ``lrlab.lab.data``).

API used: ``lrlab.lab.data.Dataset(train_images, train_labels, test_images, test_labels, source)``,
``lrlab.lab.experiments.fashion_mnist.lenet(data=dataset)`` (the chapter's experiment) with its data as
``fashion_mnist_data(dataset)`` -> ``lrlab.Data`` of tensors, ``lrlab.lab.train.Run(schedule, seed, label)``,
``lrlab.lab.config.TrainConfig(epochs=...)`` and ``lrlab.lab.train.Trainer(runs, config, experiment,
fused=...).run()`` returning outcomes whose ``history`` holds one record per epoch with ``images`` and
``test_acc``. If any of it is missing, `Unavailable` is raised and the benchmarks print "not available yet".
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from typing import Any

import common

#: K=6 runs that never diverge at batch 256 (peak rates <= 0.3, as the chapter's stable runs), so every
#: run trains every batch and the fused and the sequential variants do the same work.
SCHEDULES = (
    "constant(0.3)",
    "square_root(0.1)",
    "multi_factor(0.3, milestones=[15, 30], factor=0.5)",
    "poly(0.3, steps=30, power=2.0, final_lr=0.01)",
    "cosine(0.3, steps=20, final_lr=0.01)",
    "warmup(cosine(0.3, steps=15, final_lr=0.01), steps=5)",
)
MODES = {"fused": True, "plain": False, "auto": "auto"}


class Unavailable(RuntimeError):
    """lrlab's trainer (or the piece of it a benchmark needs) is not there yet."""


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise Unavailable(f"{name} is not available yet ({exc})") from None


def _api() -> tuple[Any, Any]:
    train, data = _module("lrlab.lab.train"), _module("lrlab.lab.data")
    missing = [n for n in ("Trainer", "TrainConfig", "Run") if not hasattr(train, n)]
    if missing or not hasattr(data, "Dataset"):
        raise Unavailable(f"lrlab.lab.train lacks {', '.join(missing) or 'lrlab.lab.data.Dataset'}")
    return train, data


def _chapter() -> tuple[Any, Any]:
    """The chapter's experiment factory and the Fashion-MNIST tensors converter."""
    module = _module("lrlab.lab.experiments.fashion_mnist")
    return module.lenet, module.fashion_mnist_data


def load_arrays() -> common.Arrays | None:
    """Fashion-MNIST through ``lrlab.lab.data`` (no download), or None when that module is missing."""
    try:
        data = importlib.import_module("lrlab.lab.data")
        ds = data.load_fashion_mnist(download=False)
    except Exception:
        return None
    return ds.train_images, ds.train_labels, ds.test_images, ds.test_labels


def tensors(arrays: common.Arrays, n_train: int | None, n_test: int | None) -> Any:
    """The chapter's experiment on the whole data set as tensors, then on views of the first examples.

    Views keep the whole data set resident, so peak memory is that of a full-size job.
    """
    _, data = _api()
    lenet, to_data = _chapter()
    x, y, xt, yt = arrays
    dataset = data.Dataset(x, y, xt, yt, common.ROOT / "bench")
    full = dataclasses.replace(lenet(data=dataset), data=to_data(dataset))
    return tensors_view(full, n_train, n_test)


def tensors_view(full: Any, n_train: int | None, n_test: int | None) -> Any:
    """The experiment `full` on views of its first `n_train` / `n_test` examples (None: all)."""
    (x, y), (xt, yt) = full.data.train, full.data.test
    view = dataclasses.replace(full.data, train=(x[:n_train], y[:n_train]), test=(xt[:n_test], yt[:n_test]))
    return dataclasses.replace(full, data=view)


def _job(data: Any, runs: int, epochs: int, mode: str) -> list[Any]:
    """Train the job; ``mode="sequential"``: `runs` one-run jobs one after another (plain path)."""
    import torch

    train, _ = _api()
    config = train.TrainConfig(epochs=epochs)
    specs = [train.Run(s, seed=0, label=s) for s in (SCHEDULES * (runs // len(SCHEDULES) + 1))[:runs]]
    # one process with this process's threads (OMP_NUM_THREADS): these rows measure the kernels and the
    # in-process paths; the trainer's own default (one thread per run, runs in worker processes) is benchmark 5
    threads = {"threads": torch.get_num_threads(), "workers": 1}
    if mode == "sequential":
        return [o for r in specs for o in train.Trainer([r], config, data, fused=False, **threads).run()]
    return list(train.Trainer(specs, config, data, fused=MODES[mode], **threads).run())


def timed_runs(
    arrays: common.Arrays,
    *,
    runs: int,
    epochs: int,
    mode: str,
    n_train: int | None = None,
    n_test: int | None = None,
    max_batches: int | None = None,
    warm_up: bool = True,
) -> dict[str, Any]:
    """Train `runs` runs for `epochs` epochs with lrlab's trainer, after an untimed warm-up of the same job shape."""
    if max_batches is not None:
        n_train = min(n_train or len(arrays[1]), max_batches * common.BATCH_SIZE)
    full = tensors(arrays, None, None)
    if warm_up:
        _job(tensors_view(full, 5 * common.BATCH_SIZE, 1000), runs, 1, mode)
    data = tensors_view(full, n_train, n_test)
    t0 = time.perf_counter()
    outcomes = _job(data, runs, epochs, mode)
    seconds = time.perf_counter() - t0
    records = [r for o in outcomes for r in o.history]
    n_eval = len(data.data.test[1])
    evaluated = sum(n_eval for r in records if r.get("test_acc") is not None)
    accs = [r["test_acc"] for r in records if r.get("epoch") == epochs and r.get("test_acc") is not None]
    return {
        "model_images": sum(int(r["images"]) for r in records),
        "eval_images": evaluated,
        "seconds": seconds,
        "runs": runs,
        "mode": mode,
        "diverged": sum(o.diverged_epoch is not None for o in outcomes),
        "test_acc": accs[0] if accs else float("nan"),
        "test_acc_all": accs,
    }


def split(experiment: Any) -> Any:
    """The experiment's tensors by name: ``train_x``, ``train_y``, ``test_x``, ``test_y``."""
    import types

    (x, y), (xt, yt) = experiment.data.train, experiment.data.test
    return types.SimpleNamespace(train_x=x, train_y=y, test_x=xt, test_y=yt)
