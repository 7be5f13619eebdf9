"""Lead-k on the folds `nutgraf eval --folds` scores: the length-matched baseline.

    .venv/bin/python bench/lead_k.py /work/shared/data/news-dev.jsonl [--folds 5] [--k 3 4]

`nutgraf eval` compares every system with lead-3. A medium extractive summary may take four
sentences (the count is chosen by cross-validation), so this prints lead-3 and lead-4 per
fold, scored as `nutgraf eval` scores lead-3 (rouge-score, stemmed, one sentence a line), to
show how much of a margin over lead-3 is the fourth sentence alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from rouge_score import rouge_scorer

from nutgraf.evaluate import load_records
from nutgraf.folds import fold_indices
from nutgraf.summarize.textrank import lead


def main() -> int:
    """Print ROUGE-2 of lead-k per fold and of the means."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="JSONL: one {text, summary} per line")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--k", type=int, nargs="+", default=[3, 4])
    args = parser.parse_args()
    records = load_records(Path(args.data))
    scorer = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
    print("fold  " + "  ".join(f"lead-{k} R2" for k in args.k))
    means: dict[int, list[float]] = {k: [] for k in args.k}
    for number, held_out in enumerate(fold_indices(len(records), args.folds), start=1):
        cells = []
        for k in args.k:
            scores = [
                scorer.score(
                    records[i].summary, "\n".join(s.text for s in lead(records[i].text, k))
                )["rouge2"].fmeasure
                for i in held_out
            ]
            means[k].append(100 * statistics.fmean(scores))
            cells.append(f"{means[k][-1]:9.2f}")
        print(f"{number:>4}  " + "  ".join(cells))
    print("mean  " + "  ".join(f"{statistics.fmean(means[k]):9.2f}" for k in args.k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
