"""Reversed claims: a summary sentence made of its article's words that says the opposite.

Compared with the article sentences that support it (provenance.py), a summary sentence is
reversed when it negates what they state, or they negate what it states ("was not
charged" / "was charged"); when it uses the antonym of their word ("rejected" for
"approved", "fell" for "rose"), a negated antonym counting as the word itself ("not
guilty" is "acquitted"); when a figure's direction turns ("more than 40" / "nearly 40");
or when a figure moves to another thing that the support counts ("killed 12, injured 40"
/ "killed 40, injured 12").

Lexical and fast, like the other checks: words, their negation and a curated table of
antonyms with their inflections. A claim is reversed only when no support sentence states
it the summary's way, so that a faithful paraphrase is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from nutgraf.text import STOPWORDS

NEGATORS: Final = frozenset({"not", "never", "no", "without", "nobody", "nothing", "none"})
# Between a negator and the word it negates: auxiliaries, articles and the adverbs that
# sit there ("was not immediately clear", "has never been charged", "no one was hurt").
_SKIPPED_LIST: Final = """
    be been being is was were are am have has had having do does did will would can could
    should may might must shall a an the any yet ever even immediately always also really quite
    so very too to one longer before again currently previously formally officially
    publicly initially originally fully entirely actually necessarily get got
"""
_SKIPPED: Final = frozenset(_SKIPPED_LIST.split())
# Also between them, but no further: "not their fault", "none of the passengers".
_DETERMINER_LIST: Final = "a an the their his her its our my your this that these those all some of"
_DETERMINERS: Final = frozenset(_DETERMINER_LIST.split())
# "not only", "no doubt", "no more than 5": no negation of the next word.
_NOT_NEGATING: Final = frozenset({"only", "just", "least", "doubt", "matter", "more", "less"})
# A negation or a figure's subject does not reach past these.
_CLAUSE_WORDS: Final = frozenset({"but", "although", "though", "while", "whereas", "and"})
# Words whose negation says little on its own (their negated forms paraphrase freely).
_WEAK_LIST: Final = """
    other others more less many much few several time times way ways thing things people
    person year years day days week weeks month months new old first last such same own
