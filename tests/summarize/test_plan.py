"""What the model reads of an article: all of it, or its most salient sentences in article
order, counted with the tiny BART's tokens."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.models import Backend
from nutgraf.summarize import Article, Reading, read_article
from nutgraf.summarize.plan import select_sentences
from nutgraf.summarize.textrank import ranked_sentences
from nutgraf.text import sentences

# A story whose facts repeat in its lead and its middle, with page furniture and an aside.
STORY = (
    "Flood waters forced 2,000 residents of Riverton from their homes on Monday. "
    "The river rose four metres overnight after three days of heavy rain. "
    "Scroll down for video. "
    "A local bakery gave away bread to volunteers. "
    "Officials said the Riverton flood defences held until the river rose past them. "
    "The mayor of Riverton said residents could return once the flood waters fell.\n\n"
    "The town last flooded in 1998, when a bridge was washed away. "
    "Weather forecasters expect more rain in Riverton on Thursday."
)
BUDGET = 126  # the tiny BART's window less its two special tokens


@pytest.fixture(scope="module")
def backend(tiny_bart_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """The tiny BART's backend (its tokenizer is all a reading uses)."""
    spec = models.resolve(str(tiny_bart_dir))
    return models.backend_for(models.load(spec, "cpu", tmp_path_factory.mktemp("cache")))


def read(backend: Backend, text: str, budget: int = BUDGET, **options: object) -> Reading:
    article = Article(text, title="Floods", options=SummaryOptions(**options))  # type: ignore[arg-type]
    return read_article(article, budget, backend.count, backend.fit)


def test_an_article_that_fits_is_read_whole(backend: Backend) -> None:
    reading = read(backend, f"  {STORY}\n", budget=1000)
    assert reading.body == STORY
    stats = reading.stats
    assert stats.characters == len(STORY) + 3 and stats.tokens == backend.count(STORY)
    assert not stats.selected and not stats.truncated and stats.chunks == 1


def test_a_long_article_is_read_as_its_best_sentences_in_article_order(backend: Backend) -> None:
    budget = backend.count(STORY) // 2
    reading = read(backend, STORY, budget=budget)
    body = reading.body
    assert reading.stats.selected and not reading.stats.truncated
    assert backend.count(body) <= budget
    chosen = sentences(body)
    article = sentences(STORY)
    assert chosen and set(chosen) < set(article)
    # In the article's order, whatever their rank.
    assert chosen == [s for s in article if s in chosen]
    assert "Scroll down for video." not in chosen  # page furniture is never read
    # The best-ranked sentence that fits is always among them.
    best = next(s.text for s in ranked_sentences(STORY) if backend.count(s.text) < budget)
    assert best in chosen


def test_sentences_that_were_not_neighbours_are_separated_by_a_paragraph_break(
    backend: Backend,
) -> None:
    article = sentences(STORY)
    body = select_sentences(STORY, backend.count(STORY) // 2, backend.count)
    chosen = sentences(body)
    for left, right in itertools.pairwise(chosen):
        neighbours = article.index(right) == article.index(left) + 1
        gap = body[body.index(left) + len(left) : body.index(right)]
        if neighbours and "\n\n" not in STORY[STORY.index(left) : STORY.index(right)]:
            assert gap == " "
        else:
            assert gap == "\n\n"


def test_truncate_reads_the_beginning(backend: Backend) -> None:
    reading = read(backend, STORY, budget=40, truncate=True)
    assert STORY.startswith(reading.body.rstrip())
    assert reading.stats.truncated and not reading.stats.selected
    assert backend.count(reading.body) <= 40


def test_one_enormous_sentence_is_cut_to_the_window(backend: Backend) -> None:
    table = "Rows " + " ".join(["row"] * 300)  # one "sentence" of 300 tokens, no full stop
    reading = read(backend, table, budget=50)
    assert reading.stats.truncated and backend.count(reading.body) <= 50
