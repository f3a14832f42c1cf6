"""lrlab.keras: the schedule inside a real ``model.fit`` (torch backend), saved and reloaded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lrlab

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
from lrlab.keras import ScheduleCallback, ScheduleLR  # noqa: E402

# keras's torch backend converts tensors with np.array(x) (numpy 2 asks for a copy= keyword)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SPEC = "warmup(cosine(0.1, steps=8, final_lr=0.001), steps=3)"


def f32(x: float) -> float:
    return float(np.float32(x))


class _Recorder(keras.callbacks.Callback):  # type: ignore[misc]
    """At each batch: (epoch, optimizer.iterations, optimizer.learning_rate)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int, float]] = []
        self.epoch = -1

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        opt = self.model.optimizer
        lr = float(keras.ops.convert_to_numpy(opt.learning_rate))
        self.seen.append((self.epoch, int(keras.ops.convert_to_numpy(opt.iterations)), lr))


def _model(learning_rate: Any) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_fit_follows_the_schedule_per_update() -> None:
    s = lrlab.parse(SPEC)
    model = _model(ScheduleLR(s))
    rec = _Recorder()
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[rec], shuffle=False)
    assert [it for _, it, _ in rec.seen] == list(range(16))
    assert [lr for _, _, lr in rec.seen] == [f32(s(t)) for t in range(16)]


def test_the_rate_the_optimizer_applies_is_the_schedule() -> None:
    """Variable at 0, gradient 1: each update moves it by exactly -float32(lr)."""
    s = lrlab.parse(SPEC)
    opt = keras.optimizers.SGD(learning_rate=ScheduleLR(s))
    var = keras.Variable(np.zeros(1, "float32"))
    for t in range(14):
        var.assign(np.zeros(1, "float32"))
        opt.apply_gradients([(keras.ops.ones(1), var)])
        assert float(keras.ops.convert_to_numpy(var)[0]) == -f32(s(t))


def test_steps_per_epoch_and_explicit_steps() -> None:
    s = lrlab.exponential(0.1, rate=0.5)  # never settles: needs steps=
    with pytest.raises(ValueError, match=re.escape("steps must be given for exponential(0.1, rate=0.5)")):
        ScheduleLR(s)
    lr = ScheduleLR(s, steps=12, steps_per_epoch=4)
    got = [float(keras.ops.convert_to_numpy(lr(keras.ops.convert_to_tensor(n)))) for n in range(16)]
    assert got == [f32(s(min(n, 11) / 4)) for n in range(16)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be an integer > 0; got steps=0"),
        ({"steps_per_epoch": -2}, "steps_per_epoch must be an integer > 0; got steps_per_epoch=-2"),
        ({"schedule": 0.1}, "schedule must be a Schedule, a text spec or a dict spec; got schedule=0.1"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ScheduleLR(**{"schedule": SPEC, **kwargs})


def test_config_round_trip() -> None:
    lr = ScheduleLR(SPEC, steps=50, steps_per_epoch=2)
    again = ScheduleLR.from_config(lr.get_config())
    assert again.get_config() == lr.get_config()
    assert lrlab.parse(again.get_config()["schedule"]) == lrlab.parse(SPEC)
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(lr))
    assert isinstance(rebuilt, ScheduleLR)
    assert rebuilt.schedule == lrlab.parse(SPEC)


def test_saved_model_reloads_with_its_schedule(tmp_path: Path) -> None:
    s = lrlab.parse(SPEC)
    model = _model(ScheduleLR(s))
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    schedule = loaded.optimizer._learning_rate
    assert isinstance(schedule, ScheduleLR)
    assert schedule.schedule == s
    rec = _Recorder()
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[rec], shuffle=False)
    assert [(it, lr) for _, it, lr in rec.seen] == [(t, f32(s(t))) for t in range(8, 12)]


def test_callback_sets_the_rate_per_epoch() -> None:
    s = lrlab.multi_factor(0.1, milestones=[2, 4], factor=0.5)
    model = _model(0.7)
    rec = _Recorder()
    x, y = _data()
    model.fit(x, y, batch_size=16, epochs=6, verbose=0, callbacks=[ScheduleCallback(str(s)), rec])
    assert [(e, lr) for e, _, lr in rec.seen] == [(e, f32(s(e))) for e in range(6) for _ in range(2)]
    assert isinstance(ScheduleCallback(s), keras.callbacks.LearningRateScheduler)


