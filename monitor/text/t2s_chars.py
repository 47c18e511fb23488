"""The characters OpenCC's ``t2s`` conversion changes, so a text without any of them skips it.

OpenCC changes a text only where one of its dictionary keys occurs whose value (the first, where
an entry has several) is not the key itself, and then only at the characters where the two differ.
A text none of whose characters is in ``t2s_chars.txt`` (those characters, for every ``t2s``
dictionary) is already what ``t2s`` makes of it: nothing to look up. That is most mainland news (95 of 99 articles of
../shared/corpora/finews_posts, 86 % of the bench's), and the conversion was more than half of
``match_form``'s time (9.4 of 16.5 µs for a 420-character article).

The list is made from the installed OpenCC's dictionaries (``python -m monitor.text.t2s_chars``
rewrites it, with the ``opencc_dict`` tool the OpenCC wheel ships); tests/text checks that it
agrees with the pinned OpenCC, so an upgrade that adds a key fails the tests instead of skipping it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).with_name("t2s_chars.txt")
# t2s.json's dictionaries: the normalisation step and the conversion chain.
DICTIONARIES = ("CJK_Compatibility_Ideographs", "TSPhrases", "TSCharactersExt", "TSCharacters")


def load() -> str:
    return DATA.read_text(encoding="utf-8").strip()


def from_opencc() -> str:
    """The characters the installed OpenCC's ``t2s`` dictionaries change, sorted: keys of one
    character whose conversion differs, and the characters a changing phrase changes."""
    import opencc

    clib = Path(opencc.__file__).parent / "clib"
    config = json.loads((clib / "share" / "opencc" / "t2s.json").read_text(encoding="utf-8"))
    named = {d["file"].removesuffix(".ocd2") for d in _dicts(config)}
    if named != set(DICTIONARIES):
        raise ValueError(f"t2s.json names {sorted(named)}, not {sorted(DICTIONARIES)}: read its dictionaries again")
    chars: set[str] = set()
    for name in DICTIONARIES:
        for key, values in _entries(clib, name):
            # OpenCC converts to an entry's first value (覆 → "覆 复" stays 覆). A phrase that
            # changes lists the characters it changes (反覆 → 反复: 覆): a text without them
            # cannot hold the phrase.
            first = values[0]
            if len(first) != len(key):
                chars.update(key)
            else:
                chars.update(k for k, v in zip(key, first, strict=True) if k != v)
    return "".join(sorted(chars))


def _dicts(node: object) -> list[dict]:
    """Every ``{"type": "ocd2", "file": ...}`` in an OpenCC config."""
    if isinstance(node, dict):
        own = [node] if node.get("type") == "ocd2" else []
        return own + [d for v in node.values() for d in _dicts(v)]
    if isinstance(node, list):
        return [d for v in node for d in _dicts(v)]
    return []


def _entries(clib: Path, name: str) -> list[tuple[str, list[str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.txt"
        env = {**os.environ, "LD_LIBRARY_PATH": str(clib / "lib64")}
        subprocess.run([str(clib / "bin" / "opencc_dict"), "-i", str(clib / "share" / "opencc" / f"{name}.ocd2"),
                        "-o", str(out), "-f", "ocd2", "-t", "text"], check=True, env=env, capture_output=True)
        lines = out.read_text(encoding="utf-8").splitlines()
    return [(k, v.split(" ")) for k, v in (line.split("\t", 1) for line in lines if "\t" in line)]


if __name__ == "__main__":
    DATA.write_text(from_opencc() + "\n", encoding="utf-8")
    print(f"{DATA}: {len(load())} characters", file=sys.stderr)
