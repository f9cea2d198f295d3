"""The speech level token: one G token that holds how loud the utterance is, restored at decoding.

The frame encoder is level-invariant and G's scalar spectrum tokens leave the overall
level out, so the decoder's output level is whatever it learned on average: on the
embedded default the rebuilt speech came out 2-3 dB quieter than the original, with a
spread of 1-2 dB from utterance to utterance. The level is measured rather than learned:
the mean over frequency of the log long-term power spectrum over the utterance's audible
frames (a 512-point STFT every 8 ms; frames more than ``floor_db`` below the loudest are
left out), in dB. It is coded as one token, uniform in steps of ``step_db`` around
``center_db``, that follows G's tokens; decoding measures its own output the same way
and applies the one gain that gives it the coded level. The gain is exact up to the
step (half a step at most), whatever the decoder, and the measure does not depend on the
gain, so one pass is enough.

Authors
 * UniCodec authors 2026
"""

import math

import torch
from torch import nn

from unicodec.lengths import frame_mask

DB_PER_NEPER = 10.0 / math.log(10.0)  # dB of a natural-log power ratio


class SpeechLevel(nn.Module):
    """Measures, codes and restores an utterance's speech level (one token per utterance).

    Arguments
    ---------
    levels : int
        Codes of the token (G's codebook size, so the token costs what every G token does).
    step_db : float
        Step between codes, in dB.
    center_db : float
        Level of code ``levels // 2``, in dB (relative to a unit-variance white noise,
        0 dB); levels beyond the codes' range are clamped to it.
    n_fft : int
        STFT size (and Hann window) of the measure.
    hop_length : int
        STFT hop.
    floor_db : float
        Frames more than this below the utterance's loudest are left out of the measure
        (pauses and digital silence).

    Example
    -------
    >>> level = SpeechLevel(levels=64, step_db=1.0, center_db=-40.0)
    >>> wav = 0.01 * torch.randn(2, 16000)  # white noise at -40 dB
    >>> level.measure(wav).round()
    tensor([-40., -40.])
    >>> codes = level.encode(wav * torch.tensor([[1.0], [2.0]]))  # the second 6 dB louder
    >>> codes.tolist()
    [32, 38]
    >>> out = level(0.1 * wav, codes)  # a decoder's output 20 dB too quiet: restored
    >>> level.measure(out).round()
    tensor([-40., -34.])
    """

    def __init__(self, levels=64, step_db=1.0, center_db=-45.0, n_fft=512, hop_length=128,
                 floor_db=50.0):
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels ({levels}) must be >= 2")
        if step_db <= 0 or floor_db <= 0:
            raise ValueError(f"step_db ({step_db}) and floor_db ({floor_db}) must be > 0")
        self.levels = int(levels)
        self.step_db = float(step_db)
        self.center_db = float(center_db)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.floor = 10.0 ** (-floor_db / 10.0)
        window = torch.hann_window(n_fft)
        self.register_buffer("window", window, persistent=False)
        # a white noise's power per bin equals its variance
        self.norm = float(window.pow(2).sum())

    def measure(self, wav, num_samples=None):
        """The speech level ``[B]`` in dB of waveforms ``[B, T]`` (``num_samples`` ``[B]``
        valid samples of each, all of ``T`` by default); digital silence measures at
        -120 dB."""
        total = wav.shape[-1]
        if num_samples is None:
            num_samples = torch.full((wav.shape[0],), total, device=wav.device)
        num_samples = num_samples.to(wav.device)
        x = wav.float() * frame_mask(num_samples, total).float()
        with torch.autocast(wav.device.type, enabled=False):
            spec = torch.stft(x, self.n_fft, self.hop_length, window=self.window,
                              pad_mode="constant", return_complex=True)
            power = spec.abs().pow(2) / self.norm  # [B, bins, T]
            energy = power.sum(1)
            starts = torch.arange(energy.shape[1], device=wav.device) * self.hop_length
            inside = starts[None] < num_samples[:, None]
            loudest = (energy * inside).amax(1, keepdim=True)
            keep = (inside & (energy > loudest * self.floor)).float()
            mean = (power * keep[:, None]).sum(-1) / keep.sum(1, keepdim=True).clamp(min=1)
            return DB_PER_NEPER * torch.log(mean + 1e-12).mean(1)

    def encode(self, wav, num_samples=None):
        """The level's code ``[B]`` (long) of waveforms ``[B, T]``."""
        steps = ((self.measure(wav, num_samples) - self.center_db) / self.step_db).round()
        return (steps + self.levels // 2).clamp(0, self.levels - 1).long()

    def decode(self, codes):
        """The level in dB ``[B]`` of codes ``[B]``."""
        return self.center_db + self.step_db * (codes.float() - self.levels // 2)

    def forward(self, wav, codes, num_samples=None):
        """``wav`` ``[B, T]`` scaled so that its level is the one ``codes`` ``[B]`` hold
        (digital silence stays silent)."""
        measured = self.measure(wav, num_samples)
        gain_db = torch.where(measured > -100.0, self.decode(codes.to(wav.device)) - measured,
                              torch.zeros_like(measured))
        return wav * (10.0 ** (gain_db / 20.0)).to(wav.dtype)[:, None]
