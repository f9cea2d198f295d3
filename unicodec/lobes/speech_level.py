"""The speech level token: one G token that holds how loud the utterance is, restored at decoding.

The frame encoder is level-invariant and G's scalar spectrum tokens leave the overall
level out, so the decoder's output level is whatever it learned on average: on the
embedded default the rebuilt speech came out 2-3 dB quieter than the original, with a
spread of 1-2 dB from utterance to utterance. The level is measured rather than learned:
the mean power of the utterance's active frames (32 ms every 8 ms), in dB, gated in two
stages as loudness meters are (ITU-R BS.1770 gates 400 ms blocks, absolutely and then
10 dB below their mean): frames more than ``floor_db`` below the loudest are left out,
then those more than ``gate_db`` below the mean of the rest, so pauses, their noise
floor and digital silence do not count. It is coded as one token, uniform
in steps of ``step_db`` around ``center_db``, that follows G's tokens; decoding measures
its own output the same way and applies the one gain that gives it the coded level.
The gain is exact up to half a step, whatever the decoder; at the ends of the codes'
range, which hold "this loud or more" and "this quiet or less", it only brings the
output within the range.

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
        Level of code ``levels // 2``, in dB relative to a unit-variance white noise (0
        dB; a full-scale sine is -3 dB); levels beyond the codes' range are clamped to it.
    n_fft : int
        Frame (and Hann window) of the measure, in samples.
    hop_length : int
        Hop between frames.
    floor_db : float
        Frames more than this below the utterance's loudest are left out.
    gate_db : float
        Then the frames more than this below the mean power of those left are left out.

    Example
    -------
    >>> level = SpeechLevel(levels=64, step_db=1.0, center_db=-30.0)
    >>> _ = torch.manual_seed(0)
    >>> wav = 0.0316 * torch.randn(2, 16000)  # white noise at -30 dB
    >>> level.measure(wav).round()
    tensor([-30., -30.])
    >>> codes = level.encode(wav * torch.tensor([[1.0], [2.0]]))  # the second 6 dB louder
    >>> codes.tolist()
    [32, 38]
    >>> out = level(0.1 * wav, codes)  # a decoder's output 20 dB too quiet: restored
    >>> level.measure(out).round()
    tensor([-30., -24.])
    """

    def __init__(self, levels=64, step_db=1.0, center_db=-30.0, n_fft=512, hop_length=128,
                 floor_db=50.0, gate_db=20.0):
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels ({levels}) must be >= 2")
        if step_db <= 0 or floor_db <= 0 or gate_db <= 0:
            raise ValueError(
                f"step_db ({step_db}), floor_db ({floor_db}) and gate_db ({gate_db}) must "
                "be > 0"
            )
        self.levels = int(levels)
        self.step_db = float(step_db)
        self.center_db = float(center_db)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.floor_db = float(floor_db)
        self.gate_db = float(gate_db)
        # each frame's power: x^2 through the squared window, normalised so that a white
        # noise's equals its variance (a convolution: memory grows with the input alone)
        window = torch.hann_window(n_fft).pow(2)
        self.register_buffer("kernel", (window / window.sum())[None, None], persistent=False)

    def settings(self):
        """What the codes mean: a token file's model fingerprint includes it."""
        return {"levels": self.levels, "step_db": self.step_db, "center_db": self.center_db,
                "n_fft": self.n_fft, "hop_length": self.hop_length,
                "floor_db": self.floor_db, "gate_db": self.gate_db}

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
            padded = nn.functional.pad(x.pow(2)[:, None], (self.n_fft // 2, self.n_fft // 2))
            energy = nn.functional.conv1d(padded, self.kernel.float(),
                                          stride=self.hop_length)[:, 0]  # [B, frames]
            starts = torch.arange(energy.shape[1], device=wav.device) * self.hop_length
            inside = (starts[None] < num_samples[:, None]).float()
            loudest = (energy * inside).amax(1, keepdim=True)
            keep = inside * (energy > loudest * 10 ** (-self.floor_db / 10)).float()
            mean = (energy * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp(min=1)
            keep = keep * (energy > mean * 10 ** (-self.gate_db / 10)).float()
            mean = (energy * keep).sum(1) / keep.sum(1).clamp(min=1)
            return DB_PER_NEPER * torch.log(mean + 1e-12)

    def encode(self, wav, num_samples=None):
        """The level's code ``[B]`` (long) of waveforms ``[B, T]``."""
        steps = ((self.measure(wav, num_samples) - self.center_db) / self.step_db).round()
        return (steps + self.levels // 2).clamp(0, self.levels - 1).long()

    def decode(self, codes):
        """The level in dB ``[B]`` of codes ``[B]``."""
        return self.center_db + self.step_db * (codes.float() - self.levels // 2)

    def forward(self, wav, codes, num_samples=None):
        """``wav`` ``[B, T]`` scaled so that its level is the one ``codes`` ``[B]`` hold
        (at the lowest code at most that level, at the highest at least; digital silence
        stays silent)."""
        measured = self.measure(wav, num_samples)
        codes = codes.to(wav.device)
        gain_db = self.decode(codes) - measured
        gain_db = torch.where(codes <= 0, gain_db.clamp(max=0), gain_db)
        gain_db = torch.where(codes >= self.levels - 1, gain_db.clamp(min=0), gain_db)
        gain_db = torch.where(measured > -100.0, gain_db, torch.zeros_like(gain_db))
        return wav * (10.0 ** (gain_db / 20.0)).to(wav.dtype)[:, None]
