"""The schedule core: pure, immutable learning-rate schedules.

Every constructor returns a frozen value with ``__call__(t)``; see
``docs/conventions.md`` for the choices where frameworks disagree.

>>> from lrlab import cosine, warmup
>>> s = warmup(cosine(0.3, steps=15, final_lr=0.01), steps=5)
>>> s(0), s(5), round(s(20), 6)
(0.0, 0.3, 0.01)
"""

from lrlab.schedules.base import REGISTRY, Schedule
from lrlab.schedules.combinators import Clipped, Join, Scaled, Warmup
from lrlab.schedules.cyclic import WSD, CosineRestarts, Cyclic, OneCycle
from lrlab.schedules.decay import (
    Constant,
    Cosine,
    Exponential,
    Factor,
    InversePower,
    Linear,
    MultiFactor,
    PiecewiseConstant,
    Poly,
    SquareRoot,
)
from lrlab.schedules.extra import CosineWave, InverseTime, Lifted, PolyCycle, Skip

# The public constructors are the classes themselves, under their spec names.
constant = Constant
square_root = SquareRoot
inverse_power = InversePower
factor = Factor
multi_factor = MultiFactor
piecewise_constant = PiecewiseConstant
exponential = Exponential
poly = Poly
linear = Linear
cosine = Cosine
cosine_restarts = CosineRestarts
cyclic = Cyclic
one_cycle = OneCycle
wsd = WSD
warmup = Warmup
join = Join
scaled = Scaled
clipped = Clipped
inverse_time = InverseTime
cosine_wave = CosineWave
poly_cycle = PolyCycle
skip = Skip
lifted = Lifted

__all__ = [
    "REGISTRY",
    "Schedule",
    "Clipped",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "CosineWave",
    "Cyclic",
    "Exponential",
    "Factor",
    "InversePower",
    "InverseTime",
    "Join",
    "Lifted",
    "Linear",
    "MultiFactor",
    "OneCycle",
    "PiecewiseConstant",
    "Poly",
    "PolyCycle",
    "Scaled",
    "Skip",
    "SquareRoot",
    "WSD",
    "Warmup",
    "clipped",
    "constant",
    "cosine",
    "cosine_restarts",
    "cosine_wave",
    "cyclic",
    "exponential",
    "factor",
    "inverse_power",
    "inverse_time",
    "join",
    "lifted",
    "linear",
    "multi_factor",
    "one_cycle",
    "piecewise_constant",
    "poly",
    "poly_cycle",
    "scaled",
    "skip",
    "square_root",
    "warmup",
    "wsd",
]
