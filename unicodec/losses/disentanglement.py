"""Losses that keep the semantic (S) and paralinguistic (P) streams apart.

- :func:`gradient_reversal` / :class:`GradientReversal`: identity forward, gradient times
  ``-scale`` backward (Ganin and Lempitsky 2015).
- :class:`SpeakerAdversary`: a speaker classifier on S behind a gradient reversal: the
  classifier learns to find the speaker, the encoder learns to hide it from S.
- :class:`CLUB`: the contrastive log-ratio upper bound of the mutual information I(S; P)
  (Cheng et al. 2020), with its variational network q(p | s).
- :class:`DecorrelationLoss`: a cheaper alternative, the squared cross-correlation of S and P.

S runs at a multiple of P's frame rate (50 Hz vs 25 Hz): S is average-pooled over its valid
frames by ``rate_ratio`` so that one S vector faces one P vector.

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from unicodec.lengths import relative_frame_mask




def masked_avg_pool(feats, mask, factor):
    """Average-pools ``[B, T, D]`` frames by ``factor`` over valid frames only.

    Arguments
    ---------
    feats : torch.Tensor
        ``[B, T, D]`` frames.
    mask : torch.Tensor
        ``[B, T]`` bool, valid frames.
    factor : int
        Pooling factor (a last incomplete group is kept).

    Returns
    -------
    pooled : torch.Tensor
        ``[B, ceil(T / factor), D]``; groups with no valid frame are zero.
    pooled_mask : torch.Tensor
        ``[B, ceil(T / factor)]`` bool, groups holding a valid frame.

    Example
    -------
    >>> x = torch.arange(5.0).view(1, 5, 1)
    >>> pooled, mask = masked_avg_pool(x, torch.tensor([[1, 1, 1, 0, 0]]).bool(), 2)
    >>> pooled[0, :, 0], mask
    (tensor([0.5000, 2.0000, 0.0000]), tensor([[ True,  True, False]]))
    """
    if factor == 1:
        return feats * mask[..., None].to(feats.dtype), mask
    batch, frames, dim = feats.shape
    groups = math.ceil(frames / factor)
    pad = groups * factor - frames
    weights = F.pad(mask.to(feats.dtype), (0, pad))
    feats = F.pad(feats * mask[..., None].to(feats.dtype), (0, 0, 0, pad))
    sums = feats.view(batch, groups, factor, dim).sum(2)
    counts = weights.view(batch, groups, factor).sum(2)
    pooled = sums / counts.clamp(min=1)[..., None]
    return pooled, counts > 0


def align_s_to_p(s_feats, p_feats, lengths=None, rate_ratio=2):
    """Pools S to P's frame rate and returns both on a common time axis with its mask.

    Arguments
    ---------
    s_feats : torch.Tensor
        ``[B, Ts, Ds]`` S features.
    p_feats : torch.Tensor
        ``[B, Tp, Dp]`` P features.
    lengths : torch.Tensor, optional
        ``[B]`` relative lengths (the same audio for both streams).
    rate_ratio : int
        S frames per P frame.

    Returns
    -------
    s : torch.Tensor
        ``[B, T, Ds]`` pooled S.
    p : torch.Tensor
        ``[B, T, Dp]`` P.
    mask : torch.Tensor
        ``[B, T]`` bool, frames valid in both.

    Example
    -------
    >>> s, p, mask = align_s_to_p(torch.randn(2, 50, 8), torch.randn(2, 25, 4))
    >>> s.shape, p.shape, mask.shape
    (torch.Size([2, 25, 8]), torch.Size([2, 25, 4]), torch.Size([2, 25]))
    """
    batch = s_feats.shape[0]
    s_mask = relative_frame_mask(lengths, s_feats.shape[1], s_feats.device).expand(batch, -1)
    p_mask = relative_frame_mask(lengths, p_feats.shape[1], p_feats.device).expand(batch, -1)
    s_pooled, s_mask = masked_avg_pool(s_feats, s_mask, rate_ratio)
    frames = min(s_pooled.shape[1], p_feats.shape[1])
    mask = s_mask[:, :frames] & p_mask[:, :frames]
    return s_pooled[:, :frames], p_feats[:, :frames], mask


class _GradientReversalFunction(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``-scale`` backward."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = float(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.scale * grad_output, None


def gradient_reversal(x, scale=1.0):
    """Identity in the forward pass, gradient multiplied by ``-scale`` in the backward pass.

    Example
    -------
    >>> x = torch.ones(3, requires_grad=True)
    >>> gradient_reversal(x, scale=0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000, -0.5000])
    """
    return _GradientReversalFunction.apply(x, scale)


class GradientReversal(nn.Module):
    """Gradient reversal layer (Ganin and Lempitsky 2015).

    Arguments
    ---------
    scale : float
        Gradient multiplier magnitude; an attribute, so a schedule may change it in training.

    Example
    -------
    >>> grl = GradientReversal(scale=2.0)
    >>> x = torch.randn(2, 5, 8, requires_grad=True)
    >>> y = grl(x)
    >>> torch.equal(y, x)
    True
    >>> y.sum().backward()
    >>> x.grad.unique()
    tensor([-2.])
    """

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        """Returns ``x``; its gradient is reversed and scaled."""
        return gradient_reversal(x, self.scale)


class SpeakerAdversary(nn.Module):
    """Speaker classifier on S behind a gradient reversal layer.

    S frames go through :class:`GradientReversal`, are pooled (mean and standard deviation
    over valid frames), and an MLP predicts the speaker; the loss is the cross-entropy. The
    classifier minimises it, while the reversed gradient makes the encoder maximise it, so
    S loses speaker information. Trainable: put it in the Brain's ``modules``.

    Arguments
    ---------
    input_size : int
        Dimension of the S features.
    num_speakers : int
        Number of training speakers.
    hidden_size : int
        Width of the MLP's hidden layer.
    grl_scale : float
        Scale of the reversed gradient (``self.grl.scale`` may be changed in training).

    Example
    -------
    >>> adversary = SpeakerAdversary(input_size=16, num_speakers=4)
    >>> s = torch.randn(3, 50, 16)
    >>> loss = adversary(s, torch.tensor([0, 2, 3]), torch.tensor([1.0, 0.8, 0.5]))
    >>> loss.shape
    torch.Size([])
    >>> adversary.logits(s).shape
    torch.Size([3, 4])
    """

    def __init__(self, input_size, num_speakers, hidden_size=256, grl_scale=1.0):
        super().__init__()
        self.grl = GradientReversal(grl_scale)
        self.classifier = nn.Sequential(
            nn.Linear(2 * input_size, hidden_size),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_size, num_speakers),
        )

    def logits(self, s_feats, lengths=None):
        """Speaker logits ``[B, num_speakers]`` of ``s_feats`` ``[B, T, D]``."""
        mask = relative_frame_mask(lengths, s_feats.shape[1], s_feats.device)
        mask = mask.expand(s_feats.shape[0], -1)[..., None].to(s_feats.dtype)
        x = self.grl(s_feats)
        count = mask.sum(1).clamp(min=1)
        mean = (x * mask).sum(1) / count
        var = (((x - mean[:, None]) * mask) ** 2).sum(1) / count
        std = torch.sqrt(var + 1e-5)
        return self.classifier(torch.cat([mean, std], dim=-1))

    def forward(self, s_feats, speaker_ids, lengths=None):
        """Cross-entropy of the speaker prediction from S (a scalar).

        Arguments
        ---------
        s_feats : torch.Tensor
            ``[B, T, D]`` S features.
        speaker_ids : torch.Tensor
            ``[B]`` long speaker indices.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        return F.cross_entropy(self.logits(s_feats, lengths), speaker_ids.view(-1).long())