"""
_WEAK: Final = frozenset(_WEAK_LIST.split())

# Each family: words that state it, then words that state its opposite (every inflection
# spelled out; stemming would join "lost" with "lust" sooner than with "lose").
_FAMILIES: Final[tuple[tuple[str, str], ...]] = (
    (
        "approve approves approved approving approval accept accepts accepted accepting",
        "reject rejects rejected rejecting rejection refuse refuses refused refusing",
    ),
    (
        "rise rises rose risen rising increase increases increased increasing grow grows "
        "grew grown growing soar soars soared soaring surge surges surged surging "
        "raise raises raised raising up",
        "fall falls fell fallen falling decrease decreases decreased decreasing shrink "
        "shrinks shrank shrunk shrinking plunge plunges plunged plunging plummet plummets "
        "plummeted plummeting drop drops dropped dropping reduce reduces reduced reducing "
        "down",
    ),
    ("win wins won winning winner winners", "lose loses lost losing loser losers defeat"),
    (
        "guilty convict convicts convicted convicting conviction",
        "innocent acquit acquits acquitted acquitting acquittal",
    ),
    ("admit admits admitted admitting", "deny denies denied denying"),
    ("alive survive survives survived surviving survivor", "dead die dies died dying"),
    (
        "allow allows allowed allowing permit permits permitted legal lawful",
        "ban bans banned banning forbid forbids forbade forbidden prohibit prohibits "
        "prohibited illegal unlawful",
    ),
    (
        "support supports supported supporting",
        "oppose opposes opposed opposing",
    ),
    (
        "succeed succeeds succeeded succeeding success successful successfully",
        "fail fails failed failing failure unsuccessful",
    ),
    ("hire hires hired hiring", "fired sacked"),
    ("true", "false"),
    ("married marry marries", "divorced divorce divorces"),
    ("best", "worst"),
    ("largest biggest", "smallest"),
    ("richest", "poorest"),
    ("safe safer safest", "dangerous"),
    ("strong stronger strongest", "weak weaker weakest"),
    ("ahead", "behind"),
    ("profit profits", "loss losses"),
    ("include includes included including", "exclude excludes excluded excluding"),
    ("confirm confirms confirmed confirming", "deny denies denied denying"),
    ("open opens opened", "shut shuts"),
    ("high higher highest", "low lower lowest"),
    ("warm warmer warmest hot hotter hottest", "cold colder coldest cool cooler coolest"),
    (
        "praise praises praised praising",
        "criticise criticises criticised criticising criticize criticizes criticized criticizing",
    ),
    ("favorable favourable popular", "unfavorable unfavourable unpopular"),
    ("older oldest", "younger youngest"),
    ("more", "less fewer"),
    ("above", "below"),
    ("before", "after"),
)
# Word to (family, sign): +1 states the family, -1 its opposite.
ANTONYMS: Final[dict[str, list[tuple[int, int]]]] = {}
for _index, _pair in enumerate(_FAMILIES):
    for _sign, _words in zip((1, -1), _pair, strict=True):
        for _word in _words.split():
            ANTONYMS.setdefault(_word, []).append((_index, _sign))
# Direction words that are also everyday words elsewhere: only compared next to a figure.
_FIGURE_ONLY: Final = frozenset(
    {"up", "down", "before", "after", "more", "less", "fewer", "above", "below"}
)

# A figure's direction: "more than 40" states at least 40, "nearly 40" under it.
_ABOVE: Final = (
    "more than",
    "over",
    "above",
    "at least",
    "exceeding",
    "upwards of",
    "no fewer than",
    "no less than",
    "in excess of",
)
_BELOW: Final = (
    "fewer than",
    "less than",
    "under",
    "below",
    "up to",
    "nearly",
    "almost",
    "at most",
    "no more than",
    "just under",
    "barely",
    "short of",
)
_NUMBER_LIST: Final = """
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty
"""
# "one" is a pronoun as often as a figure.
_NUMBER_WORDS: Final = {w: str(n) for n, w in enumerate(_NUMBER_LIST.split()) if n >= 2}
_CONTRACTIONS: Final = (
    (re.compile(r"\bcan['’]t\b", re.I), "can not"),
    (re.compile(r"\bshan['’]t\b", re.I), "shall not"),
    (re.compile(r"\bcannot\b", re.I), "can not"),
    # Also as detokenizers leave them ("can ' t") or cut them ("'t change").
    (re.compile(r"\bwon\s?['’]\s?t\b", re.I), "will not"),
    (re.compile(r"(?<=[a-z])n\s?['’]\s?t\b", re.I), " not"),
    (re.compile(r"(?<!\w)['’]t\b", re.I), "not"),
)
_TOKEN: Final = re.compile(
    r"(?P<number>\d[\d,]*(?:\.\d+)?)|(?P<word>[^\W\d_]+(?:[-'’][^\W\d_]+)*)"
    r"|(?P<stop>[,;:()\[\]\"“”—–!?]|\s[-–]\s|\.(?=\s|$))"
)
_POSSESSIVE: Final = re.compile(r"['’]s$")
_SUFFIXES: Final = ("ing", "ed", "es", "s", "e")
# A figure's subject: this many content words either side of it, within its clause.
_CONTEXT_WORDS: Final = 2
# Words around a figure that say nothing of what it counts ("34 years old").
_AGE_WORDS: Final = frozenset({"year", "old", "aged", "age", "year-old", "years-old"})


@dataclass(frozen=True)
class Token:
    """One word or figure of a text: its surface, comparable form, and clause number."""

    surface: str
    term: str
    clause: int
    number: bool
    start: int


@dataclass(frozen=True)
class Claim:
    """What a text states with one word: its term (or antonym family) and sign (-1: the
    text denies it), and the summary words that say so."""

    key: str
    sign: int
    words: tuple[str, ...]


def reversed_words(sentence: str, support: Iterable[str], article: Iterable[str] = ()) -> list[str]:
    """The words of a summary `sentence` that reverse what its `support` (the article
    sentences that state it) says; empty when none do. A claim that another sentence of
    the `article` states the sentence's way, among words the sentence shares, stands."""
    support_texts = list(support)
    if not support_texts:
        return []
    ours = _claims(_tokens(_expand(sentence)))
    theirs: dict[str, set[int]] = {}
    for text in support_texts:
        for claim in _claims(_tokens(_expand(text))):
            theirs.setdefault(claim.key, set()).add(claim.sign)
    turned = [c for c in ours if theirs.get(c.key) and c.sign not in theirs[c.key]]
    # Only a plain word's negation is looked up elsewhere: antonyms ("won", "rose") recur
    # in other senses all over an article.
    if any(not claim.key.startswith("#") for claim in turned):
        keys = {claim.key for claim in ours}
        elsewhere = [_claims(_tokens(_expand(text))) for text in article]
        turned = [
            claim
            for claim in turned
            if claim.key.startswith("#")
            or not any(
                any(c.key == claim.key and c.sign == claim.sign for c in claims)
                and len(keys & {c.key for c in claims}) >= 2  # the key and another word
                for claims in elsewhere
            )
        ]
    found: list[str] = []
    for claim in turned:
        found.extend(word for word in claim.words if word not in found)
    for word in _turned_figures(sentence, support_texts) + _moved_figures(sentence, support_texts):
        if word not in found:
            found.append(word)
    return found


