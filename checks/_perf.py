"""Figures of the performance section (`checks/performance.py`): milliseconds and rates as
the summaries write them, and container memory and CPU use from the engine's statistics
computed the way `docker stats` does.
"""

from __future__ import annotations

import math
from typing import Any


def _ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def _pct(value: float) -> str:
    return f"{value:.1%}" if 0 < value < 0.1 else f"{value:.0%}"


_MIB = 1024 * 1024


def _memory_used(stats: dict[str, Any]) -> int | None:
    """Memory in use as `docker stats` shows it: usage minus inactive page cache."""
    mem = stats.get("memory_stats") or {}
    usage = mem.get("usage")
    if not isinstance(usage, int):
        return None
    inner = mem.get("stats") or {}
    cache = inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return usage - cache if isinstance(cache, int) and 0 <= cache < usage else usage


def _cpu_seconds(stats: dict[str, Any]) -> tuple[float, float] | None:
    cpu = stats.get("cpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage")
    system = cpu.get("system_cpu_usage")
    if not isinstance(total, int):
        return None
    return total / 1e9, (system / 1e9 if isinstance(system, int) else math.nan)


def _cpu_percent(first: dict[str, Any], second: dict[str, Any], elapsed: float) -> float | None:
    """CPU use between two snapshots, in % of one core (docker stats' formula)."""
    a, b = _cpu_seconds(first), _cpu_seconds(second)
    if a is None or b is None or b[0] < a[0]:
        return None
    cpus = (second.get("cpu_stats") or {}).get("online_cpus") or 1
    system = b[1] - a[1]
    if system > 0:
        return (b[0] - a[0]) / system * cpus * 100.0
    return (b[0] - a[0]) / elapsed * 100.0 if elapsed > 0 else None


def _cpu_limit(host: dict[str, Any]) -> float | None:
    """The container's CPU limit in cores, or None."""
    nano = host.get("NanoCpus") or 0
    if nano:
        return float(nano) / 1e9
    quota, period = host.get("CpuQuota") or 0, host.get("CpuPeriod") or 0
    return quota / period if quota > 0 and period > 0 else None
