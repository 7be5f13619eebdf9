"""Extractive ranking: the sentences the learned scorer (scorer.py) rates best, lead floor kept.

No model and no GPU. Sentences come from nutgraf.text.split_sentences, so every returned
Span satisfies span.text == article[span.start:span.end] exactly. A sentence that is part
of a longer quotation is taken with the rest of it, as one Span, or not at all.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from typing import Final

from nutgraf.contract import HEADLINE_MAX_WORDS, SENTENCE_RANGES, Length, Span
from nutgraf.summarize.features import sentence_features
from nutgraf.summarize.scorer import Scorer, active_scorer
from nutgraf.text import (
    has_line_break,
    is_complete_sentence,
    normalize,
    split_sentences,
    word_count,
)

# Sentences per length, inside SENTENCE_RANGES: extracted sentences are whole and often
# long, so the low end, except short, where one sentence is a headline, not a summary.
# Medium's count is the scorer's, chosen by cross-validation (sentence_count).
SENTENCES_PER_LENGTH: Final[dict[Length, int]] = {
    "headline": 1,
    "short": 2,
    "medium": 3,
    "long": 5,
}
# A headline prefers a sentence short enough to be one, but only among the best few: a short
# sentence far down the ranking would be off-topic.
HEADLINE_CANDIDATES: Final = 3
# Fewer words than this is a fragment ("Yes.", "Photo: AP."), not a summary sentence.
MIN_WORDS: Final = 4

# What the model reads keeps the lead-3 floor: lead-3 is the baseline the scorer must beat.
LEAD_FLOOR: Final = 3
# A quotation spread over several sentences is taken whole, as one unit, only when it is
# this short; a longer one would crowd out the rest of the summary, so it is skipped.
QUOTE_UNIT_MAX_SENTENCES: Final = 2
QUOTE_UNIT_MAX_WORDS: Final = 60
# The similarity graph is quadratic in sentences. 500 sentences is ~10,000 words; anything
# later in a news article is rarely summary material, so longer texts rank only their head.
MAX_RANKED_SENTENCES: Final = 500
# A line ending like this continues into the next one ("He said:\n\n'...'").
_CONTINUATION = (":", ",", ";", "-", "—", "–", "(")
_OPENERS = "\"'“‘«([—-"
# Double quotation marks, straight or curly, and line breaks: what _quotations reads.
# Single quotes are left out on purpose: they are also apostrophes ("the players' union").
_QUOTE_OR_BREAK = re.compile(r'["“”]|\n(?:[^\S\n]*\n)?')
# A straight quote after one of these (or at the start) opens a quotation; else it closes one.
_BEFORE_OPENING = "([{—–-/"
# Page furniture that is not news: video prompts, datestamps, bylines, contact lines,
# social-media prompts, photo credits.
_BOILERPLATE = re.compile(
    r"scroll down|click here|\b(?:published|updated)\s*:|daily mail reporter|^by\s*\n"
    r"|^write to\b|\bcan be reached at\b|\b[\w.+-]+@[\w-]+\.(?:com|net|org|co\.uk)\b"
    r"|\bfollow\b.{0,40}\bon (?:twitter|facebook|instagram)\b|\blike us on facebook\b"
    r"|\bshare (?:this|your) (?:story|article|thoughts)\b"
    r"|^\(?(?:photos?|pictures?|images?|credit)\s*(?:credit)?\s*:",
    re.IGNORECASE,
)
# The Daily Mail's page header glued to the first sentence: an optional byline, then
# "PUBLISHED: <time> | UPDATED: <time>". It is skipped like a heading.
_DATESTAMP = re.compile(
    r"(?:by\b[^\n]*\n\s*(?:[^\n]+\n\s*)?)?published:\s.*?\d{4}"
    r"(?:\s*\|?\s*updated:\s.*?\d{4})?\s*",
    re.IGNORECASE | re.DOTALL,
)


def extract(
    text: str, length: Length = "medium", max_words: int | None = None, title: str | None = None
) -> list[Span]:
    """The article's best-scored sentences (or whole short quotations) for `length`, in order."""
    if length not in SENTENCES_PER_LENGTH:
        raise ValueError(f"unknown length: {length!r}")
    # The floor is lead-k for the k sentences asked for: a later sentence replaces one of
    # them only when the scorer is sure enough (Scorer.lead_margin).
    wanted = sentence_count(length)
    ranked, order = _ranking(text, wanted, title)
    if not ranked:
        return []
    words = [word_count(text[start:end]) for start, end in ranked]
    units = _quote_units(text, ranked)

    def unit_words(unit: tuple[int, int]) -> int:
        return sum(words[unit[0] : unit[1] + 1])

    # Units that may be taken: a sentence whose quotation is balanced in itself, or the
    # whole short quotation it belongs to. A unit comes up at its best sentence's rank.
    usable: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for index in order:
        unit = units[index]
        if unit is None or unit in seen:
            continue
        seen.add(unit)
        if any(_BOILERPLATE.search(text[slice(*ranked[i])]) for i in range(unit[0], unit[1] + 1)):
            continue  # page furniture is never summary material, not even as a last resort
        size = unit[1] - unit[0] + 1
        if size > 1 and (
            size > QUOTE_UNIT_MAX_SENTENCES or unit_words(unit) > QUOTE_UNIT_MAX_WORDS
        ):
            continue
        usable.append(unit)
    if not usable:
        # Every sentence is part of a long or broken quotation: the best sentence is still
        # better than an empty summary.
        usable = [(order[0], order[0])]

    chosen: list[tuple[int, int]] = []
    if length == "headline":
        limit = HEADLINE_MAX_WORDS if max_words is None else min(HEADLINE_MAX_WORDS, max_words)
        # A headline is one sentence, so never a piece of a longer quotation.
        single = [unit for unit in usable if unit[0] == unit[1]] or usable[:1]
        best = single[0]
        fits = (unit for unit in single[:HEADLINE_CANDIDATES] if unit_words(unit) <= limit)
        unit = next(fits, best)
        start, end = ranked[unit[0]][0], ranked[unit[1]][1]
        if unit_words(unit) > limit:
            # Still too long for a headline: its opening clause, which is the article's
            # own words (extractive.py closes it with a full stop).
            end = _clause_end(text, start, end, limit)
        return [_span(text, start, end)]
    else:
        most = SENTENCE_RANGES[length][1]
        sentences = total = 0
        for unit in usable:
            size = unit[1] - unit[0] + 1
            if sentences + size > most:
                continue  # a two-sentence quotation in the last slot would overflow
            # The best unit always goes in, even alone over the cap: an empty summary
            # helps no one, and cutting a sentence would break the offsets contract.
            if chosen and max_words is not None and total + unit_words(unit) > max_words:
                break
            chosen.append(unit)
            sentences += size
            total += unit_words(unit)
            if sentences >= wanted:
                break
    return [_span(text, ranked[first][0], ranked[last][1]) for first, last in sorted(chosen)]


