"""lrlab.optax.to_optax under jax.jit, as an optax learning rate, in float32 and float64.

Also the rate tables that the Keras and optax adapters share (`lrlab.schedules.table`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import lrlab
from lrlab.schedules.table import horizon, rate_table
from strategies import any_schedule

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

from lrlab.optax import to_optax  # noqa: E402

SPEC = "warmup(cosine(0.1, steps=20, final_lr=0.001), steps=5)"


def _sgd_rates(learning_rate: Any, n: int) -> list[float]:
    """The rate a jitted ``optax.sgd`` applies at each of ``n`` updates (grad 1: update = -lr)."""
    opt = optax.sgd(learning_rate)
    params = jnp.zeros(1)
    state = opt.init(params)

    @jax.jit
    def step(state: Any) -> tuple[Any, Any]:
        updates, state = opt.update(jnp.ones(1), state, params)
        return updates, state

    used = []
    for _ in range(n):
        updates, state = step(state)
        used.append(-float(updates[0]))
    return used


def test_sgd_under_jit_follows_the_schedule_in_float32() -> None:
    s = lrlab.parse(SPEC)
    used = _sgd_rates(to_optax(s), 40)
    np.testing.assert_allclose(used, [s(t) for t in range(40)], rtol=1e-6, atol=1e-9)
    assert used == [float(np.float32(s(t))) for t in range(40)]  # rounded once, from the exact value


def test_the_function_jits_on_its_own_and_holds_after_the_end() -> None:
    s = lrlab.parse(SPEC)
    fn = jax.jit(to_optax(s))
    for t in [0, 4, 5, 6, 24, 25, 26, 1000, 10**9]:
        assert float(fn(jnp.asarray(t, jnp.int32))) == float(np.float32(s(t)))


def test_built_inside_jit() -> None:
    s = lrlab.parse(SPEC)

    @jax.jit
    def f(count: Any) -> Any:
        return to_optax(s)(count)

    assert float(f(7)) == float(np.float32(s(7)))


def test_explicit_steps_and_steps_per_epoch() -> None:
    s = lrlab.cyclic(0.001, 0.1, step_size=3)  # never settles
    with pytest.raises(ValueError, match=re.escape("steps must be given for cyclic(0.001, max_lr=0.1")):
        to_optax(s)
    fn = to_optax(s, steps=30, steps_per_epoch=4)
    got = [float(fn(n)) for n in range(35)]
    assert got == [float(np.float32(s(min(n, 29) / 4))) for n in range(35)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be an integer > 0; got steps=0"),
        ({"steps_per_epoch": 1.5}, "steps_per_epoch must be an integer > 0; got steps_per_epoch=1.5"),
        ({"schedule": [0.1]}, "schedule must be a Schedule, a text spec or a dict spec; got schedule=[0.1]"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"schedule": SPEC, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        to_optax(args.pop("schedule"), **args)


@pytest.mark.slow
def test_float64_mode_is_exact() -> None:
    """Under jax_enable_x64 (in a fresh process: x64 is global) the rates are the schedule's float64 values."""
    code = textwrap.dedent(
        f"""
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, numpy as np, optax, lrlab
        from lrlab.optax import to_optax
        s = lrlab.parse({SPEC!r})
        fn = to_optax(s)
        opt = optax.sgd(fn)
        params = jnp.zeros(1)
        state = opt.init(params)
        step = jax.jit(lambda st: opt.update(jnp.ones(1), st, params))
        used = []
        for _ in range(40):
            updates, state = step(state)
            assert updates.dtype == jnp.float64, updates.dtype
            used.append(-float(updates[0]))
        want = [s(t) for t in range(40)]
        np.testing.assert_allclose(used, want, rtol=1e-12, atol=0)
        assert used == want
        print("ok")
        """
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


# -- the shared rate tables ---------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(any_schedule, st.none() | st.integers(1, 6))
def test_a_settled_schedule_holds_its_last_tabulated_value(s: lrlab.Schedule, spe: int | None) -> None:
    end = horizon(s)
    if end is None:
        with pytest.raises(ValueError, match="steps must be given"):
            rate_table(s, steps_per_epoch=spe)
        return
    assume(end * (spe or 1) < 20_000)  # keep the example fast (the table may hold up to 10 million rates)
    table = rate_table(s, steps_per_epoch=spe)
    n = table.shape[0]
    later = np.array([n - 1, n, n + 1, n + 17, 3 * n + 5, 10 * n + 1000], dtype=np.float64)
    assert list(s(later / (spe or 1))) == [table[-1]] * len(later)
    assert list(table[-50:]) == [s(k / (spe or 1)) for k in range(max(n - 50, 0), n)]


def test_a_table_too_long_to_build_needs_steps() -> None:
    s = lrlab.exponential(1.0, rate=0.9999999, min_lr=0.01)  # reaches its floor after ~46 million updates
    with pytest.raises(ValueError, match=re.escape("steps must be given for exponential(1.0, rate=0.9999999")):
        rate_table(s)
    assert rate_table(s, steps=1000).shape == (1000,)


@pytest.mark.parametrize(
    "spec",
    [
        "factor(0.5, 0.9, every=3, min_lr=0.01)",
        "exponential(0.1, 0.97, min_lr=0.001)",
        "exponential(0.1, 0.5, every=2, staircase=True, min_lr=0.001)",
        "join([linear(0.0, 0.1, 10), poly(0.1, 50, power=2.0)], [10])",
        "clipped(warmup(multi_factor(0.1, [5, 9], 0.5), steps=3), min_lr=0.03)",
        "scaled(square_root(0.1), 0.0)",
        "skip(lifted(cosine(0.1, 20), 0.01), 5)",
        "skip(linear(0.0, 0.1, 10), 25)",
    ],
)
def test_horizons_of_decays_with_a_floor(spec: str) -> None:
    s = lrlab.parse(spec)
    end = horizon(s)
    assert end is not None
    table = rate_table(s)
    assert table.shape[0] < 1000
    far = s(np.arange(table.shape[0], table.shape[0] + 5000, dtype=np.float64))
    assert (far == table[-1]).all()


# -- counts a table lookup must not get wrong ------------------------------------------------


@pytest.mark.parametrize(
    "count",
    [2**31, 2**40, np.int64(2**40), np.int64(2**31 + 5), float(2**40), float("nan"), np.float32("nan"), 1e30],
    ids=str,
)
def test_huge_or_nan_counts_read_the_final_rate(count: Any) -> None:
    """Past the horizon the rate is the final one (an int32 cast would wrap 2**31 to the first rate)."""
    s = lrlab.parse(SPEC)
    final = float(np.float32(s(10**6)))
    fn = to_optax(s)
    assert float(fn(count)) == final
    if not isinstance(count, int) or count < 2**31:  # a traced int32 cannot hold 2**31 without x64
        assert float(jax.jit(fn)(jnp.asarray(count, dtype=jnp.float32))) == final


def test_negative_and_fractional_counts() -> None:
    """A negative count reads the first rate (there is no update before 0); a float count its whole part."""
    s = lrlab.parse(SPEC)
    fn = to_optax(s)
    assert float(fn(-1)) == float(fn(-(2**40))) == float(np.float32(s(0)))
    assert float(fn(7.0)) == float(fn(7.9)) == float(jax.jit(fn)(jnp.asarray(7.0))) == float(np.float32(s(7)))
    assert float(jax.jit(fn)(jnp.asarray(2**31 - 1, jnp.int32))) == float(np.float32(s(10**6)))


# -- lrlab.optax.inject: schedules for any hyperparameter ---------------------------------------


def test_inject_hyperparams_follow_the_schedules_step_by_step() -> None:
    from lrlab.optax import inject

    lr, momentum = lrlab.parse("cosine(0.1, steps=10)"), lrlab.linear(0.95, 0.85, steps=10)
    opt = inject(optax.sgd, learning_rate=str(lr), momentum=momentum)
    params = jnp.zeros(1)
    state = opt.init(params)
    step = jax.jit(lambda st: opt.update(jnp.ones(1), st, params))
    velocity, f32 = 0.0, np.float32
    for t in range(14):
        updates, state = step(state)
        # the state holds the values the update just used: those of update t
        assert float(state.hyperparams["learning_rate"]) == float(f32(lr(t)))
        assert float(state.hyperparams["momentum"]) == float(f32(momentum(t)))
        # and the update used them: optax's trace, velocity = g + momentum * velocity, update = -lr * velocity
        velocity = 1.0 + float(f32(momentum(t))) * velocity
        assert -float(updates[0]) == pytest.approx(float(f32(lr(t))) * velocity, rel=1e-6)


def test_inject_takes_a_hyperparams_value_and_names_b1_for_adam() -> None:
    from lrlab.compat import torch as T
    from lrlab.optax import inject

    h = T.OneCycleLR(0.1, total_steps=20)
    opt = inject(optax.adamw, h, weight_decay="linear(0.01, 0.0, steps=20)")
    state = opt.init(jnp.zeros(1))
    for t in range(3):
        _, state = opt.update(jnp.ones(1), state, jnp.zeros(1))
        assert float(state.hyperparams["b1"]) == float(np.float32(h.momentum(t)))  # type: ignore[union-attr]
        assert float(state.hyperparams["learning_rate"]) == float(np.float32(h.lr(t)))
        assert float(state.hyperparams["weight_decay"]) == float(np.float32(0.01 * (1 - t / 20)))
    with pytest.raises(lrlab.ScheduleError, match=re.escape("lrlab.optax.inject: mom must be an argument of sgd")):
        inject(optax.sgd, learning_rate=0.1, mom="constant(0.9)")
    with pytest.raises(lrlab.ScheduleError, match=re.escape("learning_rate must be given once")):
        inject(optax.sgd, h, learning_rate=0.1)