@pytest.mark.slow
def test_traces_under_jax_jit() -> None:
    """On the JAX backend ``model.fit`` compiles the train step: the table lookup must trace."""
    code = textwrap.dedent(
        """
        import os
        os.environ["KERAS_BACKEND"] = "jax"
        import keras, numpy as np, lrlab
        from lrlab.keras import ScheduleLR
        s = lrlab.parse("warmup(cosine(0.1, steps=8), steps=3)")
        opt = keras.optimizers.SGD(learning_rate=ScheduleLR(s))
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
        model.compile(optimizer=opt, loss="mse", jit_compile=True)
        x = np.ones((4, 2), "float32")
        model.fit(x, np.zeros((4, 1), "float32"), batch_size=1, epochs=3, verbose=0)
        assert int(opt.iterations) == 12
        assert float(opt.learning_rate) == float(np.float32(s(12))), float(opt.learning_rate)
        print("ok")
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


# -- counts a table lookup must not get wrong ------------------------------------------------


def _rate(lr: Any, count: Any, dtype: str | None = None) -> float:
    step = keras.ops.convert_to_tensor(count, dtype=dtype) if dtype else count
    return float(keras.ops.convert_to_numpy(lr(step)))


@pytest.mark.parametrize(
    ("count", "dtype"),
    [
        (2**31, "int64"),
        (2**40, "int64"),
        (2**63 - 1, "int64"),
        (2.0**40, "float32"),
        (float("nan"), "float32"),
        (float("nan"), None),
        (2**40, None),
    ],
    ids=str,
)
def test_huge_or_nan_counts_read_the_final_rate(count: Any, dtype: str | None) -> None:
    """Past the horizon the rate is the final one (an int32 cast would wrap 2**31 to the first rate)."""
    s = lrlab.parse(SPEC)
    assert _rate(ScheduleLR(s), count, dtype) == f32(s(10**6))


def test_negative_and_fractional_counts() -> None:
    """A negative count reads the first rate (there is no update before 0); a float count its whole part."""
    s = lrlab.parse(SPEC)
    lr = ScheduleLR(s)
    assert _rate(lr, -1, "int64") == _rate(lr, -(2**40), "int64") == f32(s(0))
    assert _rate(lr, 7.0, "float32") == _rate(lr, 7.9, "float32") == _rate(lr, 7, "int64") == f32(s(7))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"schedule": SPEC, "step": 10},
            "ScheduleLR.from_config: config['step'] must be an argument of ScheduleLR (did you mean 'steps'",
        ),
        (
            {"steps": 10},
            "ScheduleLR.from_config: config['schedule'] must be present (the schedule's spec; keys given: ['steps'])",
        ),
        ("warmup", "ScheduleLR.from_config: config must be a dict from ScheduleLR.get_config(); got config='warmup'"),
    ],
)
def test_from_config_names_a_missing_or_unknown_key(config: Any, message: str) -> None:
    with pytest.raises(lrlab.ScheduleError, match=re.escape(message)):
        ScheduleLR.from_config(config)


# -- momentum and weight decay: HyperparamCallback ---------------------------------------------


def test_callback_schedules_sgd_momentum_and_the_update_uses_it() -> None:
    """Variable at 0, gradient 1: Keras's SGD does m = momentum * m - lr * g; w += m, with the scheduled momentum."""
    from lrlab.keras import HyperparamCallback

    momentum, lr = lrlab.linear(0.9, 0.5, steps=4), 0.1
    opt = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=opt, loss="mse")
    var = keras.Variable(np.zeros(1, "float32"))
    opt.build([var])
    callback = HyperparamCallback(momentum=momentum)
    callback.set_model(model)
    callback.on_train_begin()
    m, w = 0.0, 0.0
    for t in range(6):
        callback.on_train_batch_begin(t)
        assert opt.momentum == momentum(t)
        opt.apply_gradients([(keras.ops.ones(1), var)])
        m = f32(f32(f32(momentum(t)) * m) - f32(lr))
        w = f32(w + m)
        assert float(keras.ops.convert_to_numpy(var)[0]) == w


def test_callback_in_fit_sets_beta_1_and_weight_decay_per_update() -> None:
    from lrlab.keras import HyperparamCallback

    beta, wd = lrlab.cosine(0.95, steps=10, final_lr=0.85), lrlab.linear(0.01, 0.0, steps=10)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.01), loss="mse")
    seen = []

    class Seen(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            opt = self.model.optimizer
            seen.append((int(keras.ops.convert_to_numpy(opt.iterations)), opt.beta_1, opt.weight_decay))

    x, y = _data()
    callbacks = [HyperparamCallback(momentum=beta, weight_decay=wd), Seen()]
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks, shuffle=False)
    assert seen == [(t, beta(t), wd(t)) for t in range(12)]


def test_callback_refusals() -> None:
    from lrlab.keras import HyperparamCallback

    model = _model(0.1)  # SGD without momentum: no velocity to scale
    callback = HyperparamCallback(momentum="constant(0.9)")
    callback.set_model(model)
    with pytest.raises(lrlab.ScheduleError, match=re.escape("optimizer.momentum must be > 0 when SGD is built")):
        callback.on_train_begin()
    with pytest.raises(lrlab.ScheduleError, match=re.escape("HyperparamCallback: momentum must be a schedule")):
        HyperparamCallback()