def sentence_count(length: Length, scorer: Scorer | None = None) -> int:
    """Sentences an extractive summary of `length` takes: for medium, the count `scorer` (by
    default the active one) was tuned to, the length of the references it was fitted on;
    else, and for a scorer without one, SENTENCES_PER_LENGTH's."""
    tuned = (scorer or active_scorer()).medium_sentences
    return tuned if length == "medium" and tuned is not None else SENTENCES_PER_LENGTH[length]


def _clause_end(text: str, start: int, end: int, limit: int) -> int:
    """End of the longest opening clause of text[start:end] within `limit` words: at the last
    comma, semicolon or dash before the limit, else at the limit's word."""
    words = list(re.finditer(r"\S+", text[start:end]))[:limit]
    cut = start + words[-1].end()
    if not words:
        return end
    # The cut falls before the mark, and before any space ahead of a free-standing dash.
    breaks = [
        start + (w.end() - 1 if w.group().endswith((",", ";", ":")) else w.start())
        for w in words[MIN_WORDS - 1 :]
        if w.group().endswith((",", ";", ":")) or w.group() in ("-", "—", "–")
    ]
    cut = breaks[-1] if breaks else cut
    while cut > start and text[cut - 1].isspace():
        cut -= 1
    return cut


def lead(text: str, n: int = 3) -> list[Span]:
    """The first `n` sentences (the lead-n baseline), with the same skip rules as extract."""
    if n <= 0:
        return []
    return [_span(text, start, end) for start, end in _candidates(text)[:n]]


