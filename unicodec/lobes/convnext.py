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
    attention_window : int, optional
        Frames each frame attends to on each side (banded, local attention). None attends
        over the whole input. With a window, an output frame depends only on the inputs
        within ``num_layers * attention_window`` frames, so a long input coded in
        overlapping windows gives the tokens of one pass.

    Example
    -------
    >>> layer = FrameTransformer(dim=16, num_layers=1, num_heads=2, ffn_dim=32)
    >>> layer(torch.randn(2, 7, 16), torch.ones(2, 7, dtype=torch.bool)).shape
    torch.Size([2, 7, 16])
    >>> local = FrameTransformer(dim=16, num_layers=1, num_heads=2, ffn_dim=32,
    ...                          attention_window=2).eval()
    >>> x, mask = torch.randn(1, 9, 16), torch.ones(1, 9, dtype=torch.bool)
    >>> changed = x.clone()
    >>> changed[:, 8] += 1.0                         # frame 8 is outside frame 5's window
    >>> torch.equal(local(x, mask)[:, :6], local(changed, mask)[:, :6])
    True
    """

    def __init__(self, dim, num_layers=2, num_heads=4, ffn_dim=1024, dropout=0.0,
                 attention_window=None):
        super().__init__()
        if attention_window is not None and attention_window < 0:
            raise ValueError(f"attention_window must be >= 0 or None, got {attention_window}")
        self.num_heads = num_heads
        self.attention_window = attention_window
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

    @property
    def receptive_field(self):
        """Frames on each side an output frame depends on (None: the whole input)."""
        if not self.layers:
            return 0
        if self.attention_window is None:
            return None
        return len(self.layers) * self.attention_window

    def _banded_mask(self, mask):
        """``[B * heads, T, T]`` attention mask (True = blocked): keys within the window
        that are valid; a padded frame attends to itself only (its output is dropped)."""
        num_frames = mask.shape[1]
        index = torch.arange(num_frames, device=mask.device)
        band = (index[None, :] - index[:, None]).abs() <= self.attention_window
        allowed = band[None] & mask[:, None, :]
        allowed = allowed | torch.eye(num_frames, dtype=torch.bool, device=mask.device)
        return (~allowed).repeat_interleave(self.num_heads, dim=0)

    def forward(self, x, mask):
        """Runs the layers on ``x`` ``[B, T, D]`` with ``mask`` ``[B, T]`` (True = valid)."""
        if self.attention_window is None:
            masks = {"src_key_padding_mask": ~mask}
        else:
            masks = {"src_mask": self._banded_mask(mask)}
        for layer in self.layers:
            x = layer(x, **masks)
            x = x * mask.unsqueeze(-1).to(x.dtype)
        return x
