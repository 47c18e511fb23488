"""``python -m monitor.daemon``: the resting daemon, which ``monitor run`` becomes by exec once the
database is ready (``daemon.start``). It loads the config and the schedule only; the jobs run in
processes of their own (``daemon.work``). Not a command to type: ``monitor run`` starts it."""
import sys

from . import early

_EARLY = early.remember()  # before the imports below: a signal in the meantime is noted, not lost
early.unblock()  # daemon.start blocked them across the exec


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    from pathlib import Path

    from ..config import ConfigError, load_config
    from ..logs import setup_logging, use_zone
    from .service import run_daemon

    p = argparse.ArgumentParser(prog="python -m monitor.daemon", description=__doc__)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--lock-fd", type=int, default=-1, help="the lock file, open and locked (SQLite)")
    p.add_argument("--log-level", default="info")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    args = p.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        text = args.config.read_text(encoding="utf-8")
        config = load_config(args.config, text=text)
    except ConfigError as e:
        print(f"monitor: config {e.path} is not valid; fix these and run again:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as e:
        print(f"monitor: cannot read config {args.config}: {e}", file=sys.stderr)
        return 2
    use_zone(config.tz)
    lock = None
    if args.lock_fd >= 0:
        os.set_inheritable(args.lock_fd, False)  # the job processes must not hold the lock
        lock = os.fdopen(args.lock_fd, "a+")
    return run_daemon(config, args.config, text, lock=lock, log_args=(args.log_level, args.log_format),
                      early=_EARLY)


if __name__ == "__main__":
    sys.exit(main())
