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

__all__ = [
    "REGISTRY",
    "Schedule",
    "Clipped",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exponential",
    "Factor",
    "InversePower",
    "Join",
    "Linear",
    "MultiFactor",
    "OneCycle",
    "PiecewiseConstant",
    "Poly",
    "Scaled",
    "SquareRoot",
    "WSD",
    "Warmup",
    "clipped",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "factor",
    "inverse_power",
    "join",
    "linear",
    "multi_factor",
    "one_cycle",
    "piecewise_constant",
    "poly",
    "scaled",
    "square_root",
    "warmup",
    "wsd",
]
