"""A bad config refuses to start with exit 2 and names the file, the line and the key path."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest

from monitor.cli import main
from monitor.config import ConfigError, load_config
from monitor.config.durations import parse_duration

GOOD = textwrap.dedent(
    """\
    timezone: Asia/Shanghai
    database: sqlite:///data/monitor.db
    seeds: seeds/
    poll_interval: 30m
    feeds:
      - name: local
        url: http://127.0.0.1:9/feed.xml
        interval: 15m
    watches:
      - name: 新市民
        query: '新市民 OR "new citizens"'
      - name: 消费金融
        keywords: [消费金融, 消金]
        alert: immediate
    digest:
      schedule: "0 8 * * *"
      recipients: [analyst@example.com]
    mail:
      from: monitor@example.com
      transport: file
      outbox: outbox/
    """
)


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path, text, env=None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ=env or {})
    return exc.value.problems


def test_good_config_loads_and_resolves_paths(tmp_path):
    config = load_config(write(tmp_path, GOOD), environ={})
    assert config.watches[1].alert == "immediate"
    assert config.feeds[0].interval == timedelta(minutes=15)
    assert config.seeds == (tmp_path / "seeds").resolve()
    assert config.mail.outbox == (tmp_path / "outbox").resolve()
    # relative SQLite paths resolve against the config's folder, not the working directory
    assert config.database == f"sqlite:///{(tmp_path / 'data' / 'monitor.db').resolve()}"
    nxt = config.next_digest()
    assert (nxt.hour, nxt.minute) == (8, 0) and str(nxt.tzinfo) == "Asia/Shanghai"


def test_watch_schedules_resolve_to_cron(tmp_path):
    text = GOOD.replace("    query: '新市民 OR \"new citizens\"'", "    query: 新市民\n    schedule: weekly")
    config = load_config(write(tmp_path, text), environ={})
    assert config.schedule_of(config.watches[0]) == "0 8 * * 1"
    assert config.digest_schedules == ["0 8 * * *", "0 8 * * 1"]


def test_database_env_overrides(tmp_path):
    config = load_config(write(tmp_path, GOOD), environ={"MONITOR_DATABASE": "postgresql://u@127.0.0.1/x"})
    assert config.database == "postgresql://u@127.0.0.1/x"


def test_text_given_is_what_loads_and_the_path_still_resolves(tmp_path):
    """The daemon's job processes load the text their parent validated, not the file's newer content."""
    path = write(tmp_path, GOOD.replace("poll_interval: 30m", "poll_interval: sometimes"))
    config = load_config(path, environ={}, text=GOOD)
    assert config.poll_interval == timedelta(minutes=30)
    assert config.mail.outbox == (tmp_path / "outbox").resolve() and config.source_path == path.resolve()
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={}, text=GOOD.replace("interval: 15m", "interval: soon"))
    assert exc.value.problems[0].startswith(f"{path}:8: feeds[0].interval")


@pytest.mark.parametrize(
    "old,new,line,keypath,words",
    [
        ("poll_interval: 30m", "poll_intervall: 30m", 4, "poll_intervall", "unknown key"),
        ("    interval: 15m", "    interval: soon", 8, "feeds[0].interval", "not a duration"),
        ("  schedule: \"0 8 * * *\"", "  schedule: \"0 25 * * *\"", 16, "digest.schedule", "cron"),
        ("  schedule: \"0 8 * * *\"", "  schedule: \"daily\"", 16, "digest.schedule", "cron"),
        ("    alert: immediate", "    alert: hourly", 14, "watches[1].alert", "immediate"),
        ("  - name: 消费金融", "  - name: 新市民", 12, "watches[1].name", "duplicate name"),
        ("  recipients: [analyst@example.com]", "  recipients: analyst", 17, "digest.recipients", "list"),
        ("    query: '新市民 OR \"new citizens\"'", "    query: '新市民 (贷款 OR'", 11, "watches[0].query",
         "position"),
        ("timezone: Asia/Shanghai", "timezone: Asia/Beijing", 1, "timezone", "unknown time zone"),
        ("    url: http://127.0.0.1:9/feed.xml", "    url: 127.0.0.1/feed", 7, "feeds[0].url", "http"),
        ("  - name: local", "  - nam: local", 6, "feeds[0]", ""),
        ("  recipients: [analyst@example.com]", "  recipients: [analyst@example.com]\n  notify: [wecom-bot-key]", 18,
         "digest.notify[0]", "not a notification URL"),
        ("    alert: immediate", "    alert: immediate\n    schedule: hourly", 15, "watches[1].schedule", "cron"),
        ("    url: http://127.0.0.1:9/feed.xml", "    url: http://127.0.0.1:9/feed.xml\n    rsshub: /cls/telegraph", 6,
         "feeds[0]", "either url: or rsshub:"),
        ("    url: http://127.0.0.1:9/feed.xml", "    rsshub: cls/telegraph", 7, "feeds[0].rsshub", "route"),
    ],
)
def test_each_fault_names_file_line_and_key(tmp_path, old, new, line, keypath, words):
    assert old in GOOD
    problems = errors_of(tmp_path, GOOD.replace(old, new))
    hit = [p for p in problems if f"config.yaml:{line}: {keypath}" in p]
    assert hit, problems
    assert words in hit[0]


def test_missing_password_env_is_an_error_only_for_smtp(tmp_path):
    smtp = GOOD.replace(
        "  transport: file\n",
        "  transport: smtp\n  smtp:\n    host: 127.0.0.1\n    port: 2525\n    password_env: MONITOR_TEST_SMTP_PW\n",
    )
    problems = errors_of(tmp_path, smtp, env={})
    assert any("config.yaml:24: mail.smtp.password_env" in p and "MONITOR_TEST_SMTP_PW" in p for p in problems), problems
    assert load_config(write(tmp_path, smtp), environ={"MONITOR_TEST_SMTP_PW": "x"}).mail.smtp.port == 2525


def test_yaml_syntax_error_and_duplicate_keys(tmp_path):
    problems = errors_of(tmp_path, GOOD.replace("  outbox: outbox/", "  outbox: [outbox/"))
    assert any("YAML syntax error" in p for p in problems), problems
    problems = errors_of(tmp_path, GOOD + "timezone: UTC\n")
    assert any("config.yaml:22: timezone: key given twice (first at line 1)" in p for p in problems), problems


def test_all_problems_reported_at_once(tmp_path):
    bad = GOOD.replace("poll_interval: 30m", "poll_interval: -3").replace("alert: immediate", "alert: now")
    assert len(errors_of(tmp_path, bad)) == 2


@pytest.mark.parametrize("text,seconds", [("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("45s", 45), (90, 90)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "m", "30x", "-5m", "0", "1h foo", True])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_check_exit_status_and_message(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("alert: immediate", "alert: hourly"))
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:14: watches[1].alert" in err

    good = write(tmp_path, GOOD)
    assert main(["check", "--config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "1 plain" in out and "next 20" in out and "CST" in out


def test_console_script_exits_2_on_bad_config(tmp_path):
    path = write(tmp_path, GOOD.replace("poll_interval: 30m", "poll_interval: often"))
    proc = subprocess.run([sys.executable, "-m", "monitor", "check"], capture_output=True, text=True,
                          env={"MONITOR_CONFIG": str(path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert f"{path}:4: poll_interval: 'often' is not a duration" in proc.stderr


def test_missing_config_file(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.yaml"), "check"]) == 2
    assert "no such config file" in capsys.readouterr().err


@pytest.mark.parametrize("old,new,line,keypath,words", [
    ('  schedule: "0 8 * * *"', '  schedule: "0 8 31 2 *"', 16, "digest.schedule", "never fires"),
    ("poll_interval: 30m", "poll_interval: 99999999999d", 4, "poll_interval", "longer than 3650 days"),
    ("poll_interval: 30m", "poll_interval: .inf", 4, "poll_interval", "longer than"),
    ("poll_interval: 30m", "poll_interval: .nan", 4, "poll_interval", "positive"),
    ("poll_interval: 30m", "poll_interval: 90d", 4, "poll_interval", "too long for an interval"),
    ("    interval: 15m", "    interval: 40d", 8, "feeds[0].interval", "too long"),
    ("timezone: Asia/Shanghai", "timezone: " + "A" * 300, 1, "timezone", "unknown time zone"),
    ("  outbox: outbox/", '  outbox: "out\\0box"', 21, "mail.outbox", "not a usable path"),
    ("seeds: seeds/", 'seeds: "se\\0eds"', 3, "seeds", "not a usable path"),
    ("  - name: local", '  - name: "lo\\0cal"', 6, "feeds[0].name", "control characters"),
    ("    query: '新市民 OR \"new citizens\"'", '    query: "新市民\\0"', 10, "watches[0]", "control characters"),
])
def test_hostile_values_are_config_errors_not_tracebacks(tmp_path, old, new, line, keypath, words):
    assert old in GOOD
    problems = errors_of(tmp_path, GOOD.replace(old, new))
    hit = [p for p in problems if f"config.yaml:{line}: {keypath}" in p]
    assert hit and words in hit[0], problems


@pytest.mark.parametrize("section, value", [
    ("fetch", "{read_timeout: 99999999999d}"), ("fetch", "{connect_timeout: 1h}"), ("fetch", "{max_interval: 100d}"),
    ("retention", "99999999999d"), ("fetch", "{max_bytes: 99999999999999}"),
])
def test_every_number_is_range_checked(tmp_path, section, value):
    problems = errors_of(tmp_path, GOOD + f"{section}: {value}\n")
    assert any(f"config.yaml:22: {section}" in p for p in problems), problems


def test_an_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    started = time.monotonic()
    problems = errors_of(tmp_path, GOOD + "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    assert any("aliases are expanded" in p for p in problems), problems


def test_deep_nesting_is_refused(tmp_path):
    problems = errors_of(tmp_path, GOOD + "x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert any("nested" in p for p in problems), problems


def test_a_legitimate_alias_still_works(tmp_path):
    text = GOOD.replace("    interval: 15m", "    interval: &often 15m\n  - {name: other, url: 'http://127.0.0.1:9/b', interval: *often}")
    config = load_config(write(tmp_path, text), environ={})
    assert [f.interval for f in config.feeds] == [timedelta(minutes=15)] * 2


def test_run_refuses_a_schedule_that_never_fires(tmp_path):
    path = write(tmp_path, GOOD.replace('"0 8 * * *"', '"0 8 31 2 *"'))
    for command in (["check"], ["run"]):
        out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), *command],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "never fires" in out.stderr and "Traceback" not in out.stderr
