"""The watch query language, parsed into a small tree.

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*        adjacency means AND
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or ")" | [field ":"] (WORD | "phrase" | "(" or ")")
    field   := title | source

Operators are upper-case words so that lower-case English text ("or", "not") stays searchable.
Full-width brackets and curly quotes are accepted because analysts type on Chinese keyboards.
Errors carry the 1-based character position so the config error can point at it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import QueryError

FIELDS = ("title", "source")


class WatchLike(Protocol):
    """What a query is read from: a watch's ``query:`` or its ``keywords:`` shorthand."""

    @property
    def query(self) -> str | None: ...

    @property
    def keywords(self) -> Sequence[str] | None: ...


@dataclass(frozen=True)
class Term:
    text: str
    field: str | None = None  # None: title and text
    phrase: bool = False
    position: int = 0


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or

_OPEN = "(（"
_CLOSE = ")）"
_QUOTES = {'"': '"', "“": "”", "”": "”", "「": "」", "＂": "＂"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # "(" ")" "word" "phrase" "OR" "AND" "NOT" "-" "field"
    text: str
    pos: int  # 1-based


def _tokenize(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace() or c == "\u3000":
            i += 1
        elif c in _OPEN:
            toks.append(_Tok("(", c, i + 1))
            i += 1
        elif c in _CLOSE:
            toks.append(_Tok(")", c, i + 1))
            i += 1
        elif c in _QUOTES:
            end = q.find(_QUOTES[c], i + 1)
            if end < 0:
                raise QueryError("unterminated quote", i + 1)
            text = q[i + 1 : end]
            if not text.strip():
                raise QueryError("empty phrase", i + 1)
            toks.append(_Tok("phrase", text, i + 1))
            i = end + 1
        elif c in "-－" and i + 1 < n and not q[i + 1].isspace() and (not toks or toks[-1].kind != "field"):
            toks.append(_Tok("-", c, i + 1))
            i += 1
        else:
            j = i
            while j < n and not (q[j].isspace() or q[j] in _OPEN or q[j] in _CLOSE or q[j] in _QUOTES):
                j += 1
            word = q[i:j]
            head, sep, _ = word.partition(":")
            if not sep:
                head, sep, _ = word.partition("：")
            if sep and head.isascii() and head.isalpha():
                if head.lower() not in FIELDS:
                    raise QueryError(f"unknown field {head + ':'!r} (known: title:, source:)", i + 1)
                toks.append(_Tok("field", head.lower(), i + 1))
                rest = i + len(head) + 1
                if rest >= n or q[rest].isspace():
                    raise QueryError(f"nothing after {head}:", i + 1)
                i = rest
                continue
            if word in ("OR", "AND", "NOT"):
                toks.append(_Tok(word, word, i + 1))
            else:
                toks.append(_Tok("word", word, i + 1))
            i = j
    return toks


class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = _tokenize(query)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def end_pos(self) -> int:
        return len(self.query) + 1

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise QueryError("empty query", 1)
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            raise QueryError(f"unexpected {tok.text!r}", tok.pos)
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            if tok.kind == "AND":
                self.take()
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind in ("NOT", "-"):
            self.take()
            return Not(self.parse_unary())
        return self.parse_primary(None)

    def parse_primary(self, field: str | None) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("expected a term", self.end_pos())
        if tok.kind == "field":
            if field is not None:
                raise QueryError("nested field scope", tok.pos)
            self.take()
            return self.parse_primary(tok.text)
        if tok.kind == "(":
            self.take()
            if (nxt := self.peek()) is not None and nxt.kind == ")":
                raise QueryError("empty parentheses", tok.pos)
            inner = self.parse_or()
            close = self.peek()
            if close is None or close.kind != ")":
                raise QueryError("unclosed parenthesis", tok.pos)
            self.take()
            return _scope(inner, field) if field else inner
        if tok.kind in ("word", "phrase"):
            self.take()
            return Term(tok.text, field, tok.kind == "phrase", tok.pos)
        raise QueryError(f"expected a term, found {tok.text!r}", tok.pos)


def _scope(node: Node, field: str) -> Node:
    if isinstance(node, Term):
        return Term(node.text, node.field or field, node.phrase, node.position)
    if isinstance(node, Not):
        return Not(_scope(node.child, field))
    return type(node)(tuple(_scope(c, field) for c in node.children))


def _can_match(node: Node) -> bool:
    """A query made only of negations would match nearly everything: almost surely a mistake."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_can_match(c) for c in node.children)
    return all(_can_match(c) for c in node.children)


def parse_query(query: str) -> Node:
    node = _Parser(query).parse()
    if not _can_match(node):
        raise QueryError("the query has no positive term (only NOT / -term)", 1)
    return node


def parse_watch(watch: WatchLike) -> Node:
    if watch.keywords is not None:
        terms = tuple(Term(k.strip(), None, True, i + 1) for i, k in enumerate(watch.keywords))
        return terms[0] if len(terms) == 1 else Or(terms)
    if watch.query is None:
        raise QueryError("a watch needs query: or keywords:", 1)
    return parse_query(watch.query)


def query_text(watch: WatchLike) -> str:
    """The watch's query as the user reads it (``keywords:`` written out as the query it means)."""
    if watch.query is not None:
        return watch.query
    return " OR ".join(f'"{k}"' for k in watch.keywords or [])


def terms(node: Node) -> list[Term]:
    """All terms of a tree, positive and negated, in order."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return terms(node.child)
    return [t for c in node.children for t in terms(c)]

