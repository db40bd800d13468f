"""The Transformer's architecture figure, drawn from a model made of the course's own blocks.

Taught in notebook 01, section 6.1 (the decoder block and the whole Transformer) and used on the
deck's architecture slide. Nothing in the figure is typed in: the sublayers of each stack, their
order, the residual-and-norm placement and the number of layers are read from a
:class:`course_utils.transformer.blocks.Transformer` instance, and labelled as Vaswani et al. (2017)
label them. Embeddings, positional encoding and the output layer are not part of that module:
they are drawn in grey.
"""

from __future__ import annotations

from typing import Any

from course_utils.transformer.blocks import DecoderBlock, EncoderBlock, Transformer

BLOCK_COLOURS = {
    "attention": "#fbe3c0",  # the paper's orange
    "feed-forward": "#c9e6f5",  # the paper's blue
    "norm": "#f5f2b8",  # the paper's yellow
    "outside": "#eeeeee",
}


def block_parts(block: EncoderBlock | DecoderBlock) -> list[tuple[str, str]]:
    """``(label, kind)`` of a block's sublayers, bottom to top, named as in the paper.

    Read from the block: self-attention (masked in a decoder block), cross-attention when the
    block has one, the feed-forward network, and after each of them "Add & Norm" (post-norm,
    the paper's) or, for a pre-norm block (``norm_first``), "Norm" before it and "Add" after.
    """
    decoder = isinstance(block, DecoderBlock)
    sublayers = [
        ("Masked Multi-Head Attention" if decoder else "Multi-Head Attention", "attention")
    ]
    if getattr(block, "cross_attn", None) is not None:
        sublayers.append(("Multi-Head Attention (cross)", "attention"))
    sublayers.append(("Feed Forward", "feed-forward"))
    parts: list[tuple[str, str]] = []
    for label, kind in sublayers:
        if block.norm_first:
            parts += [("Norm", "norm"), (label, kind), ("Add", "norm")]
        else:
            parts += [(label, kind), ("Add & Norm", "norm")]
    return parts


def draw_transformer(model: Transformer, *, title: str = "") -> Any:
    """The encoder-decoder figure of ``model``: both stacks with their sublayers, ``N``
    read from the model, the encoder's output feeding every decoder block's cross-attention.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    encoder_blocks = list(model.encoder["layers"])
    decoder_blocks = list(model.decoder["layers"])
    if not encoder_blocks or not decoder_blocks:
        raise ValueError("draw_transformer() needs a model with encoder and decoder layers")
    stacks = {
        "encoder": (0.0, block_parts(encoder_blocks[0]), len(encoder_blocks)),
        "decoder": (5.0, block_parts(decoder_blocks[0]), len(decoder_blocks)),
    }
    height = 0.6
    fig, ax = plt.subplots(figsize=(8, 7.5))

    def box(x: float, y: float, label: str, kind: str, width: float = 3.2) -> None:
        ax.add_patch(
            FancyBboxPatch(
                (x, y), width, height, boxstyle="round,pad=0.05", fc=BLOCK_COLOURS[kind],
                ec="#555555", lw=0.8,
            )
        )  # fmt: skip
        style = "italic" if kind == "outside" else "normal"
        ax.text(x + width / 2, y + height / 2, label, ha="center", va="center", fontsize=8,
                style=style)  # fmt: skip

    def arrow(start: tuple[float, float], end: tuple[float, float]) -> None:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, lw=0.8))

    tops = {}
    for name, (x, parts, count) in stacks.items():
        bottom_inputs = "Inputs" if name == "encoder" else "Outputs (shifted right)"
        box(x, 0.0, bottom_inputs, "outside")
        box(x, 1.0, "Embedding + Positional Encoding", "outside")
        arrow((x + 1.6, height), (x + 1.6, 1.0))
        y0 = 2.0
        y = y0
        for label, kind in parts:
            box(x, y + 0.15, label, kind)
            y += height + 0.25
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.25, y0 - 0.1), 3.7, y - y0 + 0.3, boxstyle="round,pad=0.1", fc="none",
                ec="#333333", lw=1.2,
            )
        )  # fmt: skip
        ax.text(x - 0.5 if name == "encoder" else x + 3.65, (y0 + y) / 2, f"N = {count}",
                ha="right" if name == "encoder" else "left", va="center", fontsize=10,
                weight="bold")  # fmt: skip
        first = encoder_blocks[0] if name == "encoder" else decoder_blocks[0]
        ax.text(x - 0.2, y + 0.3, f"{name}: {type(first).__name__}", ha="left", fontsize=8,
                color="#333333")  # fmt: skip
        arrow((x + 1.6, 1.0 + height), (x + 1.6, y0 + 0.15))
        tops[name] = (x, y)
    x, y = tops["decoder"]
    box(x, y + 0.9, "Linear", "outside")
    box(x, y + 1.7, "Softmax → output probabilities", "outside")
    arrow((x + 2.6, y + 0.2), (x + 2.6, y + 0.9))
    arrow((x + 1.6, y + 0.9 + height), (x + 1.6, y + 1.7))
    # the encoder's output reaches the decoder's cross-attention
    cross_index = [i for i, (label, _) in enumerate(stacks["decoder"][1]) if "cross" in label]
    enc_x, enc_top = tops["encoder"]
    if cross_index:
        y_cross = 2.0 + cross_index[0] * (height + 0.25) + 0.15 + height / 2
        ax.add_patch(
            FancyArrowPatch(
                (enc_x + 3.2, enc_top - 0.2), (x, y_cross), arrowstyle="-|>", mutation_scale=8,
                lw=0.8, connectionstyle="arc3,rad=-0.2",
            )
        )  # fmt: skip
    ax.set_xlim(-1.5, 9.5)
    ax.set_ylim(-0.3, y + 2.6)
    ax.axis("off")
    ax.set_title(title or "The Transformer, as built by course_utils.transformer", fontsize=10)
    return fig
