"""Which precision the weights load in when NUTGRAF_DTYPE is `auto`.

float16 on CUDA; float32 on a CPU. bfloat16 on CPUs with native bfloat16 (AVX512-BF16,
AMX) is 1.4 to 1.9 times as fast, but on 61 of the 150 dev-set articles it lost ROUGE-2
beyond noise (-1.36, 95% interval -2.87 to -0.06; docs/benchmarks.md, "float32 against
bfloat16, paired"), so `auto` keeps float32 there and says bfloat16 is available.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# x86 flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: AMX tiles, AVX512-BF16.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class Precision:
    """The torch dtype name the weights load in, and why it was chosen."""

    dtype: str
    reason: str


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text()
        except OSError:  # not Linux, or no /proc: no flags known
            return set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def choose_precision(device_type: str, requested: str, cpuinfo: str | None = None) -> Precision:
    """The precision for NUTGRAF_DTYPE `requested` on a `device_type` (cpu, cuda) device."""
    if requested != "auto":
        return Precision(requested, "NUTGRAF_DTYPE")
    if device_type == "cuda":
        return Precision("float16", "auto: CUDA")
    if device_type == "cpu":
        native = [flag for flag in NATIVE_BF16_FLAGS if flag in cpu_flags(cpuinfo)]
        if native:
            return Precision(
                "float32",
                f"auto: float32 on the CPU; it has native bfloat16 ({native[0]}), faster but "
                "not yet as good on the dev set (NUTGRAF_DTYPE=bfloat16 opts in)",
            )
        return Precision("float32", "auto: float32 on the CPU, which lacks native bfloat16")
    return Precision("float32", f"auto: {device_type} device")