def _expand(text: str) -> str:
    """The text with its contractions spelled out: "didn't" is "did not"."""
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _tokens(text: str) -> list[Token]:
    """The words and figures of an expanded text (_expand), each with its clause."""
    tokens: list[Token] = []
    clause = 0
    for match in _TOKEN.finditer(text):
        if match.group("stop"):
            clause += 1
            continue
        surface = match.group()
        lowered = surface.lower()
        if lowered in _CLAUSE_WORDS:
            clause += 1
            continue
        if match.group("number"):
            tokens.append(Token(surface, lowered.replace(",", ""), clause, True, match.start()))
        elif lowered in _NUMBER_WORDS:
            tokens.append(Token(surface, _NUMBER_WORDS[lowered], clause, True, match.start()))
        else:
            tokens.append(Token(surface, lowered, clause, False, match.start()))
    return tokens


def _stem(word: str) -> str:
    word = _POSSESSIVE.sub("", word).replace("’", "'")
    if len(word) > 4 and not word.endswith("ss"):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
    return word


def _negated_heads(tokens: list[Token]) -> dict[int, int]:
    """Index of each negated word to the index of its negator: the first word after the
    negator, in its clause, that is not an auxiliary or an adverb."""
    heads: dict[int, int] = {}
    for index, token in enumerate(tokens):
        if token.term not in NEGATORS:
            continue
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        if nxt is None or nxt.clause != token.clause or nxt.term in _NOT_NEGATING:
            continue
        if token.term == "no" and nxt.term == "to":  # "says no to": a refusal, not a negation
            continue
        for j in range(index + 1, min(index + 6, len(tokens))):
            candidate = tokens[j]
            if candidate.clause != token.clause:
                break
            if candidate.term in _SKIPPED or candidate.term in _DETERMINERS:
                continue
            # "not out", "no to", "not in the": a preposition, not a negated word.
            if candidate.term not in STOPWORDS:
                heads[j] = index
            break
    return heads


def _claims(tokens: list[Token]) -> list[Claim]:
    """Each content word with its sign: antonyms by family, other words by their stem."""
    heads = _negated_heads(tokens)
    claims: list[Claim] = []
    for index, token in enumerate(tokens):
        if token.number or token.term in NEGATORS:
            continue
        negator = heads.get(index)
        sign = -1 if negator is not None else 1
        words = (
            (tokens[negator].surface, token.surface) if negator is not None else (token.surface,)
        )
        families = ANTONYMS.get(token.term, [])
        if token.term in _FIGURE_ONLY and not _next_to_figure(tokens, index):
            families = []
        for family, family_sign in families:
            claims.append(Claim(f"#{family}", sign * family_sign, words))
        if families or token.term in STOPWORDS or token.term in _SKIPPED:
            continue
        # A plain word matters only where a negation touches it, here or in the support.
        if token.term not in _WEAK and len(token.term) > 2:
            claims.append(Claim(_stem(token.term), sign, words))
    return claims


