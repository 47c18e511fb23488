"""monitor watches Chinese financial news feeds for the topics in config.yaml, drops reprints and
duplicates, and mails digests and alerts.

Start with `monitor check` (is the config right?), `monitor poll` (fetch once and see), then
`monitor run` (the daemon) and `monitor web` (the pages to look back and search)."""
from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .. import __version__
from ..config import ConfigError, default_config_path, load_config
from ..errors import StoreError
from ..logs import setup_logging, use_zone
from ..store import DATABASE_ERRORS, display_url, trouble
from . import admin, feeds, items, mail, manage, status, web
from .common import EXIT_CONFIG, EXIT_FAILED


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
        if e.missing:
            print(f"monitor: {e.problems[0]}", file=sys.stderr)
            return EXIT_CONFIG
        print(f"monitor: config {e.path} is not valid; fix these and run again:", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_CONFIG
    use_zone(config.tz)
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


EXIT_CODES = """exit status:
  0  ok
  1  something the command did failed: a feed in `poll`, an unknown watch or feed named in a
     filter, a database problem; `dedupe`: the text IS a duplicate (like grep, stated)
  2  bad arguments or a bad config (the line at fault is named)"""

EPILOG = f"""examples:
  monitor check                      validate config.yaml and show what it sets up
  monitor poll --all                 fetch every feed now, print what each gave
  monitor items --watch 新市民 --since 2d
  monitor digest --preview /tmp/digest.html
  monitor run --http 127.0.0.1:8080  the daemon, with the web view
  monitor status                     is it doing its job?

{EXIT_CODES}"""


class _Parser(argparse.ArgumentParser):
    """argparse, with "did you mean" for a mistyped command."""

    def error(self, message: str) -> NoReturn:
        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:
            choices = re.findall(r"'?([\w-]+)'?", bad.group(2))
            close = difflib.get_close_matches(bad.group(1), choices, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            message = f"unknown command '{bad.group(1)}'{hint} (monitor --help lists them)"
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    # --config and --log-level work before or after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", "-c", type=Path, default=argparse.SUPPRESS,
        help="config file (default: $MONITOR_CONFIG or ./config.yaml)",
    )
    common.add_argument("--log-level", default=argparse.SUPPRESS, help="debug, info, warning, error")

    parser: argparse.ArgumentParser = _Parser(prog="monitor", description=__doc__, epilog=EPILOG, parents=[common],
                                              formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, func: Callable, help: str, examples: str = "",
                about: str = "") -> argparse.ArgumentParser:
        """``help``: the one line ``monitor --help`` shows; ``about``: what the command's own help adds."""
        epilog = f"examples:\n{examples}\n\n{EXIT_CODES}" if examples else EXIT_CODES
        description = textwrap.fill(f"{help}. {about}", 100) if about else help
        p = sub.add_parser(name, parents=[common], help=help, description=description, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    feeds.register(command)
    manage.register(sub, common, command)
    items.register(command)
    mail.register(command)
    status.register(command)
    web.register(command)
    admin.register(sub, common, command)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
