"""Provenance: for each summary sentence, the article sentences that state what it says.

Lexical alignment on content words, pure Python: fast enough for every summary, and every
returned Span satisfies span.text == article[span.start:span.end], so an editor's screen can
highlight it. Names and numbers weigh more than other words: they are what an editor checks
first, and what a paraphrase keeps. A sentence the article does not state gets no support
rather than the least bad one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Final

from nutgraf.contract import SentenceSupport, Span
from nutgraf.text import STOPWORDS, has_line_break, is_complete_sentence, split_sentences

# At most this many article sentences support one summary sentence: a summary sentence fuses
# two facts, rarely three; more spans would be noise to check, not provenance.
MAX_SPANS: Final = 3
# The best article sentence must hold this share of the summary sentence's (weighted)
# content words, and at least MIN_SHARED of them; below that the article does not say it.
MIN_COVERAGE: Final = 0.3
MIN_SHARED: Final = 2
# A further sentence must add this share of the words still uncovered (weighted), and at
# least MIN_GAIN weight: one name or number, or two plain words.
MIN_GAIN_SHARE: Final = 0.15
MIN_GAIN: Final = 2.0
NAME_WEIGHT: Final = 2.0
NUMBER_WEIGHT: Final = 3.0

# Numbers keep their separators ("1,000", "3.5"); words their inner apostrophes ("O'Brien").
_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
_POSSESSIVE = re.compile(r"['’]s$")
# A line ending like this continues into the next one ("He said:\n\n'...'").
_CONTINUATION = (":", ",", ";", "-", "—", "–", "(")
# Suffixes folded so that "joins", "joined" and "joining" meet; the same crude stem on both
# sides is all a lexical match needs.
_SUFFIXES = ("ing", "ed", "es", "s", "e")
_MIN_STEM = 3


def support_for(units: list[str], article: str, title: str | None = None) -> list[SentenceSupport]:
    """Each summary sentence with the article sentences that support it, strongest first."""
    spans = _article_spans(article)
    sentence_words = [set(_terms(article[start:end])) for start, end in spans]
    names = _names(article, spans)
    frequency = Counter(word for words in sentence_words for word in words)
    count = len(spans)
    # Rarer words choose better: "Podgorica" locates a sentence, "government" does not.
    idf = {word: 1.0 + math.log(count / df) for word, df in frequency.items()}
    # Words only the title states: the editor sees the title, so they need no article span.
    title_only = set(_terms(title or "")) - frequency.keys()

    supported: list[SentenceSupport] = []
    for unit in units:
        weights = {
            word: weight for word, weight in _weights(unit, names).items() if word not in title_only
        }
        chosen = _align(weights, sentence_words, idf)
        support = [Span(text=article[s:e], start=s, end=e) for s, e in (spans[i] for i in chosen)]
        supported.append(SentenceSupport(text=unit, support=support))
    return supported


def _article_spans(article: str) -> list[tuple[int, int]]:
    """The article's sentences as (start, end) offsets, headings and datelines apart."""
    spans: list[tuple[int, int]] = []
    found = split_sentences(article)
    # A short first line is a title only where lines are paragraphs; hard-wrapped text
    # breaks inside sentences too.
    wrapped = any(has_line_break(article, s, e) for s, e in found[1:])
    for index, (start, end) in enumerate(found):
        spans.extend(_split_headings(article, start, end, index == 0 and not wrapped))
    return spans


