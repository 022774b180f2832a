"""The watch query language, and whether an article matches a watch.

A query is made of terms (``Kabul``) and quoted phrases (``"Islamic Emirate"``) combined with
``AND``, ``OR`` and ``NOT`` (upper case; lower-case ``and``/``or``/``not`` are ordinary words),
parentheses, and a leading minus as a short ``NOT`` (``-Ukraine``). Adjacent terms are joined by
an implicit ``AND``. Precedence: ``NOT`` binds tighter than ``AND``, which binds tighter than
``OR``::

    (Russia OR Moscow OR Kremlin) AND (Taliban OR Kabul OR "Islamic Emirate") NOT Ukraine

Matching is case-insensitive and on whole words, Unicode-aware, with no stemming: ``Kabul``
does not match "Kabulov" and ``Russia`` does not match "Russian" (write ``Russia OR Russian``
for both); "Russia's" and "Taliban-led" do contain the words Russia and Taliban. A phrase
matches its words in sequence, whatever punctuation or line breaks lie between them. A term
that itself contains punctuation (``Taliban-led``) is the phrase of its words.

A text matches when the expression holds and at least one of the positive terms (those not
under a ``NOT``) occurs in it, so ``Russia OR NOT Ukraine`` does not flag every text that merely
lacks "Ukraine"; a query with no positive term at all is a syntax error.

Words are runs of Unicode letters and digits, which suits languages written with spaces; in
Chinese or Japanese text a term only matches a whole unbroken run of characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from extractors.records import Article, RelevanceMatch

_WORD = re.compile(r"\w+")
_INVISIBLE = str.maketrans({"\u00ad": "", "\u200b": "", "\ufeff": ""})
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_QUOTES = {'"': '"', "“": "”", "„": "“"}
_SPECIAL = set('()"“”„')


class QuerySyntaxError(ValueError):
    """A query that does not parse; `position` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(
            f"{message} at position {position}" if message != "empty query" else message
        )
        self.message = message
        self.position = position


