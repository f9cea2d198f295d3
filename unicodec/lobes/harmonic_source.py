"""The excitation of a source-filter decoder: harmonics of a frame-rate F0, and noise.

The F0 contour (one log-F0 per frame) is interpolated to the sample rate and integrated
into a phase; the source is the sum of its harmonics below Nyquist at equal amplitude
(nothing aliases), normalised to unit power, computed in closed form (three sines per
sample, whatever the number of harmonics). Harmonics follow an F0 glide
sample by sample, so pitch needs no learning: the decoder only shapes the source's
spectrum (as in NSF and DDSP vocoders). The noise source is a fixed pseudo-random sequence,
so decoding is deterministic.

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class HarmonicSource(nn.Module):
    """Harmonic and noise excitations from a frame-rate log-F0 contour.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the excitation.
    hop_length : int
        Samples per F0 frame; frame ``t`` is centred on sample ``t * hop + hop / 2``.
    max_harmonics : int
        Most harmonics summed (those above Nyquist are silent).
    noise_seconds : float
        Length of the fixed noise sequence (repeated for longer outputs).

    Example
    -------
    >>> source = HarmonicSource(sample_rate=16000, hop_length=320)
    >>> log_f0 = torch.full((2, 50), math.log(200.0))
    >>> harmonic, noise = source(log_f0)
    >>> harmonic.shape, noise.shape
    (torch.Size([2, 16000]), torch.Size([2, 16000]))
    >>> spectrum = torch.fft.rfft(harmonic[0]).abs()  # 1 Hz bins
    >>> int(spectrum[150:250].argmax()) + 150, int(spectrum[350:450].argmax()) + 350
    (200, 400)
    """

    def __init__(self, sample_rate=16000, hop_length=320, max_harmonics=64, noise_seconds=2.0):
        super().__init__()
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.max_harmonics = max_harmonics
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(int(noise_seconds * sample_rate), generator=generator)
        self.register_buffer("noise", noise, persistent=False)

    def upsample(self, frames):
        """``[B, T]`` frame values linearly interpolated to ``[B, T * hop]`` samples."""
        hop = self.hop_length
        padded = F.pad(frames[:, None], (1, 1), mode="replicate")
        # sample n lies (n + 0.5) / hop - 0.5 frames after frame 0's centre
        out = F.interpolate(padded, scale_factor=hop, mode="linear", align_corners=False)
        start = hop  # the padding frame's samples
        return out[:, 0, start: start + frames.shape[1] * hop]

    def forward(self, log_f0):
        """Excitations ``[B, T * hop]`` of the log-F0 contour ``[B, T]`` (Hz, natural log).

        Returns
        -------
        harmonic : torch.Tensor
            Sum of the harmonics, unit power where F0 is below Nyquist.
        noise : torch.Tensor
            Unit-variance noise.
        """
        with torch.autocast(log_f0.device.type, enabled=False):
            f0 = self.upsample(log_f0.float()).exp()  # [B, N]
            # phase in cycles, wrapped each sample step to keep float32 precise
            increments = f0 / self.sample_rate
            phase = torch.cumsum(increments.double(), dim=1).remainder(1.0).float()
            # every harmonic below Nyquist at equal amplitude (a band-limited pulse train),
            # in closed form: sum_{k<=K} sin(k x) = sin(K x / 2) sin((K + 1) x / 2) / sin(x / 2)
            count = (self.sample_rate / 2 / f0).floor().clamp(1, self.max_harmonics)
            angle = 2 * math.pi * phase
            half = torch.sin(angle / 2)
            series = torch.sin(count * angle / 2) * torch.sin((count + 1) * angle / 2)
            # near x = 0 (mod 2 pi) both vanish: the sum is K (K + 1) / 2 * x there
            offset = angle - 2 * math.pi * torch.round(phase)
            small = half.abs() < 1e-3
            harmonic = torch.where(
                small, count * (count + 1) / 2 * offset, series / torch.where(small, 1.0, half)
            )
            harmonic = harmonic / (count / 2).sqrt()
            repeats = math.ceil(f0.shape[1] / self.noise.shape[0])
            noise = self.noise.repeat(repeats)[: f0.shape[1]].expand_as(harmonic)
        return harmonic, noise
