"""Record golden learning rates from Hugging Face transformers and timm into ``hf.json`` and ``timm.json``.

Run it with the real libraries, in a scratch virtual environment (lrlab needs neither, at run
time or test time)::

    python3 -m venv /tmp/peersvenv
    /tmp/peersvenv/bin/pip install torch==2.13.0        # first: the CPU build
    /tmp/peersvenv/bin/pip install transformers
    /tmp/peersvenv/bin/pip install timm --no-deps       # timm's own deps are already there, except torchvision
    /tmp/peersvenv/bin/python tests/golden/record_peers.py

Every number comes from the library driven as its training loop drives it, reading the
optimizer's ``param_groups[0]['lr']`` before each ``optimizer.step()``:

* transformers: ``scheduler.step()`` after each ``optimizer.step()`` (the ``Trainer`` order), so
  ``lrs[i] = base_lr * lr_lambda(i)``, the rate of update ``i`` counting from 0.
* timm: the loop of timm's ``train.py``: ``num_updates += 1; scheduler.step_update(num_updates)``
  after each ``optimizer.step()`` and ``scheduler.step(epoch + 1)`` after each epoch, so
  ``lrs[i]`` is the rate of epoch ``i`` (``unit: "epoch"``) or of update ``i`` (``unit: "update"``);
  ``lrs[0]`` is the value the constructor set.

Nothing here imports at module level beyond the standard library, so pytest's doctest
collection can import this file without torch, transformers or timm.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import platform
import random
import sys
import types
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 20240613


def _timm_scheduler() -> Any:
    """``timm.scheduler`` without running ``timm/__init__.py``.

    ``import timm`` loads timm's model layers, which import torchvision, and torchvision does not
    install beside this torch build. The schedulers need only torch, so this puts a bare
    placeholder package named ``timm`` in ``sys.modules`` -- its ``__path__`` the real timm
    folder, nothing else in it -- and imports the real ``timm.scheduler`` subpackage through it.
    No timm code is replaced.
    """
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("timm is not installed (pip install timm --no-deps)")
    placeholder = types.ModuleType("timm")
    placeholder.__path__ = list(spec.submodule_search_locations)  # a package: submodules resolve in timm's folder
    sys.modules["timm"] = placeholder
    return import_module("timm.scheduler")


def _versions(*names: str) -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": f"{platform.machine()} {platform.system()}"}
    for name in names:
        out[name] = metadata.version(name)
    import torch

    out["torch"] = torch.__version__
    return out


def _sgd(base_lr: float) -> Any:
    import torch

    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    return torch.optim.SGD([param], lr=base_lr), param


# -- transformers --------------------------------------------------------------------------------

HF_INDEX = (
    "lrs[i] = optimizer.param_groups[0]['lr'] read before the i-th optimizer.step(), scheduler.step() after "
    "each optimizer.step() (the Trainer's order): base_lr * lr_lambda(i), i counting from 0"
)


def _hf_run(case: dict[str, Any]) -> list[float]:
    import transformers.optimization as hf

    opt, _ = _sgd(case["base_lr"])
    call, args = case["call"], dict(case["args"])
    # get_scheduler takes the optimizer second, after the name; the functions take it first
    sched = hf.get_scheduler(optimizer=opt, **args) if call == "get_scheduler" else getattr(hf, call)(opt, **args)
    lrs = []
    for _ in range(case["n"]):
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step()
    return lrs


def _hf_signature(case: dict[str, Any]) -> list[str]:
    """The parameter names of the function the case runs (for get_scheduler: the one its name picks)."""
    import transformers.optimization as hf

    func = getattr(hf, case["call"])
    if case["call"] == "get_scheduler":
        func = hf.TYPE_TO_SCHEDULER_FUNCTION[hf.SchedulerType(case["args"]["name"])]
    return list(inspect.signature(func).parameters)


def _hf_text(call: str, args: dict[str, Any], base_lr: float) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"transformers.{call}(optimizer=opt, {shown}) with opt = torch.optim.SGD([p], lr={base_lr!r})"


def _hf_fixed() -> list[dict[str, Any]]:
    """Hand-picked cases: every name at its defaults and at the edges (no warmup, warmup = 1, past the end)."""

    def gs(name: str, w: int | None, n: int | None, kw: dict[str, Any] | None, lr: float, steps: int) -> dict[str, Any]:
        args: dict[str, Any] = {"name": name}
        if w is not None:
            args["num_warmup_steps"] = w
        if n is not None:
            args["num_training_steps"] = n
        if kw is not None:
            args["scheduler_specific_kwargs"] = kw
        return {"call": "get_scheduler", "args": args, "base_lr": lr, "n": steps}

    def fn(call: str, lr: float, steps: int, **args: Any) -> dict[str, Any]:
        return {"call": call, "args": args, "base_lr": lr, "n": steps}

    return [
        gs("constant", None, None, None, 0.1, 20),
        gs("constant_with_warmup", 10, None, None, 0.1, 30),
        gs("constant_with_warmup", 0, None, None, 0.5, 10),
        gs("linear", 10, 50, None, 5e-5, 70),
        gs("linear", 0, 40, None, 0.1, 50),
        gs("linear", 1, 10, None, 0.3, 15),
        gs("cosine", 10, 50, None, 5e-5, 110),  # past 50: HF's cosine climbs back
        gs("cosine", 0, 60, None, 0.1, 130),
        gs("cosine", 5, 45, {"num_cycles": 1.5}, 0.2, 60),
        gs("cosine", 8, 48, {"num_cycles": 0.25}, 0.1, 60),
        gs("cosine_with_restarts", 10, 70, None, 0.1, 90),
        gs("cosine_with_restarts", 5, 65, {"num_cycles": 3}, 0.1, 80),
        gs("cosine_with_restarts", 0, 50, {"num_cycles": 4}, 0.05, 60),
        gs("cosine_with_restarts", 4, 27, {"num_cycles": 2.5}, 0.05, 40),
        gs("polynomial", 10, 50, None, 0.1, 60),  # lr_end 1e-7, power 1
        gs("polynomial", 5, 40, {"lr_end": 0.01, "power": 2.0}, 0.1, 50),
        gs("polynomial", 0, 30, {"lr_end": 0.0, "power": 0.5}, 0.2, 40),
        gs("inverse_sqrt", 10, None, None, 0.1, 60),  # timescale = num_warmup_steps
        gs("inverse_sqrt", 10, None, {"timescale": 25}, 0.1, 60),
        gs("inverse_sqrt", 0, None, None, 0.1, 40),  # timescale = 10_000
        gs("inverse_sqrt", 0, None, {"timescale": 3}, 0.1, 40),
        gs("cosine_with_min_lr", 10, 50, {"min_lr": 1e-3}, 0.01, 110),
        gs("cosine_with_min_lr", 5, 45, {"min_lr_rate": 0.1}, 0.2, 60),
        gs("cosine_with_min_lr", 0, 40, {"min_lr_rate": 0.05, "num_cycles": 1.0}, 0.1, 50),
        gs("cosine_warmup_with_min_lr", 10, 50, {"min_lr_rate": 0.1}, 0.1, 70),
        gs("cosine_warmup_with_min_lr", 10, 50, {"min_lr": 1e-3, "warmup_lr_rate": 0.2}, 0.01, 70),
        gs("cosine_warmup_with_min_lr", 1, 30, {"min_lr_rate": 0.0}, 0.1, 40),
        gs("cosine_warmup_with_min_lr", 0, 30, {"min_lr_rate": 0.2, "num_cycles": 1.0}, 0.1, 40),
        gs("cosine_warmup_with_min_lr", 6, 40, {"min_lr_rate": 0.1, "warmup_lr_rate": 0.0}, 0.1, 50),
        gs("warmup_stable_decay", 10, None, {"num_stable_steps": 30, "num_decay_steps": 20}, 0.1, 70),
        gs("warmup_stable_decay", 10, 60, {"num_decay_steps": 20}, 0.1, 70),
        gs(
            "warmup_stable_decay",
            8,
            None,
            {"num_stable_steps": 20, "num_decay_steps": 16, "decay_type": "linear", "min_lr_ratio": 0.1},
            0.1,
            50,
        ),
        gs(
            "warmup_stable_decay",
            8,
            None,
            {"num_stable_steps": 20, "num_decay_steps": 16, "decay_type": "1-sqrt", "warmup_type": "cosine"},
            0.1,
            50,
        ),
        gs(
            "warmup_stable_decay",
            9,
            None,
            {"num_stable_steps": 10, "num_decay_steps": 25, "warmup_type": "1-sqrt", "min_lr_ratio": 0.2},
            0.1,
            50,
        ),
        gs(
            "warmup_stable_decay",
            5,
            None,
            {"num_stable_steps": 10, "num_decay_steps": 30, "num_cycles": 1.0, "min_lr_ratio": 0.1},
            0.1,
            50,
        ),
        gs("warmup_stable_decay", 0, 40, {"num_decay_steps": 10, "decay_type": "linear"}, 0.1, 50),
        # training no longer than the warmup: transformers' max(1, N - W) and max(0, ...) decide
        gs("linear", 10, 5, None, 0.1, 20),
        gs("cosine", 10, 10, None, 0.1, 20),
        gs("cosine_with_restarts", 6, 6, {"num_cycles": 2}, 0.1, 15),
        gs("cosine_warmup_with_min_lr", 8, 4, {"min_lr_rate": 0.1}, 0.1, 20),
        gs("warmup_stable_decay", 5, None, {"num_stable_steps": 5, "num_decay_steps": 0, "min_lr_ratio": 0.1}, 0.1, 20),
        gs("warmup_stable_decay", 0, None, {"num_stable_steps": 0, "num_decay_steps": 10}, 0.1, 20),
        # the functions by their own names, positional arguments as a user writes them
        fn("get_constant_schedule", 0.1, 10),
        fn("get_constant_schedule_with_warmup", 0.1, 20, num_warmup_steps=7),
        fn("get_linear_schedule_with_warmup", 0.1, 40, num_warmup_steps=5, num_training_steps=30),
        fn("get_cosine_schedule_with_warmup", 0.1, 50, num_warmup_steps=5, num_training_steps=40, num_cycles=0.5),
        fn("get_cosine_with_hard_restarts_schedule_with_warmup", 0.1, 50, num_warmup_steps=5, num_training_steps=45),
        fn(
            "get_polynomial_decay_schedule_with_warmup",
            0.1,
            50,
            num_warmup_steps=5,
            num_training_steps=40,
            lr_end=1e-4,
            power=3.0,
        ),
        fn("get_inverse_sqrt_schedule", 0.1, 40, num_warmup_steps=4),
        fn(
            "get_cosine_with_min_lr_schedule_with_warmup",
            0.1,
            50,
            num_warmup_steps=5,
            num_training_steps=40,
            min_lr=1e-3,
        ),
        fn(
            "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
            0.1,
            50,
            num_warmup_steps=5,
            num_training_steps=40,
            min_lr_rate=0.01,
            warmup_lr_rate=0.1,
        ),
        fn("get_wsd_schedule", 0.1, 50, num_warmup_steps=5, num_decay_steps=10, num_training_steps=40),
    ]


def _hf_random(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Random arguments for every name, with ``n`` past the end of training."""
    names = [
        "constant_with_warmup",
        "linear",
        "cosine",
        "cosine_with_restarts",
        "polynomial",
        "inverse_sqrt",
        "cosine_with_min_lr",
        "cosine_warmup_with_min_lr",
        "warmup_stable_decay",
    ]
    out = []
    for k in range(count):
        name = names[k % len(names)]
        lr = float(f"{10 ** rng.uniform(-5, 0):.3g}")
        w = rng.choice([0, 1, 2, 3, 5, 8, 13, 20])
        total = w + rng.choice([1, 2, 7, 19, 33, 50, 81])
        kw: dict[str, Any] = {}
        if name == "cosine":
            kw["num_cycles"] = rng.choice([0.5, 0.25, 1.0, 1.5, 2.0, round(rng.uniform(0.1, 3), 2)])
        elif name == "cosine_with_restarts":
            kw["num_cycles"] = rng.choice([1, 2, 3, 5, 7])
        elif name == "polynomial":
            kw["lr_end"] = float(f"{lr * rng.choice([0.0, 1e-3, 0.1, 0.5]):.3g}")
            kw["power"] = rng.choice([0.5, 1.0, 2.0, 3.0, round(rng.uniform(0.2, 4), 2)])
        elif name == "inverse_sqrt":
            kw["timescale"] = rng.choice([None, 1, 4, 10, 100])
        elif name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
            if rng.random() < 0.5:
                kw["min_lr"] = float(f"{lr * rng.choice([0.0, 0.01, 0.1, 0.3]):.3g}")
            else:
                kw["min_lr_rate"] = rng.choice([0.0, 0.01, 0.1, 0.5])
            kw["num_cycles"] = rng.choice([0.5, 0.5, 1.0, 0.75])
            if name == "cosine_warmup_with_min_lr" and rng.random() < 0.5:
                kw["warmup_lr_rate"] = rng.choice([0.0, 0.05, 0.3])
        elif name == "warmup_stable_decay":
            kw["num_decay_steps"] = rng.choice([1, 3, 10, 25])
            kw["num_stable_steps"] = rng.choice([0, 5, 17, 40])
            kw["warmup_type"] = rng.choice(["linear", "cosine", "1-sqrt"])
            kw["decay_type"] = rng.choice(["linear", "cosine", "1-sqrt"])
            kw["min_lr_ratio"] = rng.choice([0.0, 0.0, 0.1, 0.25])
            if kw["decay_type"] == "cosine":
                kw["num_cycles"] = rng.choice([0.5, 0.5, 1.0])
            total = w + kw["num_stable_steps"] + kw["num_decay_steps"]
        kw = {k2: v for k2, v in kw.items() if v is not None}
        args: dict[str, Any] = {"name": name, "num_warmup_steps": w}
        if name not in ("constant_with_warmup", "inverse_sqrt", "warmup_stable_decay"):
            args["num_training_steps"] = total
        if kw:
            args["scheduler_specific_kwargs"] = kw
        out.append({"call": "get_scheduler", "args": args, "base_lr": lr, "n": total + rng.choice([5, 20, 40])})
    return out


