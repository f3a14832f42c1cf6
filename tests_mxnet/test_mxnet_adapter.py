"""lrlab.mxnet.ScheduleScheduler in a real gluon.Trainer (run with ``make test-mxnet``).

MXNet 1.9.1 needs numpy<1.24, so these tests run in their own venv
(``.venv-mxnet``), outside the main suite.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

import lrlab

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # distutils LooseVersion, inside mxnet
    mx = pytest.importorskip("mxnet")
    from mxnet import autograd, gluon, lr_scheduler

from lrlab.mxnet import ScheduleScheduler

SPEC = "warmup(cosine(0.1, steps=12, final_lr=0.001), steps=4)"


def _weight_deltas(sched: Any, n: int) -> list[float]:
    """Weight reset to 0, gradient 1, ``trainer.step(1)``: the delta is -float32(lr) of each update."""
    net = gluon.nn.Dense(1, in_units=1, use_bias=False)
    net.initialize(mx.init.Zero())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"lr_scheduler": sched})
    x = mx.nd.ones((1, 1))
    deltas = []
    for _ in range(n):
        net.weight.set_data(mx.nd.zeros((1, 1)))
        with autograd.record():
            y = net(x)
        y.backward()
        trainer.step(1)
        deltas.append(float(net.weight.data().asnumpy()[0, 0]))
    return deltas


def f32(x: float) -> float:
    return float(np.float32(x))


def test_is_an_mxnet_scheduler() -> None:
    assert isinstance(ScheduleScheduler(SPEC), lr_scheduler.LRScheduler)


def test_trainer_uses_the_schedule_from_update_zero() -> None:
    s = lrlab.parse(SPEC)
    assert _weight_deltas(ScheduleScheduler(s), 20) == [-f32(s(t)) for t in range(20)]


def test_num_update_is_one_based() -> None:
    s = lrlab.parse(SPEC)
    sched = ScheduleScheduler(s)
    assert [sched(n) for n in range(1, 6)] == [s(t) for t in range(5)]
    assert sched(0) == s(0)  # before any update (e.g. trainer.learning_rate at the start)


def test_steps_per_epoch() -> None:
    s = lrlab.multi_factor(0.5, milestones=[2, 3], factor=0.5)
    deltas = _weight_deltas(ScheduleScheduler(s, steps_per_epoch=3), 12)
    assert deltas == [-f32(s(t / 3)) for t in range(12)]
    assert deltas[5] == -0.5 and deltas[6] == -0.25 and deltas[9] == -0.125


@pytest.mark.parametrize(
    ("native", "ours"),
    [
        (
            lambda: lr_scheduler.MultiFactorScheduler(step=[15, 30], factor=0.5, base_lr=0.5),
            "multi_factor(0.5, [15, 30], 0.5)",
        ),
        (lambda: lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.1), "factor(0.1, 0.5, every=10)"),
    ],
)
def test_agrees_with_mxnets_own_schedulers(native: Any, ours: str) -> None:
    """The same curve in MXNet's stateful schedulers and in lrlab, through real trainers."""
    assert _weight_deltas(ScheduleScheduler(ours), 45) == _weight_deltas(native(), 45)


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match=re.escape("steps_per_epoch must be an integer > 0; got steps_per_epoch=0")):
        ScheduleScheduler(SPEC, steps_per_epoch=0)
    with pytest.raises(ValueError, match=re.escape("schedule must be a Schedule, a text spec or a dict spec")):
        ScheduleScheduler(0.1)  # type: ignore[arg-type]


def test_core_works_with_this_numpy() -> None:
    """lrlab's core on numpy < 1.24: every family, scalar and array paths, specs round-trip."""
    assert np.lib.NumpyVersion(np.__version__) < "1.24.0"
    specs = [
        "constant(0.1)",
        "square_root(0.1)",
        "inverse_power(0.1, power=0.7)",
        "factor(0.5, 0.9, every=3, min_lr=0.01)",
        "multi_factor(0.5, [15, 30], 0.5)",
        "piecewise_constant([5, 10], [0.1, 0.05, 0.01])",
        "exponential(0.1, 0.97, staircase=True)",
        "poly(0.1, 40, power=2.0)",
        "linear(0.0, 0.1, 10)",
        "cosine(0.3, steps=20, final_lr=0.01)",
        "cosine_restarts(0.1, 10, period_mult=2.0, final_lr=0.001)",
        'cyclic(0.001, 0.1, 10, mode="triangular2")',
        "one_cycle(0.1, 60)",
        "wsd(0.1, 100, 10, 20)",
        "join([linear(0.0, 0.1, 10), cosine(0.1, 50)], [10])",
        "clipped(scaled(" + SPEC + ", 2.0), min_lr=0.01)",
    ]
    for spec in specs:
        s = lrlab.parse(spec)
        assert lrlab.parse(str(s)) == s == lrlab.from_dict(s.to_dict())
        curve = s.curve(70)
        assert curve.dtype == np.float64
        assert list(curve) == [s(t) for t in range(70)]
