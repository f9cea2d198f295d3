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


class STFTDiscriminator(nn.Module):
    """A 2-D convolutional discriminator on the short-time Fourier transform.

    EnCodec's STFT discriminator: the (normalised) STFT of the waveform, as real and
    imaginary channels (``representation="complex"``, EnCodec, DAC) or as the magnitude
    (``representation="magnitude"``, Vocos / UnivNet), laid out ``[B, C, frames, bins]``,
    goes through a convolution, then one convolution per dilation (dilated along time,
    strided along frequency), then a square one and a one-channel score convolution.

    Arguments
    ---------
    n_fft : int
        FFT size.
    hop_length : int, optional
        Hop between frames; ``n_fft // 4`` if not given.
    win_length : int, optional
        Hann window length; ``n_fft`` if not given.
    channels : int
        Width of every convolution (EnCodec uses 32 throughout).
    kernel_size : tuple of int
        ``(time, frequency)`` kernel of the first and the dilated convolutions.
    freq_stride : int
        Stride along frequency of the dilated convolutions.
    dilations : Sequence[int]
        Dilation along time of each of the strided convolutions.
    representation : str
        ``"complex"`` (real and imaginary parts) or ``"magnitude"``.
    negative_slope : float
        Slope of the leaky ReLUs.
    weight_norm : bool
        Whether to apply weight normalisation to the convolutions.

    Example
    -------
    >>> disc = STFTDiscriminator(n_fft=256, channels=8)
    >>> score, feats = disc(torch.randn(2, 1000))
    >>> score.shape  # 16 frames x 17 frequency bins
    torch.Size([2, 272])
    >>> [tuple(f.shape[1:]) for f in feats]
    [(8, 16, 129), (8, 16, 65), (8, 16, 33), (8, 16, 17), (8, 16, 17), (1, 16, 17)]
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int = None,
        win_length: int = None,
        channels: int = 32,
        kernel_size: Tuple[int, int] = (3, 9),
        freq_stride: int = 2,
        dilations: Sequence[int] = (1, 2, 4),
        representation: str = "complex",
        negative_slope: float = 0.2,
        weight_norm: bool = True,
    ):
        super().__init__()
        if representation not in ("complex", "magnitude"):
            raise ValueError(
                f"representation must be 'complex' or 'magnitude', got {representation!r}"
            )
        self.n_fft = n_fft
        self.hop_length = hop_length or n_fft // 4
        self.win_length = win_length or n_fft
        self.representation = representation
        self.negative_slope = negative_slope
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

        in_channels = 2 if representation == "complex" else 1
        self.convs = nn.ModuleList(
            [_conv2d(in_channels, channels, kernel_size, weight_norm=weight_norm)]
        )
        for dilation in dilations:
            self.convs.append(
                _conv2d(
                    channels,
                    channels,
                    kernel_size,
                    stride=(1, freq_stride),
                    dilation=(dilation, 1),
                    weight_norm=weight_norm,
                )
            )
        square = (kernel_size[0], kernel_size[0])
        self.convs.append(_conv2d(channels, channels, square, weight_norm=weight_norm))
        self.conv_post = _conv2d(channels, 1, square, weight_norm=weight_norm)

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """Returns the STFT input of the convolutions, ``[B, C, frames, bins]``.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms ``[B, T]`` or ``[B, 1, T]``.

        Returns
        -------
        torch.Tensor
            ``C = 2`` (real, imaginary) or ``C = 1`` (magnitude).
        """
        wav = _to_channel(wav).squeeze(1)
        # Reflect-padding needs more samples than half a window; pad short inputs with zeros.
        pad_mode = "reflect" if wav.shape[-1] > self.n_fft // 2 else "constant"
        spec = torch.stft(
            wav,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode=pad_mode,
            normalized=True,
            return_complex=True,
        )
        if self.representation == "complex":
            spec = torch.stack([spec.real, spec.imag], dim=1)
        else:
            spec = spec.abs().unsqueeze(1)
        return spec.transpose(2, 3)

    def forward(self, wav: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Scores a batch of waveforms.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms ``[B, T]`` or ``[B, 1, T]``.

        Returns
        -------
        score : torch.Tensor
            ``[B, N]``, one score per time-frequency position of the last feature map.
        feats : list of torch.Tensor
            The output of each convolution (after its activation), the score map last.
        """
        x = self.spectrogram(wav)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.negative_slope)
            feats.append(x)
        x = self.conv_post(x)
        feats.append(x)
        return torch.flatten(x, 1, -1), feats


