"""Any summary checked against its article, sentence by sentence: the checks the worker runs
on a model's summary (verify.py), for a summary an editor wrote or another model made.

Each sentence gets its provenance (the article sentences that state it) and its problems,
each with the words at fault: `unsupported` (names and numbers the article lacks),
`reversed` (it says the opposite of its support), `meta_talk` (talk about the text) and
`off_topic` (few of the article's words). Lexical and model-free: the API runs it.
"""

from __future__ import annotations

import re
from typing import Final

from nutgraf.contract import CheckBody, CheckedSentence, Problem, ProblemKind
from nutgraf.summarize.provenance import support_for
from nutgraf.summarize.verify import (
    MIN_ARTICLE_WORDS,
    article_word_share,
    foreign_words,
    meta_talk_words,
)
from nutgraf.text import sentences, source_text

# The order problems are listed in, each sentence's and the union's.
KINDS: Final[tuple[ProblemKind, ...]] = ("unsupported", "reversed", "meta_talk", "off_topic")
_BULLET: Final = re.compile(r"^\s*(?:[-*•·–]|\d+[.)])\s+")


def summary_sentences(summary: str) -> list[str]:
    """The sentences of a summary written as a paragraph or as a list, markers dropped."""
    units: list[str] = []
    for line in summary.splitlines():
        line = _BULLET.sub("", line).strip()
        if line:
            units.extend(sentences(line))
    return units


def check_summary(article: str, summary: str, title: str | None = None) -> CheckBody:
    """Every sentence of `summary` with its support in `article` and its problems."""
    # Imported on use: its patterns take a while to compile.
    from nutgraf.summarize.faithfulness import Support, unsupported_in
    from nutgraf.summarize.faithfulness.polarity import reversed_words

    units = summary_sentences(summary)
    source = source_text(article, title)
    facts = Support(article, title)
    article_sentences = sentences(article)
    # Off topic is the whole summary's verdict, as in verify(); each sentence names its part.
    off_topic = article_word_share(" ".join(units), source) < MIN_ARTICLE_WORDS
    checked: list[CheckedSentence] = []
    for provenance in support_for(units, article, title):
        unit = provenance.text
        problems: list[Problem] = []
        unsupported = unsupported_in(unit, facts)
        if unsupported:
            problems.append(Problem(kind="unsupported", words=unsupported))
        turned = reversed_words(unit, [span.text for span in provenance.support], article_sentences)
        if turned:
            problems.append(Problem(kind="reversed", words=turned))
        talk = meta_talk_words(unit, source)
        if talk:
            problems.append(Problem(kind="meta_talk", words=talk))
        foreign = foreign_words(unit, source) if off_topic else []
        if foreign:
            problems.append(Problem(kind="off_topic", words=foreign))
        checked.append(CheckedSentence(text=unit, support=provenance.support, problems=problems))
    found = {problem.kind for sentence in checked for problem in sentence.problems}
    return CheckBody(sentences=checked, problems=[kind for kind in KINDS if kind in found])
