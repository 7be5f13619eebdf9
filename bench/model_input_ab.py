"""What the model reads, held out: abstractive ROUGE on the dev articles too long for the
model's window (the only ones whose input depends on the sentence ranking), each read
through the scorer fitted on the other folds of `nutgraf eval --folds 5`'s split.

    python bench/model_input_ab.py ../shared/data/news-dev.jsonl --subset long.jsonl

writes the long articles to --subset (to run `nutgraf eval` on with another ranking, e.g.
at an older commit) and prints their held-out figures in the same form. docs/benchmarks.md
holds the dated result.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.evaluate import EvalRecord, evaluate, load_records
from nutgraf.folds import fold_indices
from nutgraf.settings import Settings
from nutgraf.summarize import Article, SummarizerCache
from nutgraf.summarize.plan import read_article
from nutgraf.summarize.training import FoldFitter

FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--subset", type=Path, required=True)
    parser.add_argument("--length", default="medium")
    args = parser.parse_args()
    settings = Settings(model="smollm2-135m")  # the bundled model, as `nutgraf eval` settles auto
    options = SummaryOptions(length=args.length)
    records = load_records(args.data)
    summarizer = SummarizerCache.from_settings(settings).get(models.resolve(settings.model))
    budget = summarizer._body_budget(options.length, options.format)
    backend = summarizer.backend

    def selected(record: EvalRecord) -> bool:
        reading = read_article(
            Article(record.text, record.title, options), budget, backend.count, backend.fit
        )
        return bool(reading.stats.selected)

    long_ones = {i for i, record in enumerate(records) if selected(record)}
    with args.subset.open("w", encoding="utf-8") as out:
        for i in sorted(long_ones):
            r = records[i]
            out.write(json.dumps({"text": r.text, "summary": r.summary, "title": r.title}) + "\n")
    fitter = FoldFitter()
    totals: dict[str, float] = {}
    count = 0
    for held_out in fold_indices(len(records), FOLDS):
        inside = set(held_out)
        training = [r for i, r in enumerate(records) if i not in inside]
        testing = [records[i] for i in held_out if i in long_ones]
        if not testing:
            continue
        with fitter(training):
            report = evaluate(testing, summarizer.summarize_batch, options)
        for name, value in asdict(report).items():
            if name == "articles":
                continue
            totals[name] = totals.get(name, 0.0) + value * report.articles
        count += report.articles
    means = {name: round(total / count, 2) for name, total in totals.items()}
    print(json.dumps({"long_articles": count, "held_out": means}, indent=2))


if __name__ == "__main__":
    main()
