"""lrlab.plateau.Plateau: the same decisions as torch's and Keras's ReduceLROnPlateau."""

from __future__ import annotations

import json
import math
import os
import re
import types
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrlab
from lrlab.plateau import Plateau

# keras's torch backend converts tensors with np.array(x) (numpy 2 asks for a copy= keyword)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TIES = st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
METRIC = st.one_of(
    TIES,
    TIES,
    st.floats(-10.0, 10.0),
    st.sampled_from([math.nan, math.inf, -math.inf, 1.0 + 1e-5, 1.0 - 1e-5]),
)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


# -- torch -------------------------------------------------------------------------


@st.composite
def torch_settings(draw: Any) -> dict[str, Any]:
    return {
        "mode": draw(st.sampled_from(["min", "max"])),
        "factor": draw(st.sampled_from([0.1, 0.5, 0.3, 0.9])),
        "patience": draw(st.integers(0, 4)),
        "threshold": draw(st.sampled_from([0.0, 1e-4, 0.1, 0.5])),
        "threshold_mode": draw(st.sampled_from(["rel", "abs"])),
        "cooldown": draw(st.integers(0, 3)),
        "min_lr": draw(st.sampled_from([0.0, 1e-3, 0.02])),
        "eps": draw(st.sampled_from([1e-8, 0.0, 1e-3, 0.03])),
    }


@settings(max_examples=200, deadline=None)
@given(torch_settings(), st.lists(METRIC, min_size=1, max_size=40), st.sampled_from([0.1, 1.0, 0.05]))
def test_same_decisions_and_rates_as_torch(kwargs: dict[str, Any], metrics: list[float], lr: float) -> None:
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    ours = Plateau(**kwargs)
    for m in metrics:
        before = opt.param_groups[0]["lr"]
        ref.step(m)
        reduced = ours.step(m, schedule_lr=lr)
        after = opt.param_groups[0]["lr"]
        assert reduced == (after < before)
        assert ours.apply(lr) == pytest.approx(after, rel=1e-12, abs=0)
        assert (ours.num_bad_epochs, ours.cooldown_counter) == (ref.num_bad_epochs, ref.cooldown_counter)
        assert _same(ours.best, ref.best)


def test_torch_patience_is_exceeded_not_reached() -> None:
    p = Plateau(patience=2, factor=0.5)
    assert [p.step(1.0) for _ in range(5)] == [False, False, False, True, False]


def test_nan_counts_as_a_bad_epoch() -> None:
    p = Plateau(patience=1, factor=0.5)
    assert [p.step(m) for m in [1.0, math.nan, math.nan, 0.5]] == [False, False, True, False]
    assert p.best == 0.5


# -- keras ---------------------------------------------------------------------------


@st.composite
def keras_settings(draw: Any) -> dict[str, Any]:
    # values exact in float32 as in float64: Keras compares float32 tensors
    return {
        "mode": draw(st.sampled_from(["min", "max"])),
        "factor": draw(st.sampled_from([0.5, 0.25])),
        "patience": draw(st.integers(0, 4)),
        "min_delta": draw(st.sampled_from([0.0, 0.25, 0.5])),
        "cooldown": draw(st.integers(0, 3)),
        "min_lr": draw(st.sampled_from([0.0, 0.125, 0.3])),
    }


@settings(max_examples=150, deadline=None)
@given(keras_settings(), st.lists(st.one_of(TIES, st.just(math.nan)), min_size=1, max_size=30))
def test_keras_convention_matches_keras(kwargs: dict[str, Any], metrics: list[float]) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    opt = keras.optimizers.SGD(learning_rate=1.0)
    ref = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", **kwargs)
    ref.set_model(types.SimpleNamespace(optimizer=opt))
    ref.on_train_begin()
    ours = Plateau(
        mode=kwargs["mode"],
        factor=kwargs["factor"],
        patience=kwargs["patience"],
        threshold=kwargs["min_delta"],
        threshold_mode="abs",
        cooldown=kwargs["cooldown"],
        min_lr=kwargs["min_lr"],
        convention="keras",
    )

    def rate() -> float:
        return float(keras.ops.convert_to_numpy(opt.learning_rate))

    for epoch, m in enumerate(metrics):
        before = rate()
        ref.on_epoch_end(epoch, {"val_loss": m})
        reduced = ours.step(m, schedule_lr=1.0)
        assert reduced == (rate() < before)
        assert ours.apply(1.0) == pytest.approx(rate(), rel=1e-6)
        assert (ours.num_bad_epochs, ours.cooldown_counter) == (ref.wait, ref.cooldown_counter)


