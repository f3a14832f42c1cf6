"""Shapes and options of the training libraries' schedulers (timm above all).

* `Tanh` -- timm's ``TanhLRScheduler`` curve;
* `Cycles` -- any schedule repeated in cycles that lengthen and whose peak decays (timm's
  ``cycle_mul``, ``cycle_decay``, ``cycle_limit``);
* `Noisy` -- seeded multiplicative noise over a range of steps (timm's ``noise_range_t``),
  a pure function of ``t`` and the seed.
"""

from __future__ import annotations

import math

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import FloatArray, Schedule, arg, family

__all__ = ["Tanh", "tanh", "Cycles", "cycles", "Noisy", "noisy"]


@family
class Tanh(Schedule):
    """Hyperbolic-tangent decay (timm ``TanhLRScheduler``, Hsueh et al. 2019), then ``final_lr``.

    For ``t < steps``, with ``f = t / steps``:
    ``final_lr + 0.5 * (base_lr - final_lr) * (1 - tanh(lower * (1 - f) + upper * f))``;
    from ``steps`` on: ``final_lr``. As in timm, the curve starts a hair below ``base_lr`` and ends
    0.25% of the range above ``final_lr`` (with the default bounds), where it steps down.

    >>> s = Tanh(0.1, steps=100)
    >>> round(s(0), 7), round(s(70), 12), s(100)
    (0.0999999, 0.05, 0.0)
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True, time=True)
    final_lr: float = arg(default=0.0, low=0)
    lower: float = arg(default=-7.0)
    upper: float = arg(default=3.0)
    name = "tanh"

    def __check_init__(self) -> None:
        if not self.lower < self.upper:
            raise invalid("lower", self.lower, f"< upper ({self.upper:g})", where=self.name)

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        frac = np.minimum(t, self.steps) / self.steps  # <= 1: no overflow for a tiny `steps`
        # timm's order of operations: lb * (1 - tr) + ub * tr
        x = self.lower * (1.0 - frac) + self.upper * frac
        out: FloatArray = self.final_lr + 0.5 * (self.base_lr - self.final_lr) * (1.0 - np.tanh(x))
        out[t >= self.steps] = self.final_lr
        return out


tanh = Tanh


@family
class Cycles(Schedule):
    """``schedule`` repeated in cycles: cycle ``i`` lasts ``T * mult ** i`` and peaks ``decay ** i`` as high.

    ``T`` is the schedule's horizon (finite, > 0) and ``floor = schedule(T)``. At position ``c``
    of cycle ``i`` the rate is ``floor + h_i * (schedule(c / mult ** i) - floor)`` with
    ``h_i = (decay ** i * peak - floor) / (peak - floor)``: the cycle's peak is ``decay ** i`` times
    ``peak`` (default ``schedule(0)``; timm's tanh curve starts just below its ``base_lr``, which
    is its peak) while the floor stays. After ``limit`` cycles
    (None: never) the rate is ``floor``. This is timm's ``cycle_mul``/``cycle_decay``/``cycle_limit``
    (the schedule being timm's cosine, poly or tanh curve); the cycle index is computed as timm
    does, ``floor(log(1 + t / T * (mult - 1)) / log(mult))``, so its numbers match timm's exactly.

    >>> from lrlab.schedules.decay import Cosine
    >>> s = Cycles(Cosine(0.1, steps=10), mult=2.0, decay=0.5)
    >>> s(0), s(5), s(10), s(20), s(30)
    (0.1, 0.05, 0.05, 0.025, 0.025)
    >>> Cycles(Cosine(0.1, steps=10, final_lr=0.01), limit=2)(20)
    0.01
    """

    schedule: Schedule = arg(kind="schedule")
    mult: float = arg(default=1.0, low=1)
    decay: float = arg(default=1.0, low=0, low_open=True, high=1)
    limit: int | None = arg(default=None, low=1)
    peak: float | None = arg(default=None, low=0)
    name = "cycles"

    def __check_init__(self) -> None:
        end = self.schedule.horizon()
        if end is None or not end > 0:
            need = f"a schedule with a finite horizon > 0, the length of a cycle (its horizon is {end})"
            raise invalid("schedule", str(self.schedule), need, where=self.name)
        if self.limit is not None and not isinstance(self.limit, int):
            raise invalid("limit", self.limit, "a whole number of cycles (or None)", where=self.name)

    @property
    def period(self) -> float:
        """The length of the first cycle: the schedule's horizon."""
        end = self.schedule.horizon()
        assert end is not None  # checked in __check_init__
        return float(end)

    def horizon(self) -> float | None:
        if self.limit is None:
            return None
        period, mult = self.period, float(self.mult)
        try:
            end = period * self.limit if mult == 1.0 else (1.0 - mult**self.limit) / (1.0 - mult) * period
        except OverflowError:
            return None
        if not math.isfinite(end):
            return None
        # a little later, so that where rounding still puts t in the last cycle, it is at its very end
        return end + max(4 * math.ulp(end), 1e-12 * end)

    def index(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """For each ``t``: the cycle index ``i`` and the position ``c`` in it, as timm computes them.

        ``i`` is inf where it is past what a float counts (then the rate is the floor).
        """
        with np.errstate(all="ignore"):
            i, c = self._index(t)
            lost = ~(np.isfinite(c) & (i < 1e15))
        i[lost], c[lost] = np.inf, 0.0
        return i, c

    def _index(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        period, mult = self.period, float(self.mult)
        if mult == 1.0:
            i = np.floor_divide(t, period)
            return i, np.maximum(t - period * i, 0.0)
        ratio = np.log1p(t / period * (mult - 1.0)) / math.log(mult)
        i = np.floor(ratio)
        i[~(i < 1e15)] = np.inf
        timm_like = mult - 1.0 > 1e-6  # timm's closed forms lose their digits as mult nears 1
        if timm_like:
            # Where the ratio is at (or within rounding of) a whole number, the floor decides the cycle:
            # take it from Python's math.log, as timm does, so that a restart lands on the same step.
            near = np.abs(ratio - np.round(ratio)) < 1e-9 * np.maximum(1.0, np.abs(ratio))
            flat_t, flat_i = t.reshape(-1), i.reshape(-1)  # i is a new array: the view writes into it
            for k in np.flatnonzero(near):
                x = 1.0 - float(flat_t[k]) / period * (1.0 - mult)
                flat_i[k] = math.floor(math.log(x, mult))
        c = t
        for _ in range(3):  # a cycle that the rounding got wrong by more than rounding: the next one over
            begin, length = self._bounds(i, timm_like)
            c = t - begin
            early, late = c < -1e-9 * length, c > length * (1 + 1e-9)
            if not (early.any() or late.any()):
                break
            i = i - early + late
        return i, np.where(np.isfinite(begin + length), np.maximum(c, 0.0), np.nan)  # nan: past the floats

    def _bounds(self, i: FloatArray, timm_like: bool) -> tuple[FloatArray, FloatArray]:
        """The start and the length of cycle ``i``, one Python computation per distinct cycle (inf if too far)."""
        period, mult = self.period, float(self.mult)
        starts: dict[float, float] = {}
        lengths: dict[float, float] = {}
        for k in np.unique(i):
            starts[k] = lengths[k] = math.inf
            if not k < 1e15:
                continue
            n = int(k)
            try:
                if timm_like:
                    starts[k] = (1.0 - mult**n) / (1.0 - mult) * period
                else:
                    starts[k] = math.expm1(n * math.log(mult)) / (mult - 1.0) * period
                lengths[k] = mult**n * period
            except OverflowError:
                pass
        return _lookup(i, starts), _lookup(i, lengths)

    def _rates(self, t: FloatArray) -> FloatArray:
        i, c = self.index(t)
        mult, decay = float(self.mult), float(self.decay)
        floor = float(self.schedule._rates(np.array([self.period]))[0])
        start = float(self.schedule._rates(np.zeros(1))[0]) if self.peak is None else float(self.peak)
        lost = ~np.isfinite(i)
        cycles = np.unique(i[~lost])
        if mult != 1.0:
            # the inner clock: c in cycle i is c / mult**i (Python's pow, one per cycle; finite where i is)
            scale = _lookup(i, {**{k: _power(mult, int(k)) for k in cycles}, math.inf: 1.0})
            c = c / scale
        out = self.schedule._rates(c)
        if decay != 1.0 and start != floor:
            height = {k: (decay ** int(k) * start - floor) / (start - floor) for k in cycles}
            h = _lookup(i, {**height, math.inf: 1.0})
            shrunk = h != 1.0
            out[shrunk] = floor + h[shrunk] * (out[shrunk] - floor)
            np.maximum(out, 0.0, out=out)
        out[lost] = floor
        if self.limit is not None:
            out[i >= self.limit] = floor
        return out


cycles = Cycles


def _power(x: float, n: int) -> float:
    """``x ** n`` by Python's pow, inf where it overflows."""
    try:
        return float(x**n)
    except OverflowError:
        return math.inf


def _lookup(keys: FloatArray, table: dict[float, float]) -> FloatArray:
    """``table[k]`` for each ``k`` in `keys` (few distinct keys, many entries)."""
    distinct = np.array(sorted(table), dtype=np.float64)
    values = np.array([table[k] for k in sorted(table)], dtype=np.float64)
    return values[np.searchsorted(distinct, keys)]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele et al. 2014), elementwise on uint64 (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def uniform_draws(seed: int, t: FloatArray, draw: int) -> FloatArray:
    """Uniform numbers in [0, 1), one per ``t``: a hash of (seed, the bits of ``t``, draw), no state."""
    key = _splitmix(np.full(t.shape, seed, dtype=np.uint64))
    bits = np.ascontiguousarray(t + 0.0, dtype=np.float64).view(np.uint64)  # + 0.0: -0.0 is 0.0
    with np.errstate(over="ignore"):
        z = _splitmix(_splitmix(key ^ bits) ^ np.uint64(draw))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


@family
class Noisy(Schedule):
    """``schedule(t) * (1 + noise(t))`` for ``start <= t < end`` (``end=None``: from ``start`` on).

    timm's learning-rate noise: ``"normal"`` draws ``noise`` from N(0, std) conditioned on
    ``|noise| < pct`` (timm draws again until it is); ``"uniform"`` draws it from ``[-pct, pct)``.
    The draws are a pure function of ``(t, seed)`` -- a SplitMix64 hash of the seed, the bits of
    ``t`` and the draw's number -- so the same ``t`` always gets the same rate; they follow timm's
    rule, not its torch stream.

    >>> from lrlab.schedules.decay import Constant
    >>> s = Noisy(Constant(0.1), start=10, pct=0.5, seed=1)
    >>> s(5), s(12) == s(12), 0.05 < s(12) < 0.15
    (0.1, True, True)
    """

    schedule: Schedule = arg(kind="schedule")
    start: float = arg(default=0.0, low=0, time=True)
    end: float | None = arg(default=None, low=0, time=True)
    pct: float = arg(default=0.67, low=0, low_open=True, high=1)
    std: float = arg(default=1.0, low=0, low_open=True)
    kind: str = arg(default="normal", choices=("normal", "uniform"))
    seed: int = arg(default=42, low=0, high=2**64 - 1)
    name = "noisy"

    def __check_init__(self) -> None:
        if not isinstance(self.seed, int):
            raise invalid("seed", self.seed, "a whole number", where=self.name)
        if self.end is not None and not self.end > self.start:
            raise invalid("end", self.end, f"> start ({self.start:g}) or None", where=self.name)

    def horizon(self) -> float | None:
        inner = self.schedule.horizon()
        if inner is None or self.end is None:
            return None
        return max(inner, float(self.end))

    def noise(self, t: FloatArray) -> FloatArray:
        """The relative noise at each ``t`` (whether or not ``t`` is in the noisy range)."""
        pct = float(self.pct)
        if self.kind == "uniform":
            result: FloatArray = 2.0 * (uniform_draws(self.seed, t, 0) - 0.5) * pct
            return result
        std = float(self.std)
        flat = np.ravel(t)
        out = np.empty(flat.size)
        todo = np.arange(flat.size)
        draw = 0
        while todo.size:
            where = flat[todo]
            u1 = uniform_draws(self.seed, where, draw)
            u2 = uniform_draws(self.seed, where, draw + 1)
            if pct >= std:
                # a normal draw (Box-Muller; 1 - u1 is in (0, 1]) kept when inside (-pct, pct): timm's rule
                value = np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2) * std
                ok = np.abs(value) < pct
            else:
                # the same law when pct is small beside std, where most normal draws would be refused:
                # uniform in (-pct, pct), kept with probability exp(-x**2 / (2 std**2)) (>= 0.6 here)
                value = (2.0 * u1 - 1.0) * pct
                ok = (u2 < np.exp(-0.5 * np.square(value / std))) & (np.abs(value) < pct)
            out[todo[ok]] = value[ok]
            todo = todo[~ok]
            draw += 2
        return out.reshape(t.shape)

    def _rates(self, t: FloatArray) -> FloatArray:
        out = self.schedule._rates(t)
        inside = t >= self.start
        if self.end is not None:
            inside &= t < self.end
        if inside.any():
            lr = out[inside]
            out[inside] = lr + lr * self.noise(t[inside])
        return out


noisy = Noisy
