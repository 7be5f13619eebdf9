"""Sentence features for the learned scorer: position, length, centrality, overlap, density.

Numpy only, no model: the worker computes them for every extractive summary and for every
article longer than the model's window. The names and their order are FEATURES; the shipped
weights (scorer.json) are in the same order, and scorer.py checks that they agree.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import numpy.typing as npt

from nutgraf.text import STOPWORDS, word_count

FEATURES: Final = (
    "first",  # the article's first sentence
    "lead3",  # one of the first three (lead-3, the baseline to beat)
    "position",  # index / (sentences - 1): where in the article, whatever its length
    "log_index",  # log(1 + index): the first few positions differ most
    "log_words",  # log(words): long sentences carry more of the reference's words
    "log_words_sq",  # (log words - log 20)^2: captions and run-on lists are both poor
    "centrality",  # PacSum forward centrality, min-max scaled within the article
    "centroid",  # cosine to the article's TF-IDF centroid
    "title_overlap",  # share of the title's content words in the sentence (0 without one)
    "lead_overlap",  # share of the sentence's content words also in the lead (itself aside)
    "capitalized",  # share of words after the first that are capitalized: names, places
    "numbers",  # share of words with a digit: figures, dates, ages
    "quote",  # holds a double quotation mark
    "pure_quote",  # is one quotation and nothing else: no one says it
    "question",  # ends with a question mark
    "paragraph_start",  # opens a paragraph (or the article)
)
# The sentences that make up "the lead" for lead_overlap and lead3.
LEAD_SENTENCES: Final = 3
# Length the squared term is centred on: a typical news sentence.
_TYPICAL_WORDS: Final = 20.0

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_POSSESSIVE = re.compile(r"['’]s$")
_CLOSING_MARKS = "\"'”’)]»"
_PURE_QUOTATION = re.compile(r'["“][^"“”]*["”]\Z')
_SPACE_WORD = re.compile(r"\S+")

Matrix = npt.NDArray[np.float64]


def tokens(sentence: str) -> list[str]:
    """Lowercased content words, possessives and plain plurals folded ("NATO's" -> "nato")."""
    found: list[str] = []
    for word in _WORD.findall(sentence.lower()):
        word = _POSSESSIVE.sub("", word)
        if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        # A crude plural fold: "soldiers" and "soldier" should count as the same word; the
        # few words it mangles ("crisis" -> "crisi") are mangled the same way everywhere.
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found


def tfidf(documents: list[list[str]]) -> Matrix:
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


def sentence_features(text: str, spans: list[tuple[int, int]], title: str | None = None) -> Matrix:
    """One row of FEATURES per span of `text` (the article's candidate sentences, in order)."""
    count = len(spans)
    rows = np.zeros((count, len(FEATURES)), dtype=np.float64)
    if not count:
        return rows
    sentences = [text[start:end] for start, end in spans]
    words = [_SPACE_WORD.findall(sentence) for sentence in sentences]
    bags = [tokens(sentence) for sentence in sentences]
    vectors = tfidf(bags)
    # PacSum's forward direction (Zheng & Lapata, 2019): a sentence's summed similarity to
    # the sentences after it. News states a fact, then elaborates: later sentences echo the
    # one that introduced it.
    centrality = np.triu(vectors @ vectors.T, k=1).sum(axis=1)
    spread = centrality.max() - centrality.min()
    centrality = (centrality - centrality.min()) / spread if spread > 0 else centrality * 0.0
    centroid = vectors.sum(axis=0)
    norm = np.linalg.norm(centroid)
    centroid_cosine = vectors @ (centroid / norm) if norm > 0 else np.zeros(count)
    title_words = set(tokens(title)) if title else set()
    lead_counts: dict[str, int] = {}
    for bag in bags[:LEAD_SENTENCES]:
        for token in set(bag):
            lead_counts[token] = lead_counts.get(token, 0) + 1
    index = np.arange(count, dtype=np.float64)
    rows[:, 0] = index == 0
    rows[:, 1] = index < LEAD_SENTENCES
    rows[:, 2] = index / max(count - 1, 1)
    rows[:, 3] = np.log1p(index)
    lengths = np.array([max(word_count(sentence), 1) for sentence in sentences], dtype=float)
    rows[:, 4] = np.log(lengths)
    rows[:, 5] = (np.log(lengths) - np.log(_TYPICAL_WORDS)) ** 2
    rows[:, 6] = centrality
    rows[:, 7] = centroid_cosine
    for i, (start, sentence) in enumerate(zip((s for s, _ in spans), sentences, strict=True)):
        unique = set(bags[i])
        if title_words:
            rows[i, 8] = len(unique & title_words) / len(title_words)
        if unique:
            own = i < LEAD_SENTENCES
            # A lead sentence's own words are not evidence that the lead repeats them.
            shared = sum(1 for t in unique if lead_counts.get(t, 0) > (1 if own else 0))
            rows[i, 9] = shared / len(unique)
        rest = words[i][1:]
        if rest:
            rows[i, 10] = sum(w.lstrip("\"'“‘(")[:1].isupper() for w in rest) / len(rest)
        if words[i]:
            rows[i, 11] = sum(any(c.isdigit() for c in w) for w in words[i]) / len(words[i])
        rows[i, 12] = any(mark in sentence for mark in '"“”')
        rows[i, 13] = bool(_PURE_QUOTATION.match(sentence))
        rows[i, 14] = sentence.rstrip(_CLOSING_MARKS).endswith("?")
        before = text[:start].rstrip(" \t")
        rows[i, 15] = not before.strip() or before.endswith("\n")
    return rows
