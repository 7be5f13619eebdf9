"""Stitched sentences: a model's sentence made of pieces of different article sentences that
puts a name or a number where the article never put it.

A small model fuses what it reads: "Kanye West has proposed to the 18-year-old rapper Kim
Kardashian" from "proposed to girlfriend of 18 months Kim Kardashian" and another sentence's
"year-old rapper"; "relations with Serbia, Moscow's leading ally in the Balkans, Georgia,
and Eastern Europe", the list grown from two other sentences. Every word is the article's,
so the name and number checks pass, and the claim is false.

A sentence is cut into fragments: at each point, the longest run of words that the article
holds in that order (Grusky et al., 2018). Its core is the article sentences its long
fragments (LONG_FRAGMENT words or more) come from. Three things count as stitching:
- a fragment with a name or a number that only other article sentences hold (a name the
  story keeps coming back to aside: it stands in for a pronoun);
- a number cut off from its fragment: "18" followed by words from somewhere else;
- a name or number glued on mid-phrase: a fragment that ends on a word that needs its
  object ("join the"), followed by a fragment with a name or number that none of the first
  fragment's sentences holds ("European Union, NATO"): the object swapped;
- long fragments from more than two article sentences, each only found in its own: three
  facts fused into one claim.

Model drafts only (verify.py): editors fuse sentences on purpose, and on the dev set's human
references 3.6% of sentences trip it (docs/benchmarks.md, Quality), too many for
`POST /v1/checks` to flag.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from nutgraf.text import split_sentences

# Words in a row that make a fragment long enough to say where a sentence comes from.
LONG_FRAGMENT: Final = 4
# Article sentences that mention a name for it to stand in for a pronoun anywhere.
RECURRING_NAME: Final = 3
# Long fragments from more article sentences than this, each from one only: fused facts.
MAX_CORE_SENTENCES: Final = 2

# Words that leave a phrase open: what follows them is their object.
_OPEN_ENDS: Final = frozenset(
    {"the", "a", "an", "to", "of", "in", "on", "at", "for", "with", "by", "from", "into"}
    | {"as", "than", "this", "that", "its", "his", "her", "their"}
)
# Words with inner apostrophes, and numbers with their separators ("1,000", "9.5").
_TOKEN: Final = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’][^\W_]+)*")
_POSSESSIVE: Final = re.compile(r"['’]s$")


def _fold(word: str) -> str:
    return _POSSESSIVE.sub("", word.lower())


@dataclass
class _Fragment:
    start: int  # token offsets in the summary sentence
    end: int
    sentences: frozenset[int]  # article sentences holding it; empty: the article lacks it


@dataclass
class ArticleWords:
    """The article as one run of folded words, each with the index of its sentence; read
    once per article for every sentence checked."""

    words: list[str] = field(default_factory=list)
    sentence_of: list[int] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)
    mentions: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, article: str) -> ArticleWords:
        read = cls()
        for index, (start, end) in enumerate(split_sentences(article)):
            folded = [_fold(m.group(0)) for m in _TOKEN.finditer(article, start, end)]
            for word in folded:
                read.positions.setdefault(word, []).append(len(read.words))
                read.words.append(word)
                read.sentence_of.append(index)
            read.mentions.update(set(folded))
        return read


def stitched_words(sentence: str, article: ArticleWords) -> list[str]:
    """The pieces of `sentence` (a model's summary sentence) that stitch the article's words
    into a claim it does not make, as the sentence writes them; empty when there are none."""
    tokens = [m.group(0) for m in _TOKEN.finditer(sentence)]
    folded = [_fold(token) for token in tokens]
    fragments = _fragments(folded, article)
    long = [f for f in fragments if f.sentences and f.end - f.start >= LONG_FRAGMENT]
    core = frozenset().union(*(f.sentences for f in long))
    if not core:
        return []  # nothing long enough to anchor it: the other checks judge such a sentence
    faults: list[str] = []
    if len(core) > MAX_CORE_SENTENCES and all(len(f.sentences) == 1 for f in long):
        faults.append(" / ".join(" ".join(tokens[f.start : f.end]) for f in long))
    for number, fragment in enumerate(fragments):
        words = tokens[fragment.start : fragment.end]
        if not fragment.sentences:
            continue  # a word the article lacks: the name and number checks' business
        if len(words) == 1 and words[0][0].isdigit() and number + 1 < len(fragments):
            # A number whose next word comes from elsewhere: "18" + "-year-old rapper".
            faults.append(f"{words[0]} {tokens[fragment.end]}")
            continue
        key = [
            word
            for offset, word in enumerate(words)
            if word[0].isdigit()
            or (
                word[0].isupper()
                and fragment.start + offset > 0
                and article.mentions[folded[fragment.start + offset]] < RECURRING_NAME
            )
        ]
        if not key:
            continue
        before = fragments[number - 1] if number else None
        if (
            before is not None
            and before.sentences
            and folded[before.end - 1] in _OPEN_ENDS
            and not before.sentences & fragment.sentences
        ):
            # The open word and what it was glued to: "join the European Union, NATO".
            faults.append(" ".join(tokens[before.end - 1 : fragment.end]))
        elif not fragment.sentences & core:
            faults.append(" ".join(words))
    return faults


def _fragments(folded: list[str], article: ArticleWords) -> list[_Fragment]:
    """Greedy fragments: at each point the longest run the article holds, with every article
    sentence where a run of that length starts; a word the article lacks is its own."""
    fragments: list[_Fragment] = []
    at = 0
    while at < len(folded):
        best, where = 0, set()
        for position in article.positions.get(folded[at], []):
            length = 0
            while (
                at + length < len(folded)
                and position + length < len(article.words)
                and article.words[position + length] == folded[at + length]
            ):
                length += 1
            if length > best:
                best, where = length, {article.sentence_of[position]}
            elif length == best:
                where.add(article.sentence_of[position])
        fragments.append(_Fragment(at, at + max(best, 1), frozenset(where)))
        at += max(best, 1)
    return fragments
