"""Positional encodings: how a Transformer learns where each token sits.

Taught in notebook 01 (``01_attention_from_scratch``), section 5. Attention by itself is
blind to order (permute the tokens and the outputs permute alike), so position is added to
the token embeddings: either the fixed sinusoids of Vaswani et al. (2017) or a learned table
of one vector per position, as BERT does (see
:class:`course_utils.transformer.bert.BertEmbeddings`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_encoding(num_positions: int, dim: int, base: float = 10000.0) -> Tensor:
    """The ``(num_positions, dim)`` table ``PE[pos, 2i] = sin(pos / base^(2i/dim))``,
    ``PE[pos, 2i+1] = cos(pos / base^(2i/dim))`` (Vaswani et al. 2017, section 3.5).

    Each pair of columns is a rotation at its own frequency, from one turn per ``2π``
    positions (columns 0, 1) down to one per ``2π · base`` positions. ``dim`` must be even.
    Taught in notebook 01, section 5.
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    if num_positions < 0:
        raise ValueError(f"num_positions must be >= 0, got {num_positions}")
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(base) / dim))
    angles = position * inv_freq  # (P, dim/2)
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table.float()


class SinusoidalPositionalEncoding(nn.Module):
    """Adds :func:`sinusoidal_encoding` to embeddings ``(batch, seq, dim)``, then dropout.

    Taught in notebook 01, section 5.
    """

    def __init__(self, dim: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("table", sinusoidal_encoding(max_len, dim), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (batch, seq, dim) -> (batch, seq, dim)."""
        if x.dim() != 3 or x.size(-1) != self.table.size(1):
            raise ValueError(
                f"expected (batch, seq, {self.table.size(1)}) embeddings, got {tuple(x.shape)}"
            )
        if x.size(1) > self.table.size(0):
            raise ValueError(f"sequence of {x.size(1)} exceeds max_len {self.table.size(0)}")
        return self.dropout(x + self.table[: x.size(1)].to(x.dtype))
