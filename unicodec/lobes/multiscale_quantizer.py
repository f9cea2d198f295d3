"""The multi-scale quantizer: global (G), semantic (S) and paralinguistic (P) tokens.

- G: the utterance vector of the global encoder, residual-quantized into ``Kg`` tokens.
- S: the encoder frames at the semantic frame rate, quantized into ``Ks`` tokens per frame;
  distillation from a self-supervised teacher (a loss beside the model) makes them carry
  the words.
- P: what S leaves of the encoder frames, pooled to a coarser frame rate
  (``paralinguistic_stride`` S frames per P frame) and residual-quantized into ``Kp``
  tokens per frame: prosody and detail.

Authors
 * UniCodec authors 2026
"""

from dataclasses import dataclass

import torch
from torch import nn

from unicodec.lengths import frame_mask, frames_for_samples
from unicodec.lobes.quantizers import NoQuantizer


@dataclass
class QuantizerOutput:
    """What :class:`MultiScaleQuantizer` returns in training.

    Arguments
    ---------
    global_vector : torch.Tensor
        ``[B, Dg]`` quantized utterance vector.
    semantic : torch.Tensor
        ``[B, Ts, D]`` quantized semantic frames (straight-through).
    paralinguistic : torch.Tensor
        ``[B, Tp, D]`` quantized paralinguistic frames (straight-through).
    global_tokens, semantic_tokens, paralinguistic_tokens : torch.Tensor
        ``[B, Kg]``, ``[B, Ts, Ks]``, ``[B, Tp, Kp]`` codes.
    semantic_mask, paralinguistic_mask : torch.Tensor
        ``[B, Ts]`` and ``[B, Tp]`` bool, True on valid frames.
    losses : dict
        Quantization (commitment) loss of each stream: ``global``, ``semantic``,
        ``paralinguistic``.
    """

    global_vector: torch.Tensor
    semantic: torch.Tensor
    paralinguistic: torch.Tensor
    global_tokens: torch.Tensor
    semantic_tokens: torch.Tensor
    paralinguistic_tokens: torch.Tensor
    semantic_mask: torch.Tensor
    paralinguistic_mask: torch.Tensor
    losses: dict