def _distinct(text: str, spans: list[tuple[int, int]], order: list[int]) -> list[int]:
    """`order` without repeats of a better-ranked sentence (wire copy often repeats one)."""
    seen: set[str] = set()
    kept: list[int] = []
    for index in order:
        key = normalize(text[slice(*spans[index])]).lower()
        if key not in seen:
            seen.add(key)
            kept.append(index)
    return kept


def _span(text: str, start: int, end: int) -> Span:
    return Span(text=text[start:end], start=start, end=end)


def _candidates(text: str) -> list[tuple[int, int]]:
    """Sentence spans worth summarizing: headings and bylines trimmed, fragments dropped."""
    spans = split_sentences(text)
    if not spans:
        return []
    # In hard-wrapped text every sentence may hold a line break, so a short first line is
    # not evidence of a heading there; in one-paragraph-per-line text it is.
    wrapped = _hard_wrapped(text, spans)
    trimmed: list[tuple[int, int]] = []
    for index, (start, end) in enumerate(spans):
        start = _skip_headings(text, start, end, single_breaks=index == 0 and not wrapped)
        header = _DATESTAMP.match(text, start, end)
        if header:
            start = header.end()
        if start < end:
            trimmed.append((start, end))
    kept = [(s, e) for s, e in trimmed if word_count(text[s:e]) >= MIN_WORDS]
    # An article made only of fragments still gets an answer rather than nothing.
    return kept or trimmed


def _hard_wrapped(text: str, spans: list[tuple[int, int]]) -> bool:
    """True unless the text is one paragraph per line (no sentence after the first wraps)."""
    return len(spans) < 2 or any(has_line_break(text, s, e) for s, e in spans[1:])


def _skip_headings(text: str, start: int, end: int, *, single_breaks: bool) -> int:
    """Start of the sentence proper, past leading lines that are titles, bylines or datelines.

    split_sentences only splits at terminal punctuation, so a headline or byline without
    one ends up glued to the sentence after it. A line without terminal punctuation before
    a paragraph break is always such a line; before a single line break only at the top of
    an article that is not hard-wrapped (`single_breaks`).
    """
    pos = start
    while True:
        newline = text.find("\n", pos, end)
        if newline == -1:
            return pos
        line = text[pos:newline].strip()
        nxt = newline
        while nxt < end and text[nxt].isspace():
            nxt += 1
        if nxt >= end or not line or is_complete_sentence(line) or line.endswith(_CONTINUATION):
            return pos
        paragraph = text.count("\n", newline, nxt) > 1
        starts_sentence = text[nxt].isupper() or text[nxt].isdigit() or text[nxt] in _OPENERS
        if not (paragraph or (single_breaks and starts_sentence)):
            return pos
        pos = nxt


