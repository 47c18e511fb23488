"""The ``monitor`` command: one module per command group, all driving the same stage functions as
the daemon and the tests.

Exit status: 0 ok, 1 a run-time failure, 2 a bad config or bad arguments.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import __version__
from ..config import ConfigError, default_config_path, load_config
from ..errors import StoreError
from ..store import DATABASE_ERRORS, display_url, trouble
from . import admin, feeds, items, mail, status, web
from .common import EXIT_CONFIG, EXIT_FAILED
from .logs import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Options given before the subcommand and after it both land here (defaults are SUPPRESSed).
    args.config = getattr(args, "config", None)
    args.log_level = getattr(args, "log_level", "info")
    setup_logging(args.log_level, getattr(args, "log_format", "text"))
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_CONFIG
    try:
        config = load_config(args.config or default_config_path())
    except ConfigError as e:
        print(f"monitor: config {e.path} is not valid; fix these and run again:", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return args.func(config, args) or 0
    except StoreError as e:
        print(f"monitor: {e}", file=sys.stderr)
        return EXIT_FAILED
    except DATABASE_ERRORS as e:
        print(f"monitor: {trouble(e, display_url(config.database))}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # `monitor items --json | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    # --config and --log-level work before or after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", "-c", type=Path, default=argparse.SUPPRESS,
        help="config file (default: $MONITOR_CONFIG or ./config.yaml)",
    )
    common.add_argument("--log-level", default=argparse.SUPPRESS, help="debug, info, warning, error")

    parser = argparse.ArgumentParser(prog="monitor", description=__doc__, parents=[common])
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    feeds.register(command)
    items.register(command)
    mail.register(command)
    status.register(command)
    web.register(command)
    admin.register(sub, common, command)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