def words(text: str) -> list[str]:
    """The words of a text as the matcher sees them: NFKC, case-folded, split on non-word chars
    (soft hyphens and zero-width spaces removed first, so they do not split a word)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold())


# --- the syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    text: str  # as written in the query (without quotes)
    key: str  # its words joined by single spaces
    position: int = field(compare=False)


@dataclass(frozen=True)
class _Not:
    operand: _Node


@dataclass(frozen=True)
class _And:
    operands: tuple[_Node, ...]


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Node, ...]


_Node = _Term | _Not | _And | _Or


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "TERM", "PHRASE", "END"
    text: str
    position: int


# --- matching --------------------------------------------------------------------------------


class _Document:
    """A text tokenised once: a set of its words and its words joined by single spaces."""

    __slots__ = ("joined", "vocabulary")

    def __init__(self, text: str) -> None:
        tokens = words(text)
        self.vocabulary = frozenset(tokens)
        self.joined = f" {' '.join(tokens)} "

    def contains(self, key: str) -> bool:
        if " " not in key:
            return key in self.vocabulary
        return f" {key} " in self.joined


@lru_cache(maxsize=16)
def _document(text: str) -> _Document:
    # Several watches are matched against the same article in a row: tokenise it once.
    return _Document(text)


class Query:
    """A parsed watch query. `Query.parse(text)`; `query.match(text)`; `query.terms`."""

    def __init__(self, source: str, root: _Node) -> None:
        self.source = source
        self._root = root
        positives: dict[str, str] = {}
        _collect_positive(root, positives, negated=False)
        self._positive = positives  # key → spelling, in query order
        self._keys = frozenset(_keys(root))
        self.terms: tuple[str, ...] = tuple(positives.values())

    @classmethod
    def parse(cls, text: str) -> Query:
        root = _Parser(text).parse()
        query = cls(text, root)
        if not query.terms:
            raise QuerySyntaxError("query has no positive term (only NOT)", 0)
        return query

    def match(self, text: str) -> tuple[str, ...]:
        """The positive query terms that made the text match, in query order and spelled as in
        the query; () when the text does not match."""
        document = _document(text)
        found = {key: document.contains(key) for key in self._keys}
        holds, contributing = _evaluate(self._root, found)
        if not holds or not contributing:
            return ()
        return tuple(spelling for key, spelling in self._positive.items() if key in contributing)

    def __repr__(self) -> str:
        return f"Query({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other._root == self._root

    def __hash__(self) -> int:
        return hash(self._root)


def match_article(article: Article, watch: str, query: Query) -> RelevanceMatch:
    """Whether the article's title and body match the watch's query, and on which terms."""
    terms = query.match(f"{article.title}\n{article.body}")
    return RelevanceMatch(watch=watch, matched=bool(terms), terms=terms)


def _keys(node: _Node) -> set[str]:
    if isinstance(node, _Term):
        return {node.key}
    if isinstance(node, _Not):
        return _keys(node.operand)
    return set().union(*(_keys(child) for child in node.operands))


def _evaluate(node: _Node, found: dict[str, bool]) -> tuple[bool, frozenset[str]]:
    """Whether the node holds, and the keys of the positive terms that make it hold."""
    if isinstance(node, _Term):
        return (True, frozenset({node.key})) if found[node.key] else (False, frozenset())
    if isinstance(node, _Not):
        holds, _ = _evaluate(node.operand, found)
        return not holds, frozenset()
    results = [_evaluate(child, found) for child in node.operands]
    if isinstance(node, _And):
        if all(holds for holds, _ in results):
            return True, frozenset().union(*(keys for _, keys in results))
        return False, frozenset()
    true = [keys for holds, keys in results if holds]
    return (True, frozenset().union(*true)) if true else (False, frozenset())


def _collect_positive(node: _Node, into: dict[str, str], *, negated: bool) -> None:
    if isinstance(node, _Term):
        if not negated:
            into.setdefault(node.key, node.text)
    elif isinstance(node, _Not):
        _collect_positive(node.operand, into, negated=True)
    else:
        for child in node.operands:
            _collect_positive(child, into, negated=negated)


# --- parsing ---------------------------------------------------------------------------------


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char, i))
            i += 1
        elif char in _QUOTES:
            close = text.find(_QUOTES[char], i + 1)
            if close < 0 and char != '"':
                close = text.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError("unclosed quote opened", i)
            tokens.append(_Token("PHRASE", text[i + 1 : close], i))
            i = close + 1
        elif char == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != "-":
            tokens.append(_Token("NOT", "-", i))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            word = text[start:i]
            kind = word if word in _OPERATORS else "TERM"
            tokens.append(_Token(kind, word, start))
    tokens.append(_Token("END", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not (AND? not)*; not := NOT not | atom."""

    _STARTS = frozenset({"TERM", "PHRASE", "(", "NOT"})

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenise(text)
        self.index = 0

    def parse(self) -> _Node:
        if self.tokens[0].kind == "END":
            raise QuerySyntaxError("empty query", 0)
        node = self._or()
        token = self._peek()
        if token.kind != "END":
            raise self._unexpected(token)
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _or(self) -> _Node:
        operands = [self._and()]
        while self._peek().kind == "OR":
            self._next()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def _and(self) -> _Node:
        operands = [self._not()]
        while True:
            kind = self._peek().kind
            if kind == "AND":
                self._next()
            elif kind not in self._STARTS:
                break
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def _not(self) -> _Node:
        if self._peek().kind == "NOT":
            self._next()
            return _Not(self._not())
        return self._atom()

    def _atom(self) -> _Node:
        token = self._next()
        if token.kind == "(":
            node = self._or()
            closing = self._peek()
            if closing.kind != ")":
                if closing.kind == "END":
                    raise QuerySyntaxError("unclosed parenthesis opened", token.position)
                raise self._unexpected(closing)
            self._next()
            return node
        if token.kind in ("TERM", "PHRASE"):
            key = " ".join(words(token.text))
            if not key:
                what = (
                    "empty phrase"
                    if token.kind == "PHRASE"
                    else f"no letters or digits in {token.text!r}"
                )
                raise QuerySyntaxError(what, token.position)
            return _Term(text=" ".join(token.text.split()), key=key, position=token.position)
        raise self._unexpected(token)

    def _unexpected(self, token: _Token) -> QuerySyntaxError:
        if token.kind == "END":
            previous = self.tokens[-2].text if len(self.tokens) >= 2 else ""
            after = f' after "{previous}"' if previous else ""
            return QuerySyntaxError(f"unexpected end of query{after}", token.position)
        return QuerySyntaxError(f'unexpected "{token.text}"', token.position)
