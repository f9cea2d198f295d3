"""Discriminators for adversarial training of the UniCodec decoder.

Two families, both returning HiFi-GAN's ``(score, feats)`` per sub-discriminator:

* waveform discriminators at several periods (HiFi-GAN's multi-period discriminator, MPD),
  with configurable periods and channel widths;
* spectrogram discriminators at several STFT resolutions (EnCodec's multi-scale STFT
  discriminator, close to the multi-resolution discriminators of DAC and Vocos).

``Discriminators`` combines any of them (SpeechBrain's ``HifiganDiscriminator`` included)
into flat lists of scores and feature maps, the layout the losses of
``unicodec.losses.adversarial`` and of ``speechbrain.lobes.models.HifiGAN`` take.

The discriminators see fixed-length training segments: they take no ``wav_lens``, so crop
segments rather than padding them.

Authors
 * UniCodec authors 2026
"""

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from unicodec.lobes.discriminator_layers import (  # noqa: F401
    Feats,
    Scores,
    _conv2d,
    _pair,
    _run_all,
    _to_channel,
)
from unicodec.lobes.stft_discriminators import (  # noqa: F401
    MultiResolutionSTFTDiscriminator,
    STFTDiscriminator,
)


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN's period discriminator with configurable channel widths.

    The waveform is folded into a 2-D map ``[T / period, period]`` (every ``period``-th
    sample in one column) and a stack of ``(kernel_size, 1)`` convolutions runs down the
    columns. This is ``speechbrain.lobes.models.HifiGAN.DiscriminatorP`` with two changes:
    the widths are an argument (SpeechBrain's are fixed at 32-128-512-1024-1024, about
    8.2M parameters per period, too heavy for a CPU-sized model), and the convolutions
    zero-pad as in the original HiFi-GAN instead of reflect-padding, so that short
    segments, whose deep feature maps are only a few rows high, also work. Subclassing
    ``DiscriminatorP`` would build its 1024-channel layers first, hence a separate class.

    Arguments
    ---------
    period : int
        Fold the waveform with this period (HiFi-GAN uses primes 2, 3, 5, 7, 11).
    channels : Sequence[int]
        Output channels of each convolution. All but the last are strided by ``stride``;
        the last keeps the resolution, as in HiFi-GAN. A final convolution maps to one
        channel of scores.
    kernel_size : int
        Kernel size along time of the stacked convolutions.
    stride : int
        Stride along time of all convolutions except the last one.
    negative_slope : float
        Slope of the leaky ReLU after each convolution.
    weight_norm : bool
        Whether to apply weight normalisation to the convolutions.

    Example
    -------
    >>> disc = PeriodDiscriminator(period=3, channels=[8, 16, 32])
    >>> score, feats = disc(torch.randn(2, 1000))
    >>> score.shape
    torch.Size([2, 114])
    >>> [f.shape[1] for f in feats]
    [8, 16, 32, 1]
    """

    def __init__(
        self,
        period: int,
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        kernel_size: int = 5,
        stride: int = 3,
        negative_slope: float = 0.1,
        weight_norm: bool = True,
    ):
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be positive, got {period}")
        if len(channels) < 1:
            raise ValueError("channels must name at least one convolution")
        self.period = period
        self.negative_slope = negative_slope
        self.convs = nn.ModuleList()
        in_channels = 1
        for i, out_channels in enumerate(channels):
            layer_stride = 1 if i == len(channels) - 1 else stride
            self.convs.append(
                _conv2d(
                    in_channels,
                    out_channels,
                    (kernel_size, 1),
                    stride=(layer_stride, 1),
                    weight_norm=weight_norm,
                )
            )
            in_channels = out_channels
        self.conv_post = _conv2d(in_channels, 1, (3, 1), weight_norm=weight_norm)

    def forward(self, wav: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Scores a batch of waveforms.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms ``[B, T]`` or ``[B, 1, T]``.

        Returns
        -------
        score : torch.Tensor
            ``[B, N]``, one score per position of the last feature map.
        feats : list of torch.Tensor
            The output of each convolution (after its activation), the score map last.
        """
        x = _to_channel(wav)
        batch, channels, time = x.shape
        if time % self.period != 0:
            n_pad = self.period - time % self.period
            mode = "reflect" if n_pad < time else "constant"
            x = F.pad(x, (0, n_pad), mode=mode)
            time = time + n_pad
        x = x.view(batch, channels, time // self.period, self.period)

        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.negative_slope)
            feats.append(x)
        x = self.conv_post(x)
        feats.append(x)
        return torch.flatten(x, 1, -1), feats


