"""Fit the shipped sentence scorer: nutgraf/summarize/scorer.json from a JSONL dev set.

    .venv/bin/python bench/fit_scorer.py /work/shared/data/news-dev.jsonl

The same procedure `nutgraf eval --folds` runs on each fold's training records, here on all
of them: oracle labels, then L2 strength, the lead floor's margin, the gate and medium's
sentence count chosen by inner cross-validation (training.tune), then a refit on every
article. Prints the inner-CV grid and the weights; docs/benchmarks.md records the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nutgraf.evaluate import load_records
from nutgraf.summarize.features import FEATURES
from nutgraf.summarize.scorer import WEIGHTS_FILE
from nutgraf.summarize.training import FoldFitter, tune

OUT = Path(__file__).resolve().parents[1] / "nutgraf" / "summarize" / WEIGHTS_FILE


def main() -> int:
    """Fit on every record of the file and write the weights (or only print, --dry-run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="JSONL: one {text, summary[, title]} per line")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    args = parser.parse_args()
    started = time.perf_counter()
    records = load_records(Path(args.data))
    scorer = tune(FoldFitter().examples(records))
    fitted = scorer.fitted or {}
    fitted["data"] = Path(args.data).name
    print(f"{len(records)} articles, {time.perf_counter() - started:.1f} s", file=sys.stderr)
    grid = sorted(fitted["inner_cv_rouge2"].items(), key=lambda pair: -pair[1])
    print(f"inner-CV ROUGE-2 (medium), best 10 of {len(grid)} settings:")
    for setting, score in grid[:10]:
        print(f"  {score:6.3f}  {setting}")
    print(
        f"chosen: l2={fitted['l2']:g} lead_margin={scorer.lead_margin:g} gate={scorer.gate}"
        f" medium_sentences={scorer.medium_sentences}"
    )
    for name, weight in zip(FEATURES, scorer.weights, strict=True):
        print(f"  {name:16} {weight:+.3f}")
    print(f"  {'bias':16} {scorer.bias:+.3f}")
    if not args.dry_run:
        OUT.write_text(json.dumps(scorer.to_json(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
