"""Scalar pitch tokens beside a residual VQ: G's pitch level and P's contour token, coded
uniformly on a log-F0 scale so that an unseen voice keeps its own level and contour."""

import math

import torch
from torch import nn

from unicodec.lobes.quantizers import LEVEL_SCALE, ResidualVectorQuantizer


class PitchLevelQuantizer(nn.Module):
    """A residual VQ with one explicit scalar token: a pitch level, coded on a log scale.

    The input's last dimension is a log-F0 value: for G the utterance's mean log-F0
    (natural log of Hz, the last output of
    :class:`~unicodec.lobes.global_encoder.GlobalEncoder` with ``pitch_level=True``), for
    P each frame's log-F0 relative to the utterance's mean. It is coded by uniform scalar
    quantization between ``log_f0_min`` and ``log_f0_max`` into ``codebook_size`` levels,
    and the other dimensions by a :class:`ResidualVectorQuantizer`; the level is token 0,
    the learned codes follow. A level learned as one more vector code would snap to the
    nearest training voice's; a scalar code keeps an unseen voice's level and contour.
    The output's last dimension is the dequantized value, standardised as
    ``LEVEL_SCALE * (log_f0 - center)`` (about unit range) for the decoder.

    Arguments
    ---------
    input_dim : int
        Dimension of the input, the level included.
    num_quantizers : int
        Stages of the residual VQ of the other dimensions (``num_quantizers + 1`` tokens).
    codebook_size : int
        Codes per stage, and levels.
    log_f0_min, log_f0_max : float
        Range of the levels (natural log; the defaults are 50 and 550 Hz).
    center : float
        Value subtracted before the output's scaling (5.0: about 150 Hz; 0 for relative
        values).
    **vq_kwargs
        Arguments of the residual VQ (``ema``, ``decay``, ``kmeans_samples``, ...).

    Example
    -------
    >>> quantizer = PitchLevelQuantizer(input_dim=9, num_quantizers=2, codebook_size=64)
    >>> x = torch.cat([torch.randn(2, 1, 8), torch.log(torch.tensor([[[110.0]], [[220.0]]]))], -1)
    >>> quantized, codes, loss = quantizer(x)
    >>> codes.shape, quantizer.num_quantizers
    (torch.Size([2, 1, 3]), 3)
    >>> levels = [math.exp(v / 4 + 5) for v in quantized[:, 0, -1].tolist()]
    >>> [abs(1200 * math.log2(f / f0)) < 33 for f, f0 in zip(levels, [110, 220])]  # cents
    [True, True]
    >>> quantizer.encode(x, num_quantizers=1).shape  # the level alone
    torch.Size([2, 1, 1])
    """

    def __init__(self, input_dim, num_quantizers=2, codebook_size=64,
                 log_f0_min=math.log(50.0), log_f0_max=math.log(550.0), center=5.0,
                 **vq_kwargs):
        super().__init__()
        self.input_dim = input_dim
        self.levels = codebook_size
        self.log_min, self.log_max, self.center = log_f0_min, log_f0_max, center
        self.vectors = ResidualVectorQuantizer(
            input_dim - 1, num_quantizers=num_quantizers, codebook_size=codebook_size,
            **vq_kwargs,
        )

    @property
    def codebook_size(self):
        """Codes per token (the learned stages' and the number of levels)."""
        return self.levels

    @property
    def num_quantizers(self):
        """Tokens per frame: the level and the learned stages."""
        return self.vectors.num_quantizers + 1

    def _level_codes(self, log_f0):
        scaled = (log_f0.float() - self.log_min) / (self.log_max - self.log_min)
        return (scaled * (self.levels - 1)).round().clamp(0, self.levels - 1).long()

    def _level_values(self, codes):
        log_f0 = self.log_min + codes.float() / (self.levels - 1) * (self.log_max - self.log_min)
        return LEVEL_SCALE * (log_f0 - self.center)

    def forward(self, x, mask=None):
        """Quantizes ``x`` ``[B, T, input_dim]``: ``(quantized, codes [B, T, K + 1], loss)``."""
        quantized, codes, loss = self.vectors(x[..., :-1], mask)
        level = self._level_codes(x[..., -1])
        if mask is not None:
            level = level.masked_fill(~mask, 0)
        out = torch.cat([quantized, self._level_values(level).unsqueeze(-1)], -1)
        return out, torch.cat([level.unsqueeze(-1), codes], -1), loss

    def encode(self, x, mask=None, num_quantizers=None):
        """Codes ``[B, T, k]`` of ``x`` with the level and the first ``k - 1`` stages."""
        level = self._level_codes(x[..., -1])
        if mask is not None:
            level = level.masked_fill(~mask, 0)
        learned = self.vectors.num_quantizers if num_quantizers is None else num_quantizers - 1
        if learned <= 0:
            return level.unsqueeze(-1)[..., : max(num_quantizers or 0, 0)]
        codes = self.vectors.encode(x[..., :-1], mask, num_quantizers=learned)
        return torch.cat([level.unsqueeze(-1), codes], -1)

    def stage_vectors(self, stage):
        """``[codebook_size, input_dim]``: what each code of token ``stage`` adds to the
        output (token 0, the level: its value in the last dimension, zeros elsewhere).

        Example
        -------
        >>> quantizer = PitchLevelQuantizer(input_dim=5, num_quantizers=1, codebook_size=8)
        >>> codes = torch.tensor([[[2, 6]]])
        >>> rows = quantizer.stage_vectors(0)[2] + quantizer.stage_vectors(1)[6]
        >>> torch.allclose(quantizer.decode(codes)[0, 0], rows, atol=1e-6)
        True
        """
        if stage == 0:
            levels = self._level_values(torch.arange(self.levels))
            rows = levels.new_zeros(self.levels, self.input_dim)
            rows[:, -1] = levels
            return rows.to(self.vectors.quantizers[0].codebook.device)
        rows = self.vectors.stage_vectors(stage - 1)
        return torch.cat([rows, rows.new_zeros(rows.shape[0], 1)], -1)

    def decode(self, codes):
        """Vectors ``[B, T, input_dim]`` of codes ``[B, T, k]`` (no level: zeros)."""
        if codes.shape[-1] > self.num_quantizers:
            raise ValueError(
                f"got {codes.shape[-1]} codebooks, this quantizer has {self.num_quantizers}"
            )
        if codes.shape[-1] == 0:
            return self.vectors.decode(codes).new_zeros(*codes.shape[:-1], self.input_dim)
        vectors = self.vectors.decode(codes[..., 1:])
        return torch.cat([vectors, self._level_values(codes[..., 0]).unsqueeze(-1)], -1)
