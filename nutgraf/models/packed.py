"""Linear layers of bfloat16 models on CPU, their weights laid out for oneDNN once, at load.

`torch.nn.functional.linear` in bfloat16 on CPU hands oneDNN the weight in PyTorch's plain
layout at every call. A decoding step multiplies a few rows (the beams) by every weight of
the model, so those products are bound by reading the weights, and the plain layout reads
them at about half the speed of oneDNN's own. `pack_linears` gives each `nn.Linear` of such
a model a copy of its weight reordered once by `torch.ops.mkldnn._reorder_linear_weight`
(the op PyTorch's own compiler uses for this) and computes it with
`torch.ops.mkldnn._linear_pointwise`. The products are bit for bit those of
`nn.functional.linear` (tests/models/test_packed.py); the speed is in docs/benchmarks.md,
"Packed bfloat16 weights".

Float32 models, GPUs and builds of PyTorch without oneDNN keep `nn.Linear`.
"""

from __future__ import annotations

from typing import Any

import torch


class PackedLinear(torch.nn.Module):
    """`nn.Linear` in bfloat16 with its weight in oneDNN's layout (not a parameter: the
    model's parameters are what it loaded, and a tied weight stays shared there)."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        # A buffer, so that the model's memory can be counted, but not saved with it.
        self.register_buffer(
            "packed_weight",
            torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach()),
            persistent=False,
        )
        self.bias = linear.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(
            hidden, self.packed_weight, self.bias, "none", [], ""
        )

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, packed"


def can_pack(model: Any) -> bool:
    """A bfloat16 model on CPU, with a PyTorch that has oneDNN."""
    return (
        model.dtype == torch.bfloat16
        and model.device.type == "cpu"
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    )


def pack_linears(model: Any) -> int:
    """Replace every bfloat16 `nn.Linear` of a bfloat16 CPU model by a PackedLinear, in
    place; returns how many were replaced (0 when the model cannot be packed)."""
    if not can_pack(model):
        return 0
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Linear and child.weight.dtype == torch.bfloat16:
                setattr(parent, name, PackedLinear(child))
                replaced += 1
    return replaced
