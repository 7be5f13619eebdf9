"""Names a text states: its words, and runs of capitalized words told apart from
capitalized sentence openers, with the acronyms and initials that may stand for them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from nutgraf.summarize.faithfulness.numbers import NUMBER_WORDS

# Dotted acronyms ("U.S.") first, then words with inner apostrophes ("O'Brien", "NATO's").
# Hyphens split words: "Al-Assad" is two pieces joined by a "-" gap, "NATO-led" ends at "-".
PIECE = re.compile(r"(?<![^\W\d_])(?:[A-Z]\.){2,}|[^\W\d_]+(?:'[^\W\d_]+)*")
# A capital right after a word, comma or semicolon (or hyphen: "ex-Soviet") is mid-sentence;
# anywhere else (after a period, quote, colon, bullet) it may just open a sentence. Article
# text is normalized, so one space. The first class is tested first: it keeps the scan fast.
CAPITAL_INSIDE = re.compile(r"[^\W\d_a-z](?:(?<=[\w,;] .)|(?<=\w-.))[^\W\d_]*(?:'[^\W\d_]+)*")
# Lowercase words allowed between the capitalized words of one name ("Bank of England").
CONNECTORS = frozenset(
    {"of", "the", "de", "da", "del", "della", "di", "du", "des", "la", "le", "van", "von"}
    | {"der", "den", "ter", "al", "el", "bin", "ibn", "y", "dos", "das"}
)
_CONNECTOR = "|".join(sorted(CONNECTORS))
# Runs of capitalized words in the article, for the initials that acronyms stand for.
_CAPITALIZED_WORD = r"(?:(?:[A-Z]\.){2,}|[A-Z][\w']*)"
CAPITALIZED_RUN = re.compile(
    rf"{_CAPITALIZED_WORD}(?:[ -](?:(?:{_CONNECTOR})[ -])*{_CAPITALIZED_WORD})*"
)
# Titles are not facts of their own: "Minister Jane Doe" stands or falls with "Jane Doe".
HONORIFICS = frozenset(
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
FUNCTION_WORDS = frozenset(
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
COMMON_WORDS = frozenset(
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
_NUMBER_WORDS = NUMBER_WORDS | {"hundreds", "thousands", "millions", "billions", "dozen", "dozens"}
# Endings of adjectival forms of place names: "Russian", "Chinese", "Turkish", "Israeli".
DEMONYM_ENDINGS = ("an", "ian", "n", "ese", "ish", "i")
_MAX_RUN_FOR_INITIALS = 10
QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def _fold(word: str) -> str:
    """Comparison form of a word from the summary: NFKC like the article, lowercase."""
    return word.lower() if word.isascii() else unicodedata.normalize("NFKC", word).lower()


def strip_possessive(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "'S")) else word


def acronym_letters(word: str) -> str | None:
    """ "NATO" and "U.S." -> "NATO", "US"; None for anything that is not all capitals."""
    letters = word.replace(".", "")
    return letters if len(letters) >= 2 and letters.isalpha() and letters.isupper() else None


@dataclass(frozen=True, slots=True)
class Piece:
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
            self.word not in CONNECTORS
            and self.word not in HONORIFICS
            and len(self.base.replace(".", "")) >= 2
        )


def find_pieces(text: str) -> list[Piece]:
    """The words of `text` with their offsets and what their capitals may mean."""
    pieces = []
    for match in PIECE.finditer(text):
        word = match.group()
        base = strip_possessive(word)
        start = match.start()
        pieces.append(
            Piece(
                word,
                start,
                match.end(),
                _inside(text, start),
                base,
                _fold(base),
                acronym_letters(base),
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


def _joinable(text: str, left: Piece, right: Piece) -> bool:
    gap = text[left.end : right.start]
    if gap == "-":
        return True
    if gap.startswith("."):
        # "Mr. Smith", "John F. Kennedy"; any other period ends the name.
        abbreviation = len(left.text) == 1 or left.word in _DOTTED_TITLES
        gap = gap[1:] if abbreviation else "."
    return gap != "" and gap.isspace() and "\n" not in gap


def runs(text: str, pieces: list[Piece], starts: Callable[[Piece], bool]) -> list[list[Piece]]:
    """Maximal runs of capitalized words, with connectors kept only between two of them."""
    runs: list[list[Piece]] = []
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
            elif pieces[k].text not in CONNECTORS:
                break
            k += 1
        runs.append(pieces[i : last + 1])
        i = last + 1
    return runs


def initials_of(words: list[str]) -> set[str]:
    """Acronyms a name could stand behind: "North Atlantic Treaty Organization" -> NATO."""
    words = words[:_MAX_RUN_FOR_INITIALS]
    content = [word[0].upper() for word in words if word.lower() not in CONNECTORS]
    found = {
        "".join(content[i:j]) for i in range(len(content)) for j in range(i + 2, len(content) + 1)
    }
    # With the connectors too: "Department of Justice" -> DOJ.
    found.add("".join(word[0].upper() for word in words))
    return found
