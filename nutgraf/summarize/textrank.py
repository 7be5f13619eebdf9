"""Extractive ranking: the article's most central sentences by TextRank with a lead prior.

No model and no GPU. Sentences come from nutgraf.text.split_sentences, so every returned
Span satisfies span.text == article[span.start:span.end] exactly.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import numpy.typing as npt

from nutgraf.contract import HEADLINE_MAX_WORDS, Length, Span
from nutgraf.text import is_complete_sentence, normalize, split_sentences, word_count

# Sentences per length, inside SENTENCE_RANGES: extracted sentences are whole and often
# long, so the low end, except short, where one sentence is a headline, not a summary.
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

# Weight of the lead prior in the final score (1 - LEAD_WEIGHT goes to centrality). News
# puts the key facts first, so position matters, but not so much that a central sentence
# from paragraph three loses to a scene-setting second sentence.
LEAD_WEIGHT: Final = 0.3
# The lead prior halves every LEAD_HALF_LIFE sentences: 1, 0.79, 0.63, 0.5, ...
LEAD_HALF_LIFE: Final = 3.0

# PageRank: the usual damping; tolerance on the L1 change, and a cap so that a graph that
# converges slowly still answers in bounded time.
DAMPING: Final = 0.85
TOLERANCE: Final = 1e-6
MAX_ITERATIONS: Final = 100
# The similarity graph is quadratic in sentences. 500 sentences is ~10,000 words; anything
# later in a news article is rarely summary material, so longer texts rank only their head.
MAX_RANKED_SENTENCES: Final = 500
# Scores are rounded before sorting so that float noise never reorders near-ties; ties go to
# the earlier sentence.
_SCORE_DECIMALS: Final = 9

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_POSSESSIVE = re.compile(r"['’]s$")
_PARAGRAPH_BREAK = re.compile(r"\n(?:[^\S\n]*\n)+")
# A line ending like this continues into the next one ("He said:\n\n'...'").
_CONTINUATION = (":", ",", ";", "-", "—", "–", "(")
_OPENERS = "\"'“‘«([—-"

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
_STOPWORDS: Final = frozenset(_STOPWORD_LIST.split())


def extract(text: str, length: Length = "medium", max_words: int | None = None) -> list[Span]:
    """The article's most central sentences for `length`, in article order."""
    if length not in SENTENCES_PER_LENGTH:
        raise ValueError(f"unknown length: {length!r}")
    spans = _candidates(text)
    if not spans:
        return []
    ranked = spans[:MAX_RANKED_SENTENCES]
    words = [word_count(text[start:end]) for start, end in ranked]
    order = _distinct(text, ranked, _rank([text[start:end] for start, end in ranked]))

    chosen: list[int] = []
    if length == "headline":
        limit = HEADLINE_MAX_WORDS if max_words is None else min(HEADLINE_MAX_WORDS, max_words)
        best = order[0]
        chosen = [next((i for i in order[:HEADLINE_CANDIDATES] if words[i] <= limit), best)]
    else:
        total = 0
        for index in order[: SENTENCES_PER_LENGTH[length]]:
            # The best sentence always goes in, even alone over the cap: an empty summary
            # helps no one, and cutting a sentence would break the offsets contract.
            if chosen and max_words is not None and total + words[index] > max_words:
                break
            chosen.append(index)
            total += words[index]
    return [_span(text, *ranked[i]) for i in sorted(chosen)]


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
    wrapped = len(spans) < 2 or any(_has_line_break(text, s, e) for s, e in spans[1:])
    trimmed: list[tuple[int, int]] = []
    for index, (start, end) in enumerate(spans):
        start = _skip_headings(text, start, end, single_breaks=index == 0 and not wrapped)
        if start < end:
            trimmed.append((start, end))
    kept = [(s, e) for s, e in trimmed if word_count(text[s:e]) >= MIN_WORDS]
    # An article made only of fragments still gets an answer rather than nothing.
    return kept or trimmed


def _has_line_break(text: str, start: int, end: int) -> bool:
    """True when the span holds a line break that is not a paragraph break."""
    return "\n" in _PARAGRAPH_BREAK.sub(" ", text[start:end])


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


def _rank(sentences: list[str]) -> list[int]:
    """Sentence indices, best first: TextRank centrality mixed with a lead prior."""
    count = len(sentences)
    if count == 1:
        return [0]
    vectors = _tfidf([_tokens(sentence) for sentence in sentences])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0.0)
    centrality = _pagerank(similarity)
    centrality = centrality / centrality.max()
    prior = 0.5 ** (np.arange(count) / LEAD_HALF_LIFE)
    scores = (1.0 - LEAD_WEIGHT) * centrality + LEAD_WEIGHT * prior
    rounded = [round(float(score), _SCORE_DECIMALS) for score in scores]
    return sorted(range(count), key=lambda i: (-rounded[i], i))


def _tokens(sentence: str) -> list[str]:
    """Lowercased content words, possessives and plain plurals folded ("NATO's" -> "nato")."""
    tokens: list[str] = []
    for word in _WORD.findall(sentence.lower()):
        word = _POSSESSIVE.sub("", word)
        if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        # A crude plural fold: "soldiers" and "soldier" should count as the same word; the
        # few words it mangles ("crisis" -> "crisi") are mangled the same way everywhere.
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        tokens.append(word)
    return tokens


def _tfidf(documents: list[list[str]]) -> npt.NDArray[np.float64]:
    """L2-normalized TF-IDF rows, one per sentence.

    Cosine of TF-IDF rather than TextRank's original overlap (shared words over the log of
    the lengths): the cosine is properly length-normalized, so long quote-laden sentences do
    not become hubs, and IDF keeps words that appear everywhere from linking everything.
    Smooth IDF (never below 1) keeps the article's topic words, which are in most
    sentences, counting towards centrality.
    """
    vocabulary: dict[str, int] = {}
    for document in documents:
        for token in document:
            vocabulary.setdefault(token, len(vocabulary))
    matrix = np.zeros((len(documents), max(len(vocabulary), 1)), dtype=np.float64)
    for row, document in enumerate(documents):
        for token in document:
            matrix[row, vocabulary[token]] += 1.0
    present = matrix > 0
    # Sublinear TF: a word said three times in one sentence is not three times the topic.
    matrix[present] = 1.0 + np.log(matrix[present])
    frequency = present.sum(axis=0)
    matrix *= np.log((1.0 + len(documents)) / (1.0 + frequency)) + 1.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _pagerank(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Stationary scores of a random walk on the weighted graph, by power iteration."""
    count = weights.shape[0]
    out_weight = weights.sum(axis=1)
    linked = out_weight > 0
    transition = np.divide(
        weights, out_weight[:, None], out=np.zeros_like(weights), where=linked[:, None]
    )
    scores = np.full(count, 1.0 / count)
    for _ in range(MAX_ITERATIONS):
        # A sentence sharing no word with any other passes its score on uniformly.
        dangling = scores[~linked].sum()
        updated = (1.0 - DAMPING) / count + DAMPING * (transition.T @ scores + dangling / count)
        change = float(np.abs(updated - scores).sum())
        scores = updated
        if change < TOLERANCE:
            break
    return scores