class CLUB(nn.Module):
    """Contrastive log-ratio upper bound of I(S; P) (Cheng et al. 2020) between S and P frames.

    A Gaussian ``q(p | s) = N(mu(s), diag(exp(logvar(s))))`` is fitted by
    :meth:`learning_loss` (its negative log-likelihood). The bound is

        ``mean_i [ log q(p_i | s_i) - mean_j log q(p_j | s_i) ]``

    over the valid frames ``i`` of the batch, the negatives ``j`` being all valid frames of the
    batch (computed in closed form, linear in the number of frames). It is what the encoder
    minimises.

    Both streams are standardised per dimension over the batch's valid frames first: the
    mutual information does not change with a stream's scale, and the estimate must not
    either, or the encoder lowers it by growing P where ``q`` lags behind (measured: the
    fit's loss climbing from 65 to 130 over 20 epochs, then the estimate at -1e4 and
    training diverged). The estimate is clamped at zero, below which the bound of a
    non-negative quantity says nothing, so a ``q`` that fits worse than the marginal gives
    the encoder no gradient to chase.

    Gradients are kept apart so that both terms may go into one total loss and one optimizer:
    :meth:`forward` (the bound) sends gradients to S and P only, not to q; and
    :meth:`learning_loss` sends them to q only (its inputs are detached). Trainable: put it in
    the Brain's ``modules``.

    Arguments
    ---------
    s_size : int
        Dimension of the S features.
    p_size : int
        Dimension of the P features.
    hidden_size : int
        Width of q's hidden layers.
    rate_ratio : int
        S frames per P frame (S is average-pooled by it; 1 for streams at one rate).

    Example
    -------
    >>> club = CLUB(s_size=8, p_size=4, hidden_size=32)
    >>> s, p = torch.randn(2, 50, 8), torch.randn(2, 25, 4)
    >>> club.learning_loss(s, p).shape, club(s, p).shape
    (torch.Size([]), torch.Size([]))
    """

    def __init__(self, s_size, p_size, hidden_size=256, rate_ratio=2):
        super().__init__()
        self.rate_ratio = rate_ratio
        self.q_mu = nn.Sequential(
            nn.Linear(s_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, p_size)
        )
        self.q_logvar = nn.Sequential(
            nn.Linear(s_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, p_size),
            nn.Tanh(),
        )

    def _valid_frames(self, s_feats, p_feats, lengths):
        s, p, mask = align_s_to_p(s_feats, p_feats, lengths, self.rate_ratio)
        return _standardize(s[mask].float()), _standardize(p[mask].float())  # [N, Ds], [N, Dp]

    def learning_loss(self, s_feats, p_feats, lengths=None):
        """Negative log-likelihood of P under q(p | s) (scalar; trains q only).

        Arguments
        ---------
        s_feats : torch.Tensor
            ``[B, Ts, Ds]`` S features.
        p_feats : torch.Tensor
            ``[B, Tp, Dp]`` P features.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        s, p = self._valid_frames(s_feats.detach(), p_feats.detach(), lengths)
        mu, logvar = self.q_mu(s), self.q_logvar(s)
        nll = 0.5 * ((mu - p) ** 2 / logvar.exp() + logvar + math.log(2 * math.pi))
        return nll.sum(-1).mean()

    def forward(self, s_feats, p_feats, lengths=None):
        """The CLUB estimate of I(S; P) in nats (scalar; gradients to S and P only).

        Arguments
        ---------
        s_feats : torch.Tensor
            ``[B, Ts, Ds]`` S features.
        p_feats : torch.Tensor
            ``[B, Tp, Dp]`` P features.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        s, p = self._valid_frames(s_feats, p_feats, lengths)
        mu = functional_call(self.q_mu, _detached(self.q_mu), (s,))
        var = functional_call(self.q_logvar, _detached(self.q_logvar), (s,)).exp()
        positive = -((mu - p) ** 2) / (2 * var)
        # mean_j (p_j - mu_i)^2 = (mu_i - mean(p))^2 + var(p), per dimension
        p_mean = p.mean(0, keepdim=True)
        p_var = ((p - p_mean) ** 2).mean(0, keepdim=True)
        negative = -((mu - p_mean) ** 2 + p_var) / (2 * var)
        return (positive - negative).sum(-1).mean().clamp(min=0)


