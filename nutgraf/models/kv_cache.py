"""Key/value caches made before generate(): the in-place cache (decoder keys and values
written into buffers allocated once, before the prefill, instead of concatenated anew at
every generated token), and the prompt cache that beams share (each prompt read once)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def _plain_dynamic_cache(model: Any) -> Any:
    """An empty DynamicCache for `model`, or None when its cache is not made of plain
    DynamicLayers (sliding windows, shared layers, models with a cache of their own)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    supports = getattr(model, "_supports_default_dynamic_cache", None)
    if supports is None or not supports():
        return None
    cache = DynamicCache(config=model.config)
    if not cache.layers or any(type(layer) is not DynamicLayer for layer in cache.layers):
        return None
    return cache


def buffered_cache(model: Any, rows: int, capacity: int) -> Any:
    """A DynamicCache for `rows` sequences whose layers keep keys and values in buffers of
    `capacity` positions, all allocated now, before the prefill: allocated layer by layer
    in between the prefill's activations they would pin the heap around them. None when
    the model's cache is not made of plain DynamicLayers (sliding windows, shared layers,
    models with a cache of their own)."""
    from transformers.configuration_utils import get_head_shapes

    cache = _plain_dynamic_cache(model)
    if cache is None:
        return None
    cache.layers = [buffered_layer_class()(capacity) for _ in cache.layers]
    heads, head_dim = get_head_shapes(model.config.get_text_config(decoder=True))
    cache.early_initialization(rows, heads, head_dim, model.dtype, model.device)
    return cache


def shared_prompt_cache(model: Any, encoded: Any, beams: int, capacity: int = 0) -> Any:
    """A DynamicCache of the prompts' keys and values, each row read once and then repeated
    for its `beams`: all but each prompt's last token, which generate() then reads as the
    first of its steps. Positions as generate() numbers them under left padding. With a
    `capacity` (positions, prompt and answer), the beams' layers are in-place buffers of
    that size. None for one-token prompts, and when the model's cache is not made of plain
    DynamicLayers."""
    import torch

    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    cache = _plain_dynamic_cache(model) if ids.shape[1] > 1 else None
    if cache is None:
        return None
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    with torch.inference_mode():
        model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, :-1],
            cache=cache,
            use_cache=True,
            logits_to_keep=1,  # the logits of the prompt are never read
        )
    if not capacity:
        cache.batch_repeat_interleave(beams)
        return cache
    layer_class = buffered_layer_class()
    layers = []
    for read in cache.layers:
        layer = layer_class(capacity)
        layer.fill_repeated(read.keys, read.values, beams)
        layers.append(layer)
    cache.layers = layers
    return cache


@functools.cache
def buffered_layer_class() -> type:
    """The DynamicLayer subclass `buffered_cache` uses (built on first use: transformers is
    imported only where models run)."""
    from transformers.cache_utils import DynamicLayer

    class BufferedLayer(DynamicLayer):
        """A DynamicLayer whose keys and values live in one buffer per tensor of `capacity`
        positions, allocated by lazy_initialization (which `buffered_cache` has the cache
        call before the prefill). Attention gets a view of the filled part:
        the same values and shape that concatenation gives, so the same tokens come out
        (bench/memory_probe.py checks); unlike StaticCache, which attends over the whole
        buffer, masked, and so rounds differently (other tokens in bfloat16)."""

        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = capacity
            self.length = 0

        def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
            super().lazy_initialization(key_states, value_states)
            rows, heads, _, _ = key_states.shape
            self.key_buffer = key_states.new_empty(
                (rows, heads, self.capacity, key_states.shape[-1])
            )
            self.value_buffer = value_states.new_empty(
                (rows, heads, self.capacity, value_states.shape[-1])
            )

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            start, self.length = self.length, self.length + key_states.shape[-2]
            # Past `capacity` (which generate() never reaches) this assignment raises.
            self.key_buffer[:, :, start : self.length] = key_states
            self.value_buffer[:, :, start : self.length] = value_states
            self.keys = self.key_buffer[:, :, : self.length]
            self.values = self.value_buffer[:, :, : self.length]
            return self.keys, self.values

        def fill_repeated(self, keys: torch.Tensor, values: torch.Tensor, times: int) -> None:
            """Start as `keys` and `values` with each row repeated `times` over (a prompt's
            beams), written straight into the buffers, with no repeated copy in between."""
            rows, heads, length, _ = keys.shape
            self.lazy_initialization(
                keys.new_empty((rows * times, heads, 0, keys.shape[-1])),
                values.new_empty((rows * times, heads, 0, values.shape[-1])),
            )
            self.length = length
            for buffer, states in ((self.key_buffer, keys), (self.value_buffer, values)):
                grouped = buffer.view(rows, times, heads, self.capacity, states.shape[-1])
                grouped[:, :, :, :length] = states.unsqueeze(1)
            self.keys = self.key_buffer[:, :, :length]
            self.values = self.value_buffer[:, :, :length]

        def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
            """Beam search's reordering, in place: only the rows that take another row's
            history are written. DynamicLayer's copies every row into new tensors at every
            step, which with concatenation was over a third of a beam search's time here."""
            import torch

            if not self.length:
                return
            beam_idx = beam_idx.to(self.key_buffer.device)
            rows = torch.arange(beam_idx.shape[0], device=beam_idx.device)
            moved = (beam_idx != rows).nonzero().flatten()
            if not moved.numel():
                return
            sources = beam_idx[moved]
            targets = moved.tolist()
            for filled in (self.keys, self.values):
                # The sources are copied out first: rows that swap read their histories
                # before either is written. Then one copy per row, several times faster
                # than an indexed assignment into the buffer's view (docs/benchmarks.md,
                # "Decoding attention").
                taken = filled.index_select(0, sources)
                for position, row in enumerate(targets):
                    filled[row].copy_(taken[position])

    return BufferedLayer
