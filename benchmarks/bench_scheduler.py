"""Benchmark 3, scheduler overhead: ``lrlab.torch.ScheduleLR.step()`` against torch's own schedulers.

Pairs of the same curve (checked to agree before timing):
  multistep       multi_factor(...)               vs MultiStepLR
  cosine          cosine(...)                     vs CosineAnnealingLR
  warmup+cosine   warmup(cosine(...), start_lr)   vs SequentialLR(LinearLR, CosineAnnealingLR)

(1) microseconds per ``step()`` (the optimizer step itself is not timed);
(2) a whole 10^6-step curve: ``schedule(np.arange(10**6))`` against a Python loop that steps a torch
    scheduler and reads the rate; the torch loop is timed for 10^5 steps and scaled by 10.
Rounds interleave every variant; each ratio is the median of the per-round ratios (min-max).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

NAME = "scheduler"
PAIRS = ("multistep", "cosine", "warmup+cosine")
TORCH_NAMES = {
    "multistep": "MultiStepLR",
    "cosine": "CosineAnnealingLR",
    "warmup+cosine": "SequentialLR(LinearLR, CosineAnnealingLR)",
}


def lrlab_schedule(kind: str, horizon: int) -> Any:
    """The lrlab schedule of `kind` over `horizon` steps (peak 0.3)."""
    import lrlab

    w = max(horizon // 20, 1)
    if kind == "multistep":
        return lrlab.multi_factor(0.3, milestones=[horizon // 2, 3 * horizon // 4], factor=0.1)
    if kind == "cosine":
        return lrlab.cosine(0.3, steps=horizon, final_lr=0.01)
    if kind == "warmup+cosine":
        return lrlab.warmup(lrlab.cosine(0.3, steps=horizon - w, final_lr=0.01), steps=w, start_lr=0.003)
    raise ValueError(kind)


def torch_scheduler(kind: str, horizon: int, opt: Any) -> Any:
    """Torch's own scheduler for the same curve as `lrlab_schedule`."""
    from torch.optim import lr_scheduler as L

    w = max(horizon // 20, 1)
    if kind == "multistep":
        return L.MultiStepLR(opt, milestones=[horizon // 2, 3 * horizon // 4], gamma=0.1)
    if kind == "cosine":
        return L.CosineAnnealingLR(opt, T_max=horizon, eta_min=0.01)
    if kind == "warmup+cosine":
        warm = L.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=w)
        cos = L.CosineAnnealingLR(opt, T_max=horizon - w, eta_min=0.01)
        return L.SequentialLR(opt, [warm, cos], milestones=[w])
    raise ValueError(kind)


def _optimizer() -> Any:
    import torch

    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([p], lr=0.3)
    opt.step()  # no grads: a no-op that keeps torch from warning about the call order
    return opt


def make(kind: str, impl: str, horizon: int) -> tuple[Any, Any]:
    """A fresh optimizer and scheduler (`impl` "lrlab" or "torch")."""
    from lrlab.torch import ScheduleLR

    opt = _optimizer()
    if impl == "lrlab":
        return opt, ScheduleLR(opt, lrlab_schedule(kind, horizon))
    return opt, torch_scheduler(kind, horizon, opt)


def max_curve_gap(kind: str, horizon: int = 100) -> float:
    """Largest |lr difference| between the two implementations over steps 0..`horizon`.

    (Past its horizon torch's ``CosineAnnealingLR`` climbs back up; lrlab's cosine holds.)
    """
    curves = []
    for impl in ("lrlab", "torch"):
        opt, sched = make(kind, impl, horizon)
        rates = []
        for _ in range(horizon + 1):
            rates.append(opt.param_groups[0]["lr"])
            sched.step()
        curves.append(np.array(rates))
    return float(np.max(np.abs(curves[0] - curves[1])))


def time_steps(kind: str, impl: str, n: int) -> float:
    """Seconds per ``sched.step()`` over `n` calls on a fresh scheduler."""
    _, sched = make(kind, impl, 10**6)
    step = sched.step
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def time_vectorised(kind: str, n: int) -> float:
    """Seconds for ``schedule(np.arange(n))``."""
    s = lrlab_schedule(kind, n)
    steps = np.arange(n)
    t0 = time.perf_counter()
    s(steps)
    return time.perf_counter() - t0


def time_torch_loop(kind: str, n: int, n_timed: int) -> float:
    """Estimated seconds to step a torch scheduler `n` times reading the rate: `n_timed` timed, scaled."""
    opt, sched = make(kind, "torch", n)
    group = opt.param_groups[0]
    rates = []
    t0 = time.perf_counter()
    for _ in range(n_timed):
        rates.append(group["lr"])
        sched.step()
    return (time.perf_counter() - t0) * n / n_timed


def interleave(jobs: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every job once per round, each round in a rotated order."""
    out: dict[str, list[float]] = {k: [] for k in jobs}
    for r in range(rounds):
        for key in common.rotated(list(jobs), r):
            out[key].append(jobs[key]())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print its tables and ratio lines, save ``out/bench/scheduler.json``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=20_000, help="step() calls timed per variant and round")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, for the tests")
    p.add_argument("--out-dir", type=Path, default=None)
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    if not a.smoke and (warn := common.busy_warning()) is not None:
        print(warn, flush=True)
    n_vec, n_torch = (10**6, 10**5) if not a.smoke else (10**4, 10**3)
    rounds, n_steps = (3, 300) if a.smoke else (a.rounds, a.steps)

    gaps = {k: max_curve_gap(k) for k in PAIRS}
    step_jobs = {
        f"{impl}:{k}": (lambda k=k, impl=impl: time_steps(k, impl, n_steps))
        for k in PAIRS
        for impl in ("lrlab", "torch")
    }
    for fn in step_jobs.values():  # warm
        fn()
    step_t = interleave(step_jobs, rounds)
    vec_jobs: dict[str, Callable[[], float]] = {}
    for k in PAIRS:
        vec_jobs[f"vec:{k}"] = lambda k=k: time_vectorised(k, n_vec)
        vec_jobs[f"loop:{k}"] = lambda k=k: time_torch_loop(k, n_vec, n_torch)
    vec_t = interleave(vec_jobs, rounds)

    print(f"benchmark 3: scheduler overhead  ({rounds} interleaved rounds; {n_steps:,} step() calls per variant)")
    print(f"{'curve':<15} {'torch scheduler':<42} {'max |dlr|':>9} {'lrlab us/step':>22} {'torch us/step':>22}")
    rows: dict[str, Any] = {}
    for k in PAIRS:
        lr_s = common.Summary.of([t * 1e6 for t in step_t[f"lrlab:{k}"]])
        th_s = common.Summary.of([t * 1e6 for t in step_t[f"torch:{k}"]])
        print(f"{k:<15} {TORCH_NAMES[k]:<42} {gaps[k]:9.1e} {lr_s.fmt('.2f'):>22} {th_s.fmt('.2f'):>22}")
        rows[k] = {
            "torch": TORCH_NAMES[k],
            "max_abs_lr_gap": gaps[k],
            "lrlab_us": lr_s.as_dict(),
            "torch_us": th_s.as_dict(),
        }
    scale = n_vec // n_torch
    print(
        f"\n10^{int(np.log10(n_vec))}-step curve: vectorised lrlab vs stepping torch "
        f"({n_torch:,} torch steps timed, x{scale})"
    )
    for k in PAIRS:
        v = common.Summary.of([t * 1e3 for t in vec_t[f"vec:{k}"]])
        lp = common.Summary.of(vec_t[f"loop:{k}"])
        print(f"{k:<15} lrlab schedule(np.arange) {v.fmt('.1f', ' ms'):>26}   torch loop {lp.fmt('.2f', ' s'):>22}")
        rows[k].update(vectorised_ms=v.as_dict(), torch_loop_s=lp.as_dict())

    print()
    ratios: dict[str, Any] = {}

    def report(key: str, label: str, values: list[float], target: float | None) -> None:
        print(common.ratio_line(label, values, target))
        s = common.Summary.of(values)
        ratios[key] = {
            "label": label,
            **s.as_dict(),
            "target": target,
            "verdict": None if target is None else common.verdict(s.median, target),
        }

    ms = step_t["torch:multistep"]
    for k in PAIRS[1:]:  # multistep's own pair is the first target line below
        own = [t / lr for t, lr in zip(step_t[f"torch:{k}"], step_t[f"lrlab:{k}"], strict=True)]
        report(f"step_vs_own:{k}", f"step(): {TORCH_NAMES[k].split('(')[0]} / lrlab {k}", own, None)
    for k in PAIRS:
        vs_ms = [t / lr for t, lr in zip(ms, step_t[f"lrlab:{k}"], strict=True)]
        report(f"step_vs_multistep:{k}", f"step(): MultiStepLR / lrlab {k}", vs_ms, 1.0)
    for k in PAIRS:
        sp = [lp / v for lp, v in zip(vec_t[f"loop:{k}"], vec_t[f"vec:{k}"], strict=True)]
        report(f"vectorised:{k}", f"10^6 steps: torch loop / lrlab vectorised, {k}", sp, 100.0)

    path = common.save_result(
        NAME,
        {
            "smoke": a.smoke,
            "rounds": rounds,
            "steps_timed": n_steps,
            "vector_steps": n_vec,
            "torch_steps_timed": n_torch,
            "rows": rows,
            "ratios": ratios,
        },
        a.out_dir,
    )
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
