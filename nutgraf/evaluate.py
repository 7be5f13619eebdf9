"""`nutgraf eval`: ROUGE against reference summaries, a lead-3 baseline, and summary checks."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer, tokenizers

from nutgraf.contract import HEADLINE_MAX_WORDS, SENTENCE_RANGES, SummaryOptions, SummaryResult
from nutgraf.summarize import Article
from nutgraf.summarize.textrank import lead
from nutgraf.summarize.verify import article_word_share, meta_talk
from nutgraf.text import is_complete_sentence, sentences, source_text, word_count

ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")
# "Made mostly of the article's words": at least this share of its content words.
MOSTLY = 0.5
# Markers a bullet list may carry when only the summary string is at hand.
_BULLET_MARKERS = "-*•–—"

Summarize = Callable[[list[Article]], list[SummaryResult]]


class EvalInputError(ValueError):
    """The evaluation data cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class EvalRecord:
    """One article with its reference summary, as read from the JSONL file."""

    text: str
    summary: str
    title: str | None = None
    id: str | None = None
    line: int = 0


@dataclass(frozen=True)
class EvalReport:
    """Aggregate figures of one evaluation run; ROUGE and shares are on a 0-100 scale."""

    articles: int
    rouge1: float
    rouge2: float
    rougeLsum: float  # the rouge-score package's name for the measure
    lead3_rouge1: float
    lead3_rouge2: float
    lead3_rougeLsum: float
    mean_words: float
    complete_sentence_pct: float
    within_length_pct: float
    unsupported_pct: float
    unsupported_per_summary: float
    fallback_pct: float  # the model's summary failed its checks: the extractive one stands
    article_words_pct: float  # at least half of the summary's content words are the article's
    meta_talk_pct: float
    truncated_pct: float  # articles cut to the window (truncate asked, or one huge sentence)
    verbatim_pct: float  # summary sentences (or items) found word for word in the article

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form with the same figures as the table."""
        return asdict(self)


def load_records(path: Path, limit: int | None = None) -> list[EvalRecord]:
    """Read JSONL records with `text` and `summary` (raises EvalInputError naming the line)."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    records: list[EvalRecord] = []
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if limit is not None and len(records) >= limit:
                    break  # lines past the limit are not read, so not judged either
                if line.strip():
                    records.append(_parse_record(line, f"{path}:{number}", number))
        except UnicodeDecodeError as exc:
            raise EvalInputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not records:
        raise EvalInputError(f"{path}: no records")
    return records