class MultiResolutionSTFTDiscriminator(nn.Module):
    """EnCodec's multi-scale STFT discriminator: one ``STFTDiscriminator`` per FFT size.

    Sizes (weight-normalised):

    * default, ``n_ffts=[2048, 1024, 512, 256, 128]`` (EnCodec's) with ``channels=32``:
      5 x 94,498 = 472,490 parameters; its cost is in compute rather than parameters,
      about the same per resolution (fewer frames for more bins);
    * CPU-sized, ``n_ffts=[1024, 512, 256]`` with ``channels=16``: 3 x 24,210 = 72,630
      parameters (about 1/4 of the default's forward and backward time).

    Arguments
    ---------
    n_ffts : Sequence[int]
        One sub-discriminator per FFT size.
    hop_lengths : Sequence[int], optional
        Hops, one per FFT size; a quarter of each FFT size if not given.
    channels : int
        Width of the convolutions of every sub-discriminator.
    kernel_size : tuple of int
        ``(time, frequency)`` kernel (see ``STFTDiscriminator``).
    freq_stride : int
        Stride along frequency of the dilated convolutions.
    dilations : Sequence[int]
        Time dilations of the strided convolutions.
    representation : str
        ``"complex"`` or ``"magnitude"``.
    negative_slope : float
        Slope of the leaky ReLUs.
    weight_norm : bool
        Whether to apply weight normalisation to the convolutions.

    Example
    -------
    >>> mrd = MultiResolutionSTFTDiscriminator(n_ffts=[256, 128], channels=8)
    >>> scores, feats = mrd(torch.randn(2, 1000))
    >>> [s.shape for s in scores]
    [torch.Size([2, 272]), torch.Size([2, 288])]
    >>> [len(f) for f in feats]
    [6, 6]
    """

    def __init__(
        self,
        n_ffts: Sequence[int] = (2048, 1024, 512, 256, 128),
        hop_lengths: Sequence[int] = None,
        channels: int = 32,
        kernel_size: Tuple[int, int] = (3, 9),
        freq_stride: int = 2,
        dilations: Sequence[int] = (1, 2, 4),
        representation: str = "complex",
        negative_slope: float = 0.2,
        weight_norm: bool = True,
    ):
        super().__init__()
        if hop_lengths is None:
            hop_lengths = [n_fft // 4 for n_fft in n_ffts]
        if len(hop_lengths) != len(n_ffts):
            raise ValueError("hop_lengths must have one entry per FFT size")
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(
                n_fft=n_fft,
                hop_length=hop_length,
                channels=channels,
                kernel_size=kernel_size,
                freq_stride=freq_stride,
                dilations=dilations,
                representation=representation,
                negative_slope=negative_slope,
                weight_norm=weight_norm,
            )
            for n_fft, hop_length in zip(n_ffts, hop_lengths)
        )

    def forward(self, wav: torch.Tensor) -> Tuple[Scores, Feats]:
        """Scores a batch of waveforms at every resolution.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms ``[B, T]`` or ``[B, 1, T]``.

        Returns
        -------
        scores : list of torch.Tensor
            One ``[B, N_i]`` score tensor per FFT size.
        feats : list of list of torch.Tensor
            One list of feature maps per FFT size.
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
      about 4 s on 2 CPU cores (2 s the periods, 1.8 s the STFTs);
    * CPU-sized, ``MultiPeriodDiscriminator(channels=[16, 32, 64, 128, 128])`` +
      ``MultiResolutionSTFTDiscriminator(n_ffts=[1024, 512, 256], channels=16)``:
      757,040 parameters, about 0.5 s for the same batch (0.1 s the periods, 0.4 s
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
