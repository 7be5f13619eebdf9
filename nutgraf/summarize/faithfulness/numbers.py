"""Numbers a text states, in digits or words ("$4m", "forty-two", "3.5 percent"), with their
values, so that a summary's figures can be looked up among its article's."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
}
_SCALES = {
    "hundred": 10**2,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
}
# "$4m", "£2bn": only read as scales after a currency sign, where "m" cannot mean metres.
_ABBREVIATED_SCALES = {"k": 10**3, "m": 10**6, "mn": 10**6, "bn": 10**9, "tn": 10**12}
# Too common as plain words ("one of", "no one", "at first", "a second") to be claims.
_VAGUE = frozenset({"one", "first", "second"})
# Every number word: the name check leaves these to the number check.
NUMBER_WORDS = frozenset(_UNITS) | _TENS.keys() | _ORDINALS.keys() | _SCALES.keys()


_Trie: TypeAlias = dict[str, "_Trie"]


def _alternation(words: Iterable[str]) -> str:
    """A regex for any of `words`, shaped as a trie.

    The number scan runs over the whole article, and a trie lets the engine give up on a
    word after a letter or two instead of trying forty words in turn. Longer words are tried
    first, so "fourteen" is never read as "four".
    """
    root: _Trie = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here
    return _trie_pattern(root)


def _trie_pattern(node: _Trie) -> str:
    branches = [re.escape(char) + _trie_pattern(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{body})?" if "" in node else body


_DIGITS = {word: value for word, value in _UNITS.items() if 1 <= value <= 9}
_CURRENCY_PREFIXES = ("us", "a", "c", "nz", "hk")  # US$, A$, C$, NZ$, HK$
# Every character a number can start with, lowercase: digits, currencies, number words.
_FIRST_CHARS = "".join(
    sorted({word[0] for word in [*_UNITS, *_TENS, *_ORDINALS, *_CURRENCY_PREFIXES]})
)
_NUMBER_PATTERN = rf"""
    (?=[\d$£€¥{_FIRST_CHARS}])                     # tested first, so the scan skips on fast
    (?<![\w.])                                   # not inside a word or a decimal ("G7", ".5")
    (?P<currency>(?:{"|".join(_CURRENCY_PREFIXES)})?[$£€¥])?
    (?:
        (?P<digits>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)
        (?:(?P<suffix>st|nd|rd|th|s)\b|(?P<abbr>{_alternation(_ABBREVIATED_SCALES)})\b)?
      | (?P<tens>{_alternation(_TENS)})(?:(?:-|\s+)(?P<tens_unit>{_alternation(_DIGITS)}))?\b
      | (?P<unit>{_alternation(_UNITS)})\b
      | (?P<ordinal>{_alternation(_ORDINALS)})\b
    )
    (?P<scales>(?:[\s-]+(?:{_alternation(_SCALES)})\b)*)
    (?P<percent>\s*-?\s*(?:%|percent\b|per\s+cent\b|percentage\s+points?\b))?
"""
# Matching lowercased text is several times faster than IGNORECASE; the other is for the rare
# text whose lowercase changes length (and so offsets), such as a dotted capital I.
_NUMBER = re.compile(_NUMBER_PATTERN, re.VERBOSE)
_NUMBER_ANY_CASE = re.compile(_NUMBER_PATTERN, re.VERBOSE | re.IGNORECASE)
_SCALE_WORD = re.compile(_alternation(_SCALES), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Number:
    """One number of a text: where it is, its value, and whether it is worth checking."""

    start: int
    end: int
    value: Decimal
    percent: bool
    checkable: bool


def find_numbers(text: str) -> Iterator[Number]:
    """Every number in `text`, with its value and where it stands."""
    folded = text.lower()
    if len(folded) == len(text):
        matches = _NUMBER.finditer(folded)
    else:
        matches = _NUMBER_ANY_CASE.finditer(text)
    for match in matches:
        digits, tens, unit = match["digits"], match["tens"], match["unit"]
        word = None
        if digits is not None:
            try:
                value = Decimal(digits.replace(",", ""))
            except InvalidOperation:  # exotic Unicode digits; not worth a false alarm
                continue
            if match["abbr"] and match["currency"]:
                value *= _ABBREVIATED_SCALES[match["abbr"].lower()]
        elif tens is not None:
            value = Decimal(_TENS[tens.lower()])
            if match["tens_unit"]:
                value += _UNITS[match["tens_unit"].lower()]
        elif unit is not None:
            word = unit.lower()
            value = Decimal(_UNITS[word])
        else:
            word = match["ordinal"].lower()
            value = Decimal(_ORDINALS[word])
        scales = _SCALE_WORD.findall(match["scales"])
        for scale in scales:
            value *= _SCALES[scale.lower()]
        percent = match["percent"] is not None
        checkable = not (word in _VAGUE and not scales and not percent)
        yield Number(match.start(), match.end(), value, percent, checkable)
