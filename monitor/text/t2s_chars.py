"""The characters OpenCC's ``t2s`` conversion changes, so a text without any of them skips it.

OpenCC changes a text only where one of its dictionary keys occurs whose value (the first, where
an entry has several) is not the key itself, and then only at the characters where the two differ.
A text none of whose characters is in ``t2s_chars.txt`` (those characters, for every ``t2s``
dictionary) is already what ``t2s`` makes of it: nothing to look up. That is most mainland news (95 of 99 articles of
../shared/corpora/finews_posts, 86 % of the bench's), and the conversion was more than half of
``match_form``'s time (9.4 of 16.5 µs for a 420-character article).

Eleven of the characters are changed by no key of their own, only inside phrases (覆 in 反覆, 沈 in
擊沈), and are common in mainland text (覆盖, 沈阳): ``t2s_phrases.txt`` lists their phrases, and a
text whose only listed characters are these, none of them in one of its phrases, skips OpenCC too.
On the match bench that was one item in six (1,602 of 10,000), and OpenCC changed none of them.

The list is made from the installed OpenCC's dictionaries (``python -m monitor.text.t2s_chars``
rewrites both, with the ``opencc_dict`` tool the OpenCC wheel ships); tests/text checks that it
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
PHRASES = Path(__file__).with_name("t2s_phrases.txt")  # a character, a tab, its phrases
# t2s.json's dictionaries: the normalisation step and the conversion chain.
DICTIONARIES = ("CJK_Compatibility_Ideographs", "TSPhrases", "TSCharactersExt", "TSCharacters")


def load() -> str:
    return DATA.read_text(encoding="utf-8").strip()


def load_phrases() -> dict[str, tuple[str, ...]]:
    """The listed characters that t2s changes only inside phrases, each with those phrases."""
    lines = PHRASES.read_text(encoding="utf-8").splitlines()
    return {char: tuple(phrases.split(" ")) for char, phrases in (line.split("\t", 1) for line in lines if line)}


def from_opencc() -> str:
    """The characters the installed OpenCC's ``t2s`` dictionaries change, sorted: keys of one
    character whose conversion differs, and the characters a changing phrase changes."""
    return "".join(sorted({c for _, changed in _changes() for c in changed}))


def phrases_from_opencc() -> dict[str, tuple[str, ...]]:
    """The changed characters that no one-character key changes (覆: only 反覆, 回覆 ... do), with
    the phrases that change them. Such a character is common in mainland text (覆盖, 沈阳), and a
    text holding it but none of its phrases is left alone by t2s."""
    changes = _changes()
    single = {key for key, changed in changes if len(key) == 1 and changed}
    phrases: dict[str, set[str]] = {}
    for key, changed in changes:
        if len(key) > 1:
            for c in set(changed) - single:
                phrases.setdefault(c, set()).add(key)
    return {c: tuple(sorted(p)) for c, p in sorted(phrases.items())}


def _changes() -> list[tuple[str, str]]:
    """Every key of the t2s dictionaries with the characters its conversion changes."""
    import opencc

    clib = Path(opencc.__file__).parent / "clib"
    config = json.loads((clib / "share" / "opencc" / "t2s.json").read_text(encoding="utf-8"))
    named = {d["file"].removesuffix(".ocd2") for d in _dicts(config)}
    if named != set(DICTIONARIES):
        raise ValueError(f"t2s.json names {sorted(named)}, not {sorted(DICTIONARIES)}: read its dictionaries again")
    out = []
    for name in DICTIONARIES:
        for key, values in _entries(clib, name):
            # OpenCC converts to an entry's first value (覆 → "覆 复" stays 覆). A phrase that
            # changes lists the characters it changes (反覆 → 反复: 覆): a text without them
            # cannot hold the phrase.
            first = values[0]
            changed = key if len(first) != len(key) else "".join(k for k, v in zip(key, first, strict=True) if k != v)
            out.append((key, changed))
    return out


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
    PHRASES.write_text("".join(f"{c}\t{' '.join(p)}\n" for c, p in phrases_from_opencc().items()), encoding="utf-8")
    print(f"{DATA}: {len(load())} characters; {PHRASES}: {len(load_phrases())} changed only in phrases",
          file=sys.stderr)
