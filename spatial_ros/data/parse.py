"""Instruction parser for the geometric baseline: prompt text -> ``Ref`` / ``Place`` program.

Tokenizes with the phrase tables of ``spatial_ros.data.vocab`` (longest match first, unknown
words skipped) and reads a right-branching grammar:
``NP := [ordinal|superlative]* [size] [colour] noun [postfix] [view] (REL NP | between NP and NP)``.
It understands the generator's wording, not open language; that is what a rule-based
baseline can honestly do.
"""

from __future__ import annotations

import re

from spatial_ros.data import vocab
from spatial_ros.data.expressions import DIRECTIONAL, Place, Ref


class ParseError(ValueError):
    """The instruction names no object or region the parser can read."""


def _lexicon() -> dict[tuple[str, ...], tuple]:
    lex: dict[tuple[str, ...], tuple] = {}

    def add(phrase: str, token: tuple) -> None:
        lex.setdefault(tuple(phrase.lower().split()), token)

    for phrase in vocab.PLACE_HEADS:
        add(phrase.split(" ", 1)[1], ("PLACE",))
    for name, phrases in vocab.SUPERLATIVE_POSTFIX.items():
        for p in phrases:
            add(p, ("SUP", name))
    for side, phrases in vocab.ORDINAL_SIDES.items():
        for p in phrases:
            add(p, ("ORDSIDE", side))
    for view, phrases in vocab.VIEW_PHRASES.items():
        for p in phrases:
            add(p, ("VIEW", view))
    for name, phrases in vocab.RELATION_PHRASES.items():
        for p in phrases:
            add(p, ("REL", name))
    for name, phrases in vocab.SUPERLATIVE_PREFIX.items():
        for p in phrases:
            add(p, ("SUP", name))
    for size, words in vocab.SIZE_WORDS.items():
        for w in words:
            add(w, ("SIZE", size))
    for k, w in enumerate(vocab.ORDINAL_WORDS, 1):
        add(w, ("ORD", k))
    for c in vocab.COLOURS:
        add(c, ("COLOUR", c))
    add("grey", ("COLOUR", "gray"))
    for cat, nouns in vocab.CATEGORY_NOUNS.items():
        for n in nouns:
            add(n, ("NOUN", cat))
            add(n + "s", ("NOUN", cat))
    for n in vocab.GENERIC_NOUNS:
        add(n, ("NOUN", None))
    for w in vocab.BETWEEN_WORDS:
        add(w, ("BETWEEN",))
    for w in vocab.AND_WORDS:
        add(w, ("AND",))
    add("into", ("INTO",))
    return lex


_LEX = _lexicon()
_MAXLEN = max(len(k) for k in _LEX)


def tokenize(text: str) -> list[tuple]:
    words = re.findall(r"[a-z']+", text.lower())
    tokens, i = [], 0
    while i < len(words):
        for n in range(min(_MAXLEN, len(words) - i), 0, -1):
            tok = _LEX.get(tuple(words[i:i + n]))
            if tok is not None:
                tokens.append(tok)
                i += n
                break
        else:
            i += 1
    return tokens


def _np(tokens: list[tuple], pos: int, stop_at_and: bool = False) -> tuple[Ref, int]:
    kw: dict = {}
    ordinal_k = None
    ordinal_side = "left"
    seen_noun = False
    view = "camera"
    while pos < len(tokens):
        kind = tokens[pos][0]
        if kind == "COLOUR":
            kw["colour"] = tokens[pos][1]
        elif kind == "NOUN":
            if seen_noun:
                break
            kw["category"] = tokens[pos][1]
            seen_noun = True
        elif kind == "SIZE":
            kw["size_word"] = tokens[pos][1]
        elif kind == "SUP":
            kw["select"] = tokens[pos][1]
        elif kind == "ORD":
            ordinal_k = tokens[pos][1]
        elif kind == "ORDSIDE":
            ordinal_side = tokens[pos][1]
        elif kind == "VIEW":
            view = tokens[pos][1]
        elif kind == "REL":
            name = tokens[pos][1]
            anchor, pos = _np(tokens, pos + 1, stop_at_and)
            kw["relation"] = f"{name}:{view}" if name in DIRECTIONAL else name
            kw["anchors"] = (anchor,)
            break
        elif kind == "BETWEEN":
            first, pos = _np(tokens, pos + 1, stop_at_and=True)
            if pos < len(tokens) and tokens[pos][0] == "AND":
                pos += 1
            second, pos = _np(tokens, pos, stop_at_and)
            kw["relation"] = "between"
            kw["anchors"] = (first, second)
            break
        elif kind == "AND" and stop_at_and:
            break
        pos += 1
    if ordinal_k is not None:
        kw["ordinal"] = (ordinal_k, ordinal_side)
        kw.pop("select", None)
    return Ref(**kw), pos


def parse(text: str) -> Ref | Place:
    """The program an instruction describes; raises ParseError when it names nothing."""
    tokens = tokenize(text)
    if not tokens:
        raise ParseError(f"instruction names no object or place: {text!r}")
    kinds = [t[0] for t in tokens]
    if "PLACE" in kinds:
        i = kinds.index("PLACE") + 1
        view = "camera"
        if i < len(tokens) and tokens[i][0] == "VIEW":
            view = tokens[i][1]
            i += 1
        if i < len(tokens) and tokens[i][0] == "BETWEEN":
            ref, _ = _np(tokens, i)
            return Place("between", ref.anchors)
        if i < len(tokens) and tokens[i][0] == "REL" and tokens[i][1] in DIRECTIONAL:
            anchor, _ = _np(tokens, i + 1)
            return Place(f"{tokens[i][1]}:{view}", (anchor,))
        raise ParseError(f"free-space instruction without a direction or 'between': {text!r}")
    if tokens[0][0] == "INTO" or tokens[0] == ("REL", "inside"):
        anchor, _ = _np(tokens, 1)
        return Place("inside", (anchor,))
    ref, _ = _np(tokens, 0)
    return ref
