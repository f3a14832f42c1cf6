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
