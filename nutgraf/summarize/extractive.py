"""Extractive summaries as results: the article's own most central sentences, no model."""

from __future__ import annotations

from nutgraf.contract import Checks, InputStats, SentenceSupport, SummaryResult
from nutgraf.summarize.article import Article
from nutgraf.summarize.shaping import join_units


def summarize_extractive(article: Article) -> SummaryResult:
    """The article's own most central sentences, with their offsets; no model involved."""
    # Imported on use: the ranking needs numpy, which the API loads only for this mode.
    from nutgraf.summarize.textrank import extract

    options = article.options
    spans = extract(article.text, options.length, options.max_words)
    texts = [span.text for span in spans]
    bullets = texts if options.format == "bullets" else None
    return SummaryResult(
        summary=join_units(texts, options.format),
        bullets=bullets,
        sentences=spans,
        input=InputStats(characters=len(article.text), tokens=None, chunks=1),
        checks=Checks(),
        # Each sentence is the article's own: it is its support.
        provenance=[SentenceSupport(text=span.text, support=[span]) for span in spans],
    )
