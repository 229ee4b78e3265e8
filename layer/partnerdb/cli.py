"""The `partnerdb` command (also `python -m partnerdb`): a root parser with subcommands.

Subcommands live in their own modules and plug in through `SUBCOMMANDS`: each entry names a
module with `register(subparsers) -> None`, which adds its parser and sets `func` (a callable
`(argparse.Namespace) -> int`) as the parser default. Modules are imported only when the
command line is parsed, and should keep botocore/PynamoDB imports inside their `func`, so
`partnerdb --version` and `--help` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from partnerdb._version import __version__

#: Modules that add a subcommand: `module.register(subparsers)` (see the module docstring).
SUBCOMMANDS: tuple[str, ...] = ("partnerdb.cli_partners",)
EXIT_USAGE = 2

Command = Callable[[argparse.Namespace], int]


def build_parser(subcommands: Sequence[str] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The root parser with `--version` and every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="partnerdb",
        description="partnerdb: partner-scoped, deadline-bound PynamoDB for AWS Lambda.",
    )
    parser.add_argument(
        "--version", action="version", version=f"partnerdb {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in subcommands:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, subcommands: Sequence[str] = SUBCOMMANDS) -> int:
    """Parse `argv` and run the chosen subcommand; return its exit code."""
    parser = build_parser(subcommands)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return func(args)
