"""argparse pieces shared by the command modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable

# argparse has no public name for the object add_subparsers() returns.
type Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def json_flag() -> argparse.ArgumentParser:
    """Parent parser giving a command ``--json``. SUPPRESS keeps a subcommand from
    overwriting ``smsgw --json ...`` given before the command name with its default."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return parent


def non_negative_int(raw: str) -> int:
    value = _int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_int(raw: str) -> int:
    value = _int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def any_int(raw: str) -> int:
    return _int(raw)


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}") from None


def bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = _int(raw)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
        return value

    parse.__name__ = f"int {low}-{high}"
    return parse