def record_hf() -> list[dict[str, Any]]:
    versions = _versions("transformers")
    rng = random.Random(SEED)
    cases = []
    for spec in [*_hf_fixed(), *_hf_random(45, rng)]:
        lrs = _hf_run(spec)
        cases.append(
            {
                "library": "transformers",
                "version": versions["transformers"],
                "versions": versions,
                "api": _hf_text(spec["call"], spec["args"], spec["base_lr"]),
                "call": spec["call"],
                "params": {**spec["args"], "base_lr": spec["base_lr"]},
                "unit": "step",
                "index": HF_INDEX,
                "n": spec["n"],
                "dtype": "float64",
                "lrs": lrs,
                "signature": _hf_signature(spec),
            }
        )
    return cases


# -- timm ----------------------------------------------------------------------------------------

TIMM_INDEX = {
    "epoch": "lrs[e] = optimizer.param_groups[0]['lr'] during epoch e, as timm's train.py sets it: "
    "the constructor's value for e = 0, then scheduler.step(e) at the end of epoch e - 1",
    "update": "lrs[u] = optimizer.param_groups[0]['lr'] read before the u-th optimizer.step(), u counting from 0: "
    "the constructor's value for u = 0, then scheduler.step_update(u) after update u - 1 (timm's train.py)",
}