def test_keras_patience_is_reached() -> None:
    p = Plateau(patience=2, factor=0.5, convention="keras")
    assert [p.step(1.0) for _ in range(5)] == [False, False, True, False, True]


@pytest.mark.parametrize(("threshold_mode", "reduced"), [("rel", True), ("abs", False)])
def test_keras_convention_honours_threshold_mode(threshold_mode: str, reduced: bool) -> None:
    p = Plateau(patience=1, threshold=0.5, threshold_mode=threshold_mode, convention="keras")
    p.step(2.0)
    # 1.2 is better than 2.0 by more than 0.5 (abs) but not better than 2.0 * (1 - 0.5) (rel)
    assert p.step(1.2) is reduced


# -- scaling any schedule ---------------------------------------------------------------


def test_scale_never_lifts_the_schedule_and_floors_at_min_lr() -> None:
    s = lrlab.parse("warmup(constant(0.1), steps=10)")
    p = Plateau(factor=0.1, patience=0, min_lr=0.02)
    p.step(1.0)
    p.step(2.0)  # reduced
    assert p.scale == pytest.approx(0.1)
    assert [p.apply(s(t)) for t in range(6)] == [s(0), s(1), 0.02, 0.02, 0.02, 0.02]
    assert p.apply(0.0) == 0.0


def test_without_a_rate_every_due_reduction_multiplies_scale() -> None:
    p = Plateau(factor=0.5, patience=0, min_lr=0.1)
    for m in [1.0, 2.0, 3.0, 4.0]:
        p.step(m)
    assert p.reductions == 3
    assert p.scale == 0.125
    assert p.apply(1.0) == 0.125
    assert p.apply(0.4) == 0.1


# -- checkpoints -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    torch_settings(),
    st.sampled_from(["torch", "keras"]),
    st.lists(METRIC, min_size=2, max_size=30),
    st.data(),
)
def test_checkpoint_and_resume(kwargs: dict[str, Any], convention: str, metrics: list[float], data: Any) -> None:
    k = data.draw(st.integers(0, len(metrics)))
    straight = Plateau(**kwargs, convention=convention)
    expected = [straight.step(m, schedule_lr=0.1) for m in metrics]
    first = Plateau(**kwargs, convention=convention)
    got = [first.step(m, schedule_lr=0.1) for m in metrics[:k]]
    text = json.dumps(first.state_dict())
    resumed = Plateau()
    resumed.load_state_dict(json.loads(text))
    got += [resumed.step(m, schedule_lr=0.1) for m in metrics[k:]]
    assert got == expected
    assert resumed.scale == straight.scale
    a, b = resumed.state_dict(), straight.state_dict()
    assert _same(a.pop("best"), b.pop("best"))
    assert a == b


# -- bad input ----------------------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return {"mode": "min", "factor": 0.1, "patience": 3, "threshold": 1e-4, "threshold_mode": "rel"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("mode", "mn", "mode must be one of 'min', 'max'; got mode='mn'"),
        ("factor", 1.0, "factor must be a number with 0 < factor < 1; got factor=1.0"),
        ("factor", 0, "factor must be a number with 0 < factor < 1; got factor=0"),
        ("patience", -1, "patience must be an integer >= 0; got patience=-1"),
        ("patience", 2.0, "patience must be an integer >= 0; got patience=2.0"),
        ("threshold", -0.1, "threshold must be a finite number >= 0; got threshold=-0.1"),
        ("threshold_mode", "relative", "threshold_mode must be one of 'rel', 'abs'"),
        ("cooldown", True, "cooldown must be an integer >= 0; got cooldown=True"),
        ("min_lr", math.nan, "min_lr must be a finite number >= 0; got min_lr=nan"),
        ("eps", -1e-8, "eps must be a finite number >= 0; got eps=-1e-08"),
        ("convention", "tf", "convention must be one of 'torch', 'keras'; got convention='tf'"),
    ],
)
def test_bad_arguments_name_the_argument(name: str, value: Any, message: str) -> None:
    args = {**_valid(), name: value}
    with pytest.raises(ValueError, match=re.escape(message)):
        Plateau(**args)


def test_bad_state() -> None:
    with pytest.raises(ValueError, match="state must be a Plateau state"):
        Plateau().load_state_dict({"mode": "min"})
    assert np.isinf(Plateau().state_dict()["best"])
