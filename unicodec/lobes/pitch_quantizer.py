"""Scalar tokens beside a residual VQ: G's pitch level and P's contour token, coded
uniformly on a log-F0 scale so that an unseen voice keeps its own level and contour, and
G's long-term spectrum, coded uniformly so that it keeps its own spectral shape."""

import math

import torch
from torch import nn

from unicodec.lobes.quantizers import LEVEL_SCALE, ResidualVectorQuantizer

# spectrum tokens' dequantized values are SPECTRUM_SCALE x (coefficient - center)
SPECTRUM_SCALE = 0.25


class PitchLevelQuantizer(nn.Module):
    """A residual VQ with explicit scalar tokens: a pitch level, coded on a log scale, and
    optionally a long-term spectrum.

    The input's last dimension is a log-F0 value: for G the utterance's mean log-F0
    (natural log of Hz, the last output of
    :class:`~unicodec.lobes.global_encoder.GlobalEncoder` with ``pitch_level=True``), for
    P each frame's log-F0 relative to the utterance's mean. It is coded by uniform scalar
    quantization between ``log_f0_min`` and ``log_f0_max`` into ``codebook_size`` levels,
    and the other dimensions by a :class:`ResidualVectorQuantizer`; the level is token 0,
    the spectrum tokens (``spectrum_dim``) follow, then the learned codes. A level learned as one more vector code would snap to the
    nearest training voice's; a scalar code keeps an unseen voice's level and contour.
    The output's last dimension is the dequantized value, standardised as
    ``LEVEL_SCALE * (log_f0 - center)`` (about unit range) for the decoder.

    Arguments
    ---------
    input_dim : int
        Dimension of the input, the level (and the spectrum values) included.
    num_quantizers : int
        Stages of the residual VQ of the other dimensions (``num_quantizers + 1 +
        spectrum_dim`` tokens).
    codebook_size : int
        Codes per stage, and levels.
    log_f0_min, log_f0_max : float
        Range of the levels (natural log; the defaults are 50 and 550 Hz).
    center : float
        Value subtracted before the output's scaling (5.0: about 150 Hz; 0 for relative
        values).
    spectrum_dim : int
        Scalar tokens before the level (G: the cepstral coefficients of the long-term
        spectrum, :class:`~unicodec.lobes.global_encoder.GlobalEncoder`'s
        ``spectrum_coefficients``): the input's last ``spectrum_dim + 1`` dimensions are
        these values and the level. Each is coded uniformly in steps of ``spectrum_step``
        around its ``spectrum_center`` (``codebook_size`` levels); the output holds
        ``SPECTRUM_SCALE * (value - center)``. Their tokens follow the level's.
    spectrum_step : float
        Step of the spectrum tokens.
    spectrum_center : list of float, optional
        Centre of each spectrum token; tokens beyond the list's (all, when omitted) are
        centred at zero.
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

    With two spectrum tokens (the input ends with two coefficients, then the level):

    >>> quantizer = PitchLevelQuantizer(input_dim=11, num_quantizers=1, codebook_size=64,
    ...                                 spectrum_dim=2, spectrum_step=0.5)
    >>> x = torch.cat([torch.randn(1, 1, 8), torch.tensor([[[3.1, -40.0, 5.0]]])], -1)
    >>> quantized, codes, _ = quantizer(x)
    >>> codes[0, 0, :3].tolist()  # level, then 3.1 / 0.5 + 32 and -40 clamped to 0
    [29, 38, 0]
    >>> quantized[0, 0, -3:-1] / SPECTRUM_SCALE
    tensor([  3., -16.])
    """

    def __init__(self, input_dim, num_quantizers=2, codebook_size=64,
                 log_f0_min=math.log(50.0), log_f0_max=math.log(550.0), center=5.0,
                 spectrum_dim=0, spectrum_step=0.5, spectrum_center=None, **vq_kwargs):
        super().__init__()
        spectrum_center = list(spectrum_center or [])
        if len(spectrum_center) > spectrum_dim:
            raise ValueError(
                f"spectrum_center has {len(spectrum_center)} values, spectrum_dim is "
                f"{spectrum_dim}"
            )
        spectrum_center += [0.0] * (spectrum_dim - len(spectrum_center))
        self.input_dim = input_dim
        self.levels = codebook_size
        self.log_min, self.log_max, self.center = log_f0_min, log_f0_max, center
        self.spectrum_dim = spectrum_dim
        self.spectrum_step = spectrum_step
        self.register_buffer(
            "spectrum_center",
            torch.tensor(spectrum_center, dtype=torch.float32),
            persistent=False,
        )
        self.vectors = ResidualVectorQuantizer(
            input_dim - 1 - spectrum_dim, num_quantizers=num_quantizers,
            codebook_size=codebook_size, **vq_kwargs,
        )

    @property
    def codebook_size(self):
        """Codes per token (the learned stages' and the number of levels)."""
        return self.levels

    @property
    def num_quantizers(self):
        """Tokens per frame: the level, the spectrum tokens and the learned stages."""
        return self.vectors.num_quantizers + 1 + self.spectrum_dim

    @property
    def num_scalar(self):
        """Scalar tokens (the level and the spectrum's) before the learned stages."""
        return 1 + self.spectrum_dim

    def _level_codes(self, log_f0):
        scaled = (log_f0.float() - self.log_min) / (self.log_max - self.log_min)
        return (scaled * (self.levels - 1)).round().clamp(0, self.levels - 1).long()

    def _level_values(self, codes):
        log_f0 = self.log_min + codes.float() / (self.levels - 1) * (self.log_max - self.log_min)
        return LEVEL_SCALE * (log_f0 - self.center)

    def _spectrum_codes(self, values):
        relative = (values.float() - self.spectrum_center) / self.spectrum_step
        return (relative.round() + self.levels // 2).clamp(0, self.levels - 1).long()

    def _spectrum_values(self, codes):
        return SPECTRUM_SCALE * self.spectrum_step * (codes.float() - self.levels // 2)

    def _scalar_codes(self, x, mask):
        """Codes ``[B, T, 1 + spectrum_dim]`` of the level and the spectrum tokens."""
        level = self._level_codes(x[..., -1]).unsqueeze(-1)
        spectrum = self._spectrum_codes(x[..., -1 - self.spectrum_dim:-1])
        codes = torch.cat([level, spectrum], -1)
        if mask is not None:
            codes = codes.masked_fill(~mask.unsqueeze(-1), 0)
        return codes

    def _scalar_values(self, codes):
        """Output dimensions ``[..., spectrum_dim + 1]`` of the scalar codes."""
        level = self._level_values(codes[..., 0]).unsqueeze(-1)
        return torch.cat([self._spectrum_values(codes[..., 1:]), level], -1)

    def forward(self, x, mask=None):
        """Quantizes ``x`` ``[B, T, input_dim]``: ``(quantized, codes [B, T, num_quantizers],
        loss)``."""
        quantized, codes, loss = self.vectors(x[..., : -self.num_scalar], mask)
        scalar = self._scalar_codes(x, mask)
        out = torch.cat([quantized, self._scalar_values(scalar).to(quantized.dtype)], -1)
        return out, torch.cat([scalar, codes], -1), loss

    def encode(self, x, mask=None, num_quantizers=None):
        """Codes ``[B, T, k]`` of ``x``: the first ``k`` tokens (level, spectrum, stages)."""
        scalar = self._scalar_codes(x, mask)
        total = self.num_quantizers if num_quantizers is None else num_quantizers
        learned = total - self.num_scalar
        if learned <= 0:
            return scalar[..., : max(total, 0)]
        codes = self.vectors.encode(x[..., : -self.num_scalar], mask, num_quantizers=learned)
        return torch.cat([scalar, codes], -1)

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
        device = self.vectors.quantizers[0].codebook.device
        if stage < self.num_scalar:
            codes = torch.arange(self.levels, device=device)
            rows = torch.zeros(self.levels, self.input_dim, device=device)
            if stage == 0:
                rows[:, -1] = self._level_values(codes)
            else:
                rows[:, -1 - self.spectrum_dim + stage - 1] = self._spectrum_values(codes)
            return rows
        rows = self.vectors.stage_vectors(stage - self.num_scalar)
        return torch.cat([rows, rows.new_zeros(rows.shape[0], self.num_scalar)], -1)

    def decode(self, codes):
        """Vectors ``[B, T, input_dim]`` of codes ``[B, T, k]`` (tokens left out: zeros)."""
        if codes.shape[-1] > self.num_quantizers:
            raise ValueError(
                f"got {codes.shape[-1]} codebooks, this quantizer has {self.num_quantizers}"
            )
        if codes.shape[-1] == 0:
            return self.vectors.decode(codes).new_zeros(*codes.shape[:-1], self.input_dim)
        if codes.shape[-1] < self.num_scalar:  # spectrum tokens left out: their centres
            pad = codes.new_full((*codes.shape[:-1], self.num_scalar - codes.shape[-1]),
                                 self.levels // 2)
            values = self._scalar_values(torch.cat([codes, pad], -1))
            vectors = self.vectors.decode(codes[..., :0])
            return torch.cat([vectors, values.to(vectors.dtype)], -1)
        vectors = self.vectors.decode(codes[..., self.num_scalar:])
        scalar = self._scalar_values(codes[..., : self.num_scalar]).to(vectors.dtype)
        return torch.cat([vectors, scalar], -1)