class MultiScaleQuantizer(nn.Module):
    """Quantizes an utterance at a global scale and at two local scales.

    Arguments
    ---------
    global_quantizer : ResidualVectorQuantizer or None
        Quantizer of the utterance vector (input dim = global encoder output). None
        builds a codec without G (a baseline): 0 global tokens, an empty global vector.
    semantic_quantizer : ResidualVectorQuantizer
        Quantizer of the encoder frames (input dim = ``frame_dim``).
    paralinguistic_quantizer : ResidualVectorQuantizer
        Quantizer of the pooled residual frames (input dim = ``frame_dim``).
    frame_dim : int
        Dimension of the encoder frames.
    paralinguistic_stride : int
        S frames per P frame.
    prosody_dim : int
        Number of explicit prosody features per S frame (e.g.
        :class:`~unicodec.lobes.pitch_tracker.ProsodyFeatures`: relative log-F0,
        periodicity, relative log-energy) pooled into P beside the residual; 0 for none.
    pitch_token : bool
        Give P's quantizer each P frame's mean relative log-F0 (the first prosody feature)
        as one more input dimension, for a
        :class:`~unicodec.lobes.pitch_quantizer.PitchLevelQuantizer` that codes it as an
        explicit token (the P vectors are then ``frame_dim + 1`` wide).

    Example
    -------
    >>> from unicodec.lobes.quantizers import ResidualVectorQuantizer
    >>> msq = MultiScaleQuantizer(
    ...     global_quantizer=ResidualVectorQuantizer(8, num_quantizers=2, codebook_size=4),
    ...     semantic_quantizer=ResidualVectorQuantizer(16, num_quantizers=1, codebook_size=32),
    ...     paralinguistic_quantizer=ResidualVectorQuantizer(16, num_quantizers=2, codebook_size=32),
    ...     frame_dim=16, paralinguistic_stride=2)
    >>> out = msq(torch.randn(2, 10, 16), torch.tensor([10, 7]), torch.randn(2, 8))
    >>> out.global_tokens.shape, out.semantic_tokens.shape, out.paralinguistic_tokens.shape
    (torch.Size([2, 2]), torch.Size([2, 10, 1]), torch.Size([2, 5, 2]))
    >>> out.paralinguistic_mask[1].tolist()  # ceil(7 / 2) valid P frames
    [True, True, True, True, False]
    """

    def __init__(
        self,
        global_quantizer,
        semantic_quantizer,
        paralinguistic_quantizer,
        frame_dim,
        paralinguistic_stride=2,
        prosody_dim=0,
        pitch_token=False,
    ):
        super().__init__()
        if pitch_token and not prosody_dim:
            raise ValueError("pitch_token needs the prosody features (prosody_dim > 0)")
        self.prosody_dim = prosody_dim
        self.pitch_token = pitch_token
        # a codec without G: the null quantizer, so no method branches on it
        self.global_quantizer = NoQuantizer() if global_quantizer is None else global_quantizer
        self.semantic_quantizer = semantic_quantizer
        self.paralinguistic_quantizer = paralinguistic_quantizer
        self.paralinguistic_stride = paralinguistic_stride
        self.pool = nn.Conv1d(
            frame_dim + prosody_dim,
            frame_dim,
            kernel_size=paralinguistic_stride,
            stride=paralinguistic_stride,
        )

    def codebook_sizes(self):
        """Codebook size of each stream: ``{"global": Cg, "semantic": Cs, "paralinguistic": Cp}``.

        Without G, ``Cg`` is 1 (and there are 0 global codebooks): 0 bits.
        """
        return {
            "global": self.global_quantizer.codebook_size,
            "semantic": self.semantic_quantizer.codebook_size,
            "paralinguistic": self.paralinguistic_quantizer.codebook_size,
        }

    def num_codebooks(self):
        """Number of codebooks of each stream."""
        return {
            "global": self.global_quantizer.num_quantizers,
            "semantic": self.semantic_quantizer.num_quantizers,
            "paralinguistic": self.paralinguistic_quantizer.num_quantizers,
        }

    @property
    def has_global(self):
        """Whether this quantizer has global (G) tokens."""
        return self.global_quantizer.num_quantizers > 0

    def _global(self, global_vector):
        """Quantized G vector, codes and loss (empty ones without G)."""
        g, g_codes, g_loss = self.global_quantizer(global_vector.unsqueeze(1))
        return g.squeeze(1), g_codes.squeeze(1), g_loss

    def _masks(self, num_frames, length):
        """Masks of the S frames (``length`` of them) and of the P frames."""
        if length % self.paralinguistic_stride:
            raise ValueError(
                f"the number of frames ({length}) must be a multiple of "
                f"paralinguistic_stride ({self.paralinguistic_stride})"
            )
        semantic_mask = frame_mask(num_frames, length)
        para_frames = frames_for_samples(num_frames, self.paralinguistic_stride)
        para_mask = frame_mask(para_frames, length // self.paralinguistic_stride)
        return semantic_mask, para_mask

    def _pool_residual(self, frames, semantic, semantic_mask, prosody=None):
        # S is straight-through (frames + (q - frames).detach()): frames - S would carry no
        # gradient to the encoder. frames - detached S has the same value and passes the
        # encoder P's whole gradient.
        residual = frames - semantic.detach()
        if self.prosody_dim:
            if prosody is None or prosody.shape[-1] != self.prosody_dim:
                got = None if prosody is None else prosody.shape[-1]
                raise ValueError(f"P needs {self.prosody_dim} prosody features, got {got}")
            residual = torch.cat([residual, prosody[:, : residual.shape[1]].to(residual)], -1)
        residual = residual * semantic_mask.unsqueeze(-1).to(residual.dtype)
        pooled = self.pool(residual.transpose(1, 2)).transpose(1, 2)
        if self.pitch_token:
            # the first prosody feature is 4 x (log-F0 - the utterance's mean)
            contour = prosody[:, : residual.shape[1], 0].to(pooled) / 4.0
            # the mean over the P frame's valid S frames (the last may have one)
            weight = semantic_mask[:, : residual.shape[1]].to(pooled)
            weight = weight.unflatten(1, (-1, self.paralinguistic_stride))
            contour = contour.unflatten(1, (-1, self.paralinguistic_stride))
            contour = (contour * weight).sum(-1) / weight.sum(-1).clamp(min=1)
            pooled = torch.cat([pooled, contour.unsqueeze(-1)], -1)
        return pooled

    def forward(self, frames, num_frames, global_vector, prosody=None):
        """Quantizes the three streams (training path: updates codebooks).

        Arguments
        ---------
        frames : torch.Tensor
            ``[B, T, D]`` encoder frames, T a multiple of ``paralinguistic_stride``.
        num_frames : torch.Tensor
            ``[B]`` long, valid frames of each utterance.
        global_vector : torch.Tensor
            ``[B, Dg]`` utterance vectors.
        prosody : torch.Tensor, optional
            ``[B, T, prosody_dim]`` explicit prosody features (when ``prosody_dim > 0``).

        Returns
        -------
        QuantizerOutput
        """
        semantic_mask, para_mask = self._masks(num_frames, frames.shape[1])
        g, g_codes, g_loss = self._global(global_vector)
        s, s_codes, s_loss = self.semantic_quantizer(frames, semantic_mask)
        pooled = self._pool_residual(frames, s, semantic_mask, prosody)
        p, p_codes, p_loss = self.paralinguistic_quantizer(pooled, para_mask)
        p = p * para_mask.unsqueeze(-1).to(p.dtype)
        return QuantizerOutput(
            global_vector=g,
            semantic=s * semantic_mask.unsqueeze(-1).to(s.dtype),
            paralinguistic=p,
            global_tokens=g_codes,
            semantic_tokens=s_codes,
            paralinguistic_tokens=p_codes,
            semantic_mask=semantic_mask,
            paralinguistic_mask=para_mask,
            losses={"global": g_loss, "semantic": s_loss, "paralinguistic": p_loss},
        )

    def quantize(self, frames, num_frames, global_vector, num_paralinguistic=None, prosody=None):
        """Tokens of the three streams (no codebook update).

        Arguments
        ---------
        frames, num_frames, global_vector
            As in :meth:`forward`.
        num_paralinguistic : int, optional
            Keep only the first codebooks of P (a lower bitrate).
        prosody : torch.Tensor, optional
            As in :meth:`forward`.

        Returns
        -------
        global_tokens, semantic_tokens, paralinguistic_tokens : torch.Tensor
            ``[B, Kg]``, ``[B, Ts, Ks]``, ``[B, Tp, Kp]``; 0 on padded frames.
        """
        semantic_mask, para_mask = self._masks(num_frames, frames.shape[1])
        g_codes = self.global_quantizer.encode(global_vector.unsqueeze(1)).squeeze(1)
        s_codes = self.semantic_quantizer.encode(frames, semantic_mask)
        s = self.semantic_quantizer.decode(s_codes)
        pooled = self._pool_residual(frames, s, semantic_mask, prosody)
        p_codes = self.paralinguistic_quantizer.encode(
            pooled, para_mask, num_quantizers=num_paralinguistic
        )
        return g_codes, s_codes, p_codes

    def dequantize(self, global_tokens, semantic_tokens, paralinguistic_tokens):
        """Vectors of tokens: ``[B, Dg]``, ``[B, Ts, D]``, ``[B, Tp, D]``.

        Raises
        ------
        ValueError
            If a token lies outside its codebook, or a stream has too many codebooks.
        """
        streams = {
            "semantic": (semantic_tokens, self.semantic_quantizer),
            "paralinguistic": (paralinguistic_tokens, self.paralinguistic_quantizer),
        }
        if not self.has_global and global_tokens.shape[-1] != 0:
            raise ValueError(
                f"this model has no global tokens, got {global_tokens.shape[-1]} per utterance"
            )
        streams["global"] = (global_tokens.unsqueeze(1), self.global_quantizer)
        vectors = {}
        for name, (codes, quantizer) in streams.items():
            if codes.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
                raise TypeError(f"{name} tokens must be integers, got {codes.dtype}")
            if codes.numel() and (codes.min() < 0 or codes.max() >= quantizer.codebook_size):
                raise ValueError(
                    f"{name} tokens must lie in [0, {quantizer.codebook_size}), got values "
                    f"in [{int(codes.min())}, {int(codes.max())}]"
                )
            if codes.shape[-1] > quantizer.num_quantizers:
                raise ValueError(
                    f"{name} tokens have {codes.shape[-1]} codebooks, the model has "
                    f"{quantizer.num_quantizers}"
                )
            vectors[name] = quantizer.decode(codes.long())
        return (
            vectors["global"].squeeze(1),
            vectors["semantic"],
            vectors["paralinguistic"],
        )
