"""Summaries of samples: median with min and max (and a few percentiles for the JSON)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: Typography of the table, spelled as escapes (ruff flags the literal characters).
DASH = "\u2013"  # en dash, for ranges
TIMES = "\u00d7"  # multiplication sign, for ratios and counts
MINUS = "\u2212"  # minus sign, for differences in labels
_BOOTSTRAP = 2000


@dataclass(frozen=True)
class Summary:
    """The distribution of one figure's samples, in the samples' unit."""

    n: int
    median: float
    min: float
    max: float
    p10: float
    p90: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        """Summarize `samples` (at least one)."""
        if not samples:
            raise ValueError("no samples to summarize")
        ordered = sorted(samples)
        return cls(
            n=len(ordered),
            median=statistics.median(ordered),
            min=ordered[0],
            max=ordered[-1],
            p10=percentile(ordered, 10),
            p90=percentile(ordered, 90),
            mean=statistics.fmean(ordered),
        )

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def text(self, digits: int = 1) -> str:
        """`median [min-max]` (an en dash between min and max), e.g. `612.3 [580.1-701.9]`."""
        return f"{self.median:.{digits}f} [{self.min:.{digits}f}{DASH}{self.max:.{digits}f}]"


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The `pct` percentile of sorted samples, linearly interpolated."""
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio_ci(ours: Sequence[float], base: Sequence[float], seed: int = 7) -> tuple[float, float]:
    """95% bootstrap interval of median(ours) / median(base)."""
    rng = random.Random(seed)
    ratios = sorted(
        statistics.median(rng.choices(ours, k=len(ours)))
        / statistics.median(rng.choices(base, k=len(base)))
        for _ in range(_BOOTSTRAP)
    )
    return ratios[int(0.025 * _BOOTSTRAP)], ratios[int(0.975 * _BOOTSTRAP) - 1]