def _align(
    weights: dict[str, float], sentence_words: list[set[str]], idf: dict[str, float]
) -> list[int]:
    """Indices of the supporting sentences, best first; none when the overlap is weak."""
    total = sum(weights.values())
    if not total:
        return []

    def score(index: int, wanted: dict[str, float]) -> tuple[float, float]:
        shared = sentence_words[index].intersection(wanted)
        return sum(wanted[w] * idf[w] for w in shared), sum(wanted[w] for w in shared)

    scored = [score(i, weights) for i in range(len(sentence_words))]
    # Ties go to the earlier sentence: news states its key facts first.
    best = max(range(len(scored)), key=lambda i: (scored[i][0], -i), default=None)
    if best is None:
        return []
    shared = sentence_words[best].intersection(weights)
    if scored[best][1] / total < MIN_COVERAGE or len(shared) < min(MIN_SHARED, len(weights)):
        return []

    chosen = [best]
    remaining = {w: weight for w, weight in weights.items() if w not in shared}
    while remaining and len(chosen) < MAX_SPANS:
        left = sum(remaining.values())
        candidates = [i for i in range(len(sentence_words)) if i not in chosen]
        gains = {i: score(i, remaining) for i in candidates}
        nxt = max(candidates, key=lambda i: (gains[i][0], -i), default=None)
        if nxt is None:
            break
        gain = gains[nxt][1]
        if gain < MIN_GAIN or gain / left < MIN_GAIN_SHARE:
            break
        chosen.append(nxt)
        remaining = {w: x for w, x in remaining.items() if w not in sentence_words[nxt]}
    return chosen


def _weights(unit: str, names: set[str]) -> dict[str, float]:
    """The unit's content words with their weights: numbers and names count more."""
    weights: dict[str, float] = {}
    for position, match in enumerate(_WORD.finditer(unit)):
        raw = match.group()
        term = _term(raw)
        if term is None:
            continue
        if any(ch.isdigit() for ch in term):
            weight = NUMBER_WEIGHT
        # A capital opening the sentence says nothing; the article's usage decides there.
        elif (raw[0].isupper() and position > 0) or term in names or raw.isupper():
            weight = NAME_WEIGHT
        else:
            weight = 1.0
        weights[term] = max(weights.get(term, 0.0), weight)
    return weights


def _names(article: str, spans: list[tuple[int, int]]) -> set[str]:
    """Terms the article capitalizes inside its sentences: names, places, acronyms."""
    names: set[str] = set()
    for start, end in spans:
        for match in list(_WORD.finditer(article, start, end))[1:]:
            if match.group()[0].isupper():
                term = _term(match.group())
                if term is not None:
                    names.add(term)
    return names


def _terms(text: str) -> list[str]:
    """Content terms of `text`, in order."""
    return [term for term in map(_term, _WORD.findall(text)) if term is not None]


def _term(word: str) -> str | None:
    """A word's comparable form (lowercased, stemmed; numbers without commas), or None for a
    stopword or a lone letter."""
    word = _POSSESSIVE.sub("", word.lower())
    if any(ch.isdigit() for ch in word):
        return word.replace(",", "")
    if word in STOPWORDS or len(word) < 2:
        return None
    if len(word) > _MIN_STEM + 1 and not word.endswith("ss"):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
                return word[: -len(suffix)]
    return word


def _split_headings(text: str, start: int, end: int, single_breaks: bool) -> list[tuple[int, int]]:
    """The span with its leading title, byline or dateline lines as spans of their own.

    split_sentences splits only at terminal punctuation, so a heading without one is glued
    to the sentence after it; highlighting both for one fact would mislead. A line without
    terminal punctuation before a paragraph break is such a line; before a single break only
    at the top of an article that is not hard-wrapped (`single_breaks`).
    """
    pieces: list[tuple[int, int]] = []
    pos = start
    while (newline := text.find("\n", pos, end)) != -1:
        line = text[pos:newline].rstrip()
        nxt = newline
        while nxt < end and text[nxt].isspace():
            nxt += 1
        if nxt >= end or not line or is_complete_sentence(line) or line.endswith(_CONTINUATION):
            break
        paragraph = text.count("\n", newline, nxt) > 1
        if not (paragraph or (single_breaks and (text[nxt].isupper() or text[nxt].isdigit()))):
            break
        pieces.append((pos, pos + len(line)))
        pos = nxt
    pieces.append((pos, end))
    return pieces
