"""The ``lrlab`` command line: one module per group of subcommands.

Each module in `COMMAND_MODULES` has ``add_commands(subparsers)``, which adds
its subcommands with ``set_defaults(run=function)``; ``run(args)`` returns the
exit status. Modules are imported lazily so ``lrlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lrlab.errors import LrlabError

COMMAND_MODULES = ("lrlab.cli.schedules", "lrlab.cli.findlr", "lrlab.cli.train", "lrlab.cli.sweep")


def build_parser() -> argparse.ArgumentParser:
    from lrlab import __version__

    parser = argparse.ArgumentParser(
        prog="lrlab",
        description="Learning-rate schedules: see them, test them, train with them.",
    )
    parser.add_argument("--version", action="version", version=f"lrlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LrlabError as exc:
        print(f"lrlab {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lrlab {args.command}: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``lrlab`` command: `main` in a process of lrlab's own, its allocator tuned for training."""
    from lrlab.lab.workers import keep_freed_memory

    keep_freed_memory()
    raise SystemExit(main())


if __name__ == "__main__":  # pragma: no cover
    console()