def _parse_record(line: str, where: str, number: int) -> EvalRecord:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalInputError(f"{where}: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise EvalInputError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for key in ("text", "summary"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problem = "missing" if value is None else "not a non-empty string"
            raise EvalInputError(f"{where}: {key!r} is {problem}")
    title = data.get("title")
    if title is not None and not isinstance(title, str):
        raise EvalInputError(f"{where}: 'title' is not a string")
    record_id = data.get("id")
    return EvalRecord(
        text=data["text"],
        summary=data["summary"],
        title=title,
        id=None if record_id is None else str(record_id),
        line=number,
    )


def rouge_lines(text: str) -> str:
    """The text with one sentence per line, the form rougeLsum expects."""
    return "\n".join(sentence for line in text.splitlines() for sentence in sentences(line.strip()))


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean F1 x 100 of ROUGE-1, ROUGE-2 and ROUGE-Lsum (rouge-score, Porter stemmer)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score")
    # The package's default tokenizer, passed in only so that it does not log "Using default
    # tokenizer." into the table's stdout; the scores are the same.
    scorer = rouge_scorer.RougeScorer(
        list(ROUGE_TYPES),
        use_stemmer=True,
        tokenizer=tokenizers.DefaultTokenizer(use_stemmer=True),
    )
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for prediction, reference in zip(predictions, references, strict=True):
        # score(target, prediction): the reference comes first.
        scores = scorer.score(rouge_lines(reference), rouge_lines(prediction))
        for name in ROUGE_TYPES:
            totals[name] += scores[name].fmeasure
    return {name: 100 * total / len(predictions) for name, total in totals.items()}


def summary_units(result: SummaryResult, options: SummaryOptions) -> list[str]:
    """The summary's sentences, or its items in bullet format."""
    if options.format != "bullets":
        return sentences(result.summary.strip())
    if result.bullets is not None:
        return [item.strip() for item in result.bullets if item.strip()]
    items = (line.strip().lstrip(_BULLET_MARKERS).strip() for line in result.summary.splitlines())
    return [item for item in items if item]


def verbatim_units(result: SummaryResult, options: SummaryOptions, source: str) -> tuple[int, int]:
    """(sentences found word for word in the source, all sentences), whitespace folded: how
    much a summary copies rather than shortens or fuses."""
    units = [" ".join(unit.split()) for unit in summary_units(result, options)]
    folded = " ".join(source.split())
    return sum(unit in folded for unit in units if unit), sum(1 for unit in units if unit)


def summary_words(result: SummaryResult, options: SummaryOptions) -> int:
    """Words of the summary, bullet markers not counted."""
    return sum(word_count(unit) for unit in summary_units(result, options))


def ends_complete(result: SummaryResult, options: SummaryOptions) -> bool:
    """True when the summary's last sentence (or item) ends with terminal punctuation."""
    units = summary_units(result, options)
    return bool(units) and is_complete_sentence(units[-1])


def within_length(result: SummaryResult, options: SummaryOptions) -> bool:
    """True when the sentence (item) count and words fit the requested length and cap."""
    count = len(summary_units(result, options))
    fewest, most = SENTENCE_RANGES[options.length]
    words = summary_words(result, options)
    if not fewest <= count <= most:
        return False
    if options.length == "headline" and words > HEADLINE_MAX_WORDS:
        return False
    return options.max_words is None or words <= options.max_words


def lead3(text: str) -> str:
    """The lead-3 baseline: the article's first three sentences, one per line."""
    return "\n".join(span.text.strip() for span in lead(text, n=3))


def evaluate(
    records: Sequence[EvalRecord],
    summarize: Summarize,
    options: SummaryOptions,
    batch_size: int = 4,
    on_batch: Callable[[int], None] | None = None,
) -> EvalReport:
    """Summarize every record in batches and aggregate ROUGE, lead-3 and summary checks."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    articles = [Article(r.text, r.title, options) for r in records]
    results: list[SummaryResult] = []
    for start in range(0, len(articles), batch_size):
        batch = articles[start : start + batch_size]
        produced = summarize(batch)
        if len(produced) != len(batch):
            raise RuntimeError(f"summarizer returned {len(produced)} results for {len(batch)}")
        results.extend(produced)
        if on_batch is not None:
            on_batch(len(batch))
    return aggregate(records, results, options)


def aggregate(
    records: Sequence[EvalRecord], results: Sequence[SummaryResult], options: SummaryOptions
) -> EvalReport:
    """The report for summaries already made, one per record, in order."""
    references = [r.summary for r in records]
    system = rouge([_prediction(r, options) for r in results], references)
    baseline = rouge([lead3(r.text) for r in records], references)
    count = len(results)
    unsupported = [len(r.checks.unsupported) for r in results]
    sourced = [
        (r, source_text(rec.text, rec.title)) for r, rec in zip(results, records, strict=True)
    ]
    copied = [verbatim_units(r, options, source) for r, source in sourced]
    return EvalReport(
        articles=count,
        rouge1=system["rouge1"],
        rouge2=system["rouge2"],
        rougeLsum=system["rougeLsum"],
        lead3_rouge1=baseline["rouge1"],
        lead3_rouge2=baseline["rouge2"],
        lead3_rougeLsum=baseline["rougeLsum"],
        mean_words=sum(summary_words(r, options) for r in results) / count,
        complete_sentence_pct=_pct(sum(ends_complete(r, options) for r in results), count),
        within_length_pct=_pct(sum(within_length(r, options) for r in results), count),
        unsupported_pct=_pct(sum(n > 0 for n in unsupported), count),
        unsupported_per_summary=sum(unsupported) / count,
        fallback_pct=_pct(sum(r.checks.fallback for r in results), count),
        article_words_pct=_pct(
            sum(article_word_share(r.summary, source) >= MOSTLY for r, source in sourced), count
        ),
        meta_talk_pct=_pct(sum(meta_talk(r.summary, source) for r, source in sourced), count),
        truncated_pct=_pct(sum(r.input.truncated for r in results), count),
        verbatim_pct=_pct(sum(c for c, _ in copied), max(1, sum(n for _, n in copied))),
    )


def _prediction(result: SummaryResult, options: SummaryOptions) -> str:
    # Bullet items are the units of a bullet summary, so each gets its own line for rougeLsum.
    return "\n".join(summary_units(result, options))


def _pct(part: int, whole: int) -> float:
    return 100 * part / whole


def format_table(report: EvalReport, system: str, options: SummaryOptions) -> str:
    """The report as one plain-text table: the system next to the lead-3 baseline."""
    asked = f"{options.length}, {options.format}"
    if options.max_words is not None:
        asked += f", <= {options.max_words} words"
    rows: list[tuple[str, str, str]] = [
        (asked, system, "lead-3"),
        ("articles", str(report.articles), str(report.articles)),
        ("ROUGE-1 F1", f"{report.rouge1:.2f}", f"{report.lead3_rouge1:.2f}"),
        ("ROUGE-2 F1", f"{report.rouge2:.2f}", f"{report.lead3_rouge2:.2f}"),
        ("ROUGE-Lsum F1", f"{report.rougeLsum:.2f}", f"{report.lead3_rougeLsum:.2f}"),
        ("mean words", f"{report.mean_words:.1f}", ""),
        ("ends in a complete sentence", f"{report.complete_sentence_pct:.1f}%", ""),
        ("within requested length", f"{report.within_length_pct:.1f}%", ""),
        ("with unsupported items", f"{report.unsupported_pct:.1f}%", ""),
        ("unsupported items / summary", f"{report.unsupported_per_summary:.2f}", ""),
        ("mostly the article's words", f"{report.article_words_pct:.1f}%", ""),
        ("talk about the article", f"{report.meta_talk_pct:.1f}%", ""),
        ("articles truncated", f"{report.truncated_pct:.1f}%", ""),
        ("sentences copied word for word", f"{report.verbatim_pct:.1f}%", ""),
        ("fell back to extractive", f"{report.fallback_pct:.1f}%", ""),
    ]
    left = max(len(row[0]) for row in rows)
    middle = max(len(row[1]) for row in rows)
    right = max(len(row[2]) for row in rows)
    return "\n".join(
        f"{label:<{left}}  {value:>{middle}}  {base:>{right}}".rstrip()
        for label, value, base in rows
    )
