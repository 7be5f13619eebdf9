"""How much of the old ranker's dev-set score was tuning: its constants chosen by CV.

    .venv/bin/python bench/old_ranker_cv.py /work/shared/data/news-dev.jsonl

The ranker before the learned scorer (until 2026-12-07) scored 0.7 x forward centrality +
0.3 x a lead prior halving every 3 sentences, with sentences outside 10-50 words, questions
and bare quotations last; those constants were picked on all 150 dev articles. Here they are
picked on each training fold's articles instead, from a grid around them, and the held-out
fold is scored. The features module computes the same centrality, so the old ranking is
rebuilt from it. ROUGE-2 is training.py's fast stand-in (top-3, no quotation units), not
`nutgraf eval`; it is close (0.15 above it on the dev set) but is not the same figure.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from pathlib import Path

import numpy as np

from nutgraf.evaluate import load_records
from nutgraf.folds import fold_indices
from nutgraf.summarize.features import FEATURES
from nutgraf.summarize.training import Example, FoldFitter, rouge12, tune

LEAD_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
HALF_LIVES = (1.5, 3.0, 6.0)
GATES = (None, (8, 50), (10, 50), (12, 50), (10, 40), (10, 60))
SHIPPED = ((0.3, 3.0), (10, 50))
_COLUMN = {name: i for i, name in enumerate(FEATURES)}

Setting = tuple[tuple[float, float], tuple[int, int] | None]


def old_top3(item: Example, setting: Setting) -> list[int]:
    """The old ranker's best three sentences under `setting`."""
    (weight, half_life), gate = setting
    f = item.features
    index = np.expm1(f[:, _COLUMN["log_index"]])
    score = (1 - weight) * f[:, _COLUMN["centrality"]] + weight * 0.5 ** (index / half_life)
    words = np.rint(np.exp(f[:, _COLUMN["log_words"]]))
    odd = (f[:, _COLUMN["question"]] > 0) | (f[:, _COLUMN["pure_quote"]] > 0)
    unfit = odd | ((words < gate[0]) | (words > gate[1]) if gate else False)
    rounded = np.round(score, 9)
    return sorted(range(len(score)), key=lambda i: (bool(unfit[i]), -rounded[i], i))[:3]


def rouge2(items: list[Example], setting: Setting) -> float:
    """Mean ROUGE-2 F1 x 100 of the old ranker's top three."""
    return 100 * statistics.fmean(
        rouge12([e.grams[i] for i in old_top3(e, setting)], e.reference)[1] for e in items
    )


def main() -> None:
    """Per fold: the old ranker as shipped, with CV-chosen constants, and the new scorer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    examples = FoldFitter().examples(load_records(Path(parser.parse_args().data)))
    grid: list[Setting] = list(
        itertools.product(itertools.product(LEAD_WEIGHTS, HALF_LIVES), GATES)
    )
    rows = []
    for number, held_out in enumerate(fold_indices(len(examples), 5), start=1):
        inside = set(held_out)
        training = [e for i, e in enumerate(examples) if i not in inside]
        testing = [examples[i] for i in held_out]
        best = max(grid, key=lambda setting: rouge2(training, setting))
        scorer = tune(training)
        new = 100 * statistics.fmean(
            rouge12([e.grams[i] for i in scorer.order(e.features, 3)[:3]], e.reference)[1]
            for e in testing
        )
        rows.append((rouge2(testing, SHIPPED), rouge2(testing, best), new))
        print(
            f"fold {number}: shipped {rows[-1][0]:.2f}  CV-tuned {rows[-1][1]:.2f} {best}  "
            f"learned {new:.2f}"
        )
    means = [statistics.fmean(column) for column in zip(*rows, strict=True)]
    print(
        f"mean: old as shipped {means[0]:.2f}, old CV-tuned {means[1]:.2f}, learned {means[2]:.2f}"
    )


if __name__ == "__main__":
    main()
