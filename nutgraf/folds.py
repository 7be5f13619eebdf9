"""Deterministic K-fold splits: the same records in the same folds on every run."""

from __future__ import annotations

import numpy as np

# The split's seed: fixed, so that every run, before and after a change, scores the same folds.
FOLD_SEED = 28


def fold_indices(count: int, folds: int, seed: int = FOLD_SEED) -> list[list[int]]:
    """Indexes 0..count-1 in `folds` disjoint folds that cover them all, by a seeded shuffle."""
    if folds < 2 or folds > count:
        raise ValueError(f"folds must be between 2 and {count}, got {folds}")
    order = np.random.default_rng(seed).permutation(count)
    return [sorted(int(i) for i in order[fold::folds]) for fold in range(folds)]
