"""Building blocks shared by the discriminators: weight-normalised 2-D convolutions, the
channel layout of a waveform batch, and running a list of sub-discriminators into HiFi-GAN's
flat lists of scores and feature maps."""

from typing import List, Tuple

import torch
from torch import nn


Scores = List[torch.Tensor]

Feats = List[List[torch.Tensor]]

def _to_channel(wav: torch.Tensor) -> torch.Tensor:
    """Returns a waveform ``[B, T]`` or ``[B, 1, T]`` as ``[B, 1, T]``."""
    if wav.dim() == 2:
        return wav.unsqueeze(1)
    if wav.dim() == 3 and wav.shape[1] == 1:
        return wav
    raise ValueError(f"Expected a waveform [B, T] or [B, 1, T], got shape {tuple(wav.shape)}")

def _pair(value):
    """Returns ``value`` as a tuple of two ints."""
    if isinstance(value, int):
        return (value, value)
    return tuple(value)

def _conv2d(in_channels, out_channels, kernel_size, stride=1, dilation=1, weight_norm=True):
    """A 2-D convolution that keeps the size (up to striding), with optional weight norm."""
    kernel_size = _pair(kernel_size)
    dilation = _pair(dilation)
    padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel_size, dilation))
    conv = nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        dilation=dilation,
        padding=padding,
    )
    if weight_norm:
        conv = nn.utils.parametrizations.weight_norm(conv)
    return conv

def _run_all(discriminators: nn.ModuleList, wav: torch.Tensor) -> Tuple[Scores, Feats]:
    """Runs each discriminator on ``wav`` and flattens groups into one list."""
    wav = _to_channel(wav)
    scores, feats = [], []
    for disc in discriminators:
        score, feat = disc(wav)
        if isinstance(score, (list, tuple)):
            scores.extend(score)
            feats.extend(feat)
        else:
            scores.append(score)
            feats.append(feat)
    return scores, feats
