"""The cold-start figure: per-variant distributions as boxes plus every sample (matplotlib)."""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

from bench.report import VARIANTS


def plot_cold(figures: dict[str, Any], path: Path, subtitle: str) -> None:
    """Cold start and import-time distributions per variant: boxes plus every sample."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(key, title) for key, title in (
        ("cold", "Cold start: process spawn → first response (ms)"),
        ("imports", "Import of the handler module alone (ms)"),
    ) if key in figures]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    colors = {"handwritten": "#4C72B0", "powertools": "#DD8452", "ours": "#55A868"}
    rng = random.Random(3)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        field = "cold_start_ms" if key == "cold" else "import_ms"
        names = [v for v in VARIANTS if v in figures[key]["variants"]]
        data = [figures[key]["variants"][v][field]["samples"] for v in names]
        box = ax.boxplot(data, widths=0.5, showfliers=False, patch_artist=True,
                         medianprops={"color": "black", "linewidth": 1.6})
        ax.set_xticks(range(1, len(names) + 1), names)
        for patch, name in zip(box["boxes"], names, strict=True):
            patch.set_facecolor(colors[name])
            patch.set_alpha(0.35)
        for i, (name, samples) in enumerate(zip(names, data, strict=True), start=1):
            xs = [i + rng.uniform(-0.17, 0.17) for _ in samples]
            ax.scatter(xs, samples, s=14, color=colors[name], alpha=0.85, zorder=3)
            ax.annotate(f"median {statistics.median(samples):.1f}", (i, max(samples)),
                        textcoords="offset points", xytext=(0, 6), ha="center", fontsize=9)
        ax.set_title(f"{title}\n{len(data[0])} samples per variant", fontsize=10)
        ax.set_ylabel("ms")
        ax.grid(axis="y", alpha=0.3)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + (high - low) * 0.08)
    fig.suptitle(subtitle, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
