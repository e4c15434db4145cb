"""Training curves as PNG: losses and the dev-photo scores of an HED run, and the loss
and held-back region IoU of a region-head run."""

from __future__ import annotations

from pathlib import Path

from docscan.atomic import write_figure

LEGEND_STRIP = (0, 0.1, 1, 1)   # the figure's bottom tenth holds the legend


def _axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(8, 4.5), dpi=100)


def plot_curve(history: list[dict], path: Path, title: str) -> None:
    write_figure(path, curve_figure(history), title, layout_rect=LEGEND_STRIP)


def curve_figure(history: list[dict]):
    """The figure ``plot_curve`` writes: losses (log scale, left) and dev scores (right)."""
    fig, ax = _axes()
    steps = [h["step"] for h in history if "loss" in h]
    if steps:
        with_region = any("region_loss" in h for h in history)
        ax.plot(steps, [h["loss"] for h in history if "loss" in h], lw=1,
                label="total loss (fused + sides + region)" if with_region else "total loss (fused + sides)")
        ax.plot(steps, [h["fused_loss"] for h in history if "loss" in h], label="fused loss", lw=1)
        region = [(h["step"], h["region_loss"]) for h in history if "region_loss" in h]
        if region:
            ax.plot(*zip(*region), label="region loss (BCE)", lw=1, color="tab:red")
    ax.set_xlabel("step")
    ax.set_ylabel("class-balanced BCE")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    dev = [h for h in history if "dev_f" in h]
    if dev:
        ax2 = ax.twinx()
        ax2.plot([h["step"] for h in dev], [h["dev_f"] for h in dev], "o-", color="tab:green",
                 label="edge F-score, real dev photos")
        region_dev = [h for h in dev if "dev_region_iou" in h]
        if region_dev:
            ax2.plot([h["step"] for h in region_dev], [h["dev_region_iou"] for h in region_dev], "s-",
                     color="tab:purple", label="region IoU, real dev photos")
        ax2.set_ylabel("real dev photos")
        ax2.set_ylim(0, 1)
    _legend_below(fig)
    return fig


def _legend_below(fig) -> None:
    """One legend for every axis, under the plot: drawn inside, the twin axis' curves ran
    through the other axis' legend."""
    handles, labels = [], []
    for a in fig.axes:
        axis_handles, axis_labels = a.get_legend_handles_labels()
        handles += axis_handles
        labels += axis_labels
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(handles)), fontsize="small",
                   frameon=False)


def plot_region_curve(history: list[dict], path: Path, title: str) -> None:
    fig, ax = _axes()
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["loss"] for h in history], "o-", label="region loss (BCE), training samples")
    ax.set_xlabel("epoch")
    ax.set_ylabel("BCE")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["val_region_iou"] for h in history], "s-", color="tab:purple",
             label="region IoU, held-back synthetic samples")
    ax2.set_ylabel("region IoU")
    _legend_below(fig)
    write_figure(path, fig, title, layout_rect=LEGEND_STRIP)
