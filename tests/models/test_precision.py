"""NUTGRAF_DTYPE=auto: bfloat16 only on CPUs with native bfloat16, float16 on CUDA."""

from __future__ import annotations

import pytest

from nutgraf.models.precision import choose_precision, cpu_flags

# Abridged /proc/cpuinfo of this project's development machine (an AMD EPYC) and of an
# older Intel without bfloat16.
EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile amx_int8\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw\n"


@pytest.mark.parametrize(
    ("cpuinfo", "dtype", "because"),
    [
        (EPYC, "bfloat16", "native bfloat16 (avx512_bf16)"),
        (SAPPHIRE_RAPIDS, "bfloat16", "native bfloat16 (amx_bf16)"),
        (SKYLAKE, "float32", "lacks native bfloat16"),
        ("", "float32", "lacks native bfloat16"),
    ],
)
def test_auto_on_a_cpu_follows_its_flags(cpuinfo: str, dtype: str, because: str) -> None:
    chosen = choose_precision("cpu", "auto", cpuinfo)
    assert chosen.dtype == dtype
    assert because in chosen.reason


def test_auto_on_cuda_is_float16_whatever_the_cpu() -> None:
    assert choose_precision("cuda", "auto", EPYC).dtype == "float16"


def test_a_named_precision_is_kept() -> None:
    chosen = choose_precision("cpu", "float32", EPYC)
    assert (chosen.dtype, chosen.reason) == ("float32", "NUTGRAF_DTYPE")


def test_flags_are_read_from_the_first_processor_only() -> None:
    assert cpu_flags("flags : a b\nflags : c\n") == {"a", "b"}
    assert cpu_flags("Features\t: fp asimd bf16\n") == {"fp", "asimd", "bf16"}
