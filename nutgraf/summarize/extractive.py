"""Extractive summaries as results: the article's own best-scored sentences, no model."""

from __future__ import annotations

from nutgraf.contract import Checks, InputStats, SentenceSupport, SummaryResult
from nutgraf.summarize.article import Article
from nutgraf.summarize.shaping import join_units
from nutgraf.text import is_complete_sentence


def summarize_extractive(article: Article) -> SummaryResult:
    """The article's own best-scored sentences, with their offsets; no model involved."""
    # Imported on use: the ranking needs numpy, which the API loads only for this mode.
    from nutgraf.summarize.textrank import extract

    options = article.options
    spans = extract(article.text, options.length, options.max_words, article.title)
    # A headline may be a sentence's opening clause: closed with a full stop.
    texts = [
        span.text if is_complete_sentence(span.text) else span.text.rstrip(",;:-—– ") + "."
        for span in spans
    ]
    bullets = texts if options.format == "bullets" else None
    return SummaryResult(
        summary=join_units(texts, options.format),
        bullets=bullets,
        sentences=spans,
        input=InputStats(characters=len(article.text), tokens=None, chunks=1),
        checks=Checks(),
        # Each sentence is the article's own: it is its support.
        provenance=[
            SentenceSupport(text=sentence, support=[span])
            for sentence, span in zip(texts, spans, strict=True)
        ],
    )
