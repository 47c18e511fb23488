"""`monitor seeds import` stores the five seeds once; `monitor items --json` shows them."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

from monitor.cli import main

EXPECTED_TITLES = {
    "000_c0b695cec8de91a6.txt": "金融机构抢滩3亿“新市民”金融服务 推专属贷款成银行切入口",
    "001_5260ecbddfb32eb7.txt": "因地制宜开展产品和服务创新消费金融公司加强新市民金融服务力度",
    "002_f638c4c5540e554e.txt": "頭部消金已開啟”新市民”拉新獲客 怎么滿足3億人的消費金融需求?",
    "004_55582425daf9038f.txt": "烟火气里的金融活水,消费金融如何激活普惠客群?",
}


def items_json(config, *args) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "items", "--json", *args],
                          capture_output=True, text=True, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_import_is_idempotent_and_listed(make_config, capsys):
    config = make_config()
    assert main(["--config", str(config), "seeds", "import"]) == 0
    out = capsys.readouterr().out
    assert "5 added, 0 already stored, 0 skipped" in out
    for name in EXPECTED_TITLES:
        assert f"added     {name}" in out

    assert main(["--config", str(config), "seeds", "import"]) == 0
    assert "0 added, 5 already stored" in capsys.readouterr().out

    rows = items_json(config, "--seeds")
    assert len(rows) == 5
    by_seed = {r["seed"]: r for r in rows}
    for name, title in EXPECTED_TITLES.items():
        assert by_seed[name]["title"] == title
    for r in rows:
        assert r["feed"] is None and r["duplicate_of"] is None and r["watches"] == []
        assert set(r) == {"id", "url", "link", "title", "source", "feed", "seed", "published", "watches", "duplicate_of",
                          "backlog"}
        assert r["backlog"] is False
    # the traditional-script seed keeps its script; newest first
    assert "頭部消金" in by_seed["002_f638c4c5540e554e.txt"]["title"]
    published = [datetime.fromisoformat(r["published"]) for r in rows]
    assert published == sorted(published, reverse=True)
    assert by_seed["000_c0b695cec8de91a6.txt"]["url"].startswith("http://finews.zning.xyz/")
    assert by_seed["000_c0b695cec8de91a6.txt"]["source"] == "证券日报"

    # --since filters by publication time: 000 and 002 are dated 2022, 004 2026; 001 and 003 carry no
    # date and are stored with their import time
    recent = {r["seed"] for r in items_json(config, "--since", "2025-01-01")}
    assert recent == {"001_5260ecbddfb32eb7.txt", "003_4d2aff48cac85e48.txt", "004_55582425daf9038f.txt"}


def test_bad_seed_files_are_reported_not_fatal(make_config, tmp_path, capsys):
    config = make_config()
    seeds = tmp_path / "seeds"
    (seeds / "empty.txt").write_bytes(b"")
    (seeds / "binary.txt").write_bytes(bytes(range(256)) * 4)
    assert main(["--config", str(config), "seeds", "import"]) == 0
    captured = capsys.readouterr()
    assert "5 added" in captured.out and "2 skipped with errors" in captured.out
    assert "empty.txt" in captured.err and "binary.txt" in captured.err


def test_items_filters(make_config, capsys):
    config = make_config()
    main(["--config", str(config), "seeds", "import"])
    capsys.readouterr()
    assert items_json(config, "--watch", "新市民") == []  # matching lands with the watchlist stage
    assert main(["--config", str(config), "items"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
