"""Run one training variant, timed, and print one JSON line (used by the benchmarks, each in its own process).

Variants:
  book    the d2l chapter's loop: per-image Dataset (PIL + ToTensor), DataLoader(256, shuffle, 4 workers),
          per-batch ``float()`` accumulator, SGD, ReLU LeNet, test-set accuracy each epoch
  lrlab   lrlab's trainer: ``--runs K`` runs, ``--mode fused|plain|auto``

Each process loads the data, warms up (a few batches and a small eval, not timed), then times
``--epochs`` epochs. The JSON has model-images trained, images evaluated, seconds, and max RSS.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import trainer_api


def run_book(
    arrays: common.Arrays,
    epochs: int,
    workers: int,
    max_batches: int | None = None,
    warm_up: bool = True,
    lr: float = 0.3,
    seed: int = 0,
) -> dict[str, Any]:
    """Time `epochs` epochs of the book's loop (train, then test accuracy) after an untimed warm-up."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = common.lenet()
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    x, y, xt, yt = arrays
    # warm-up: a few batches and a small eval in-process (oneDNN primitives, allocator), not timed
    if warm_up:
        warm_train, warm_test = common.book_loaders((x[:1280], y[:1280], xt[:512], yt[:512]), num_workers=0)
        common.book_train_epoch(net, warm_train, loss, trainer, max_batches=5)
        common.book_evaluate(net, warm_test)
    torch.manual_seed(seed)
    net = common.lenet()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)

    train_iter, test_iter = common.book_loaders(arrays, num_workers=workers)
    train_s = eval_s = 0.0
    acc = test_acc = 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        acc = common.book_train_epoch(net, train_iter, loss, trainer, max_batches)
        t1 = time.perf_counter()
        test_acc = common.book_evaluate(net, test_iter)
        t2 = time.perf_counter()
        train_s += t1 - t0
        eval_s += t2 - t1
    n_batches = -(-len(y) // common.BATCH_SIZE)
    trained = len(y) if max_batches is None or max_batches >= n_batches else max_batches * common.BATCH_SIZE
    return {
        "model_images": epochs * trained,
        "eval_images": epochs * len(yt),
        "seconds": train_s + eval_s,
        "train_seconds": train_s,
        "eval_seconds": eval_s,
        "train_acc": acc,
        "test_acc": test_acc,
        "runs": 1,
    }


def run_variant(
    name: str,
    *,
    epochs: int = 1,
    n_train: int | None = None,
    n_test: int | None = None,
    runs: int = 1,
    mode: str = "auto",
    workers: int = 4,
    max_batches: int | None = None,
    smoke: bool = False,
    warm_up: bool = True,
) -> dict[str, Any]:
    """One variant's measurement as a dict (``ok`` False with ``error`` when it cannot run)."""

    def load() -> common.Arrays:
        if smoke:
            return common.synthetic_arrays()
        return trainer_api.load_arrays() or common.fashion_mnist_arrays()  # lrlab.lab.data when there

    t_load, arrays = common.timed(load)
    result: dict[str, Any] = {"variant": name, "epochs": epochs, "load_seconds": t_load}
    try:
        if name == "book":
            result.update(
                run_book(common.subset(arrays, n_train, n_test), epochs, workers, max_batches, warm_up and not smoke)
            )
        elif name == "lrlab":
            result.update(
                trainer_api.timed_runs(
                    arrays,
                    runs=runs,
                    epochs=epochs,
                    mode=mode,
                    n_train=n_train,
                    n_test=n_test,
                    max_batches=max_batches,
                    warm_up=warm_up and not smoke,
                )
            )
        else:
            raise ValueError(f"unknown variant {name!r}")
    except trainer_api.Unavailable as exc:
        result.update(ok=False, unavailable=True, error=str(exc))
        return result
    secs = result["seconds"]
    result["ok"] = True
    result["images_per_s"] = result["model_images"] / secs
    flops = result["model_images"] * common.TRAIN_FLOP_PER_IMAGE + result["eval_images"] * common.EVAL_FLOP_PER_IMAGE
    result["gflops"] = flops / secs / 1e9
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the variant, print its JSON line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variant", choices=["book", "lrlab"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--n-train", type=int, default=None, help="first N training images (default all)")
    p.add_argument("--n-test", type=int, default=None, help="first N test images (default all)")
    p.add_argument("--runs", type=int, default=1, help="lrlab: K runs trained together")
    p.add_argument("--mode", default="auto", choices=["auto", "fused", "plain", "sequential"])
    p.add_argument("--workers", type=int, default=4, help="book: DataLoader workers")
    p.add_argument("--max-batches", type=int, default=None, help="train only the first N batches of each epoch")
    p.add_argument("--smoke", action="store_true", help="synthetic data (for tests)")
    p.add_argument("--sample-memory", action="store_true", help="sample the process tree's PSS every 0.25 s")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up (memory runs)")
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)  # DataLoader: "4 workers > 2 suggested"
    with common.TreeMemorySampler(enabled=a.sample_memory) as mem:
        result = run_variant(
            a.variant,
            epochs=a.epochs,
            n_train=a.n_train,
            n_test=a.n_test,
            runs=a.runs,
            mode=a.mode,
            workers=a.workers,
            max_batches=a.max_batches,
            smoke=a.smoke,
            warm_up=not a.no_warmup,
        )
    result["rss"] = common.max_rss_mb()
    if a.sample_memory:
        result["rss"]["tree_pss_peak_mb"] = mem.peak_mb
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
