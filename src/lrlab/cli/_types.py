"""argparse ``type=`` converters shared by the subcommands: they name the bad value."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_at_least(low: int) -> Callable[[str], int]:
    """A whole number ``>= low`` (``must be >= 1; got 0``)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {'> 0' if low == 1 else f'>= {low}'}; got {value}")
        return value

    return convert


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


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
        help="torch's threads per run (default: torch's setting); recorded, since sums split by thread round apart",
    )
