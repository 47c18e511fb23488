"""``monitor web``: the web view alone (the daemon can serve the same app with ``run --http``), and
``monitor web hash-password`` to make the hash a ``web.users`` entry holds."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from typing import Any

from ..config import Config
from .common import EXIT_CONFIG, EXIT_FAILED, host_port, open_db

log = logging.getLogger("monitor.web")


def register(command: Any) -> None:
    p = command("web", cmd_web, "serve the web view: stories, search, feeds, watches, emails, feedback")
    p.add_argument("action", nargs="?", choices=["hash-password"],
                   help="hash-password: read a password (twice, or once from a pipe) and print the hash "
                        "for web.users[].password_hash")
    p.add_argument("--http", type=host_port, metavar="HOST:PORT",
                   help="where to listen (default: web.listen from the config, 127.0.0.1:8080); "
                        "anything but a loopback address requires sign-in")
    p.epilog = ("examples:\n  monitor web                      # http://127.0.0.1:8080/\n"
                "  monitor web --http 0.0.0.0:8080  # needs web.users or web.token_env\n"
                "  monitor web hash-password")
    p.formatter_class = argparse.RawDescriptionHelpFormatter


# The web stack (Starlette, uvicorn, sessions, forms) is imported by the commands that serve it
# only: every command's module is loaded to build the parser, the daemon's included, and it held
# about 10 MB of a daemon at rest that serves no web view.


def cmd_web(config: Config, args: argparse.Namespace) -> int:
    from ..web.auth import Policy

    if args.action == "hash-password":
        return _hash_password()
    host, port = args.http or host_port(config.web.listen)
    if not Policy.of(config, host).usable:
        print(f"monitor: the web view on {host} needs a sign-in, and none is configured: add web.users "
              "(hash a password with `monitor web hash-password`) or web.token_env, or listen on 127.0.0.1",
              file=sys.stderr)
        return EXIT_CONFIG
    db = open_db(config, migrate=False)
    try:
        return asyncio.run(_serve(config, db, host, port))
    except OSError as e:
        print(f"monitor: cannot listen on {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED


async def _serve(config: Config, db, host: str, port: int) -> int:
    from ..web.app import create_app
    from ..web.auth import Policy
    from ..web.server import serve

    app = await asyncio.to_thread(create_app, config, db, host=host)
    served = await serve(app, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    shown = f"[{host}]" if ":" in host else host
    log.info("web view on http://%s:%d/ (%s); Ctrl-C stops it", shown, port,
             "sign-in required" if Policy.of(config, host).required else "open to this machine only")
    await stop.wait()
    await served.stop()
    await asyncio.to_thread(db.dispose)
    return 0


def _hash_password() -> int:
    from ..web.auth import hash_password

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            print("monitor: the two passwords differ; nothing printed", file=sys.stderr)
            return EXIT_FAILED
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        print("monitor: use at least 8 characters", file=sys.stderr)
        return EXIT_FAILED
    print(hash_password(first))
    return 0
