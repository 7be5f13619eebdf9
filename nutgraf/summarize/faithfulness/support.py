"""What an article (and its title) states, and how the texts capitalize their words."""

from __future__ import annotations

import re
from decimal import Decimal

from nutgraf.summarize.faithfulness.names import (
    CAPITAL_INSIDE,
    CAPITALIZED_RUN,
    COMMON_WORDS,
    CONNECTORS,
    DEMONYM_ENDINGS,
    FUNCTION_WORDS,
    HONORIFICS,
    PIECE,
    Piece,
    acronym_letters,
    initials_of,
    strip_possessive,
)
from nutgraf.summarize.faithfulness.numbers import Number, find_numbers
from nutgraf.text import normalize


class Support:
    """What the article and title state: their words, names, acronyms and numbers."""

    def __init__(self, article: str, title: str | None) -> None:
        self.texts = [normalize(article)] + ([normalize(title)] if title else [])
        self.words: set[str] = set()
        self.capitalized: set[str] = set()
        self.acronyms: set[str] = set()
        self.numbers: set[tuple[Decimal, bool]] = set()
        self._initials: set[str] | None = None
        # Only the body shows how words are capitalized: headlines capitalize ordinary words.
        self.lowercase: set[str] = set()
        self.capitalized_inside = {
            word.lower() for word in CAPITAL_INSIDE.findall(self.texts[0]) if word[0].isupper()
        }
        for index, text in enumerate(self.texts):
            # Unique words first: most of the work is then per word, not per occurrence.
            for word in set(PIECE.findall(text)):
                base = strip_possessive(word)
                folded = base.lower()
                self.words.add(folded)
                if word[0].isupper():
                    self.capitalized.add(folded)
                    letters = acronym_letters(base)
                    if letters:
                        self.acronyms.add(letters)
                elif index == 0 and word.islower():
                    self.lowercase.add(folded)
            for found in find_numbers(text):
                # A percentage also supports the bare number; a bare number no percentage.
                self.numbers.add((found.value, False))
                if found.percent:
                    self.numbers.add((found.value, True))

    @property
    def initials(self) -> set[str]:
        """Initials of the article's capitalized runs, computed only when an acronym needs it."""
        if self._initials is None:
            self._initials = set()
            for text in self.texts:
                for run in CAPITALIZED_RUN.findall(text):
                    self._initials |= initials_of(re.split(r"[ -]", run))
        return self._initials

    def has_number(self, number: Number) -> bool:
        return (number.value, number.percent) in self.numbers

    def has_word(self, piece: Piece) -> bool:
        if piece.acronym:
            # Case matters ("US" is not "us"), but "Nato" mid-sentence is NATO.
            return (
                piece.acronym in self.acronyms
                or (len(piece.acronym) >= 3 and piece.word in self.capitalized_inside)
                or piece.acronym in self.initials
            )
        return piece.word in self.words or self._has_base_of(piece.word)

    def _has_base_of(self, word: str) -> bool:
        """ "Montenegrin" and "Russians" are supported by a capitalized "Montenegro", "Russia"."""
        if word.endswith(("ns", "is")) and len(word) > 6:  # "Russians", "Israelis"; not "Davis"
            word = word[:-1]
        if not word.endswith(DEMONYM_ENDINGS):
            return False
        prefix = word[: max(5, len(word) - 3)]
        return any(known.startswith(prefix) for known in self.capitalized)


class Evidence:
    """How the texts capitalize words, to tell names from capitalized sentence openers."""

    def __init__(self, summary: list[Piece], support: Support) -> None:
        self.capitalized_inside = set(support.capitalized_inside)
        self.lowercase = set(support.lowercase)
        for piece in summary:
            if piece.text.islower():
                self.lowercase.add(piece.word)
            elif piece.inside and piece.capitalized:
                self.capitalized_inside.add(piece.word)

    def may_open_name(self, piece: Piece) -> bool:
        """Whether a capitalized word that may just open a sentence is a name."""
        if piece.acronym or piece.word in HONORIFICS:  # "NATO said", "Minister Jane Doe"
            return True
        if piece.word in FUNCTION_WORDS or piece.word in CONNECTORS:
            return False
        if piece.word in self.capitalized_inside:
            return True
        return piece.word not in COMMON_WORDS and piece.word not in self.lowercase


def name_supported(run: list[Piece], support: Support) -> bool:
    content = [piece for piece in run if piece.content]
    if not content:
        return True  # only titles or connectors: nothing to check
    # No separate test for the whole phrase: when the article contains it, it contains each
    # of its words too, and those are tested here (case-insensitively, acronyms aside).
    if all(support.has_word(piece) for piece in content):
        return True
    # The summary spells out what the article abbreviates: "United States" for "U.S.".
    return len(content) >= 2 and "".join(piece.text[0] for piece in content) in support.acronyms
