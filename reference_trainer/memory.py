"""Memory readings for ``timing.json``: peak CUDA allocation on CUDA, resident set size (RSS) always."""

from __future__ import annotations

import resource
from pathlib import Path

import torch

_MIB = 1024 * 1024


def current_rss_mib() -> float:
    """Resident set size of this process now, in MiB (Linux ``/proc``; the peak elsewhere)."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        resident_pages = int(statm.read_text().split()[1])
        return resident_pages * resource.getpagesize() / _MIB
    return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemoryProbe:
    """Read memory between epochs: RSS, and the CUDA allocator's peak since the last :meth:`reset_peak`."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def reset_peak(self) -> None:
        """Start a new CUDA peak window (no-op on CPU, where the RSS peak is process-wide)."""
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def snapshot(self) -> dict[str, float]:
        """Current and peak RSS, plus the CUDA peak and current allocation on CUDA, in MiB."""
        reading = {"rss_mib": current_rss_mib(), "peak_rss_mib": peak_rss_mib()}
        if self.device.type == "cuda":
            reading["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(self.device) / _MIB
            reading["cuda_allocated_mib"] = torch.cuda.memory_allocated(self.device) / _MIB
        return reading
