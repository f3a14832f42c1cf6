"""Profile one lrlab training run's epoch on the CPU, and time the changes PROFILE.md suggests (A/B, interleaved).

1. ``torch.profiler`` over one epoch of ``lrlab.lab.train.Trainer`` (one run, plain path, then the test
   evaluation): the top ops by self CPU time, grouped into conv / pool / relu / linear / loss / optimizer /
   batch gather / metrics, and the host syncs (``aten::_local_scalar_dense`` and ``.tolist()``).
2. A/B timings of a loop that does what the trainer's plain step does, changed one thing at a time:
   channels_last, 1 thread vs 2, the ReLU after the pool; and the test evaluation at several batch sizes.
Not part of ``make bench`` (it is a diagnosis, not a benchmark); prints a report, saves ``out/bench/profile.txt``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import trainer_api

GROUPS = {
    "conv forward": ("aten::mkldnn_convolution", "aten::_convolution", "aten::convolution", "aten::conv2d"),
    "conv backward": ("aten::convolution_backward", "ConvolutionBackward"),
    "max pool fwd": ("aten::max_pool2d_with_indices",),
    "max pool bwd": ("aten::max_pool2d_with_indices_backward",),
    "relu fwd/bwd": ("aten::relu", "aten::clamp_min", "aten::threshold_backward"),
    "linear (addmm/mm/bmm)": ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm"),
    "copies (copy_, stack, cat)": ("aten::copy_", "aten::stack", "aten::cat"),
    "loss": ("aten::_log_softmax", "aten::nll_loss", "aten::_log_softmax_backward_data", "nll_loss_backward"),
    "optimizer (SGD)": ("aten::_foreach_add_", "aten::add_", "aten::_foreach_mul_"),
    "batch gather x[idx]": ("aten::index",),
    "metrics (argmax, eq, sum)": ("aten::argmax", "aten::eq", "aten::sum"),
    "host syncs": ("aten::_local_scalar_dense", "aten::item"),
}


def profile_trainer_epoch(
    data: Any, batches: int | None, runs: int = 1, fused: bool = False, n_test: int | None = None
) -> tuple[str, dict[str, float], float, int]:
    """One Trainer epoch under torch.profiler: (top-op table, seconds per group, wall s, host syncs)."""
    from torch.profiler import ProfilerActivity, profile

    train = trainer_api._api()[0]
    run = [train.Run(s, seed=0) for s in trainer_api.SCHEDULES[:runs]]
    config = train.TrainConfig(epochs=1)
    warm = trainer_api.tensors_view(data, 5 * common.BATCH_SIZE, 1000)
    train.Trainer(run, config, warm, fused=fused).run()
    sub = trainer_api.tensors_view(data, None if batches is None else batches * common.BATCH_SIZE, n_test)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        train.Trainer(run, config, sub, fused=fused).run()
        wall = time.perf_counter() - t0
    avgs = prof.key_averages()
    table = avgs.table(sort_by="self_cpu_time_total", row_limit=22, max_name_column_width=42)
    groups: dict[str, float] = {}
    for name, keys in GROUPS.items():
        groups[name] = sum(e.self_cpu_time_total for e in avgs if e.key in keys) / 1e6
    syncs = sum(e.count for e in avgs if e.key == "aten::_local_scalar_dense")
    return table, groups, wall, syncs


def lenet(relu_after_pool: bool = False) -> Any:
    """The chapter's LeNet, optionally pooling before the ReLU (the same function: max and ReLU commute)."""
    from torch import nn

    def block(conv: nn.Module) -> list[nn.Module]:
        pool, act = nn.MaxPool2d(2, 2), nn.ReLU()
        return [conv, pool, act] if relu_after_pool else [conv, act, pool]

    return nn.Sequential(
        *block(nn.Conv2d(1, 6, 5, padding=2)),
        *block(nn.Conv2d(6, 16, 5)),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def loop_time(
    data: Any, batches: int, *, channels_last: bool = False, threads: int = 2, pool_first: bool = False
) -> float:
    """Seconds per batch of a trainer-like plain step (gather, forward, CE, backward, SGD, tensor metrics)."""
    import torch
    import torch.nn.functional as F

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = lenet(pool_first)
        tensors = trainer_api.split(data)
        x_all, y_all = tensors.train_x, tensors.train_y
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            x_all = x_all.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        perm = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(0))
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)

        def step(b: int) -> None:
            nonlocal loss_sum, correct
            idx = perm[b * 256 : (b + 1) * 256]
            x, y = x_all[idx], y_all[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach().double() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()

        for b in range(3):
            step(b)
        t0 = time.perf_counter()
        for b in range(3, 3 + batches):
            step(b)
        float(loss_sum)
        return (time.perf_counter() - t0) / batches
    finally:
        torch.set_num_threads(old)


def eval_time(data: Any, batch: int, channels_last: bool = False) -> float:
    """Seconds for the trainer-style test evaluation (inference_mode, tensor count) at `batch` per call."""
    import torch

    torch.manual_seed(0)
    model = lenet()
    x_all = trainer_api.split(data).test_x
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x_all = x_all.contiguous(memory_format=torch.channels_last)
    y_all = trainer_api.split(data).test_y
    with torch.inference_mode():
        model(x_all[:batch])
        t0 = time.perf_counter()
        correct = torch.zeros((), dtype=torch.int64)
        for s in range(0, len(y_all), batch):
            correct += (model(x_all[s : s + batch]).argmax(1) == y_all[s : s + batch]).sum()
        int(correct)
        return time.perf_counter() - t0


def interleaved(jobs: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Every job once per round, rotated order."""
    out: dict[str, list[float]] = {k: [] for k in jobs}
    for r in range(rounds):
        for k in common.rotated(list(jobs), r):
            out[k].append(jobs[k]())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Profile, time the A/B variants, print and save the report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=None, help="profile only N training batches (default: the epoch)")
    p.add_argument("--ab-batches", type=int, default=60, help="batches per A/B timing")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--fused-batches", type=int, default=40, help="batches of the K=6 fused-vs-plain profile")
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    arrays = common.synthetic_arrays(2048, 1024) if a.smoke else trainer_api.load_arrays()
    if arrays is None:
        arrays = common.fashion_mnist_arrays()
    data = trainer_api.tensors(arrays, None, None)
    ab = 4 if a.smoke else a.ab_batches

    buf = io.StringIO()
    with redirect_stdout(buf):
        table, groups, wall, syncs = profile_trainer_epoch(data, 4 if a.smoke else a.batches)
        n_img = len(trainer_api.split(data).train_y) if a.batches is None or a.smoke else a.batches * 256
        print(
            f"1. torch.profiler, one lrlab Trainer epoch (1 run, plain path): {n_img:,} train images + "
            f"{len(trainer_api.split(data).test_y):,} test images in {wall:.2f} s under the profiler"
        )
        total = sum(groups.values())
        print(f"\n{'group (self CPU time)':<30} {'s':>7} {'share of wall':>14}")
        for k, v in sorted(groups.items(), key=lambda kv: -kv[1]):
            print(f"{k:<30} {v:7.2f} {100 * v / wall:13.1f}%")
        print(f"{'(all grouped ops)':<30} {total:7.2f} {100 * total / wall:13.1f}%")
        print(f"\nhost syncs (aten::_local_scalar_dense calls) in the epoch: {syncs}")
        print("\ntop ops by self CPU time:\n" + table)

        jobs: dict[str, Callable[[], float]] = {
            "default (NCHW, 2 threads)": lambda: loop_time(data, ab),
            "channels_last": lambda: loop_time(data, ab, channels_last=True),
            "1 thread": lambda: loop_time(data, ab, threads=1),
            "pool before ReLU": lambda: loop_time(data, ab, pool_first=True),
            "channels_last + pool before ReLU": lambda: loop_time(data, ab, channels_last=True, pool_first=True),
        }
        res = interleaved(jobs, a.rounds)
        base = res["default (NCHW, 2 threads)"]
        print(f"\n2. A/B: trainer-like plain step, {ab} batches of 256 per timing, {a.rounds} interleaved rounds")
        print(f"{'variant':<36} {'ms/batch median (min-max)':>28} {'img/s':>9} {'speed vs default':>22}")
        for k, v in res.items():
            s = common.Summary.of([t * 1e3 for t in v])
            sp = common.Summary.of([b / t for b, t in zip(base, v, strict=True)])
            print(f"{k:<36} {s.fmt('.1f'):>28} {256e3 / s.median:9,.0f} {sp.fmt('.2f', 'x'):>22}")

        ev_jobs: dict[str, Callable[[], float]] = {
            f"eval batch {b}": (lambda b=b: eval_time(data, b)) for b in (500, 1000, 2500, 5000, 10000)
        }
        for b in (500, 1000, 2500, 5000):
            ev_jobs[f"eval batch {b}, channels_last"] = lambda b=b: eval_time(data, b, channels_last=True)
        ev = interleaved(ev_jobs, a.rounds)
        n_test = len(trainer_api.split(data).test_y)
        print(f"\n3. test evaluation of {n_test:,} images, {a.rounds} interleaved rounds")
        for k, v in ev.items():
            s = common.Summary.of([t * 1e3 for t in v])
            print(f"{k:<36} {s.fmt('.0f', ' ms'):>28} {n_test / statistics.median(v):9,.0f} img/s")
        fb = 2 if a.smoke else a.fused_batches
        print(f"\n4. K=6 runs in one Trainer job, {fb} batches + a 1,000-image test set: fused vs plain, profiled")
        shares = {}
        for fused in (False, True):
            _, groups, wall, _ = profile_trainer_epoch(data, fb, runs=6, fused=fused, n_test=1000)
            shares[fused] = (groups, wall)
        print(f"{'group (self CPU s)':<30} {'plain':>8} {'fused':>8} {'fused/plain':>12}")
        for k in GROUPS:
            pl, fu = shares[False][0][k], shares[True][0][k]
            print(f"{k:<30} {pl:8.2f} {fu:8.2f} {fu / pl if pl else float('nan'):11.2f}x")
        pl_w, fu_w = shares[False][1], shares[True][1]
        print(f"{'wall (under the profiler)':<30} {pl_w:8.2f} {fu_w:8.2f} {fu_w / pl_w:11.2f}x")
    text = buf.getvalue()
    print(text)
    if not a.smoke:
        common.OUT_DIR.mkdir(parents=True, exist_ok=True)
        (common.OUT_DIR / "profile.txt").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
