"""argparse ``type=`` converters shared by the subcommands: they name the bad value."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

#: the largest seed: torch's generators take a signed 64-bit seed
SEED_MAX = 2**63 - 1


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number ``>= low`` (``must be >= 1; got 0``), and ``<= high`` when given (a limit, with its number)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {'> 0' if low == 1 else f'>= {low}'}; got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high} (the limit); got {value}")
        return value

    return convert


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
#: a training seed: 0 .. 2**63 - 1
seed_int = int_at_least(0, SEED_MAX)


def positive_float(text: str) -> float:
    """A finite number ``> 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be > 0; got {text}")
    return value


def add_experiment_options(p: argparse.ArgumentParser) -> None:
    """The options that say what is trained, shared by train, compare, sweep and find-lr."""
    p.add_argument(
        "--experiment",
        metavar="NAME",
        help="a built-in experiment (fashion-mnist-lenet, the default; fashion-mnist-lenet-tf, "
        "fashion-mnist-lenet-xavier, fashion-mnist-mlp), package.module:factory, or a .py file[:factory]",
    )
    p.add_argument(
        "--optimizer",
        metavar="SPEC",
        help="e.g. 'sgd(momentum=0.9, nesterov=True)' or 'adamw(weight_decay=0.05)' (default: the experiment's)",
    )
    p.add_argument("--batch-size", type=positive_int, help="minibatch size (default 256)")
    p.add_argument(
        "--data", metavar="PATH", help="data for the experiment (Fashion-MNIST: the folder of its IDX files)"
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--threads",
        type=positive_int,
        help="torch's threads per run (default 1); recorded, since sums split by thread round apart",
    )


def workers_count(text: str) -> int | str:
    """``--workers``: a count >= 1 or ``auto``."""
    if text == "auto":
        return "auto"
    return positive_int(text)


def add_workers_option(p: argparse.ArgumentParser, what: str) -> None:
    """``--workers N|auto``: how many processes train the job's runs (or a sweep's trials)."""
    p.add_argument(
        "--workers",
        type=workers_count,
        default="auto",
        metavar="N",
        help=f"processes that train the {what} side by side, each with --threads threads (default auto: the "
        "fastest count for this machine and job, printed at the start); the numbers do not depend on it",
    )


def add_overwrite_option(p: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace the lrlab results already in --out (refused without it)."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="remove the lrlab results already in --out and start again (without it such a folder is refused)",
    )


@contextlib.contextmanager
def plain_warnings(command: str) -> Iterator[None]:
    """Show lrlab's warnings as one line, ``lrlab COMMAND: warning: ...`` (not Python's file:line form)."""

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        print(f"lrlab {command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


#: the most steps ``lrlab plot`` draws and ``lrlab show`` prints (a typo such as 10**9 would take hours)
PLOT_STEPS_MAX = 1_000_000
SHOW_STEPS_MAX = 100_000


def png_path(out: str) -> str:
    """The PNG file ``plot --out`` writes: `out` as given when it ends in ``.png``, else with ``.png`` added."""
    return out if out.lower().endswith(".png") else f"{out}.png"
