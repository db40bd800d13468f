"""course_utils.transformer.architecture: the Transformer figure is read from the model, not typed
in."""

from __future__ import annotations

import matplotlib.pyplot as plt

from course_utils.transformer.architecture import block_parts, draw_transformer
from course_utils.transformer.blocks import DecoderBlock, EncoderBlock, Transformer


def test_block_parts_follow_the_paper_and_the_block() -> None:
    assert [label for label, _ in block_parts(EncoderBlock(16, 2, 32))] == [
        "Multi-Head Attention", "Add & Norm", "Feed Forward", "Add & Norm",
    ]  # fmt: skip
    assert [label for label, _ in block_parts(DecoderBlock(16, 2, 32))] == [
        "Masked Multi-Head Attention", "Add & Norm",
        "Multi-Head Attention (cross)", "Add & Norm", "Feed Forward", "Add & Norm",
    ]  # fmt: skip
    # a pre-norm block (GPT-2's arrangement) is drawn as it computes
    pre = [label for label, _ in block_parts(EncoderBlock(16, 2, 32, norm_first=True))]
    assert pre[:3] == ["Norm", "Multi-Head Attention", "Add"]


def test_figure_reads_the_layer_counts_from_the_model() -> None:
    fig = draw_transformer(Transformer(16, 2, num_encoder_layers=3, num_decoder_layers=2, d_ff=32))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "N = 3" in texts and "N = 2" in texts
    assert texts.count("Add & Norm") == 2 + 3  # encoder block: 2, decoder block: 3
    assert "Masked Multi-Head Attention" in texts and "Multi-Head Attention (cross)" in texts
    plt.close(fig)
