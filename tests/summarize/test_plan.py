"""The plan of one article: what each map-reduce level reads, with the tiny BART's tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.models import Backend, Generation
from nutgraf.summarize import Article, ArticlePlan
from nutgraf.summarize.plan import CHUNK_LENGTH, MAX_REDUCE_LEVELS, TOKEN_BUDGETS, chunk

SENTENCES = [
    "Shares of the company rose 3.5 percent after it reported higher quarterly profits.",
    "Mr. Smith told reporters that the U.S. government would review the decision.",
    "Residents were told to boil water after the main pipe burst on Monday morning.",
]
LONG_TEXT = " ".join(SENTENCES * 6)
BUDGET = 126  # the tiny BART's window less its two special tokens
CHUNK_BUDGET = 126


@pytest.fixture(scope="module")
def backend(tiny_bart_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """The tiny BART's backend (its tokenizer is all a plan uses)."""
    spec = models.resolve(str(tiny_bart_dir))
    return models.backend_for(models.load(spec, "cpu", tmp_path_factory.mktemp("cache")))


def plan_for(backend: Backend, text: str, **options: object) -> ArticlePlan:
    article = Article(text, title="Markets", options=SummaryOptions(**options))  # type: ignore[arg-type]
    return ArticlePlan.start(article, backend, BUDGET)


def test_a_long_article_is_read_in_chunks(backend: Backend) -> None:
    plan = plan_for(backend, f"  {LONG_TEXT}\n", length="headline")
    assert plan.stats.characters == len(LONG_TEXT) + 3  # the article as sent
    assert plan.stats.tokens == backend.count(LONG_TEXT) > BUDGET  # the text, stripped
    passes = plan.step(0, backend, CHUNK_BUDGET)
    assert not plan.done
    assert len(passes) == len(plan.chunks) == plan.stats.chunks >= 2
    expected_new = max(16, min(TOKEN_BUDGETS[CHUNK_LENGTH][1], CHUNK_BUDGET // 6, BUDGET // 2))
    for p, text in zip(passes, plan.chunks, strict=True):
        assert (p.body, p.title, p.length, p.format) == (text, "Markets", CHUNK_LENGTH, "paragraph")
        assert p.max_new == expected_new and not p.partials and not p.safe
    assert " ".join(plan.chunks) == LONG_TEXT  # every sentence once, in order


def test_the_joined_partials_are_the_next_levels_text(backend: Backend) -> None:
    plan = plan_for(backend, LONG_TEXT, length="short")
    passes = plan.step(0, backend, CHUNK_BUDGET)
    partials = [Generation(f"Part {i} was summarized. Dangling", 5) for i in range(len(passes))]
    plan.read(partials)
    assert plan.text == "\n\n".join(f"Part {i} was summarized." for i in range(len(passes)))
    (final,) = plan.step(1, backend, CHUNK_BUDGET)
    assert plan.done and plan.final is final
    assert final.partials and final.body == plan.text and final.length == "short"
    assert plan.stats.truncated is False and plan.stats.chunks == len(passes)
    plan.read([Generation("The summary.", 3)])
    assert plan.output == Generation("The summary.", 3)


def test_no_progress_ends_the_reduce_truncated(backend: Backend) -> None:
    plan = plan_for(backend, LONG_TEXT)
    passes = plan.step(0, backend, CHUNK_BUDGET)
    plan.read([Generation(LONG_TEXT, 80) for _ in passes])  # partials longer than the input
    (final,) = plan.step(1, backend, CHUNK_BUDGET)
    assert final.partials and plan.stats.truncated is True


def test_the_last_level_is_final_whatever_the_size(backend: Backend) -> None:
    plan = plan_for(backend, LONG_TEXT)
    (final,) = plan.step(MAX_REDUCE_LEVELS, backend, CHUNK_BUDGET)
    assert plan.done and plan.stats.truncated is True and final.body == LONG_TEXT


def test_truncate_reads_the_article_once(backend: Backend) -> None:
    plan = plan_for(backend, LONG_TEXT, truncate=True, format="bullets")
    (final,) = plan.step(0, backend, CHUNK_BUDGET)
    assert (final.body, final.format, final.partials) == (LONG_TEXT, "bullets", False)
    assert plan.stats.truncated is True and plan.stats.chunks == 1


def test_a_short_article_is_one_final_pass(backend: Backend) -> None:
    plan = plan_for(backend, "Storms flooded two towns on Monday.")
    (final,) = plan.step(0, backend, CHUNK_BUDGET)
    assert plan.stats.truncated is False and not final.partials


def test_chunks_keep_to_the_budget_and_cut_an_enormous_sentence(backend: Backend) -> None:
    table = "Rows " + " ".join(["row"] * 100)  # one "sentence" of 200 tokens, no full stop
    chunks = chunk(f"{SENTENCES[0]} {table}", 50, backend)  # the first sentence has 39
    assert chunks[0] == SENTENCES[0]
    assert len(chunks) >= 5
    assert all(backend.count(c) <= 50 for c in chunks)
