"""Which precision the weights load in when NUTGRAF_DTYPE is `auto`.

float16 on CUDA; bfloat16 on CPUs with native bfloat16 (AVX512-BF16, AMX), where it is
1.4 to 1.9 times as fast and, paired on all 150 dev-set articles, showed no loss beyond
noise (ROUGE-2 -0.72, 95% interval -1.68 to +0.17; unsupported 0% in both; fallback -0.7
points; docs/benchmarks.md, "float32 against bfloat16, paired"); float32 elsewhere.
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
                "bfloat16",
                f"auto: the CPU has native bfloat16 ({native[0]}); NUTGRAF_DTYPE=float32 opts out",
            )
        return Precision("float32", "auto: float32 on the CPU, which lacks native bfloat16")
    return Precision("float32", f"auto: {device_type} device")
