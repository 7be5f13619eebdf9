"""`nutgraf eval --folds K`: every record scored by settings fitted without it.

A figure measured on the records the settings were tuned on flatters them. Here the records
are split into K folds; each fold is summarized with what was fitted on the other K-1 and
scored next to lead-3 on the same records, so the mean and spread are held-out figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any

from nutgraf.contract import SummaryOptions
from nutgraf.evaluate import EvalRecord, EvalReport, Summarize, evaluate
from nutgraf.folds import fold_indices

# What `fit` returns: a context under which the engine summarizes with the fitted settings.
Fit = Callable[[Sequence[EvalRecord]], AbstractContextManager[object]]
_MEASURES = ("rouge1", "rouge2", "rougeLsum")


@dataclass(frozen=True)
class FoldScore:
    """ROUGE on one held-out fold, the system next to lead-3 on the same records (0-100)."""

    fold: int
    articles: int
    rouge1: float
    rouge2: float
    rougeLsum: float
    lead3_rouge1: float
    lead3_rouge2: float
    lead3_rougeLsum: float

    @property
    def ratio(self) -> float:
        """ROUGE-2 over lead-3's ROUGE-2: the issue's target is 1.10."""
        return self.rouge2 / self.lead3_rouge2 if self.lead3_rouge2 else float("nan")


def cross_validate(
    records: Sequence[EvalRecord],
    folds: int,
    summarize: Summarize,
    options: SummaryOptions,
    fit: Fit | None,
    batch_size: int = 4,
    on_batch: Callable[[int], None] | None = None,
) -> list[FoldScore]:
    """Each fold summarized under what `fit` made of the others (as shipped when None)."""
    scores: list[FoldScore] = []
    for number, held_out in enumerate(fold_indices(len(records), folds)):
        inside = set(held_out)
        training = [r for i, r in enumerate(records) if i not in inside]
        testing = [records[i] for i in held_out]
        with fit(training) if fit is not None else nullcontext():
            report = evaluate(testing, summarize, options, batch_size, on_batch)
        scores.append(_fold_score(number + 1, report))
    return scores


def _fold_score(fold: int, report: EvalReport) -> FoldScore:
    return FoldScore(
        fold=fold,
        articles=report.articles,
        rouge1=report.rouge1,
        rouge2=report.rouge2,
        rougeLsum=report.rougeLsum,
        lead3_rouge1=report.lead3_rouge1,
        lead3_rouge2=report.lead3_rouge2,
        lead3_rougeLsum=report.lead3_rougeLsum,
    )


def summary(scores: Sequence[FoldScore]) -> dict[str, Any]:
    """Per-fold figures, their mean, standard deviation and range, and the ROUGE-2 ratio."""
    columns = [*_MEASURES, *(f"lead3_{m}" for m in _MEASURES), "ratio"]
    values = {c: [getattr(s, c) for s in scores] for c in columns}
    return {
        "folds": [{**asdict(s), "ratio": s.ratio} for s in scores],
        "mean": {c: statistics.fmean(v) for c, v in values.items()},
        "std": {c: statistics.stdev(v) if len(v) > 1 else 0.0 for c, v in values.items()},
        "min": {c: min(v) for c, v in values.items()},
        "max": {c: max(v) for c, v in values.items()},
        # Of the means, not the mean of the ratios: the same figure a single run reports.
        "ratio_of_means": statistics.fmean(values["rouge2"])
        / statistics.fmean(values["lead3_rouge2"]),
    }


def format_folds(scores: Sequence[FoldScore], system: str, options: SummaryOptions) -> str:
    """Per-fold ROUGE-1/2/Lsum of the system and lead-3, then mean ± std and min–max."""
    figures = summary(scores)
    header = ("fold", "n", f"{system} R1/R2/RLsum", "lead-3 R1/R2/RLsum", "R2 ratio")

    def row(label: str, n: str, get: Callable[[str], float]) -> tuple[str, ...]:
        ours = " / ".join(f"{get(m):.2f}" for m in _MEASURES)
        theirs = " / ".join(f"{get('lead3_' + m):.2f}" for m in _MEASURES)
        return (label, n, ours, theirs, f"{get('ratio'):.3f}")

    rows: list[tuple[str, ...]] = [header]
    rows += [row(str(s.fold), str(s.articles), figures_of(s).__getitem__) for s in scores]
    rows.append(row("mean", str(sum(s.articles for s in scores)), figures["mean"].__getitem__))
    rows.append(row("std", "", figures["std"].__getitem__))
    rows.append(row("min", "", figures["min"].__getitem__))
    rows.append(row("max", "", figures["max"].__getitem__))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"{options.length}, {options.format}, {len(scores)} folds (held out)"]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"ROUGE-2 / lead-3 ROUGE-2, of the means: {figures['ratio_of_means']:.3f}")
    return "\n".join(lines)


def figures_of(score: FoldScore) -> dict[str, float]:
    """One fold's figures by column name, the ratio included."""
    return {**asdict(score), "ratio": score.ratio}