def _next_to_figure(tokens: list[Token], index: int) -> bool:
    near = tokens[max(0, index - 3) : index + 4]
    return any(t.number and t.clause == tokens[index].clause for t in near)


def _directions(text: str) -> dict[str, set[int]]:
    """Each figure of the text with its directions: +1 after "more than", -1 after
    "nearly", 0 plain."""
    lowered = _expand(text).lower()
    found: dict[str, set[int]] = {}
    for token in _tokens(lowered):
        if not token.number:
            continue
        before = " ".join(lowered[max(0, token.start - 24) : token.start].split())
        direction = 0
        if any(before.endswith(phrase) for phrase in _ABOVE):
            direction = 1
        if any(before.endswith(phrase) for phrase in _BELOW):
            direction = -1  # "no more than" ends with "more than" too; below wins
        found.setdefault(token.term, set()).add(direction)
    return found


def _turned_figures(sentence: str, support: list[str]) -> list[str]:
    """Figures the sentence bounds one way and every support mention bounds the other."""
    theirs: dict[str, set[int]] = {}
    for text in support:
        for term, directions in _directions(text).items():
            theirs.setdefault(term, set()).update(directions)
    words = []
    for term, directions in _directions(sentence).items():
        stated = theirs.get(term)
        if not stated or 0 in stated:
            continue
        if any(d and -d in stated and d not in stated for d in directions):
            words.append(term)
    return words


def _contexts(tokens: list[Token]) -> list[_Figure]:
    """Each figure with the content words before and after it in its clause (nearest
    first): what it counts, and whose it is."""
    contexts = []
    for index, token in enumerate(tokens):
        if not token.number:
            continue
        sides: list[tuple[str, ...]] = []
        touching: list[str | None] = []
        for step in (-1, 1):
            words: list[str] = []
            j = index + step
            while 0 <= j < len(tokens) and len(words) < _CONTEXT_WORDS:
                other = tokens[j]
                if other.clause != token.clause or other.number:
                    break
                term = _stem(other.term)
                content = other.term not in STOPWORDS and other.term not in _SKIPPED
                if content and term not in _AGE_WORDS:
                    words.append(term)
                j += step
            sides.append(tuple(words))
            beside = tokens[index + step] if 0 <= index + step < len(tokens) else None
            content = beside is not None and beside.term not in STOPWORDS
            adjacent = content and beside is not None and beside.clause == token.clause
            touching.append(_stem(beside.term) if adjacent and beside else None)
        contexts.append(_Figure(token.term, set(sides[0]) | set(sides[1]), tuple(touching)))
    return contexts


@dataclass(frozen=True)
class _Figure:
    """A figure, the content words around it, and the words right beside it."""

    term: str
    words: set[str]
    beside: tuple[str | None, ...]

    def touches(self, other: _Figure) -> bool:
        """Whether both have the same word right beside them on the same side."""
        return any(a is not None and a == b for a, b in zip(self.beside, other.beside, strict=True))


def _moved_figures(sentence: str, support: list[str]) -> list[str]:
    """Figures that the support states of other things, while it states the sentence's
    thing with another figure: the same word right beside it, or two words around it."""
    theirs = [figure for text in support for figure in _contexts(_tokens(_expand(text)))]
    moved = []
    for ours in _contexts(_tokens(_expand(sentence))):
        own = [figure.words for figure in theirs if figure.term == ours.term]
        # Without words around it here or there, nothing says what the figure counts.
        if not own or not ours.words or not any(own) or any(ours.words & w for w in own):
            continue
        for other in theirs:
            if other.term != ours.term and (
                ours.touches(other) or len(ours.words & other.words) >= 2
            ):
                moved.append(ours.term)
                break
    return moved
