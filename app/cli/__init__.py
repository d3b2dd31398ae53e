"""`neuroreview` command line: one entry point, one module per subcommand.

Every module in this package that defines ``register(subparsers)`` is a subcommand; it adds
its parser and sets ``func`` (called with the parsed args, returns an exit code). Keep heavy
imports (Qt, onnxruntime, pandas) inside the ``func`` so `neuroreview --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback

from core import __version__
from core.errors import NeuroReviewError


class _Parser(argparse.ArgumentParser):
    """Usage mistakes follow the error contract too: one `error:` line on stderr, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {_one_line(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neuroreview",
        description="Review head CT and brain MRI with local AI (research use only, not for clinical use).",
    )
    parser.add_argument("--version", action="version", version=f"neuroreview {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NeuroReviewError as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, traceback only on --debug
        if args.debug:
            traceback.print_exc()
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for details)", file=sys.stderr)
        return 1


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def error_line(exc: NeuroReviewError) -> str:
    """The error contract of every command: one line, `error: MESSAGE [PATH]`, the path once."""
    message = _one_line(exc.message)
    path = exc.path
    if path and (f"[{path}]" in message or message.endswith(str(path))):
        path = None
    return f"error: {message} [{path}]" if path else f"error: {message}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
