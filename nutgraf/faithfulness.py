"""Cheap faithfulness check: numbers and names a summary states that its article lacks.

No model and no network: regular expressions, word sets and a few honest rules, fast enough
to run on every summary. It catches invented figures and invented names; it does not judge
whether the sentences around them are true.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from nutgraf.text import normalize

# --- numbers -----------------------------------------------------------------------------

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
class _Number:
    start: int
    end: int
    value: Decimal
    percent: bool
    checkable: bool


def _numbers(text: str) -> Iterator[_Number]:
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
        yield _Number(match.start(), match.end(), value, percent, checkable)


# --- words and names ---------------------------------------------------------------------

# Dotted acronyms ("U.S.") first, then words with inner apostrophes ("O'Brien", "NATO's").
# Hyphens split words: "Al-Assad" is two pieces joined by a "-" gap, "NATO-led" ends at "-".
_PIECE = re.compile(r"(?<![^\W\d_])(?:[A-Z]\.){2,}|[^\W\d_]+(?:'[^\W\d_]+)*")
# A capital right after a word, comma or semicolon (or hyphen: "ex-Soviet") is mid-sentence;
# anywhere else (after a period, quote, colon, bullet) it may just open a sentence. Article
# text is normalized, so one space. The first class is tested first: it keeps the scan fast.
_CAPITAL_INSIDE = re.compile(r"[^\W\d_a-z](?:(?<=[\w,;] .)|(?<=\w-.))[^\W\d_]*(?:'[^\W\d_]+)*")
# Lowercase words allowed between the capitalized words of one name ("Bank of England").
_CONNECTORS = frozenset(
    {"of", "the", "de", "da", "del", "della", "di", "du", "des", "la", "le", "van", "von"}
    | {"der", "den", "ter", "al", "el", "bin", "ibn", "y", "dos", "das"}
)
_CONNECTOR = "|".join(sorted(_CONNECTORS))
# Runs of capitalized words in the article, for the initials that acronyms stand for.
_CAPITALIZED_WORD = r"(?:(?:[A-Z]\.){2,}|[A-Z][\w']*)"
_CAPITALIZED_RUN = re.compile(
    rf"{_CAPITALIZED_WORD}(?:[ -](?:(?:{_CONNECTOR})[ -])*{_CAPITALIZED_WORD})*"
)
# Titles are not facts of their own: "Minister Jane Doe" stands or falls with "Jane Doe".
_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir", "dame", "lord", "lady"}
    | {"president", "vice", "secretary", "general", "prime", "minister", "premier", "deputy"}
    | {"sen", "senator", "rep", "representative", "gov", "governor", "mayor", "chancellor"}
    | {"king", "queen", "prince", "princess", "judge", "chief", "chairman", "chairwoman"}
    | {"gen", "col", "lt", "capt", "sgt", "adm", "pope", "rev"}
)
# Abbreviations whose period does not end a name: "Mr. Smith", "St. Louis".
_DOTTED_TITLES = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "sen", "gov", "gen", "lt", "col", "rep", "prof", "sgt"}
    | {"capt", "adm", "rev", "mt", "ft"}
)
# Never a name when it opens a sentence, whatever the rest of the text does with it.
_FUNCTION_WORDS = frozenset(
    {"a", "an", "the", "this", "that", "these", "those", "there", "here", "it", "its", "he"}
    | {"she", "they", "we", "i", "you", "his", "her", "their", "our", "my", "your", "him"}
    | {"them", "us", "me", "who", "whom", "whose", "what", "which", "where", "when", "why"}
    | {"how", "whether", "and", "but", "or", "nor", "so", "yet", "if", "as", "at", "by", "in"}
    | {"on", "of", "to", "from", "with", "without", "within", "into", "onto", "over", "under"}
    | {"after", "before", "during", "since", "until", "while", "whilst", "although", "though"}
    | {"because", "despite", "against", "among", "amid", "amidst", "between", "through"}
    | {"throughout", "about", "above", "below", "across", "along", "around", "behind"}
    | {"beyond", "near", "off", "out", "up", "down", "upon", "via", "than", "like", "unlike"}
    | {"once", "unless", "toward", "towards", "however", "meanwhile", "moreover", "also"}
    | {"furthermore", "additionally", "still", "then", "thus", "therefore", "instead"}
    | {"indeed", "overall", "nevertheless", "nonetheless", "otherwise", "similarly"}
    | {"likewise", "consequently", "ultimately", "hence", "accordingly", "besides"}
    | {"regardless", "rather", "perhaps", "all", "both", "each", "every", "either", "neither"}
    | {"no", "not", "none", "some", "any", "many", "much", "more", "most", "few", "several"}
    | {"such", "other", "another", "only", "even", "just", "is", "are", "was", "were", "be"}
    | {"been", "being", "has", "have", "had", "do", "does", "did", "can", "could", "should"}
    | {"would", "must", "might", "shall", "yes", "according", "following", "including"}
    | {"regarding", "concerning", "given", "per", "for"}
)
# Frequent sentence openers that are names only if the texts capitalize them mid-sentence.
_COMMON_WORDS = frozenset(
    {"will", "may", "now", "today", "yesterday", "tomorrow", "currently", "recently"}
    | {"previously", "finally", "last", "next", "already", "never", "often", "later", "earlier"}
    | {"soon", "again", "further", "together", "elsewhere", "initially", "eventually"}
    | {"separately", "specifically", "notably", "importantly", "alternatively", "officials"}
    | {"authorities", "experts", "analysts", "critics", "observers", "protesters", "people"}
    | {"demonstrators", "residents", "citizens", "police", "leaders", "lawmakers", "voters"}
    | {"legislators", "members", "supporters", "opponents", "investigators", "prosecutors"}
    | {"researchers", "scientists", "doctors", "workers", "troops", "soldiers", "government"}
    | {"ministers", "sources", "reports", "talks", "negotiations", "plans", "efforts", "new"}
    | {"former", "local", "top", "senior", "key", "major", "recent", "current", "speaking"}
    | {"asked", "citing", "having", "tensions", "concerns", "fears"}
)
# Number words are checked as numbers; they never make or extend a name.
_NUMBER_WORDS = frozenset(_UNITS) | _TENS.keys() | _ORDINALS.keys() | _SCALES.keys()
_NUMBER_WORDS |= {"hundreds", "thousands", "millions", "billions", "dozen", "dozens"}
# Endings of adjectival forms of place names: "Russian", "Chinese", "Turkish", "Israeli".
_DEMONYM_ENDINGS = ("an", "ian", "n", "ese", "ish", "i")
_MAX_RUN_FOR_INITIALS = 10
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def _fold(word: str) -> str:
    """Comparison form of a word from the summary: NFKC like the article, lowercase."""
    return word.lower() if word.isascii() else unicodedata.normalize("NFKC", word).lower()


def _strip_possessive(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "'S")) else word


def _acronym_letters(word: str) -> str | None:
    """ "NATO" and "U.S." -> "NATO", "US"; None for anything that is not all capitals."""
    letters = word.replace(".", "")
    return letters if len(letters) >= 2 and letters.isalpha() and letters.isupper() else None


@dataclass(frozen=True, slots=True)
class _Piece:
    """A word of the summary, where it is, and whether its capital could be positional."""

    text: str
    start: int
    end: int
    inside: bool  # mid-sentence: a capital here is not explained by position
    base: str  # without a possessive: "Montenegro's" -> "Montenegro"
    word: str  # folded base
    acronym: str | None

    @property
    def capitalized(self) -> bool:
        return self.text[0].isupper() and self.word not in _NUMBER_WORDS

    @property
    def content(self) -> bool:
        """Whether the word carries the name, rather than joining it or giving a title."""
        return (
            self.word not in _CONNECTORS
            and self.word not in _HONORIFICS
            and len(self.base.replace(".", "")) >= 2
        )


def _pieces(text: str) -> list[_Piece]:
    pieces = []
    for match in _PIECE.finditer(text):
        word = match.group()
        base = _strip_possessive(word)
        start = match.start()
        pieces.append(
            _Piece(
                word,
                start,
                match.end(),
                _inside(text, start),
                base,
                _fold(base),
                _acronym_letters(base),
            )
        )
    return pieces


def _inside(text: str, start: int) -> bool:
    """Whether the word at `start` follows a word, comma or semicolon on the same line."""
    j = start - 1
    if j > 0 and text[j] == "-":
        return not text[j - 1].isspace()  # "ex-Soviet", not a "- Russia" bullet
    while j >= 0 and text[j].isspace() and text[j] != "\n":
        j -= 1
    return j >= 0 and (text[j].isalnum() or text[j] in ",;")


def _joinable(text: str, left: _Piece, right: _Piece) -> bool:
    gap = text[left.end : right.start]
    if gap == "-":
        return True
    if gap.startswith("."):
        # "Mr. Smith", "John F. Kennedy"; any other period ends the name.
        abbreviation = len(left.text) == 1 or left.word in _DOTTED_TITLES
        gap = gap[1:] if abbreviation else "."
    return gap != "" and gap.isspace() and "\n" not in gap


def _runs(text: str, pieces: list[_Piece], starts: Callable[[_Piece], bool]) -> list[list[_Piece]]:
    """Maximal runs of capitalized words, with connectors kept only between two of them."""
    runs: list[list[_Piece]] = []
    i = 0
    while i < len(pieces):
        if not starts(pieces[i]):
            i += 1
            continue
        last = i
        k = i + 1
        while k < len(pieces) and _joinable(text, pieces[k - 1], pieces[k]):
            if pieces[k].capitalized:
                last = k
            elif pieces[k].text not in _CONNECTORS:
                break
            k += 1
        runs.append(pieces[i : last + 1])
        i = last + 1
    return runs


def _initials(words: list[str]) -> set[str]:
    """Acronyms a name could stand behind: "North Atlantic Treaty Organization" -> NATO."""
    words = words[:_MAX_RUN_FOR_INITIALS]
    content = [word[0].upper() for word in words if word.lower() not in _CONNECTORS]
    found = {
        "".join(content[i:j]) for i in range(len(content)) for j in range(i + 2, len(content) + 1)
    }
    # With the connectors too: "Department of Justice" -> DOJ.
    found.add("".join(word[0].upper() for word in words))
    return found


class _Support:
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
            word.lower() for word in _CAPITAL_INSIDE.findall(self.texts[0]) if word[0].isupper()
        }
        for index, text in enumerate(self.texts):
            # Unique words first: most of the work is then per word, not per occurrence.
            for word in set(_PIECE.findall(text)):
                base = _strip_possessive(word)
                folded = base.lower()
                self.words.add(folded)
                if word[0].isupper():
                    self.capitalized.add(folded)
                    letters = _acronym_letters(base)
                    if letters:
                        self.acronyms.add(letters)
                elif index == 0 and word.islower():
                    self.lowercase.add(folded)
            for found in _numbers(text):
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
                for run in _CAPITALIZED_RUN.findall(text):
                    self._initials |= _initials(re.split(r"[ -]", run))
        return self._initials

    def has_number(self, number: _Number) -> bool:
        return (number.value, number.percent) in self.numbers

    def has_word(self, piece: _Piece) -> bool:
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
        if not word.endswith(_DEMONYM_ENDINGS):
            return False
        prefix = word[: max(5, len(word) - 3)]
        return any(known.startswith(prefix) for known in self.capitalized)


class _Evidence:
    """How the texts capitalize words, to tell names from capitalized sentence openers."""

    def __init__(self, summary: list[_Piece], support: _Support) -> None:
        self.capitalized_inside = set(support.capitalized_inside)
        self.lowercase = set(support.lowercase)
        for piece in summary:
            if piece.text.islower():
                self.lowercase.add(piece.word)
            elif piece.inside and piece.capitalized:
                self.capitalized_inside.add(piece.word)

    def may_open_name(self, piece: _Piece) -> bool:
        """Whether a capitalized word that may just open a sentence is a name."""
        if piece.acronym or piece.word in _HONORIFICS:  # "NATO said", "Minister Jane Doe"
            return True
        if piece.word in _FUNCTION_WORDS or piece.word in _CONNECTORS:
            return False
        if piece.word in self.capitalized_inside:
            return True
        return piece.word not in _COMMON_WORDS and piece.word not in self.lowercase


def _name_supported(run: list[_Piece], support: _Support) -> bool:
    content = [piece for piece in run if piece.content]
    if not content:
        return True  # only titles or connectors: nothing to check
    # No separate test for the whole phrase: when the article contains it, it contains each
    # of its words too, and those are tested here (case-insensitively, acronyms aside).
    if all(support.has_word(piece) for piece in content):
        return True
    # The summary spells out what the article abbreviates: "United States" for "U.S.".
    return len(content) >= 2 and "".join(piece.text[0] for piece in content) in support.acronyms


def unsupported_items(summary: str, article: str, title: str | None = None) -> list[str]:
    """Numbers and names that `summary` states and `article` (or `title`) lacks, in order."""
    support = _Support(article, title)
    # Same length as `summary`, so every offset below is also an offset into `summary`.
    view = summary.translate(_QUOTES)
    pieces = _pieces(view)
    evidence = _Evidence(pieces, support)

    found: list[tuple[int, int]] = []
    for number in _numbers(view):
        if number.checkable and not support.has_number(number):
            found.append((number.start, number.end))

    def starts_name(piece: _Piece) -> bool:
        if not piece.capitalized or len(piece.base) < 2:
            return False
        return piece.inside or evidence.may_open_name(piece)

    for run in _runs(view, pieces, starts_name):
        if not _name_supported(run, support):
            # Reported without a possessive: "Jane Doe", not "Jane Doe's".
            found.append((run[0].start, run[-1].start + len(run[-1].base)))

    items: list[str] = []
    for start, end in sorted(found):
        surface = " ".join(summary[start:end].split())
        if surface not in items:
            items.append(surface)
    return items
