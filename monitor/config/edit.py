"""Changing config.yaml from the CLI (``feeds add``, ``watches remove``, ``feeds import-opml``…)
the way a person would: comments, key order, quoting and layout kept (ruamel.yaml's round trip),
and nothing written unless the result loads as a valid config. The file is replaced atomically."""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from ..errors import ConfigError
from .loader import load_config
from .models import Config


def _move_trailing_comment(src: CommentedMap, dst: CommentedMap) -> None:
    """The blank and comment lines after ``src``'s own end-of-line comment go after ``dst``."""
    token = _end_comment(src)
    if token is None:
        return
    value = token.value
    cut = next((i + 1 for i in range(len(value) - 1) if value[i] == "\n" and value[i + 1] in "\n#"), None)
    if cut is None:
        return
    token.value, tail = value[:cut], value[cut:]
    mine = _end_comment(dst)
    if mine is not None:
        mine.value = mine.value.rstrip("\n") + "\n" + tail
    else:
        dst.ca.items[list(dst)[-1]] = [None, None, CommentToken("\n" + tail, CommentMark(0), None), None]


def _end_comment(entry: CommentedMap) -> CommentToken | None:
    slots = entry.ca.items.get(list(entry)[-1]) if len(entry) else None
    token = slots[2] if slots and len(slots) > 2 else None
    return token if token is not None and isinstance(token.value, str) else None


class ConfigEditor:
    def __init__(self, path: Path):
        self.path = path
        self._yaml = YAML(typ="rt")
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096  # never re-wrap a long URL or query
        self._yaml.indent(mapping=2, sequence=4, offset=2)
        with path.open(encoding="utf-8") as f:
            self.doc: CommentedMap = self._yaml.load(f)

    def section(self, key: str) -> CommentedSeq:
        """A top-level list (feeds, watches), made if the file has none yet."""
        seq = self.doc.get(key)
        if seq is None:
            seq = self.doc[key] = CommentedSeq()
        return seq

    def names(self, key: str) -> list[str]:
        return [str(e.get("name")) for e in self.section(key) if isinstance(e, dict)]

    def append(self, key: str, entry: dict[str, Any]) -> None:
        """Add at the end of the list. The comment lines that follow the last entry (ruamel keeps
        them on it, though they belong to what comes next) move below the new one."""
        seq, new = self.section(key), CommentedMap(entry)
        if seq and isinstance(seq[-1], CommentedMap) and len(seq[-1]):
            _move_trailing_comment(seq[-1], new)
        seq.append(new)

    def remove(self, key: str, name: str) -> bool:
        seq = self.section(key)
        for i, e in enumerate(seq):
            if isinstance(e, dict) and e.get("name") == name:
                if i == len(seq) - 1 and i > 0 and isinstance(e, CommentedMap):
                    _move_trailing_comment(e, seq[i - 1])  # what follows the list stays
                del seq[i]
                return True
        return False

    def save(self) -> Config:
        """Validate the edited text as a config in the same folder (relative paths resolve the
        same), then replace the file. Raises ``ConfigError`` and leaves the file as it was."""
        buf = io.StringIO()
        self._yaml.dump(self.doc, buf)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config-", suffix=".yaml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(buf.getvalue())
            try:
                config = load_config(tmp)
            except ConfigError as e:
                raise ConfigError(self.path, [p.replace(tmp, str(self.path)) for p in e.problems]) from None
            with contextlib.suppress(OSError):
                os.chmod(tmp, self.path.stat().st_mode & 0o777)
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        config.source_path = self.path
        return config
