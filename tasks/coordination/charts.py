"""Charts for the coordinator's dashboard, rendered on the server as PNG (matplotlib, no display)."""

from __future__ import annotations

import io

import pandas as pd


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    return plt


def pipeline_chart(by_stage: pd.DataFrame, title: str) -> bytes:
    """Applications per stage, stacked by category (stages in pipeline order, top to bottom)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    try:
        if by_stage.empty:
            ax.text(0.5, 0.5, "No applications yet", ha="center", va="center", fontsize=14)
            ax.set_axis_off()
        else:
            data = by_stage.drop(columns=["total"], errors="ignore").iloc[::-1]
            data.plot.barh(stacked=True, ax=ax, colormap="tab10", width=0.7)
            ax.set_xlabel("applications")
            ax.set_ylabel("")
            ax.legend(title="category", fontsize=8, loc="lower right")
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(title)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def reviewer_load_chart(rows: list[dict], title: str) -> bytes:
    """Each reviewer's essays (reviewed, to review) against the maximum they offered."""
    plt = _figure()
    height = max(2.5, 0.35 * len(rows) + 1)
    fig, ax = plt.subplots(figsize=(8, height), dpi=100)
    try:
        if not rows:
            ax.text(0.5, 0.5, "No reviewers for an open sitting", ha="center", va="center", fontsize=14)
            ax.set_axis_off()
        else:
            labels = [f"{r['reviewer']} · {r['sitting']}" for r in rows][::-1]
            reviewed = [r["reviewed"] for r in rows][::-1]
            to_review = [r["to_review"] for r in rows][::-1]
            maximum = [r["max_load"] for r in rows][::-1]
            y = range(len(rows))
            ax.barh(y, reviewed, color="#2a7f62", label="reviewed")
            ax.barh(y, to_review, left=reviewed, color="#f2a541", label="to review")
            ax.scatter(maximum, list(y), marker="|", s=300, color="#1a1a1a", label="maximum offered")
            ax.set_yticks(list(y), labels, fontsize=8)
            ax.set_xlabel("essays")
            ax.legend(fontsize=8, loc="lower right")
        ax.set_title(title)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
