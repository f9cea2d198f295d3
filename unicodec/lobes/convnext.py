"""ConvNeXt blocks over frame sequences, optionally conditioned by adaptive layer norm.

The same block serves the encoder (plain layer norm) and the fusion decoder (layer norm
whose scale and shift come from the global speaker/style vector), as in Vocos.

Authors
 * UniCodec authors 2026
"""

import torch
from torch import nn


class AdaptiveLayerNorm(nn.Module):
    """Layer norm whose scale and shift are predicted from a condition vector.

    At initialisation it is a plain layer norm (the projection starts at zero).

    Arguments
    ---------
    dim : int
        Feature dimension of the normalised input.
    cond_dim : int
        Dimension of the condition vector.
    eps : float
        Numerical floor of the normalisation.

    Example
    -------
    >>> norm = AdaptiveLayerNorm(dim=16, cond_dim=8)
    >>> norm(torch.randn(2, 5, 16), torch.randn(2, 8)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(self, dim, cond_dim, eps=1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.proj = nn.Linear(cond_dim, 2 * dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, cond):
        """Normalises ``x`` ``[B, T, D]`` under condition ``cond`` ``[B, C]``."""
        scale, shift = self.proj(cond).unsqueeze(1).chunk(2, dim=-1)
        return self.norm(x) * (1.0 + scale) + shift


class ConvNeXtBlock(nn.Module):
    """A 1-D ConvNeXt block: depthwise conv, (adaptive) layer norm, pointwise MLP, residual.

    Padded frames are zeroed on output when a mask is given, so a padded batch gives the
    same valid frames as each sequence alone.

    Arguments
    ---------
    dim : int
        Channels.
    intermediate_dim : int
        Hidden size of the pointwise MLP.
    kernel_size : int
        Depthwise convolution kernel (odd).
    layer_scale : float
        Initial value of the learnable residual scale.
    cond_dim : int, optional
        If given, the norm is an :class:`AdaptiveLayerNorm` driven by a condition vector.

    Example
    -------
    >>> block = ConvNeXtBlock(dim=16, intermediate_dim=48, cond_dim=8)
    >>> x, mask = torch.randn(2, 7, 16), torch.ones(2, 7, dtype=torch.bool)
    >>> block(x, mask, cond=torch.randn(2, 8)).shape
    torch.Size([2, 7, 16])
    """

    def __init__(
        self, dim, intermediate_dim, kernel_size=7, layer_scale=0.1, cond_dim=None
    ):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.dwconv = nn.Conv1d(
            dim, dim, kernel_size, padding=kernel_size // 2, groups=dim
        )
        if cond_dim is None:
            self.norm = nn.LayerNorm(dim, eps=1e-6)
        else:
            self.norm = AdaptiveLayerNorm(dim, cond_dim)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x, mask=None, cond=None):
        """Runs the block.

        Arguments
        ---------
        x : torch.Tensor
            ``[B, T, D]`` frames; padded frames must already be zero.
        mask : torch.Tensor, optional
            ``[B, T]`` bool, True on valid frames.
        cond : torch.Tensor, optional
            ``[B, C]`` condition, required when built with ``cond_dim``.

        Returns
        -------
        torch.Tensor
            ``[B, T, D]``.
        """
        residual = x
        x = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        if isinstance(self.norm, AdaptiveLayerNorm):
            if cond is None:
                raise ValueError("this ConvNeXtBlock is conditioned: pass cond")
            x = self.norm(x, cond)
        else:
            x = self.norm(x)
        x = self.pwconv2(self.act(self.pwconv1(x)))
        x = residual + self.gamma * x
        if mask is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        return x


class FrameTransformer(nn.Module):
    """A stack of pre-norm transformer layers over valid frames (key padding mask).

    Arguments
    ---------
    dim : int
        Model dimension.
    num_layers : int
        Number of layers (0 makes this an identity).
    num_heads : int
        Attention heads.
    ffn_dim : int
        Feed-forward hidden size.
    dropout : float
        Dropout inside the layers.

    Example
    -------
    >>> layer = FrameTransformer(dim=16, num_layers=1, num_heads=2, ffn_dim=32)
    >>> layer(torch.randn(2, 7, 16), torch.ones(2, 7, dtype=torch.bool)).shape
    torch.Size([2, 7, 16])
    """

    def __init__(self, dim, num_layers=2, num_heads=4, ffn_dim=1024, dropout=0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d_model=dim,
                nhead=num_heads,
                dim_feedforward=ffn_dim,
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(num_layers)
        )

    def forward(self, x, mask):
        """Runs the layers on ``x`` ``[B, T, D]`` with ``mask`` ``[B, T]`` (True = valid)."""
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=~mask)
            x = x * mask.unsqueeze(-1).to(x.dtype)
        return x
