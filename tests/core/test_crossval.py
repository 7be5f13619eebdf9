"""nutgraf.folds, nutgraf.crossval and `nutgraf eval --folds`: held-out scoring, on synthetic
articles (the dev set is never a fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_cli
from nutgraf.contract import SummaryOptions
from nutgraf.crossval import FoldScore, format_folds, summary
from nutgraf.folds import fold_indices

ROOT = Path(__file__).resolve().parents[2]
PLACES = ["valley", "delta", "harbour", "plain", "canyon", "island", "forest", "coast"]


def synthetic_records(count: int) -> list[dict[str, str]]:
    """Small flood stories whose references paraphrase their second and fourth sentences."""
    records = []
    for i in range(count):
        place = PLACES[i % len(PLACES)]
        sentences = [
            f"Heavy rain hit the {place} on Monday as a storm moved in from the west sea.",
            f"The river in the {place} rose {i + 2} meters and forced {100 * (i + 1)} people out.",
            f"Local reporters said the weather had been unusual for the {place} this spring.",
            f"Rescue teams in the {place} saved {i + 3} families trapped by the water overnight.",
            f"Shops in the {place} stayed open while the town waited for the rain to stop.",
            f"Forecasters said more rain could reach the {place} later in the week ahead.",
        ]
        reference = (
            f"The river rose {i + 2} meters, forcing {100 * (i + 1)} people out. "
            f"Rescue teams saved {i + 3} families."
        )
        records.append({"id": f"s{i}", "text": " ".join(sentences), "summary": reference})
    return records


def test_folds_are_deterministic_disjoint_and_cover_every_record() -> None:
    folds = fold_indices(23, 5)
    assert folds == fold_indices(23, 5)
    assert len(folds) == 5
    flat = [i for fold in folds for i in fold]
    assert sorted(flat) == list(range(23))  # disjoint and complete
    assert {len(fold) for fold in folds} == {4, 5}
    assert folds != fold_indices(23, 5, seed=1)  # shuffled, not by position
    assert all(fold == sorted(fold) for fold in folds)


@pytest.mark.parametrize("folds", [0, 1, 24])
def test_impossible_fold_counts_are_refused(folds: int) -> None:
    with pytest.raises(ValueError, match="folds"):
        fold_indices(23, folds)


def test_summary_has_mean_spread_and_ratio() -> None:
    scores = [
        FoldScore(1, 10, 40.0, 20.0, 37.0, 38.0, 18.0, 35.0),
        FoldScore(2, 10, 42.0, 22.0, 39.0, 40.0, 20.0, 37.0),
    ]
    figures = summary(scores)
    assert figures["mean"]["rouge2"] == 21.0
    assert figures["min"]["rouge2"] == 20.0 and figures["max"]["rouge2"] == 22.0
    assert figures["std"]["rouge2"] == pytest.approx(2**0.5)
    assert figures["ratio_of_means"] == pytest.approx(21.0 / 19.0)
    assert [fold["ratio"] for fold in figures["folds"]] == pytest.approx([20 / 18, 22 / 20])
    table = format_folds(scores, "extractive", SummaryOptions(mode="extractive"))
    lines = table.splitlines()
    assert lines[0].startswith("medium, paragraph, 2 folds")
    assert [line.split()[0] for line in lines[2:8]] == ["1", "2", "mean", "std", "min", "max"]
    assert lines[-1].endswith("1.105")


def test_eval_folds_prints_a_fold_table_and_writes_json(tmp_path: Path) -> None:
    data = tmp_path / "synthetic.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(8)))
    out = tmp_path / "folds.json"
    done = run_cli("eval", str(data), "--mode", "extractive", "--folds", "2", "--json", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "medium, paragraph, 2 folds (held out)"
    assert "lead-3" in lines[1]
    assert [line.split()[0] for line in lines[2:8]] == ["1", "2", "mean", "std", "min", "max"]
    assert lines[4].split()[1] == "8"  # the mean row counts every record once
    assert lines[-1].startswith("ROUGE-2 / lead-3 ROUGE-2")
    figures = json.loads(out.read_text())
    assert figures["system"] == "extractive"
    assert [fold["articles"] for fold in figures["folds"]] == [4, 4]
    assert set(figures) >= {"folds", "mean", "std", "min", "max", "ratio_of_means"}
    for name in ("rouge1", "rouge2", "rougeLsum", "lead3_rouge2", "ratio"):
        assert name in figures["mean"]


def test_eval_folds_below_two_is_a_usage_error(tmp_path: Path) -> None:
    data = tmp_path / "synthetic.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(3)))
    done = run_cli("eval", str(data), "--mode", "extractive", "--folds", "1")
    assert done.returncode == 2
    assert "--folds must be at least 2" in done.stderr
    done = run_cli("eval", str(data), "--mode", "extractive", "--folds", "4")
    assert done.returncode == 2
    assert "more than the 3 records" in done.stderr
