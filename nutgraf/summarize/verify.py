"""The checks a model's summary must pass before an editor sees it; one that fails them
twice is replaced by the extractive summary (abstractive.py), and the job says why.

Each check is cheap and lexical: names and numbers the article lacks (faithfulness/), talk
about the text rather than the news ("This article discusses..."), a summary that shares few
words with its article (another language, another story), a sentence that says the opposite
of the article sentences that support it (faithfulness/polarity.py), a sentence stitched
from pieces of different article sentences into a claim none of them makes
(faithfulness/stitching.py), and the sentence count the length promises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from nutgraf.contract import SENTENCE_RANGES, SummaryOptions
from nutgraf.text import sentences, source_text

# Share of a summary's content words its article must hold; below it the summary is about
# something else or in another language. Grounded summaries sit near 1.0; the off-topic
# ones seen on the dev set were under 0.5.
MIN_ARTICLE_WORDS: Final = 0.75
# Talk about the text instead of the news. A phrase the article itself uses is not talk.
META_TALK: Final = re.compile(
    r"\b(?:(?:this|the|that|above|previous|following|given) "
    r"(?:article|story|text|passage|piece|report|summary|excerpt|news article)"
    r"|summar(?:y|ies|ize[sd]?|ise[sd]?|izing|ising)|the author|as an ai|in conclusion)\b",
    re.IGNORECASE,
)
# Function words, left out of the overlap: "the" and "said" are in every language's news
# translated to English, and in every story.
_FUNCTION_LIST: Final = """
    a an the and or but so of in on at to for from by with about as into over after before
    is are was were be been has have had do does did will would can could may might it its
    he his him she her they their them we our us you your i this that these those there
    who which what when where how not no also than then said says told
"""
_FUNCTION: Final = frozenset(_FUNCTION_LIST.split())
_WORD: Final = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True)
class Verdict:
    """What the checks found in one summary: its problem (None: it passes) and the
    unsupported names and numbers it states."""

    problem: str | None
    unsupported: list[str]


def verify(units: list[str], article: str, title: str | None, options: SummaryOptions) -> Verdict:
    """Check a shaped summary against its article and the options it was asked with."""
    # Imported on use: its patterns take a while to compile and the API never checks.
    from nutgraf.summarize.faithfulness import unsupported_items

    summary = " ".join(units)
    if not units or not summary.strip():
        return Verdict("empty", [])
    unsupported = unsupported_items(summary, article, title)
    source = source_text(article, title)
    if meta_talk(summary, source):
        return Verdict("meta_talk", unsupported)
    if article_word_share(summary, source) < MIN_ARTICLE_WORDS:
        return Verdict("off_topic", unsupported)
    if unsupported:
        return Verdict("unsupported", unsupported)
    if stitched_pieces(units, article):
        return Verdict("stitched", unsupported)
    if reversed_claims(units, article, title):
        return Verdict("reversed", unsupported)
    low, high = SENTENCE_RANGES[options.length]
    # A max_words cap may leave room for fewer sentences than the length's floor.
    if len(units) > high or (len(units) < low and options.max_words is None):
        return Verdict("length", unsupported)
    return Verdict(None, unsupported)


def stitched_pieces(units: list[str], article: str) -> list[str]:
    """The pieces of the summary's sentences that stitch the article's words into a claim it
    does not make (faithfulness/stitching.py)."""
    from nutgraf.summarize.faithfulness.stitching import ArticleWords, stitched_words

    words = ArticleWords.of(article)
    return [piece for unit in units for piece in stitched_words(unit, words)]


def reversed_claims(units: list[str], article: str, title: str | None) -> list[str]:
    """The words of the summary's sentences that say the opposite of the article sentences
    that support them (faithfulness/polarity.py)."""
    from nutgraf.summarize.faithfulness.polarity import reversed_words
    from nutgraf.summarize.provenance import support_for

    article_sentences = sentences(article)
    words: list[str] = []
    for supported in support_for(units, article, title):
        spans = [span.text for span in supported.support]
        words.extend(reversed_words(supported.text, spans, article_sentences))
    return words


def meta_talk(summary: str, source: str) -> bool:
    """True when the summary talks about the text ("the article", "this summary") in words
    the article does not use itself."""
    return bool(meta_talk_words(summary, source))


def meta_talk_words(summary: str, source: str) -> list[str]:
    """The summary's talk about the text, in words the article does not use itself."""
    lowered = source.lower()
    return [m.group(0) for m in META_TALK.finditer(summary) if m.group(0).lower() not in lowered]


def foreign_words(summary: str, source: str) -> list[str]:
    """The summary's content words that the source lacks, in any plain inflection."""
    held = set(_WORD.findall(source.lower()))
    found: list[str] = []
    for word in _WORD.findall(summary):
        if word.lower() not in _FUNCTION and not _held(word.lower(), held) and word not in found:
            found.append(word)
    return found


def article_word_share(summary: str, source: str) -> float:
    """Share of the summary's content words (lowercased) that the source holds; 1.0 for a
    summary without any."""
    words = [w for w in _WORD.findall(summary.lower()) if w not in _FUNCTION]
    if not words:
        return 1.0
    held = set(_WORD.findall(source.lower()))
    return sum(_held(word, held) for word in words) / len(words)


def _held(word: str, held: set[str]) -> bool:
    """The word, or a plain inflection of it ("protest" for "protesters"), is in the source."""
    if word in held:
        return True
    stem = re.sub(r"(?:'s|’s|s|es|ed|ing|ers?)$", "", word)
    return len(stem) >= 4 and any(h.startswith(stem) for h in held)