def _standardize(x, eps=1e-5):
    """``x`` ``[N, D]`` with zero mean and unit variance per dimension over its rows."""
    mean = x.mean(0, keepdim=True)
    return (x - mean) / ((x - mean).pow(2).mean(0, keepdim=True) + eps).sqrt()


def _detached(module):
    """The module's parameters and buffers, detached, for ``functional_call``."""
    tensors = dict(module.named_parameters())
    tensors.update(module.named_buffers())
    return {name: t.detach() for name, t in tensors.items()}


class DecorrelationLoss(nn.Module):
    """Mean squared cross-correlation between S and P features over valid frames.

    Both streams are standardised per dimension over the valid frames of the batch (S first
    pooled to P's rate); the loss is the mean of the squared entries of the ``[Ds, Dp]``
    correlation matrix: zero for uncorrelated streams, one when every S dimension is a copy
    of every P dimension. No trainable parameters; it only sees linear dependence (use
    :class:`CLUB` for more).

    Arguments
    ---------
    rate_ratio : int
        S frames per P frame.
    eps : float
        Added to the variances.

    Example
    -------
    >>> loss = DecorrelationLoss(rate_ratio=1)
    >>> s = torch.randn(4, 250, 3)
    >>> round(loss(s, s[..., :1]).item(), 1)  # P is S's first dim: one entry of three is 1
    0.3
    >>> loss(s, torch.randn(4, 250, 2)).item() < 0.01
    True
    """

    def __init__(self, rate_ratio=2, eps=1e-5):
        super().__init__()
        self.rate_ratio = rate_ratio
        self.eps = eps

    def forward(self, s_feats, p_feats, lengths=None):
        """Returns the loss (a scalar).

        Arguments
        ---------
        s_feats : torch.Tensor
            ``[B, Ts, Ds]`` S features.
        p_feats : torch.Tensor
            ``[B, Tp, Dp]`` P features.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        s, p, mask = align_s_to_p(s_feats, p_feats, lengths, self.rate_ratio)
        s, p = s[mask], p[mask]
        s = (s - s.mean(0)) / torch.sqrt(s.var(0, unbiased=False) + self.eps)
        p = (p - p.mean(0)) / torch.sqrt(p.var(0, unbiased=False) + self.eps)
        corr = s.t() @ p / s.shape[0]
        return (corr**2).mean()
