"""The frame encoder: waveform -> frames at the semantic frame rate (50 Hz at 16 kHz).

A time-frequency front end (power-law compressed complex STFT, one frame per hop) is
followed by ConvNeXt blocks and a few transformer layers for context. Padded frames are
masked throughout, so a padded batch gives the same frames as each file alone.

Authors
 * UniCodec authors 2026
"""

import torch
from torch import nn

from unicodec.lengths import frame_mask, frames_for_samples, relative_to_count
from unicodec.lobes.convnext import ConvNeXtBlock, FrameTransformer


class Encoder(nn.Module):
    """Encodes a waveform into frames ``[B, T, D]``, one per ``hop_length`` samples.

    Arguments
    ---------
    hop_length : int
        Samples per frame (320 at 16 kHz gives 50 Hz).
    n_fft : int
        STFT size of the front end (>= hop_length, even).
    dim : int
        Width of the ConvNeXt blocks and transformer layers.
    intermediate_dim : int
        Hidden size of the ConvNeXt MLPs.
    num_blocks : int
        ConvNeXt blocks.
    num_transformer_layers : int
        Transformer layers after the blocks.
    num_heads : int
        Attention heads.
    output_dim : int
        Dimension of the output frames (what the quantizer sees).
    compression : float
        Power-law exponent applied to STFT magnitudes.
    attention_window : int, optional
        Frames each transformer layer attends to on each side; None (the default) attends
        over the whole input. A window makes the receptive field finite
        (:attr:`receptive_field`), so long inputs coded in overlapping windows get the
        tokens of one pass.
    level_invariant : bool
        Divide each waveform by its RMS first, so the frames (the S and P tokens) do not
        depend on how loud the input is; the level is then left to the global encoder,
        which sees the waveform as it is. False for codecs without G.

    Example
    -------
    >>> enc = Encoder(hop_length=320, n_fft=640, dim=32, intermediate_dim=64,
    ...               num_blocks=1, num_transformer_layers=1, num_heads=2, output_dim=16)
    >>> frames = enc(torch.randn(2, 6400), torch.tensor([1.0, 0.5]))
    >>> frames.shape
    torch.Size([2, 20, 16])
    >>> bool(frames[1, 10:].abs().sum() == 0)  # padded frames are zero
    True
    >>> enc = Encoder(n_fft=640, dim=32, intermediate_dim=64, num_blocks=1,
    ...               num_transformer_layers=0, num_heads=2, output_dim=16,
    ...               level_invariant=True)
    >>> wav, lens = torch.randn(1, 6400), torch.ones(1)
    >>> torch.allclose(enc(wav, lens), enc(0.1 * wav, lens), atol=1e-5)
    True
    """

    def __init__(
        self,
        hop_length=320,
        n_fft=640,
        dim=384,
        intermediate_dim=1152,
        num_blocks=8,
        num_transformer_layers=2,
        num_heads=6,
        output_dim=256,
        compression=0.3,
        attention_window=None,
        level_invariant=False,
    ):
        super().__init__()
        if n_fft < hop_length or n_fft % 2 or (n_fft - hop_length) % 2:
            raise ValueError(
                f"n_fft ({n_fft}) must be even, >= hop_length ({hop_length}) "
                "and differ from it by an even number"
            )
        self.hop_length = hop_length
        self.n_fft = n_fft
        self.compression = compression
        self.level_invariant = level_invariant
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.input_proj = nn.Linear(2 * (n_fft // 2 + 1), dim)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, layer_scale=1.0 / num_blocks)
            for _ in range(num_blocks)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.transformer = FrameTransformer(
            dim, num_transformer_layers, num_heads, ffn_dim=4 * dim,
            attention_window=attention_window,
        )
        self.output_proj = nn.Linear(dim, output_dim)

    @property
    def receptive_field(self):
        """Frames on each side of an output frame whose samples it depends on.

        The STFT window reaches into the neighbouring frames, each ConvNeXt block adds half
        its kernel and each banded transformer layer its attention window. None when
        attention covers the whole input.

        Example
        -------
        >>> Encoder(n_fft=640, dim=16, intermediate_dim=32, num_blocks=2,
        ...         num_transformer_layers=1, num_heads=2, output_dim=8,
        ...         attention_window=10).receptive_field  # 1 + 2 x 3 + 10
        17
        """
        attention = self.transformer.receptive_field
        if attention is None:
            return None
        side = (self.n_fft - self.hop_length) // 2
        stft = -(-side // self.hop_length)
        convs = sum(block.dwconv.kernel_size[0] // 2 for block in self.blocks)
        return stft + convs + attention

    def spectrum(self, wav):
        """Compressed complex STFT ``[B, T // hop, 2 * (n_fft // 2 + 1)]``.

        The waveform is right-padded to a multiple of the hop; frame ``t`` is centred on
        samples ``[t * hop, (t + 1) * hop)``.
        """
        pad_end = (-wav.shape[-1]) % self.hop_length
        side = (self.n_fft - self.hop_length) // 2
        wav = nn.functional.pad(wav, (side, side + pad_end))
        spec = torch.stft(
            wav,
            self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        mag = spec.abs().clamp(min=1e-7)
        spec = spec * (mag ** (self.compression - 1.0))
        return torch.cat([spec.real, spec.imag], dim=1).transpose(1, 2)

    def level(self, wav, wav_lens):
        """RMS ``[B]`` of each waveform of a padded batch (what ``level_invariant``
        divides by)."""
        num_samples = relative_to_count(wav_lens, wav.shape[-1])
        return (wav.float().pow(2).sum(-1) / num_samples.clamp(min=1)).sqrt()

    def forward(self, wav, wav_lens, level=None):
        """Encodes a padded batch.

        Arguments
        ---------
        wav : torch.Tensor
            ``[B, T]`` waveforms, zero beyond each one's length.
        wav_lens : torch.Tensor
            ``[B]`` relative lengths.
        level : torch.Tensor, optional
            ``[B]`` RMS that ``level_invariant`` divides by instead of each waveform's own
            (:meth:`level`): a window of a long input takes the whole input's.

        Returns
        -------
        torch.Tensor
            ``[B, ceil(T / hop), output_dim]``, zero on padded frames.
        """
        num_samples = relative_to_count(wav_lens, wav.shape[-1])
        if self.level_invariant:
            if level is None:
                level = self.level(wav, wav_lens)
            wav = wav / level.clamp(min=1e-4).to(wav.dtype).unsqueeze(-1)
        x = self.input_proj(self.spectrum(wav))
        mask = frame_mask(frames_for_samples(num_samples, self.hop_length), x.shape[1])
        x = x * mask.unsqueeze(-1).to(x.dtype)
        for block in self.blocks:
            x = block(x, mask)
        x = self.transformer(self.norm(x) * mask.unsqueeze(-1).to(x.dtype), mask)
        return self.output_proj(x) * mask.unsqueeze(-1).to(x.dtype)
