"""Vector quantizers: a single-codebook VQ and a residual VQ built from it.

Both take channels-last frames ``[B, T, D]`` and an optional padding mask ``[B, T]``;
padded frames never touch the codebook statistics, the k-means initialisation, the
dead-code restarts or the losses. Under DDP the codebook statistics are summed over
ranks, the k-means initialisation and restarted codes come from rank 0, and the random
quantizer-dropout choice comes from a generator seeded by the step count, so every rank
holds the same codebooks and makes the same choice without extra communication.

Authors
 * UniCodec authors 2026
"""


import torch
import torch.nn.functional as F
from torch import nn

from unicodec.lobes.codebook_ops import (  # noqa: F401
    _all_reduce_sum,
    _broadcast,
    _distributed,
    _gather_rows,
    _kmeans_plus_plus,
    _nearest,
    _sample_rows,
    kmeans,
)

# pitch tokens' dequantized values are LEVEL_SCALE x (log-F0 - center): about unit range
LEVEL_SCALE = 4.0


def _masked_mse(a, b, mask):
    """Mean squared error over the valid frames of ``[B, T, D]`` tensors."""
    per_frame = (a - b).pow(2).mean(-1)
    if mask is None:
        return per_frame.mean()
    weights = mask.to(per_frame.dtype)
    return (per_frame * weights).sum() / weights.sum().clamp(min=1.0)


