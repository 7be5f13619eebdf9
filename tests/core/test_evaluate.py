"""nutgraf.evaluate and `nutgraf eval`: ROUGE, lead-3, length and ending checks, bad input."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from helpers import run_cli, run_on_a_terminal
from nutgraf.contract import Checks, InputStats, SummaryOptions, SummaryResult
from nutgraf.evaluate import (
    EvalInputError,
    EvalRecord,
    aggregate,
    ends_complete,
    evaluate,
    format_table,
    lead3,
    load_records,
    rouge,
    rouge_lines,
    summary_words,
    verbatim_units,
    within_length,
)
from nutgraf.summarize import Article, summarize_extractive
from nutgraf.summarize.textrank import lead
from nutgraf.text import sentences, word_count

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "eval-fixture.jsonl"
TYPES = ["rouge1", "rouge2", "rougeLsum"]


def reference_rouge(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean F1 x 100 straight from rouge-score; texts already one sentence per line."""
    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)
    scores = [scorer.score(ref, pred) for pred, ref in zip(predictions, references, strict=True)]
    return {t: 100 * sum(s[t].fmeasure for s in scores) / len(scores) for t in TYPES}


def result(summary: str, bullets: list[str] | None = None, unsupported: int = 0) -> SummaryResult:
    """A handmade engine result."""
    return SummaryResult(
        summary=summary,
        bullets=bullets,
        input=InputStats(characters=100, tokens=20),
        checks=Checks(unsupported=[f"item{i}" for i in range(unsupported)]),
    )


# --- the command on the fixture, against an independent computation ---------------------------


def test_eval_extractive_matches_rouge_score(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = run_cli("eval", str(FIXTURE), "--mode", "extractive", "--json", str(out))
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())

    records = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    options = SummaryOptions(mode="extractive")
    summaries = [summarize_extractive(Article(r["text"], r.get("title"), options)) for r in records]
    # The engine's own sentence spans, one per line, the form rougeLsum expects.
    predictions = ["\n".join(span.text for span in s.sentences or []) for s in summaries]
    references = ["\n".join(sentences(r["summary"])) for r in records]
    baseline = ["\n".join(span.text for span in lead(r["text"], n=3)) for r in records]
    system = reference_rouge(predictions, references)
    lead_3 = reference_rouge(baseline, references)

    assert figures["articles"] == len(records) == 7
    assert figures["options"]["mode"] == "extractive"
    for name in TYPES:
        assert figures[name] == pytest.approx(system[name], abs=1e-6)
        assert figures[f"lead3_{name}"] == pytest.approx(lead_3[name], abs=1e-6)
    mean_words = sum(word_count(s.summary) for s in summaries) / len(summaries)
    assert figures["mean_words"] == pytest.approx(mean_words)

    table = done.stdout
    assert "ROUGE-1 F1" in table and "lead-3" in table and "extractive" in table
    # Columns are separated by at least two spaces; labels hold single spaces only.
    rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", x) for x in table.splitlines())}
    assert rows["articles"] == ["7", "7"]
    assert rows["ROUGE-1 F1"] == [f"{system['rouge1']:.2f}", f"{lead_3['rouge1']:.2f}"]
    assert rows["ROUGE-2 F1"] == [f"{system['rouge2']:.2f}", f"{lead_3['rouge2']:.2f}"]
    assert rows["ROUGE-Lsum F1"] == [f"{system['rougeLsum']:.2f}", f"{lead_3['rougeLsum']:.2f}"]
    assert rows["mean words"] == [f"{mean_words:.1f}"]
    # No progress bar: stderr is not a terminal here (issue 15: bars in the JSON logs).
    assert "7/7" not in done.stderr and "7/7" not in table


def test_eval_shows_its_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    args = [sys.executable, "-m", "nutgraf.cli", "eval", str(FIXTURE), "--mode", "extractive"]
    done = run_on_a_terminal(args, env=env, cwd=ROOT, timeout_s=120)
    assert done.returncode == 0, done.stderr
    # The bar went to the terminal on stderr, not into the table.
    assert "7/7" in done.stderr and "7/7" not in done.stdout
    assert "ROUGE-1 F1" in done.stdout


