"""Plain-text helpers: normalization for cache keys, sentence splitting, clean endings."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# English function words, plus news reporting verbs: "said" is in half the sentences of any
# article and would wire unrelated sentences together.
_STOPWORD_LIST: Final = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves one may might must shall us per via
    said says say saying told tells according added adds
"""
STOPWORDS: Final = frozenset(_STOPWORD_LIST.split())
_PARAGRAPH_BREAK = re.compile(r"\n(?:[^\S\n]*\n)+")

# Abbreviations that end with a period but rarely end a sentence in news copy.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sen",
        "rep",
        "gov",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "corp",
        "vs",
        "etc",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
    ]
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*")
_WHITESPACE = re.compile(r"\s+")
# Abbreviations only when a number follows ("No. 5"); otherwise ordinary words ("voted no.").
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "vol", "pp"})
_TERMINAL = (".", "!", "?", "…")
_CLOSERS = "\"'”’)]»"


def normalize(text: str) -> str:
    """Canonical form of a text for cache keys: NFKC, unified quotes, collapsed whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    # str.split() splits on exactly the characters `\s` matches (str.isspace), and faster
    # than re.sub: this runs on every submission, cache hits included.
    return " ".join(text.split())


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end exclusive) in `text`, whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = _skip_space(text, 0)
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end < len(text) and not text[end].isspace():
            continue  # "3.5", "U.S.-led": not a boundary
        nxt = _skip_space(text, end)
        if nxt < len(text) and not _starts_sentence(text[nxt]):
            continue
        if match.group() == "." and _is_abbreviation(text, match.start(), nxt):
            continue
        if end > start:
            spans.append((start, end))
        start = nxt
    tail_end = len(text.rstrip())
    if start < tail_end:
        spans.append((start, tail_end))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of `text`, in order."""
    return [text[s:e] for s, e in split_sentences(text)]


def is_complete_sentence(sentence: str) -> bool:
    """True when the sentence ends with terminal punctuation."""
    return sentence.rstrip().rstrip(_CLOSERS).endswith(_TERMINAL)


def clean_summary(text: str) -> str:
    """Drop a dangling last fragment and repeated sentences; keep the model's wording."""
    kept: list[str] = []
    seen: set[str] = set()
    for sentence in sentences(text.strip()):
        key = normalize(sentence).lower()
        if key in seen:
            continue
        seen.add(key)
        kept.append(_WHITESPACE.sub(" ", sentence).strip())
    while len(kept) > 1 and not is_complete_sentence(kept[-1]):
        kept.pop()
    if kept and not is_complete_sentence(kept[-1]):
        # A lone fragment is still better than nothing; close it honestly.
        kept[-1] = kept[-1].rstrip(",;:- ") + "."
    return " ".join(kept)


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in "\"'“‘([—-"


def _is_abbreviation(text: str, dot: int, next_start: int) -> bool:
    word_start = dot
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot].lower()
    if word in _ABBREVIATIONS:
        return True
    if word in _NUMBER_ABBREVIATIONS:
        return next_start < len(text) and text[next_start].isdigit()
    # Single capital initials ("John F. Kennedy").
    return len(word) == 1 and text[word_start].isupper()


def has_line_break(text: str, start: int, end: int) -> bool:
    """True when the span holds a line break that is not a paragraph break."""
    return "\n" in _PARAGRAPH_BREAK.sub(" ", text[start:end])


def source_text(text: str, title: str | None) -> str:
    """What a summary may draw on: the title, if any, and the article's text."""
    return f"{title}\n{text}" if title else text
