"""The `nutgraf eval` command: load the records, pick the engine, print and write the report
(evaluate.py computes it; crossval.py, with --folds, the held-out form)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from nutgraf.contract import SENTENCE_RANGES, SummaryOptions, SummaryResult
from nutgraf.crossval import cross_validate, format_folds, summary
from nutgraf.evaluate import (
    EvalInputError,
    Summarize,
    evaluate,
    format_table,
    load_records,
)
from nutgraf.settings import Settings
from nutgraf.summarize import Article


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    """The `nutgraf eval` command: 0 on success, 2 on bad input, 1 if the model won't load."""
    from nutgraf import models

    for flag, value in (("--limit", args.limit), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            print(f"nutgraf: eval: {flag} must be at least 1", file=sys.stderr)
            return 2
    folds = getattr(args, "folds", None)
    if folds is not None and folds < 2:
        print("nutgraf: eval: --folds must be at least 2", file=sys.stderr)
        return 2
    lengths = list(SENTENCE_RANGES) if args.length == "all" else [args.length]
    try:
        runs = [
            SummaryOptions(
                length=length, format=args.format, mode=args.mode, max_words=args.max_words
            )
            for length in lengths
        ]
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = "--" + "-".join(str(part) for part in error["loc"]).replace("_", "-")
        print(f"nutgraf: eval: {flag}: {error['msg']}", file=sys.stderr)
        return 2
    if args.json and not Path(args.json).parent.is_dir():
        # Checked before the run, which can take long, rather than failing at the end.
        print(f"nutgraf: eval: {args.json}: no such folder", file=sys.stderr)
        return 2
    try:
        records = load_records(Path(args.data), args.limit)
    except EvalInputError as exc:
        print(f"nutgraf: eval: {exc}", file=sys.stderr)
        return 2
    if folds is not None and folds > len(records):
        print(
            f"nutgraf: eval: --folds {folds} is more than the {len(records)} records",
            file=sys.stderr,
        )
        return 2
    summarize: Summarize
    if args.mode == "extractive":
        from nutgraf.summarize import summarize_extractive

        if args.model:
            print("nutgraf: eval: --model is ignored in extractive mode", file=sys.stderr)
        system = "extractive"

        def extract(batch: list[Article]) -> list[SummaryResult]:
            # No model at all: extractive summaries are picked sentences of the article.
            return [summarize_extractive(article) for article in batch]

        summarize = extract
    else:
        from nutgraf.summarize import load_summarizer

        try:
            summarizer = load_summarizer(settings, args.model)
        except models.ModelError as exc:
            print(f"nutgraf: {exc}", file=sys.stderr)
            return 1
        system = summarizer.spec.name
        summarize = summarizer.summarize_batch
    fitter = None
    if folds is not None:
        # Imported on use: fitting needs the oracle's ROUGE and the training loop. One
        # fitter for every length: each record's oracle labels are made once.
        from nutgraf.summarize.training import FoldFitter

        fitter = FoldFitter()
    payloads = []
    for number, options in enumerate(runs):
        # disable=None: a bar only when stderr is a terminal, never in a redirected log.
        bar = tqdm(total=len(records), desc=f"eval {options.length}", file=sys.stderr, disable=None)
        with bar:
            if folds is None:
                report = evaluate(records, summarize, options, args.batch_size, bar.update)
                table, figures = format_table(report, system, options), report.to_json()
            else:
                scores = cross_validate(
                    records,
                    folds,
                    summarize,
                    options,
                    fitter,
                    args.batch_size,
                    bar.update,
                )
                table, figures = format_folds(scores, system, options), summary(scores)
        print(("\n" if number else "") + table, flush=True)
        payloads.append(
            {
                "data": str(args.data),
                "system": system,
                "options": options.model_dump(mode="json"),
                **figures,
            }
        )
    if args.json:
        # One report as before; with --length all, one per length in a list.
        payload = payloads[0] if len(payloads) == 1 else payloads
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0
