"""lrlab: learning-rate schedules defined once, seen, tested and trained with anywhere.

``import lrlab`` loads only the standard library and NumPy; the framework
adapters (``lrlab.torch``, ``lrlab.keras``, ``lrlab.optax``, ``lrlab.mxnet``)
import their framework when you import them.

The public names are those of `lrlab.schedules` (the families, their
lowercase constructors, `Schedule`, `REGISTRY`), of `lrlab.schedules.spec`
(`parse`, `from_dict`, `to_dict`, `as_schedule`), of `lrlab.schedules.units`
(`Quantity`, `bind`, `has_units`) and of `lrlab.errors`; each
is listed once, in its own module. The lab's calls and types (`compare`,
`train`, `sweep`, `find_lr`, `load`, `Experiment`, `Data`, ...) are listed
in `_LAZY` and imported on first use, so ``import lrlab`` stays light.
"""

from typing import TYPE_CHECKING, Any

from lrlab import errors as _errors
from lrlab import schedules as _schedules
from lrlab.errors import *  # noqa: F403
from lrlab.schedules import *  # noqa: F403
from lrlab.schedules import spec as _spec
from lrlab.schedules import units as _units
from lrlab.schedules.spec import *  # noqa: F403
from lrlab.schedules.units import *  # noqa: F403

__version__ = "0.1.0"

# mypy understands only a literal ``__all__``; it takes the star-imported names above as the exports.
# Names imported lazily (by a module ``__getattr__``) join this list, and mypy sees them through
# ``if TYPE_CHECKING: from ... import name as name``.
#: the lab's public names, and the module each is imported from on first use
_LAZY = {
    "compare": "lrlab.api",
    "train": "lrlab.api",
    "sweep": "lrlab.api",
    "find_lr": "lrlab.api",
    "load": "lrlab.api",
    "JobResult": "lrlab.api",
    "SweepResult": "lrlab.api",
    "RangeTestResult": "lrlab.api",
    "Experiment": "lrlab.lab.experiment",
    "Data": "lrlab.lab.experiment",
    "Metric": "lrlab.lab.experiment",
    "TrainConfig": "lrlab.lab.config",
    "OptimizerSpec": "lrlab.lab.config",
}

if TYPE_CHECKING:
    from lrlab.api import JobResult as JobResult
    from lrlab.api import RangeTestResult as RangeTestResult
    from lrlab.api import SweepResult as SweepResult
    from lrlab.api import compare as compare
    from lrlab.api import find_lr as find_lr
    from lrlab.api import load as load
    from lrlab.api import sweep as sweep
    from lrlab.api import train as train
    from lrlab.lab.config import OptimizerSpec as OptimizerSpec
    from lrlab.lab.config import TrainConfig as TrainConfig
    from lrlab.lab.experiment import Data as Data
    from lrlab.lab.experiment import Experiment as Experiment
    from lrlab.lab.experiment import Metric as Metric
else:
    __all__ = ["__version__", *_schedules.__all__, *_spec.__all__, *_units.__all__, *_errors.__all__, *_LAZY]


def __getattr__(name: str) -> Any:
    """The lab's names (`_LAZY`), imported when first asked for."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
