"""Discriminators on complex spectrograms: one STFT resolution, and several side by side
(the multi-resolution STFT discriminator of EnCodec and DAC)."""

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from unicodec.lobes.discriminator_layers import Feats, Scores, _conv2d, _run_all, _to_channel


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
        # channels-last: the same convolutions about 1.7x faster on CPU (oneDNN), where
        # their few channels leave the default layout memory-bound
        x = self.spectrogram(wav).contiguous(memory_format=torch.channels_last)
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