class MultiPeriodDiscriminator(nn.Module):
    """HiFi-GAN's multi-period discriminator (MPD) with configurable periods and widths.

    One ``PeriodDiscriminator`` per period, all with the same widths. Periods are best
    coprime, so that the sub-discriminators look at different sample patterns.

    Sizes (weight-normalised, so counting the extra gain per output channel):

    * default, HiFi-GAN's widths ``channels=[32, 128, 512, 1024, 1024]`` with periods
      ``[2, 3, 5, 7, 11]``: 5 x 8,221,154 = 41,105,770 parameters (the same layers,
      shapes and count as SpeechBrain's ``MultiPeriodDiscriminator``);
    * CPU-sized, ``channels=[16, 32, 64, 128, 128]`` with the same periods:
      5 x 136,882 = 684,410 parameters (1/60 of the default, and about 1/16 of its
      forward and backward time).

    Arguments
    ---------
    periods : Sequence[int]
        One sub-discriminator per period.
    channels : Sequence[int]
        Widths of each sub-discriminator's convolutions (see ``PeriodDiscriminator``).
    kernel_size : int
        Kernel size along time.
    stride : int
        Stride along time of all convolutions except the last one.
    negative_slope : float
        Slope of the leaky ReLUs.
    weight_norm : bool
        Whether to apply weight normalisation to the convolutions.

    Example
    -------
    >>> mpd = MultiPeriodDiscriminator(periods=[2, 3], channels=[8, 16])
    >>> scores, feats = mpd(torch.randn(2, 1, 1000))
    >>> [s.shape for s in scores]
    [torch.Size([2, 334]), torch.Size([2, 336])]
    >>> [len(f) for f in feats]
    [3, 3]
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        kernel_size: int = 5,
        stride: int = 3,
        negative_slope: float = 0.1,
        weight_norm: bool = True,
    ):
        super().__init__()
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(
                period=period,
                channels=channels,
                kernel_size=kernel_size,
                stride=stride,
                negative_slope=negative_slope,
                weight_norm=weight_norm,
            )
            for period in periods
        )

    def forward(self, wav: torch.Tensor) -> Tuple[Scores, Feats]:
        """Scores a batch of waveforms with every period.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms ``[B, T]`` or ``[B, 1, T]``.

        Returns
        -------
        scores : list of torch.Tensor
            One ``[B, N_i]`` score tensor per period.
        feats : list of list of torch.Tensor
            One list of feature maps per period.
        """
        return _run_all(self.discriminators, wav)


class Discriminators(nn.Module):
    """Several discriminators run on the same waveforms, their outputs in flat lists.

    Each member returns either ``(score, feats)`` (one sub-discriminator, such as
    ``PeriodDiscriminator``) or ``(scores, feats)`` lists (a group, such as
    ``MultiPeriodDiscriminator`` or SpeechBrain's ``HifiganDiscriminator``); groups are
    flattened, so the result holds one entry per sub-discriminator. Members receive the
    waveform as ``[B, 1, T]``.

    Sizes, for the two configurations documented on the groups:

    * default, ``MultiPeriodDiscriminator()`` + ``MultiResolutionSTFTDiscriminator()``:
      41,578,260 parameters; one forward and backward of a batch ``[4, 16000]`` takes
      about 2.9 s on 2 CPU cores (1.9 s the periods, 1.2 s the STFTs, which run
      channels-last);
    * CPU-sized, ``MultiPeriodDiscriminator(channels=[16, 32, 64, 128, 128])`` +
      ``MultiResolutionSTFTDiscriminator(n_ffts=[1024, 512, 256], channels=16)``:
      757,040 parameters, about 0.3 s for the same batch (0.07 s the periods, 0.2 s
      the STFTs).

    Arguments
    ---------
    discriminators : list of torch.nn.Module
        The discriminators to run.

    Example
    -------
    >>> discs = Discriminators(
    ...     discriminators=[
    ...         MultiPeriodDiscriminator(periods=[2, 3], channels=[8, 16]),
    ...         MultiResolutionSTFTDiscriminator(n_ffts=[256], channels=8),
    ...     ]
    ... )
    >>> scores, feats = discs(torch.randn(2, 1000))
    >>> len(scores), len(feats)
    (3, 3)
    >>> scores[2].shape
    torch.Size([2, 272])
    """

    def __init__(self, discriminators: Sequence[nn.Module]):
        super().__init__()
        if len(discriminators) == 0:
            raise ValueError("Discriminators needs at least one discriminator")
        self.discriminators = nn.ModuleList(discriminators)

    def forward(self, wav: torch.Tensor) -> Tuple[Scores, Feats]:
        """Scores a batch of waveforms with every discriminator.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms ``[B, T]`` or ``[B, 1, T]``.

        Returns
        -------
        scores : list of torch.Tensor
            One score tensor ``[B, N_i]`` per sub-discriminator.
        feats : list of list of torch.Tensor
            One list of feature maps per sub-discriminator.
        """
        return _run_all(self.discriminators, wav)


