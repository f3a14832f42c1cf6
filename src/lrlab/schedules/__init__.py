"""The schedule core: pure, immutable learning-rate schedules.

Every constructor returns a frozen value with ``__call__(t)``; see
``docs/conventions.md`` for the choices where frameworks disagree. Each
family module lists its public names (the class and its lowercase
constructor) once, in its own ``__all__``; this package joins those lists.

>>> from lrlab import cosine, warmup
>>> s = warmup(cosine(0.3, steps=15, final_lr=0.01), steps=5)
>>> s(0), s(5), round(s(20), 6)
(0.0, 0.3, 0.01)
"""

from typing import TYPE_CHECKING

from lrlab.schedules import base as _base
from lrlab.schedules import combinators as _combinators
from lrlab.schedules import cyclic as _cyclic
from lrlab.schedules import decay as _decay
from lrlab.schedules import extra as _extra
from lrlab.schedules import peers as _peers
from lrlab.schedules.base import *  # noqa: F403
from lrlab.schedules.combinators import *  # noqa: F403
from lrlab.schedules.cyclic import *  # noqa: F403
from lrlab.schedules.decay import *  # noqa: F403
from lrlab.schedules.extra import *  # noqa: F403
from lrlab.schedules.peers import *  # noqa: F403

# mypy reads only a literal ``__all__`` and takes the star-imported names above as this package's exports.
if not TYPE_CHECKING:
    __all__ = [
        *_base.__all__,
        *_decay.__all__,
        *_cyclic.__all__,
        *_combinators.__all__,
        *_extra.__all__,
        *_peers.__all__,
    ]
