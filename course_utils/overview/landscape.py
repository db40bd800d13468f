"""The LLM landscape: where LLMs sit in AI, and how language models evolved.

Taught in notebook 00 ("Where LLMs sit", "How language models evolved", "Three families").
The model table ships inside the package (``resources/llm_timeline.csv``); every row cites
its source (see ``resources/README.md``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from course_utils.core.paths import package_file

TIMELINE_FILE = ("resources", "llm_timeline.csv")  # inside the package: paths.package_file
FAMILIES = ("encoder-only", "decoder-only", "encoder–decoder", "other")
FAMILY_COLOURS = {
    "encoder-only": "tab:blue",
    "decoder-only": "tab:orange",
    "encoder–decoder": "tab:green",
    "other": "tab:gray",
}
FAMILY_USES = {
    "encoder-only": "understanding: classification, embeddings, retrieval (bidirectional)",
    "decoder-only": "generation: continue text, follow prompts (causal attention)",
    "encoder–decoder": "text-to-text: translation, summarisation (cross-attention)",
    "other": "before Transformers: counts, static word vectors",
}
COLUMNS = ("model", "year", "organisation", "family", "architecture", "parameters", "source")


def load_timeline(path: str | Path | None = None) -> pd.DataFrame:
    """The landmark-model table, sorted by year, with its columns and families validated.

    ``path`` defaults to the table shipped inside the package.

    ``parameters`` is a float count (NaN where a parameter count is not meaningful, e.g.
    TF-IDF, or not published). Raises ``ValueError`` on a malformed table.
    """
    path = package_file(*TIMELINE_FILE) if path is None else path
    table = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    unknown = sorted(set(table["family"]) - set(FAMILIES))
    if unknown:
        raise ValueError(f"{path}: unknown family {unknown}; use one of {FAMILIES}")
    if table["source"].isna().any():
        raise ValueError(f"{path}: every model needs a source")
    return table.sort_values(["year", "model"], kind="stable").reset_index(drop=True)


def family_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per family: what it is for, and the table's models of that family, oldest first."""
    rows = []
    for family in FAMILIES:
        models = table.loc[table["family"] == family, "model"].tolist()
        rows.append(
            {
                "family": family,
                "good at": FAMILY_USES[family],
                "models in the table": ", ".join(models),
            }
        )
    return pd.DataFrame(rows).set_index("family")


def plot_ai_landscape() -> Figure:
    """Nested ellipses: AI ⊃ machine learning ⊃ deep learning ⊃ generative AI ⊃ LLMs."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    rings = [
        ("Artificial intelligence", 10.0, 7.0, "#dbe9f6"),
        ("Machine learning", 8.2, 5.6, "#b6d4ee"),
        ("Deep learning", 6.4, 4.2, "#8fbde3"),
        ("Generative AI", 4.8, 2.8, "#f6c89f"),
        ("Large language models", 3.6, 1.4, "#f28e2b"),
    ]
    for label, width, height, colour in rings:
        centre_y = height / 2  # every ring rests on the same bottom line
        ax.add_patch(
            Ellipse((5, centre_y), width, height, facecolor=colour, edgecolor="white", linewidth=2)
        )
        label_y = centre_y if label == rings[-1][0] else height - 0.4
        ax.text(5, label_y, label, ha="center", va="center", fontsize=10)
    ax.set_xlim(-0.2, 10.2)
    ax.set_ylim(-0.1, 7.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Where LLMs sit")
    return fig


def plot_timeline(table: pd.DataFrame, start_year: int = 2012) -> Figure:
    """Landmark models by year, one row per model, coloured by architecture family.

    Models older than ``start_year`` are drawn at the left edge with their year in the label,
    so that 1972's TF-IDF does not squeeze the last decade into a corner.
    """
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(table) + 1))
    for row, (_, model) in enumerate(table.iterrows()):
        early = model["year"] < start_year
        x = start_year - 0.5 if early else model["year"]
        label = f"{model['model']} ({model['year']})" if early else model["model"]
        ax.scatter(
            x,
            row,
            color=FAMILY_COLOURS[model["family"]],
            s=50,
            zorder=3,
            marker="<" if early else "o",
        )
        ax.text(x + 0.3, row, label, va="center", fontsize=8)
    for family, colour in FAMILY_COLOURS.items():
        ax.scatter([], [], color=colour, label=family)
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel("year")
    ax.set_xlim(start_year - 1, table["year"].max() + 3)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_title("How language models evolved")
    return fig


def plot_parameters(table: pd.DataFrame) -> Figure:
    """Parameter counts on a log scale against year, for models that have one."""
    counted = table.dropna(subset=["parameters"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for family, group in counted.groupby("family"):
        ax.scatter(
            group["year"],
            group["parameters"],
            color=FAMILY_COLOURS[family],
            s=45,
            label=family,
            zorder=3,
        )
    for i, (_, model) in enumerate(counted.iterrows()):
        ax.annotate(
            model["model"],
            (model["year"], model["parameters"]),
            fontsize=7,
            xytext=(5, 4 if i % 2 else -9),
            textcoords="offset points",
        )
    ax.set_yscale("log")
    ax.set_xlabel("year")
    ax.set_ylabel("parameters (log scale)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Parameter counts of landmark models")
    return fig
