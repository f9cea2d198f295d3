"""The global encoder: log-mel of a segment -> one vector per utterance.

It carries what stays constant over an utterance (timbre, speaking style, emotion).
During training it sees a different segment of the utterance than the one being
rebuilt, so the words cannot leak through it.

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torchaudio
from speechbrain.lobes.models.ECAPA_TDNN import AttentiveStatisticsPooling
from torch import nn

from unicodec.lengths import count_to_relative, frame_mask, relative_to_count
from unicodec.lobes.convnext import ConvNeXtBlock


class GlobalEncoder(nn.Module):
    """Log-mel filterbanks, masked ConvNeXt blocks and attentive statistics pooling.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the input waveform.
    n_mels : int
        Mel bands.
    n_fft : int
        STFT size of the filterbank.
    hop_length : int
        Hop of the filterbank in samples.
    dim : int
        Width of the ConvNeXt blocks.
    num_blocks : int
        ConvNeXt blocks.
    attention_channels : int
        Hidden size of the attentive pooling.
    output_dim : int
        Size of the utterance vector.
    pitch_stats : ProsodyFeatures, optional
        When given, the utterance's voiced log-F0 mean and spread (its ``stats``) join the
        pooled statistics: the voice's pitch level, which the P tokens leave out.
    pitch_level : bool
        Append the mean log-F0 itself as the last output (``output_dim + 1`` in all, plus
        ``spectrum_coefficients``), for
        :class:`~unicodec.lobes.pitch_quantizer.PitchLevelQuantizer`'s scalar level token.
    spectrum_coefficients : int
        Append (before the pitch level, with ``pitch_level``) this many cepstral coefficients (1 to K, the
        overall level left out) of the utterance's long-term spectrum: the log of the mean
        mel power over its frames, through an orthonormal DCT. Coded as scalar tokens
        (``PitchLevelQuantizer``'s ``spectrum_dim``), they give the decoder the voice's and
        the channel's overall spectral shape as measured, not as learned from the
        training voices (:class:`~unicodec.lobes.decoder.FusionDecoder`'s
        ``spectrum_coefficients``).

    The blocks see the log-mel with its utterance mean removed (a channel-invariant view);
    the mean itself, the long-term spectrum and the clearest timbre cue, joins the pooled
    statistics through a projection of its own.

    Example
    -------
    >>> enc = GlobalEncoder(dim=32, num_blocks=1, attention_channels=16, output_dim=8)
    >>> enc(torch.randn(2, 16000), torch.tensor([1.0, 0.6])).shape
    torch.Size([2, 8])
    >>> enc = GlobalEncoder(dim=32, num_blocks=1, attention_channels=16, output_dim=8,
    ...                     spectrum_coefficients=4)
    >>> out = enc(torch.randn(2, 16000), torch.tensor([1.0, 0.6]))
    >>> out.shape  # 8 learned, then 4 cepstral coefficients of the long-term spectrum
    torch.Size([2, 12])
    >>> bool(out[:, -4:].abs().max() < 1)  # white noise: a flat long-term spectrum
    True
    """

    def __init__(
        self,
        sample_rate=16000,
        n_mels=80,
        n_fft=512,
        hop_length=160,
        dim=256,
        num_blocks=4,
        attention_channels=128,
        output_dim=256,
        pitch_stats=None,
        pitch_level=False,
        spectrum_coefficients=0,
    ):
        super().__init__()
        if spectrum_coefficients >= n_mels:
            raise ValueError(
                f"spectrum_coefficients ({spectrum_coefficients}) must be < n_mels ({n_mels})"
            )
        self.spectrum_coefficients = spectrum_coefficients
        if pitch_level and pitch_stats is None:
            raise ValueError("pitch_level needs pitch_stats (a ProsodyFeatures)")
        self.pitch_level = pitch_level
        self.hop_length = hop_length
        self.pitch_stats = pitch_stats
        num_stats = 0 if pitch_stats is None else pitch_stats.num_stats
        self.melspec = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=min(n_fft, int(0.025 * sample_rate)),
            hop_length=hop_length,
            n_mels=n_mels,
            center=True,
            pad_mode="constant",
        )
        self.input_proj = nn.Linear(n_mels, dim)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, 3 * dim, layer_scale=1.0 / num_blocks)
            for _ in range(num_blocks)
        )
        self.pooling = AttentiveStatisticsPooling(
            dim, attention_channels=attention_channels
        )
        self.spectrum_proj = nn.Linear(n_mels, dim)
        self.output = nn.Linear(3 * dim + num_stats, output_dim)
        self.register_buffer("dct", dct_matrix(n_mels, spectrum_coefficients + 1)[:, 1:],
                             persistent=False)
        # each band's power per unit of its filter's weight: a flat spectrum stays flat
        band_weight = self.melspec.mel_scale.fb.sum(0).clamp(min=1e-6)
        self.register_buffer("band_log_weight", band_weight.log(), persistent=False)

    def forward(self, wav, wav_lens, pitch_analysis=None):
        """One vector ``[B, output_dim]`` (``+ spectrum_coefficients``, ``+ 1`` with
        ``pitch_level``) per utterance of a
        padded batch ``[B, T]``; ``pitch_analysis`` (``pitch_stats``' output for this very
        batch, when the caller has it) saves analysing the pitch twice."""
        num_samples = relative_to_count(wav_lens, wav.shape[-1])
        power = self.melspec(wav).transpose(1, 2)  # [B, T, M]
        logmel = torch.log(power + 1e-5)
        counts = torch.div(num_samples, self.hop_length, rounding_mode="floor") + 1
        counts = counts.clamp(max=logmel.shape[1])
        mask = frame_mask(counts, logmel.shape[1]).unsqueeze(-1).to(logmel.dtype)
        mean = (logmel * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True)
        x = self.input_proj((logmel - mean) * mask) * mask
        for block in self.blocks:
            x = block(x, mask.squeeze(-1).bool())
        # half a frame below the count, so that float rounding in the pooling's
        # ``lengths * L`` can never admit a padded frame
        lens = count_to_relative(counts.float() - 0.5, x.shape[1])
        pooled = self.pooling(x.transpose(1, 2), lens).squeeze(-1)
        parts = [pooled, self.spectrum_proj(mean.squeeze(1))]
        if self.pitch_stats is not None:
            if pitch_analysis is None:
                pitch_analysis = self.pitch_stats(wav, wav_lens)
            stats = pitch_analysis["stats"]
            parts.append(torch.stack([4.0 * (stats[:, 0] - 5.0), 4.0 * stats[:, 1]], -1))
        vector = self.output(torch.cat([p.to(pooled.dtype) for p in parts], -1))
        if self.spectrum_coefficients:
            vector = torch.cat([vector, self.long_term_spectrum(power, mask)], -1)
        if self.pitch_level:
            vector = torch.cat([vector, stats[:, :1].to(vector.dtype)], -1)
        return vector

    def spectrum(self, wav, wav_lens):
        """The long-term spectrum's coefficients ``[B, spectrum_coefficients]`` of a padded
        batch ``[B, T]`` (what :meth:`forward` appends), alone."""
        num_samples = relative_to_count(wav_lens, wav.shape[-1])
        power = self.melspec(wav).transpose(1, 2)
        counts = torch.div(num_samples, self.hop_length, rounding_mode="floor") + 1
        counts = counts.clamp(max=power.shape[1])
        mask = frame_mask(counts, power.shape[1]).unsqueeze(-1).to(power.dtype)
        return self.long_term_spectrum(power, mask)

    def long_term_spectrum(self, power, mask):
        """Cepstral coefficients 1..K ``[B, K]`` of the log mean mel power ``[B, T, M]``
        over the frames of ``mask`` ``[B, T, 1]`` (each band divided by its filter's weight)."""
        with torch.autocast(power.device.type, enabled=False):
            mean = (power.float() * mask).sum(1) / mask.sum(1).clamp(min=1)
            return (torch.log(mean + 1e-5) - self.band_log_weight) @ self.dct


def dct_matrix(size, coefficients):
    """``[size, coefficients]``: the first columns of the orthonormal DCT-II of length ``size``
    (``x @ matrix`` are ``x``'s coefficients; ``coefficients @ matrix.T`` inverts them).

    Example
    -------
    >>> basis = dct_matrix(8, 8)
    >>> torch.allclose(basis.T @ basis, torch.eye(8), atol=1e-6)
    True
    """
    n = torch.arange(size, dtype=torch.float64)[:, None]
    k = torch.arange(coefficients, dtype=torch.float64)[None]
    basis = torch.cos(math.pi / size * (n + 0.5) * k) * math.sqrt(2.0 / size)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.float()


class NoGlobalEncoder(nn.Module):
    """The global encoder of a codec without G: a zero-width vector per utterance.

    Example
    -------
    >>> NoGlobalEncoder()(torch.randn(2, 16000), torch.ones(2)).shape
    torch.Size([2, 0])
    """

    output_dim = 0
    pitch_stats = None
    pitch_level = False

    def forward(self, wav, wav_lens=None, pitch_analysis=None):
        """``[B, 0]``."""
        return wav.new_zeros(wav.shape[0], 0)