def test_eval_limit_and_batch_size(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    options = ["--mode", "extractive", "--limit", "3", "--batch-size", "2", "--length", "short"]
    done = run_cli("eval", str(FIXTURE), *options, "--json", str(out))
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures["articles"] == 3
    assert figures["options"]["length"] == "short"


# --- aggregation on handmade predictions --------------------------------------------------------


def test_rouge_identical_and_disjoint() -> None:
    text = "The council approved the budget. Schools get more money."
    assert rouge([text], [text]) == pytest.approx(dict.fromkeys(TYPES, 100.0))
    assert rouge(["Rain fell all day."], [text]) == pytest.approx(dict.fromkeys(TYPES, 0.0))


def test_rouge_hand_computed() -> None:
    # Unigrams: prediction {the cat sat it ran}, reference {a cat sat the dog ran}: 4 shared,
    # P 4/5, R 4/6, F1 8/11. Bigrams: only "cat sat" shared, P 1/4, R 1/5, F1 2/9.
    scores = rouge(["The cat sat. It ran."], ["A cat sat. The dog ran."])
    assert scores["rouge1"] == pytest.approx(100 * 8 / 11)
    assert scores["rouge2"] == pytest.approx(100 * 2 / 9)


def test_rouge_is_the_mean_over_articles() -> None:
    first = rouge(["The cat sat."], ["The cat sat."])
    second = rouge(["Dogs bark loudly."], ["Cats purr quietly."])
    both = rouge(["The cat sat.", "Dogs bark loudly."], ["The cat sat.", "Cats purr quietly."])
    for name in TYPES:
        assert both[name] == pytest.approx((first[name] + second[name]) / 2)


def test_rouge_lsum_splits_sentences() -> None:
    assert rouge_lines("Prices rose. Wages fell.\n- Rents rose.") == (
        "Prices rose.\nWages fell.\n- Rents rose."
    )
    prediction = "Wages fell sharply. Prices rose."
    reference = "Prices rose. Wages fell sharply."
    # Summary-level LCS per sentence: order across sentences does not matter, unlike plain L.
    assert rouge([prediction], [reference])["rougeLsum"] == pytest.approx(100.0)
    direct = reference_rouge([rouge_lines(prediction)], [rouge_lines(reference)])
    assert rouge([prediction], [reference]) == pytest.approx(direct)


def test_rouge_rejects_mismatched_lists() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1"):
        rouge(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no predictions"):
        rouge([], [])


def test_lead3_is_first_three_sentences() -> None:
    text = "One thing happened here. Two more things followed. Three came last of all. Four too."
    assert lead3(text) == (
        "One thing happened here.\nTwo more things followed.\nThree came last of all."
    )


MEDIUM = SummaryOptions(length="medium")
HEADLINE = SummaryOptions(length="headline")
BULLETS = SummaryOptions(length="short", format="bullets")
CAPPED = SummaryOptions(length="medium", max_words=7)


@pytest.mark.parametrize(
    ("summary", "bullets", "options", "inside"),
    [
        ("One. Two. Three.", None, MEDIUM, True),
        ("One. Two. Three. Four.", None, MEDIUM, True),
        ("One. Two.", None, MEDIUM, False),
        ("One. Two. Three. Four. Five.", None, MEDIUM, False),
        (" ".join(["word"] * 19) + " end.", None, HEADLINE, True),  # 20 words
        (" ".join(["word"] * 20) + " end.", None, HEADLINE, False),  # 21 words
        ("Short headline. Second sentence.", None, HEADLINE, False),
        ("One two three. Four five six. Seven.", None, CAPPED, True),
        ("One two three. Four five six. Seven eight.", None, CAPPED, False),
        ("- First point.\n- Second point.", ["First point.", "Second point."], BULLETS, True),
        ("- a.\n- b.\n- c.", ["a.", "b.", "c."], BULLETS, False),
        # Items count, not sentences: one item of two sentences is one item.
        ("- It rained. Roads shut.", ["It rained. Roads shut."], BULLETS, True),
        # Without the engine's bullets list, the summary's marked lines are the items.
        ("- First point.\n* Second point.", None, BULLETS, True),
        ("- a.\n- b.\n- c.", None, BULLETS, False),
    ],
)
def test_within_length(
    summary: str, bullets: list[str] | None, options: SummaryOptions, inside: bool
) -> None:
    assert within_length(result(summary, bullets), options) is inside


@pytest.mark.parametrize(
    ("summary", "bullets", "options", "complete"),
    [
        ("The vote passed.", None, MEDIUM, True),
        ('He said "no."', None, MEDIUM, True),
        ("The vote passed. The mayor said that", None, MEDIUM, False),
        ("", None, MEDIUM, False),
        ("- Done.\n- Not done", ["Done.", "Not done"], BULLETS, False),
        ("- Not done\n- Done.", ["Not done", "Done."], BULLETS, True),
    ],
)
def test_ends_complete(
    summary: str, bullets: list[str] | None, options: SummaryOptions, complete: bool
) -> None:
    assert ends_complete(result(summary, bullets), options) is complete


def test_bullet_markers_are_not_words() -> None:
    assert summary_words(result("- Two words.\n- Three more words."), BULLETS) == 5


def records(count: int) -> list[EvalRecord]:
    """Handmade records whose text is long enough for a lead-3 baseline."""
    text = "The council met today. It approved a budget. Schools gain more money. Roads must wait."
    return [EvalRecord(text=text, summary="The council approved a budget.") for _ in range(count)]


def test_aggregate_figures() -> None:
    results = [
        result("The council approved a budget. Schools gain. Roads wait.", unsupported=0),
        result("The council approved a budget. Roads wait. Parks close. Pools too.", unsupported=2),
        result("The council met. It approved a budget and", unsupported=1),
        result("Budget.", unsupported=0),
    ]
    report = aggregate(records(4), results, MEDIUM)
    assert report.articles == 4
    assert report.mean_words == pytest.approx((9 + 11 + 8 + 1) / 4)
    assert report.complete_sentence_pct == pytest.approx(75.0)  # the third is cut off
    assert report.within_length_pct == pytest.approx(50.0)  # the last two have 2 and 1
    assert report.unsupported_pct == pytest.approx(50.0)
    assert report.unsupported_per_summary == pytest.approx(0.75)
    predictions = [rouge_lines(r.summary) for r in results]
    expected = rouge(predictions, ["The council approved a budget."] * 4)
    assert report.rouge1 == pytest.approx(expected["rouge1"])
    baseline = rouge([lead3(records(1)[0].text)] * 4, ["The council approved a budget."] * 4)
    assert report.lead3_rougeLsum == pytest.approx(baseline["rougeLsum"])
    table = format_table(report, "my-model", MEDIUM)
    assert "my-model" in table and "75.0%" in table and "0.75" in table
    assert len(table.splitlines()) == 15
    assert "sentences copied word for word" in table


def test_verbatim_units_count_sentences_copied_word_for_word() -> None:
    source = "The council approved a budget.\nSchools gain new  roofs. Roads wait."
    copied = result("The council approved a budget. Schools gain new roofs. Roads wait longer.")
    assert verbatim_units(copied, MEDIUM, source) == (2, 3)  # whitespace folded; the third differs
    items = result("- Roads wait.\n- Parks close.", bullets=["Roads wait.", "Parks close."])
    assert verbatim_units(items, SummaryOptions(format="bullets"), source) == (1, 2)


def test_evaluate_batches_and_reports_progress() -> None:
    seen: list[int] = []
    progress: list[int] = []

    def summarize(batch: list[Article]) -> list[SummaryResult]:
        seen.append(len(batch))
        assert all(a.options == MEDIUM for a in batch)
        return [result("The council approved a budget. Schools gain. Roads wait.")] * len(batch)

    report = evaluate(records(5), summarize, MEDIUM, batch_size=2, on_batch=progress.append)
    assert seen == [2, 2, 1] == progress
    assert report.articles == 5 and report.within_length_pct == 100.0


def test_evaluate_rejects_a_short_answer() -> None:
    with pytest.raises(RuntimeError, match="1 results for 2"):
        evaluate(records(2), lambda batch: [result("x.")], MEDIUM)


# --- bad input ---------------------------------------------------------------------------------


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


GOOD = json.dumps({"text": "The council met. It voted.", "summary": "It voted."})


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((GOOD, "", "{not json"), r"data\.jsonl:3: not JSON"),
        ((GOOD, json.dumps({"text": "Body."})), r"data\.jsonl:2: 'summary' is missing"),
        ((json.dumps({"summary": "S."}),), r"data\.jsonl:1: 'text' is missing"),
        ((json.dumps({"text": " ", "summary": "S."}),), r":1: 'text' is not a non-empty"),
        ((json.dumps({"text": "T.", "summary": 5}),), r":1: 'summary' is not a non-empty"),
        ((json.dumps({"text": "T.", "summary": "S.", "title": 1}),), r":1: 'title' is not"),
        (("[1, 2]",), r"data\.jsonl:1: expected a JSON object, got list"),
        (("", "  "), r"data\.jsonl: no records"),
    ],
)
def test_load_records_errors(tmp_path: Path, lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(EvalInputError, match=message):
        load_records(write(tmp_path, *lines))


def test_load_records_limit_stops_before_bad_lines(tmp_path: Path) -> None:
    loaded = load_records(write(tmp_path, GOOD, "", GOOD, "{bad"), limit=2)
    assert [r.line for r in loaded] == [1, 3]


def test_load_records_fields(tmp_path: Path) -> None:
    line = json.dumps({"id": 7, "title": "T", "text": "Body.", "summary": "S.", "extra": 1})
    (record,) = load_records(write(tmp_path, line))
    assert record == EvalRecord(text="Body.", summary="S.", title="T", id="7", line=1)


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, (), "cannot read"),
        (f"{GOOD}\n{GOOD}\nnope\n", (), "data.jsonl:3: not JSON"),
        (f"{GOOD}\n", ("--batch-size", "0"), "--batch-size must be at least 1"),
        (f"{GOOD}\n", ("--max-words", "2"), "--max-words: Input should be greater than"),
        (f"{GOOD}\n", ("--json", "no/such/dir/out.json"), "no such folder"),
    ],
    ids=["missing-file", "not-json", "batch-size", "max-words", "json-folder"],
)
def test_cli_bad_input_exits_2(
    tmp_path: Path, content: str | None, args: tuple[str, ...], message: str
) -> None:
    if content is not None:
        (tmp_path / "data.jsonl").write_text(content)
    done = run_cli("eval", "data.jsonl", "--mode", "extractive", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("nutgraf: eval: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