def _quote_units(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int] | None]:
    """For each sentence, the sentences (first, last) of the quotation unit it belongs to.

    A sentence whose double quotes balance within itself is its own unit, (i, i). One that
    opens a quotation closed in a later sentence, or sits inside one opened earlier, belongs
    to the unit from the sentence with the opening mark to the one with the closing mark
    (which holds the attribution in '"...," he said.'). None when the quotation is broken:
    never closed, or reaching outside the sentences at hand.
    """
    starts = [start for start, _ in spans]
    ends = [end for _, end in spans]
    units: list[tuple[int, int] | None] = [(i, i) for i in range(len(spans))]
    groups: list[tuple[int, int]] = []
    for opening, closing, closed in _quotations(text, _hard_wrapped(text, spans)):
        # The sentences the quotation overlaps (spans are sorted and disjoint).
        first = bisect_right(ends, opening)
        last = bisect_left(starts, closing) - 1
        if first > last:
            continue  # in a skipped heading or fragment
        whole = closed and starts[first] <= opening and closing <= ends[last]
        if not whole:
            for index in range(first, last + 1):
                units[index] = None
        elif first < last:
            groups.append((first, last))
    # Quotations that share a sentence ('"A." "B. C," she said.') make one unit.
    merged: list[tuple[int, int]] = []
    for first, last in sorted(groups):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    for first, last in merged:
        whole = all(units[index] is not None for index in range(first, last + 1))
        for index in range(first, last + 1):
            units[index] = (first, last) if whole else None
    return units


def _quotations(text: str, wrapped: bool) -> list[tuple[int, int, bool]]:
    """Double-quoted stretches of `text` as (opening mark, after closing mark, closed).

    Curly quotes say which way they face; a straight one opens after a space, an opening
    bracket or dash, or at the start, and closes otherwise. News style runs a long quotation
    over paragraphs by leaving each one open and opening the next with a fresh mark, so a
    quotation continues across a paragraph break only into a paragraph that opens one; any
    other unclosed quotation ends, unclosed, at its paragraph's end. A paragraph ends at a
    blank line, or at any line break unless the text is hard-`wrapped`. A closing mark with
    nothing open is a quotation unclosed at its other end.
    """
    found: list[tuple[int, int, bool]] = []
    opened: int | None = None
    continuing = False  # a paragraph break passed while a quotation was open
    for match in _QUOTE_OR_BREAK.finditer(text):
        pos = match.start()
        mark = match.group()
        if mark.startswith("\n"):
            if opened is not None and (mark.count("\n") > 1 or not wrapped):
                nxt = match.end()
                while nxt < len(text) and text[nxt].isspace():
                    nxt += 1
                if nxt < len(text) and text[nxt] in '"“':
                    continuing = True
                else:
                    found.append((opened, pos, False))
                    opened = None
            continue
        before = text[pos - 1] if pos else " "
        if mark == "“" or (mark == '"' and (before.isspace() or before in _BEFORE_OPENING)):
            if opened is None:
                opened = pos
            elif not continuing:
                # An opening mark inside an open quotation: one of them is stray.
                found.append((opened, pos, False))
                opened = pos
            continuing = False
        elif opened is None:
            found.append((pos, pos + 1, False))
        else:
            found.append((opened, pos + 1, True))
            opened = None
            continuing = False
    if opened is not None:
        found.append((opened, len(text), False))
    return found


def _ranking(
    text: str, lead: int, title: str | None = None
) -> tuple[list[tuple[int, int]], list[int]]:
    """The candidate sentences (the head of a very long text) and their indexes, best first
    by the scorer with the lead floor on the first `lead`, repeats left out."""
    spans = candidate_spans(text)
    if not spans:
        return [], []
    order = active_scorer().order(sentence_features(text, spans, title), lead)
    return spans, _distinct(text, spans, order)


def candidate_spans(text: str) -> list[tuple[int, int]]:
    """The sentences the scorer ranks: the candidates of the article's head (training.py
    labels and fits on exactly these)."""
    return _candidates(text)[:MAX_RANKED_SENTENCES]


def ranked_sentences(text: str, title: str | None = None) -> list[Span]:
    """Every candidate sentence of the article, best first, page furniture left out (what
    the model reads of an article longer than its window); the lead-3 floor applies."""
    spans, order = _ranking(text, LEAD_FLOOR, title)
    return [
        _span(text, *spans[i]) for i in order if not _BOILERPLATE.search(text[slice(*spans[i])])
    ]
