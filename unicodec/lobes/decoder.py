"""The fusion decoder: S and upsampled P frames, conditioned on G, back to a waveform.

S and P are summed after projection (P repeated to the S frame rate and refined by a
small convolution), run through ConvNeXt blocks whose layer norms take their scale and
shift from the global vector (adaptive layer norm), and turned into a waveform by an
inverse-STFT head (Vocos), which is fast on CPU.

Authors
 * UniCodec authors 2026
"""

import torch
from torch import nn

from unicodec.lobes.convnext import ConvNeXtBlock, FrameTransformer


class ISTFTHead(nn.Module):
    """Predicts STFT magnitude and phase per frame and inverts them (Vocos).

    Arguments
    ---------
    dim : int
        Input frame dimension.
    n_fft : int
        FFT size (>= 2 * hop_length).
    hop_length : int
        Samples per frame.

    Example
    -------
    >>> head = ISTFTHead(dim=16, n_fft=1280, hop_length=320)
    >>> head(torch.randn(2, 10, 16)).shape
    torch.Size([2, 3200])
    """

    def __init__(self, dim, n_fft=1280, hop_length=320):
        super().__init__()
        if n_fft < 2 * hop_length:
            raise ValueError(f"n_fft ({n_fft}) must be >= 2 * hop_length ({hop_length})")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.proj = nn.Linear(dim, n_fft + 2)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x):
        """Waveform ``[B, T * hop_length]`` of frames ``[B, T, dim]``."""
        log_mag, phase = self.proj(x).float().transpose(1, 2).chunk(2, dim=1)
        mag = torch.exp(log_mag).clamp(max=1e2)
        spec = torch.polar(mag, phase)
        return torch.istft(
            spec,
            self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            length=x.shape[1] * self.hop_length,
        )


class FusionDecoder(nn.Module):
    """Rebuilds a waveform from semantic and paralinguistic frames and a global vector.

    Arguments
    ---------
    input_dim : int
        Dimension of the quantized S and P frames.
    global_dim : int or None
        Dimension of the quantized global vector; None (or 0) for a codec without G
        (the blocks then use plain layer norms).
    dim : int
        Width of the ConvNeXt blocks.
    intermediate_dim : int
        Hidden size of the ConvNeXt MLPs.
    num_blocks : int
        ConvNeXt blocks (all conditioned on G by adaptive layer norm).
    num_transformer_layers : int
        Transformer layers after the blocks (0 for none).
    num_heads : int
        Attention heads.
    paralinguistic_stride : int
        S frames per P frame.
    n_fft : int
        FFT size of the inverse-STFT head.
    hop_length : int
        Samples per S frame.

    Example
    -------
    >>> dec = FusionDecoder(input_dim=16, global_dim=8, dim=32, intermediate_dim=64,
    ...                     num_blocks=2, num_transformer_layers=0)
    >>> wav = dec(torch.randn(2, 10, 16), torch.randn(2, 5, 16), torch.randn(2, 8))
    >>> wav.shape
    torch.Size([2, 3200])
    """

    def __init__(
        self,
        input_dim=256,
        global_dim=256,
        dim=384,
        intermediate_dim=1152,
        num_blocks=8,
        num_transformer_layers=0,
        num_heads=6,
        paralinguistic_stride=2,
        n_fft=1280,
        hop_length=320,
    ):
        super().__init__()
        self.paralinguistic_stride = paralinguistic_stride
        self.hop_length = hop_length
        self.semantic_proj = nn.Linear(input_dim, dim)
        self.paralinguistic_proj = nn.Linear(input_dim, dim)
        self.paralinguistic_smooth = nn.Conv1d(
            dim, dim, kernel_size=2 * paralinguistic_stride + 1,
            padding=paralinguistic_stride, groups=dim,
        )
        self.global_proj = nn.Linear(global_dim, dim) if global_dim else None
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(
                dim,
                intermediate_dim,
                layer_scale=1.0 / num_blocks,
                cond_dim=dim if global_dim else None,
            )
            for _ in range(num_blocks)
        )
        self.transformer = FrameTransformer(
            dim, num_transformer_layers, num_heads, ffn_dim=4 * dim
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = ISTFTHead(dim, n_fft=n_fft, hop_length=hop_length)

    def forward(self, semantic, paralinguistic, global_vector, mask=None):
        """Decodes a batch.

        Arguments
        ---------
        semantic : torch.Tensor
            ``[B, Ts, input_dim]`` quantized S frames.
        paralinguistic : torch.Tensor
            ``[B, Tp, input_dim]`` quantized P frames (``Tp * stride >= Ts``).
        global_vector : torch.Tensor
            ``[B, global_dim]`` quantized utterance vector.
        mask : torch.Tensor, optional
            ``[B, Ts]`` bool, True on valid S frames.

        Returns
        -------
        torch.Tensor
            ``[B, Ts * hop_length]`` waveform.
        """
        length = semantic.shape[1]
        para = self.paralinguistic_proj(paralinguistic)
        para = para.repeat_interleave(self.paralinguistic_stride, dim=1)[:, :length]
        if para.shape[1] < length:
            raise ValueError(
                f"{paralinguistic.shape[1]} paralinguistic frames cannot cover "
                f"{length} semantic frames (stride {self.paralinguistic_stride})"
            )
        para = self.paralinguistic_smooth(para.transpose(1, 2)).transpose(1, 2)
        x = self.semantic_proj(semantic) + para
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        x = x * mask.unsqueeze(-1).to(x.dtype)
        cond = None if self.global_proj is None else self.global_proj(global_vector)
        for block in self.blocks:
            x = block(x, mask, cond=cond)
        x = self.transformer(x, mask)
        return self.head(self.norm(x))
