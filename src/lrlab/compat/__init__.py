"""``lrlab.compat.<peer>``: the public path of `lrlab.frameworks.compat` (the peers' scheduler calls).

``import lrlab.compat.torch`` and ``from lrlab.compat import keras`` give the
modules of `lrlab.frameworks.compat` themselves, not copies.
"""

import sys

from lrlab.frameworks import compat as _compat
from lrlab.frameworks.compat import d2l, hf, keras, mxnet, optax, timm, torch

for _peer in _compat.__all__:
    sys.modules[f"{__name__}.{_peer}"] = getattr(_compat, _peer)

__all__ = ["d2l", "hf", "keras", "mxnet", "optax", "timm", "torch"]