class VectorQuantizer(nn.Module):
    """Vector quantization with one codebook, EMA-updated or learned.

    The codebook is initialised by k-means on the first training batch, and codes whose
    usage falls far below the average are restarted from frames of the current batch.
    The output passes gradients straight through to the input.

    Arguments
    ---------
    input_dim : int
        Dimension of the input frames.
    codebook_size : int
        Number of codes.
    codebook_dim : int, optional
        Dimension of the codes; when it differs from ``input_dim`` the input is
        projected down before quantization and back up after (factorized codes).
    ema : bool
        If True the codebook is a buffer updated by exponential moving averages of the
        frames assigned to each code; else it is a parameter trained by the codebook loss.
    decay : float
        EMA decay of the codebook statistics (and of the usage counts in both modes).
    commitment_weight : float
        Weight of the commitment term (input toward its code) inside the returned loss.
    kmeans_init : bool
        Initialise the codebook by k-means on the first training batch.
    kmeans_iters : int
        k-means iterations.
    kmeans_samples : int
        When the first batch holds fewer vectors than this (G: a few per batch for tens of
        codes), the training vectors of the following batches are kept too, and once
        this many are in hand the codebook is initialised again by k-means over all of
        them (0: the first batch only). Under DDP the vectors of every rank are gathered,
        so the initialisation sees all ranks' batches.
    dead_code_threshold : float
        A code is restarted when its usage (EMA of assignments per batch) falls below
        this fraction of the mean usage of all codes. 0 disables restarts.
    epsilon : float
        Laplace smoothing of the EMA cluster sizes.

    Example
    -------
    >>> vq = VectorQuantizer(input_dim=8, codebook_size=16)
    >>> x = torch.randn(2, 10, 8)
    >>> mask = torch.ones(2, 10, dtype=torch.bool)
    >>> quantized, codes, loss = vq(x, mask)  # training: k-means init, EMA update
    >>> quantized.shape, codes.shape, loss.shape
    (torch.Size([2, 10, 8]), torch.Size([2, 10]), torch.Size([]))
    >>> _ = vq.eval()
    >>> quantized, codes, _ = vq(x, mask)
    >>> torch.allclose(vq.decode(codes), quantized, atol=1e-6)  # straight-through rounding
    True
    """

    def __init__(
        self,
        input_dim,
        codebook_size=1024,
        codebook_dim=None,
        ema=True,
        decay=0.99,
        commitment_weight=0.25,
        kmeans_init=True,
        kmeans_iters=10,
        kmeans_samples=0,
        dead_code_threshold=0.05,
        epsilon=1e-5,
    ):
        super().__init__()
        codebook_dim = codebook_dim or input_dim
        self.codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.ema = ema
        self.decay = decay
        self.commitment_weight = commitment_weight
        self.kmeans_iters = kmeans_iters
        self.dead_code_threshold = dead_code_threshold
        self.epsilon = epsilon
        if codebook_dim != input_dim:
            self.project_in = nn.Linear(input_dim, codebook_dim)
            self.project_out = nn.Linear(codebook_dim, input_dim)
        else:
            self.project_in = nn.Identity()
            self.project_out = nn.Identity()
        init = torch.randn(codebook_size, codebook_dim)
        if ema:
            self.register_buffer("codebook", init)
            self.register_buffer("embed_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("initialized", torch.tensor(not kmeans_init))
        self.kmeans_samples = kmeans_samples if kmeans_init else 0
        self._reservoir = []  # training vectors kept for the second k-means

    def forward(self, x, mask=None):
        """Quantizes ``x`` ``[B, T, D]``; updates the codebook when training.

        Returns
        -------
        quantized : torch.Tensor
            ``[B, T, D]``, straight-through to ``x``.
        codes : torch.Tensor
            ``[B, T]`` long; 0 on padded frames.
        loss : torch.Tensor
            Commitment (and, for learned codebooks, codebook) loss over valid frames.
        """
        with torch.autocast(x.device.type, enabled=False):  # codebooks stay fp32
            return self._quantize(x.float(), mask)

    def _quantize(self, x, mask):
        z = self.project_in(x)
        flat = z.reshape(-1, self.codebook_dim)
        valid = flat if mask is None else flat[mask.reshape(-1)]
        if self.training and not bool(self.initialized):
            gathered = _gather_rows(valid.detach())  # every rank's: the same decisions
            self._kmeans_init(gathered)
            if gathered.shape[0] < self.kmeans_samples:
                self._reservoir = [gathered]
        elif self.training and self._reservoir:
            self._reservoir.append(_gather_rows(valid.detach()))
            kept = torch.cat(self._reservoir)
            if kept.shape[0] >= self.kmeans_samples:
                self._reservoir = []
                self._kmeans_init(kept)
        codes = _nearest(flat.detach(), self.codebook.detach())
        quantized = F.embedding(codes, self.codebook).view_as(z)
        valid_codes = codes if mask is None else codes[mask.reshape(-1)]
        if self.training:
            self._update_statistics(valid.detach(), valid_codes)
        loss = self.commitment_weight * _masked_mse(z, quantized.detach(), mask)
        if not self.ema:
            loss = loss + _masked_mse(z.detach(), quantized, mask)
        quantized = z + (quantized - z).detach()
        codes = codes.view(z.shape[:-1])
        if mask is not None:
            codes = codes.masked_fill(~mask, 0)
        return self.project_out(quantized), codes, loss

    def encode(self, x, mask=None):
        """Codes ``[B, T]`` of ``x`` ``[B, T, D]`` (no codebook update)."""
        z = self.project_in(x)
        codes = _nearest(z.reshape(-1, self.codebook_dim), self.codebook).view(z.shape[:-1])
        if mask is not None:
            codes = codes.masked_fill(~mask, 0)
        return codes

    def decode(self, codes):
        """Vectors ``[B, T, D]`` of codes ``[B, T]``."""
        return self.project_out(F.embedding(codes, self.codebook))

    @torch.no_grad()
    def _kmeans_init(self, samples):
        if samples.shape[0] == 0:
            return
        centroids = kmeans(samples.float(), self.codebook_size, self.kmeans_iters)
        _broadcast(centroids)
        self.codebook.data.copy_(centroids)
        if self.ema:
            self.embed_sum.copy_(centroids)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update_statistics(self, samples, codes):
        counts = torch.bincount(codes, minlength=self.codebook_size).to(samples.dtype)
        _all_reduce_sum(counts)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.ema:
            sums = torch.zeros_like(self.embed_sum).index_add_(0, codes, samples)
            _all_reduce_sum(sums)
            self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            total = self.cluster_size.sum()
            smoothed = (
                (self.cluster_size + self.epsilon)
                / (total + self.codebook_size * self.epsilon)
                * total
            )
            self.codebook.copy_(self.embed_sum / smoothed.unsqueeze(-1))
        self._restart_dead_codes(samples)

    @torch.no_grad()
    def _restart_dead_codes(self, samples):
        if self.dead_code_threshold <= 0 or samples.shape[0] == 0:
            return
        mean_usage = self.cluster_size.mean()
        dead = self.cluster_size < self.dead_code_threshold * mean_usage
        num_dead = int(dead.sum())
        if num_dead == 0:
            return
        replacements = _broadcast(_sample_rows(samples, num_dead).contiguous())
        self.codebook.data[dead] = replacements
        self.cluster_size[dead] = mean_usage
        if self.ema:
            self.embed_sum[dead] = replacements * mean_usage


class ResidualVectorQuantizer(nn.Module):
    """Residual vector quantization: each stage quantizes what the previous ones left.

    Quantizer dropout (training only) keeps a random number of leading stages per batch
    so that fewer codebooks still decode (a lower bitrate). The choice is drawn from a
    generator seeded by ``dropout_seed`` and a step counter kept in a buffer, so it is the
    same on every DDP rank and after a resume; dropped stages still run with zero weight,
    so no parameter is left unused.

    Arguments
    ---------
    input_dim : int
        Dimension of the input frames.
    num_quantizers : int
        Number of stages (codebooks).
    quantizer_dropout : float
        Probability that a training batch keeps a random number (1..num_quantizers) of
        stages instead of all.
    dropout_seed : int
        Seed of the dropout choice.
    **vq_kwargs
        Arguments of every :class:`VectorQuantizer` (``codebook_size``, ``ema``, ...).

    Example
    -------
    >>> rvq = ResidualVectorQuantizer(input_dim=8, num_quantizers=3, codebook_size=16)
    >>> quantized, codes, loss = rvq(torch.randn(2, 10, 8))
    >>> codes.shape
    torch.Size([2, 10, 3])
    >>> rvq.decode(rvq.encode(torch.randn(2, 10, 8), num_quantizers=2)).shape
    torch.Size([2, 10, 8])
    >>> rvq.decode(torch.zeros(2, 10, 0, dtype=torch.long)).abs().sum()  # no stage kept
    tensor(0.)
    """

    def __init__(
        self,
        input_dim,
        num_quantizers=2,
        quantizer_dropout=0.0,
        dropout_seed=0,
        **vq_kwargs,
    ):
        super().__init__()
        self.input_dim = input_dim
        self.num_quantizers = num_quantizers
        self.quantizer_dropout = quantizer_dropout
        self.dropout_seed = dropout_seed
        self.quantizers = nn.ModuleList(
            VectorQuantizer(input_dim, **vq_kwargs) for _ in range(num_quantizers)
        )
        self.register_buffer("step", torch.tensor(0, dtype=torch.long))

    @property
    def codebook_size(self):
        """Number of codes of each stage."""
        return self.quantizers[0].codebook_size

    def active_quantizers(self):
        """Number of stages the next training batch keeps (advances the step counter)."""
        generator = torch.Generator().manual_seed(
            int(self.dropout_seed) * 1_000_003 + int(self.step)
        )
        self.step += 1
        if torch.rand((), generator=generator) < self.quantizer_dropout:
            return int(torch.randint(1, self.num_quantizers + 1, (), generator=generator))
        return self.num_quantizers

    def forward(self, x, mask=None):
        """Quantizes ``x`` ``[B, T, D]``.

        Returns
        -------
        quantized : torch.Tensor
            ``[B, T, D]``, the sum of the kept stages.
        codes : torch.Tensor
            ``[B, T, num_quantizers]`` long.
        loss : torch.Tensor
            Sum of the kept stages' losses.
        """
        keep = self.active_quantizers() if self.training else self.num_quantizers
        x = x.float()
        residual = x
        quantized = torch.zeros_like(x)
        loss = x.new_zeros(())
        all_codes = []
        for index, stage in enumerate(self.quantizers):
            stage_out, codes, stage_loss = stage(residual, mask)
            weight = 1.0 if index < keep else 0.0
            quantized = quantized + weight * stage_out
            loss = loss + weight * stage_loss
            # stage_out is straight-through to its input, so the next residual carries no
            # gradient to x: the sum of the stages passes x's gradient once (the identity)
            residual = residual - stage_out
            all_codes.append(codes)
        return quantized, torch.stack(all_codes, dim=-1), loss

    def encode(self, x, mask=None, num_quantizers=None):
        """Codes ``[B, T, K]`` of ``x`` with the first ``K`` stages (all by default)."""
        num_quantizers = num_quantizers or self.num_quantizers
        residual = x
        all_codes = []
        for stage in self.quantizers[:num_quantizers]:
            codes = stage.encode(residual, mask)
            residual = residual - stage.decode(codes)
            all_codes.append(codes)
        return torch.stack(all_codes, dim=-1)

    def stage_vectors(self, stage):
        """``[codebook_size, input_dim]``: what each code of ``stage`` adds to the output.

        The dequantized vector of a frame is the sum over stages of its codes' rows.

        Example
        -------
        >>> rvq = ResidualVectorQuantizer(input_dim=4, num_quantizers=2, codebook_size=8)
        >>> codes = torch.tensor([[[3, 5]]])
        >>> rows = rvq.stage_vectors(0)[3] + rvq.stage_vectors(1)[5]
        >>> torch.allclose(rvq.decode(codes)[0, 0], rows, atol=1e-6)
        True
        """
        quantizer = self.quantizers[stage]
        codes = torch.arange(quantizer.codebook_size, device=quantizer.codebook.device)
        return quantizer.decode(codes[None])[0]

    def decode(self, codes):
        """Sum of the stage vectors of codes ``[B, T, K]`` (K <= num_quantizers).

        With ``K = 0`` (every stage dropped) the vectors are zeros.
        """
        if codes.shape[-1] > self.num_quantizers:
            raise ValueError(
                f"got {codes.shape[-1]} codebooks, this quantizer has {self.num_quantizers}"
            )
        weight = self.quantizers[0].codebook
        out = weight.new_zeros(*codes.shape[:-1], self.input_dim)
        for index in range(codes.shape[-1]):
            out = out + self.quantizers[index].decode(codes[..., index])
        return out


class NoQuantizer(nn.Module):
    """The quantizer of an absent stream: no codebooks, zero-width vectors, no loss.

    A codec without global tokens takes it as its global quantizer (and
    :class:`~unicodec.lobes.global_encoder.NoGlobalEncoder` as its global encoder), so the
    absence of G is stated once, where the codec is built, and no lobe branches on it.

    Example
    -------
    >>> none = NoQuantizer()
    >>> out, codes, loss = none(torch.randn(2, 1, 0))
    >>> out.shape, codes.shape, float(loss), none.num_quantizers
    (torch.Size([2, 1, 0]), torch.Size([2, 1, 0]), 0.0, 0)
    """

    codebook_size = 1  # 0 bits per token, and there are no tokens
    num_quantizers = 0

    def forward(self, x, mask=None):
        """Zero-width vectors and codes ``[B, T, 0]`` and a zero loss."""
        return x[..., :0], self.encode(x), x.new_zeros(())

    def encode(self, x, mask=None, num_quantizers=None):
        """Codes ``[B, T, 0]``."""
        return torch.zeros(x.shape[:-1] + (0,), dtype=torch.long, device=x.device)

    def decode(self, codes):
        """Vectors ``[B, T, 0]``."""
        return torch.zeros(codes.shape[:-1] + (0,), device=codes.device)

    def stage_vectors(self, stage):
        raise IndexError("an absent stream has no codebooks")


def __getattr__(name):
    # PitchLevelQuantizer lives in pitch_quantizer.py (which imports this module); its old
    # path here still loads models exported before it moved
    if name == "PitchLevelQuantizer":
        from unicodec.lobes.pitch_quantizer import PitchLevelQuantizer

        return PitchLevelQuantizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
