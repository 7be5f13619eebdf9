"""Stopping one prompt of a batched generate() while the others go on (a cancelled job).

transformers asks its stopping criteria between decoding steps, with one row per sequence
(a prompt's beams are adjacent rows); a row marked done takes no further tokens, and once
every row is done generate() returns. That is the one place a running generation can be
stopped without killing the process, and with it the other jobs of the micro-batch.
Imported only where generate() runs: it needs torch and transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers import StoppingCriteria


class StopRows(StoppingCriteria):
    """Marks every row of a prompt done once that prompt's stop answers True."""

    def __init__(self, stops: list[Callable[[], bool] | None]) -> None:
        self.stops = stops

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        rows = input_ids.shape[0]
        per_prompt = max(1, rows // len(self.stops))
        done = [bool(stop and stop()) for stop in self.stops]
        flags = torch.tensor(done, dtype=torch.bool, device=input_ids.device)
        return flags.repeat_interleave(per_prompt)[:rows]