def _timm_loop(sched: Any, opt: Any, param: Any, epochs: int, per_epoch: int, unit: str) -> list[float]:
    """timm's train.py: step_update after each update, step(epoch + 1) after each epoch."""
    lrs: list[float] = []
    num_updates = 0
    for epoch in range(epochs):
        seen = []
        for _ in range(per_epoch):
            seen.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            num_updates += 1
            if sched is not None:  # sched="none": timm makes no scheduler
                sched.step_update(num_updates=num_updates, metric=None)
        if sched is not None:
            sched.step(epoch + 1, None)
        if unit == "epoch":
            assert len(set(seen)) == 1, "a per-epoch schedule changed within an epoch"
            lrs.append(seen[0])
        else:
            lrs.extend(seen)
    return lrs


def _noise_free(sched: Any, n: int) -> list[float]:
    """The rates without the noise: the scheduler's own ``_get_lr(t)`` (what ``step`` perturbs)."""
    return [float(sched._get_lr(t)[0]) for t in range(n)]


def _timm_run(spec: dict[str, Any], ts: Any) -> dict[str, Any]:
    opt, param = _sgd(spec["base_lr"])
    args = dict(spec["args"])
    extra: dict[str, Any] = {}
    if spec["call"] == "create_scheduler_v2":
        sched, num_epochs = ts.create_scheduler_v2(opt, **args)
        extra["num_epochs_returned"] = num_epochs
        unit = "epoch" if args.get("step_on_epochs", True) else "update"
        per_epoch = 1 if unit == "epoch" else args["updates_per_epoch"]
    else:
        sched = getattr(ts, spec["call"])(opt, **args)
        unit = "epoch" if args.get("t_in_epochs", True) else "update"
        per_epoch = 1 if unit == "epoch" else spec["updates_per_epoch"]
    epochs = -(-spec["n"] // per_epoch)
    lrs = _timm_loop(sched, opt, param, epochs, per_epoch, unit)[: spec["n"]]
    noisy = getattr(sched, "noise_range_t", None) is not None
    if noisy:
        extra["lrs_without_noise"] = _noise_free(sched, spec["n"])
        extra["noise_range_t"] = sched.noise_range_t
    return {"unit": unit, "lrs": lrs, **extra}


def _timm_text(call: str, args: dict[str, Any], base_lr: float) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
    where = "timm.scheduler"
    return f"{where}.{call}(opt, {shown}) with opt = torch.optim.SGD([p], lr={base_lr!r})"


def _timm_fixed() -> list[dict[str, Any]]:
    def cls(call: str, lr: float, n: int, per: int = 0, **args: Any) -> dict[str, Any]:
        out = {"call": call, "args": args, "base_lr": lr, "n": n}
        if per:
            out["updates_per_epoch"] = per
        return out

    def v2(lr: float, n: int, **args: Any) -> dict[str, Any]:
        return {"call": "create_scheduler_v2", "args": args, "base_lr": lr, "n": n}

    return [
        # the classes
        cls("CosineLRScheduler", 0.1, 60, t_initial=50),
        cls("CosineLRScheduler", 0.1, 60, t_initial=50, lr_min=1e-3, warmup_t=5, warmup_lr_init=1e-4),
        cls(
            "CosineLRScheduler", 0.1, 60, t_initial=50, lr_min=1e-3, warmup_t=5, warmup_lr_init=1e-4, warmup_prefix=True
        ),
        cls("CosineLRScheduler", 0.1, 80, t_initial=20, cycle_limit=3, cycle_decay=0.5, lr_min=1e-4),
        cls("CosineLRScheduler", 0.1, 90, t_initial=10, cycle_mul=2.0, cycle_limit=4, cycle_decay=0.7),
        cls("CosineLRScheduler", 0.1, 90, t_initial=7, cycle_mul=1.5, cycle_limit=5, lr_min=1e-3, warmup_t=3),
        cls("CosineLRScheduler", 0.1, 60, t_initial=50, k_decay=2.0, lr_min=1e-3),
        cls("CosineLRScheduler", 0.1, 60, t_initial=50, k_decay=0.5, warmup_t=4, warmup_prefix=True),
        cls("CosineLRScheduler", 0.1, 300, 10, t_initial=250, warmup_t=30, warmup_lr_init=1e-5, t_in_epochs=False),
        cls("TanhLRScheduler", 0.1, 60, t_initial=50),
        cls("TanhLRScheduler", 0.1, 60, t_initial=40, lb=-6.0, ub=4.0, lr_min=1e-3),
        cls("TanhLRScheduler", 0.1, 60, t_initial=40, warmup_t=5, warmup_lr_init=1e-3),
        cls("TanhLRScheduler", 0.1, 60, t_initial=40, warmup_t=5, warmup_lr_init=1e-3, warmup_prefix=True),
        cls("TanhLRScheduler", 0.1, 80, t_initial=15, cycle_limit=4, cycle_decay=0.5, cycle_mul=1.0),
        cls("TanhLRScheduler", 0.1, 80, t_initial=6, cycle_limit=4, cycle_mul=2.0, lr_min=1e-4),
        cls("StepLRScheduler", 0.1, 60, decay_t=10, decay_rate=0.5),
        cls("StepLRScheduler", 0.1, 60, decay_t=10, decay_rate=0.5, warmup_t=5, warmup_lr_init=1e-3),
        cls(
            "StepLRScheduler",
            0.1,
            60,
            decay_t=10,
            decay_rate=0.5,
            warmup_t=5,
            warmup_lr_init=1e-3,
            warmup_prefix=False,
        ),
        cls("StepLRScheduler", 0.1, 60, decay_t=2.5, decay_rate=0.9),
        cls("MultiStepLRScheduler", 0.1, 60, decay_t=[10, 25, 40], decay_rate=0.1),
        cls("MultiStepLRScheduler", 0.1, 60, decay_t=[1, 10, 10, 30], decay_rate=0.5, warmup_t=4, warmup_lr_init=0.0),
        cls(
            "MultiStepLRScheduler",
            0.1,
            60,
            decay_t=[10, 30],
            decay_rate=0.5,
            warmup_t=4,
            warmup_lr_init=0.01,
            warmup_prefix=False,
        ),
        cls("PolyLRScheduler", 0.1, 60, t_initial=50),  # power 0.5 by default
        cls("PolyLRScheduler", 0.1, 60, t_initial=50, power=2.0, lr_min=1e-3, warmup_t=5, warmup_lr_init=1e-4),
        cls("PolyLRScheduler", 0.1, 60, t_initial=40, power=1.0, k_decay=1.5, warmup_t=5, warmup_prefix=True),
        cls("PolyLRScheduler", 0.1, 80, t_initial=20, power=1.0, cycle_limit=3, cycle_decay=0.5),
        cls("PolyLRScheduler", 0.1, 90, t_initial=10, power=2.0, cycle_limit=3, cycle_mul=2.0, lr_min=1e-3),
        cls("CosineLRScheduler", 0.1, 60, t_initial=50, noise_range_t=(10, 40), noise_pct=0.2, noise_seed=7),
        cls("CosineLRScheduler", 0.1, 60, t_initial=50, noise_range_t=20, noise_std=0.5, noise_pct=0.67),
        cls("StepLRScheduler", 0.01, 40, decay_t=8, decay_rate=1.5, warmup_t=3, warmup_prefix=False),
        cls("MultiStepLRScheduler", 0.1, 40, decay_t=[0, 20], decay_rate=0.5),
        cls("TanhLRScheduler", 0.1, 80, t_initial=10, cycle_limit=3, cycle_mul=1.5, warmup_t=4, warmup_lr_init=0.01),
        cls("CosineLRScheduler", 0.1, 90, t_initial=8, cycle_mul=2.0, cycle_limit=3, warmup_t=5, warmup_prefix=True),
        cls("WSDLRScheduler", 0.1, 60, t_initial=50, decay_t=20, warmup_t=5, warmup_lr_init=1e-3),
        cls("WSDLRScheduler", 0.1, 60, t_initial=50, decay_t=20, decay_fn="power", decay_power=2.0, lr_min=1e-3),
        cls("WSDLRScheduler", 0.1, 60, t_initial=50, decay_t=15, stable_fn="rsqrt", warmup_t=5, decay_fn="linear"),
        cls(
            "WSDLRScheduler",
            0.1,
            60,
            t_initial=55,
            decay_t=10,
            stable_fn="power",
            stable_power=0.3,
            stable_timescale=4.0,
            decay_fn="cosine",
        ),
        cls("WSDLRScheduler", 0.1, 300, 10, t_initial=250, decay_t=50, warmup_t=20, t_in_epochs=False),
        # create_scheduler_v2, per epoch and per update
        v2(0.1, 60, sched="rsqrt", num_epochs=50, warmup_epochs=5),
        v2(0.1, 60, sched="none", num_epochs=50, warmup_epochs=5, warmup_prefix=True),
        v2(0.1, 60, sched="cosine", num_epochs=50),
        v2(0.1, 60, sched="cosine", num_epochs=40, warmup_epochs=5, warmup_lr=1e-5, min_lr=1e-4, cooldown_epochs=10),
        v2(0.1, 60, sched="cosine", num_epochs=40, warmup_epochs=5, warmup_prefix=True, cooldown_epochs=5),
        v2(0.1, 90, sched="cosine", num_epochs=20, cycle_limit=3, cycle_decay=0.5, cycle_mul=1.0),
        v2(0.1, 90, sched="cosine", num_epochs=10, cycle_limit=3, cycle_mul=2.0),  # cycle_decay 0.1 by default here
        v2(0.1, 60, sched="cosine", num_epochs=50, k_decay=3.0),
        v2(0.1, 300, sched="cosine", num_epochs=25, warmup_epochs=3, step_on_epochs=False, updates_per_epoch=10),
        v2(
            0.1,
            200,
            sched="cosine",
            num_epochs=8,
            warmup_epochs=1,
            warmup_prefix=True,
            cooldown_epochs=2,
            step_on_epochs=False,
            updates_per_epoch=20,
        ),
        v2(0.1, 60, sched="tanh", num_epochs=50, warmup_epochs=5, warmup_lr=1e-3),
        v2(0.1, 200, sched="tanh", num_epochs=15, step_on_epochs=False, updates_per_epoch=10),
        v2(0.1, 60, sched="step", decay_epochs=10, decay_rate=0.5),
        v2(0.1, 60, sched="step", decay_epochs=7, decay_rate=0.8, warmup_epochs=3, warmup_lr=1e-4),
        v2(0.1, 200, sched="step", decay_epochs=3, decay_rate=0.5, step_on_epochs=False, updates_per_epoch=15),
        v2(0.1, 60, sched="step", num_epochs=60),  # decay_epochs None: 90
        v2(0.1, 60, sched="multistep", decay_milestones=[10, 30, 45], decay_rate=0.1),
        v2(0.1, 60, sched="multistep", decay_milestones=[10, 30], decay_rate=0.5, warmup_epochs=5, warmup_lr=0.01),
        v2(0.1, 60, sched="multistep", decay_milestones=[10, 30], warmup_epochs=5, warmup_prefix=True),
        v2(0.1, 200, sched="multistep", decay_milestones=[3, 7], step_on_epochs=False, updates_per_epoch=16),
        v2(0.1, 60, sched="poly", num_epochs=50, decay_rate=0.5),
        v2(0.1, 60, sched="poly", num_epochs=40, decay_rate=2.0, warmup_epochs=5, min_lr=1e-4, k_decay=0.7),
        v2(0.1, 200, sched="poly", num_epochs=12, decay_rate=1.0, step_on_epochs=False, updates_per_epoch=12),
        v2(0.1, 60, sched="constant", warmup_epochs=5, warmup_lr=1e-3),
        v2(0.1, 60, sched="wsd", num_epochs=50, warmup_epochs=5),  # decay 0.2 of 45, 1-sqrt
        v2(
            0.1, 60, sched="wsd", num_epochs=50, warmup_epochs=5, warmup_prefix=True, decay_epochs=10, decay_fn="linear"
        ),
        v2(0.1, 60, sched="wsd", num_epochs=50, decay_epochs=15, decay_fn="cosine", min_lr=1e-3),
        v2(0.1, 300, sched="wsd", num_epochs=30, warmup_epochs=2, step_on_epochs=False, updates_per_epoch=10),
        v2(0.1, 60, sched="cosine", num_epochs=50, noise=[0.2, 0.8], noise_pct=0.3, noise_seed=3),
        v2(0.1, 60, sched="step", num_epochs=80, decay_epochs=10, noise=0.5, noise_std=0.2),
    ]


def _timm_random(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Random create_scheduler_v2 arguments: every sched but plateau, per epoch and per update."""
    out = []
    scheds = ["cosine", "tanh", "step", "multistep", "poly", "cosine", "poly", "wsd"]
    for k in range(count):
        sched = scheds[k % len(scheds)]
        lr = float(f"{10 ** rng.uniform(-4, 0):.3g}")
        args: dict[str, Any] = {"sched": sched, "num_epochs": rng.choice([5, 10, 17, 30, 50])}
        if rng.random() < 0.6:
            args["warmup_epochs"] = rng.choice([1, 2, 3, 5])
            args["warmup_lr"] = rng.choice([0.0, 1e-5, lr / 10])
            args["warmup_prefix"] = rng.random() < 0.5
        if rng.random() < 0.4:
            args["min_lr"] = float(f"{lr * rng.choice([1e-3, 0.01, 0.1]):.3g}")
        if sched in ("cosine", "tanh", "poly") and rng.random() < 0.5:
            args["cycle_limit"] = rng.choice([1, 2, 3])
            args["cycle_mul"] = rng.choice([1.0, 1.0, 2.0, 1.5])
            args["cycle_decay"] = rng.choice([1.0, 0.5, 0.1])
        if sched in ("cosine", "poly") and rng.random() < 0.4:
            args["k_decay"] = rng.choice([0.5, 1.0, 2.0, 1.3])
        if sched == "poly":
            args["decay_rate"] = rng.choice([0.5, 1.0, 2.0])
        if sched == "step":
            args["decay_epochs"] = rng.choice([1, 2, 4, 10, 2.5])
            args["decay_rate"] = rng.choice([0.1, 0.5, 0.9])
        if sched == "multistep":
            first = rng.randint(1, 10)
            args["decay_milestones"] = sorted({first, first + rng.randint(0, 10), first + rng.randint(5, 30)})
            args["decay_rate"] = rng.choice([0.1, 0.5])
        if sched == "wsd":
            args["decay_epochs"] = rng.choice([0.2, 0.5, 3])
            args["decay_fn"] = rng.choice(["linear", "1-sqrt", "cosine"])
            args["num_epochs"] = max(args["num_epochs"], 8)
        if rng.random() < 0.3:
            args["cooldown_epochs"] = rng.choice([2, 5])
        per_update = rng.random() < 0.4
        if per_update:
            args["step_on_epochs"] = False
            args["updates_per_epoch"] = rng.choice([3, 7, 10])
        horizon = args["num_epochs"] * (1 + args.get("cycle_limit", 1)) + args.get("warmup_epochs", 0) + 10
        n = min(horizon * (args.get("updates_per_epoch", 1)), 250)
        out.append({"call": "create_scheduler_v2", "args": args, "base_lr": lr, "n": n})
    return out


def record_timm() -> list[dict[str, Any]]:
    ts = _timm_scheduler()
    versions = _versions("timm")
    rng = random.Random(SEED + 1)
    cases = []
    for spec in [*_timm_fixed(), *_timm_random(40, rng)]:
        got = _timm_run(spec, ts)
        params = {**spec["args"], "base_lr": spec["base_lr"]}
        case = {
            "library": "timm",
            "version": versions["timm"],
            "versions": versions,
            "api": _timm_text(spec["call"], spec["args"], spec["base_lr"]),
            "call": spec["call"],
            "params": params,
            "unit": got.pop("unit"),
            "n": spec["n"],
            "dtype": "float64",
        }
        if "updates_per_epoch" in spec:  # a class stepped per update: the loop's epoch length, not an argument
            case["loop_updates_per_epoch"] = spec["updates_per_epoch"]
        case["index"] = TIMM_INDEX[case["unit"]]
        case.update(got)
        case["signature"] = list(inspect.signature(getattr(ts, spec["call"])).parameters)
        cases.append(case)
    return cases


def _dump(path: Path, cases: list[dict[str, Any]]) -> None:
    for case in cases:
        assert all(math.isfinite(x) for x in case["lrs"]), case["api"]
    # one case a line: short files, and a diff shows which case changed
    path.write_text("[\n" + ",\n".join(json.dumps(case) for case in cases) + "\n]\n")
    print(f"{path}: {len(cases)} cases")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    _dump(out / "hf.json", record_hf())
    _dump(out / "timm.json", record_timm())


if __name__ == "__main__":
    main()
