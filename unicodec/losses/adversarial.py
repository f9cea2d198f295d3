"""Adversarial and feature-matching losses over the outputs of several discriminators.

The losses take the ``(scores, feats)`` lists of ``unicodec.lobes.discriminators``
(one score tensor and one list of feature maps per sub-discriminator), the layout of
``speechbrain.lobes.models.HifiGAN``. The per-score losses are SpeechBrain's
(``MSEGLoss``, ``HingeGLoss``, ``MSEDLoss``, ``HingeDLoss``, ``MelganFeatureLoss``); this
module chooses between them and reduces over sub-discriminators.

By default the losses are averaged over sub-discriminators (EnCodec's ``1 / K``), so
their scale, and hence the loss weights of a config, do not depend on how many
sub-discriminators there are; ``reduction="sum"`` gives HiFi-GAN's sum.

Authors
 * UniCodec authors 2026
"""

from typing import List, Sequence, Tuple

import torch
from speechbrain.lobes.models.HifiGAN import MelganFeatureLoss, MSEDLoss, MSEGLoss
from torch import nn

try:  # SpeechBrain >= 1.1
    from speechbrain.lobes.models.HifiGAN import HingeDLoss, HingeGLoss
except ImportError:  # SpeechBrain 1.0.x has the least-squares losses only: the same formulas

    class HingeGLoss(nn.Module):
        """Hinge generator loss ``mean(max(0, 1 - D(fake)))`` (SpeechBrain 1.1's)."""

        def forward(self, score_fake):
            return (1 - score_fake).clamp(min=0).mean()

    class HingeDLoss(nn.Module):
        """Hinge discriminator loss; returns ``(total, real part, fake part)`` (SpeechBrain
        1.1's)."""

        def forward(self, score_fake, score_real):
            loss_real = (1 - score_real).clamp(min=0).mean()
            loss_fake = (1 + score_fake).clamp(min=0).mean()
            return loss_real + loss_fake, loss_real, loss_fake

_GENERATOR_LOSSES = {"mse": MSEGLoss, "hinge": HingeGLoss}
_DISCRIMINATOR_LOSSES = {"mse": MSEDLoss, "hinge": HingeDLoss}
_REDUCTIONS = ("mean", "sum")


def _check_choice(name, value, choices):
    """Raises a ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def _as_list(scores):
    """Returns a score tensor or a list of them as a list."""
    if isinstance(scores, torch.Tensor):
        return [scores]
    return list(scores)


def _reduce(losses: List[torch.Tensor], reduction: str) -> torch.Tensor:
    """Sums or averages a list of scalar losses."""
    total = torch.stack(losses).sum()
    if reduction == "mean":
        total = total / len(losses)
    return total


class GeneratorAdversarialLoss(nn.Module):
    """Adversarial loss of the generator: fakes should be scored as real.

    ``loss_type="mse"``: least squares, ``mean((1 - D(fake))^2)`` (LSGAN, HiFi-GAN);
    ``loss_type="hinge"``: ``mean(max(0, 1 - D(fake)))`` (EnCodec). Each is averaged over
    the positions of one score tensor, then over (or summed across) sub-discriminators.

    Arguments
    ---------
    loss_type : str
        ``"mse"`` or ``"hinge"``.
    reduction : str
        ``"mean"`` or ``"sum"`` over sub-discriminators.

    Example
    -------
    >>> loss = GeneratorAdversarialLoss(loss_type="mse")
    >>> loss([torch.ones(2, 10), torch.zeros(2, 5)])
    tensor(0.5000)
    >>> GeneratorAdversarialLoss(loss_type="hinge")([torch.full((2, 3), 2.0)])
    tensor(0.)
    """

    def __init__(self, loss_type: str = "mse", reduction: str = "mean"):
        super().__init__()
        _check_choice("loss_type", loss_type, _GENERATOR_LOSSES)
        _check_choice("reduction", reduction, _REDUCTIONS)
        self.loss_type = loss_type
        self.reduction = reduction
        self.score_loss = _GENERATOR_LOSSES[loss_type]()

    def forward(self, scores_fake: Sequence[torch.Tensor]) -> torch.Tensor:
        """Returns the generator's adversarial loss.

        Arguments
        ---------
        scores_fake : list of torch.Tensor
            Scores of the generated waveforms, one tensor per sub-discriminator
            (a single tensor is taken as one sub-discriminator).

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        scores_fake = _as_list(scores_fake)
        return _reduce([self.score_loss(score) for score in scores_fake], self.reduction)


class DiscriminatorAdversarialLoss(nn.Module):
    """Adversarial loss of the discriminators: reals should score high, fakes low.

    ``loss_type="mse"``: least squares, ``mean((1 - D(real))^2) + mean(D(fake)^2)``
    (LSGAN, HiFi-GAN); ``loss_type="hinge"``:
    ``mean(max(0, 1 - D(real))) + mean(max(0, 1 + D(fake)))`` (EnCodec, DAC's alternative).
    SpeechBrain's ``MSEDLoss`` / ``HingeDLoss`` score each sub-discriminator; the sum
    over sub-discriminators is done here, not by SpeechBrain's ``_apply_D_loss``, whose
    real and fake parts come out as twice those of the last sub-discriminator only.

    Pass scores of detached fakes (``discriminators(fake.detach())``) so that this loss
    does not reach the generator.

    Arguments
    ---------
    loss_type : str
        ``"mse"`` or ``"hinge"``.
    reduction : str
        ``"mean"`` or ``"sum"`` over sub-discriminators.

    Example
    -------
    >>> loss = DiscriminatorAdversarialLoss(loss_type="mse")
    >>> total, real, fake = loss([torch.zeros(2, 10)], [torch.ones(2, 10)])
    >>> total, real, fake
    (tensor(0.), tensor(0.), tensor(0.))
    >>> loss([torch.ones(2, 10)], [torch.zeros(2, 10)])[0]
    tensor(2.)
    """

    def __init__(self, loss_type: str = "mse", reduction: str = "mean"):
        super().__init__()
        _check_choice("loss_type", loss_type, _DISCRIMINATOR_LOSSES)
        _check_choice("reduction", reduction, _REDUCTIONS)
        self.loss_type = loss_type
        self.reduction = reduction
        self.score_loss = _DISCRIMINATOR_LOSSES[loss_type]()

    def forward(
        self, scores_fake: Sequence[torch.Tensor], scores_real: Sequence[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the discriminators' loss and its real and fake parts.

        Arguments
        ---------
        scores_fake : list of torch.Tensor
            Scores of the generated waveforms, one tensor per sub-discriminator.
        scores_real : list of torch.Tensor
            Scores of the real waveforms, in the same order.

        Returns
        -------
        loss : torch.Tensor
            The scalar loss to minimise, ``loss_real + loss_fake``.
        loss_real : torch.Tensor
            The part from the real scores.
        loss_fake : torch.Tensor
            The part from the fake scores.
        """
        scores_fake, scores_real = _as_list(scores_fake), _as_list(scores_real)
        if len(scores_fake) != len(scores_real):
            raise ValueError(
                f"Got {len(scores_fake)} fake and {len(scores_real)} real score tensors"
            )
        reals, fakes = [], []
        for score_fake, score_real in zip(scores_fake, scores_real):
            _, loss_real, loss_fake = self.score_loss(score_fake, score_real)
            reals.append(loss_real)
            fakes.append(loss_fake)
        loss_real = _reduce(reals, self.reduction)
        loss_fake = _reduce(fakes, self.reduction)
        return loss_real + loss_fake, loss_real, loss_fake


class FeatureMatchingLoss(nn.Module):
    """L1 distance between the discriminator features of real and generated waveforms.

    With ``relative=False`` (the default), MelGAN's normalisation, as in SpeechBrain's
    ``MelganFeatureLoss`` (used here) and DAC: the mean absolute difference of each
    feature map, averaged over all feature maps of all sub-discriminators. HiFi-GAN
    sums the layers instead, which is this loss times their number.

    With ``relative=True``, EnCodec's normalisation: each layer's mean absolute
    difference is divided by the mean absolute value of the real feature map, then
    averaged over all feature maps; this makes every layer count alike whatever its
    scale, and the loss independent of the discriminators' widths and activations.

    Real features are targets: they are detached, so this loss trains only the generator.

    Arguments
    ---------
    relative : bool
        Whether to divide each layer's L1 by the mean absolute real feature (EnCodec).
    eps : float
        Added to the denominator of the relative loss.

    Example
    -------
    >>> feats_real = [[torch.ones(2, 4, 8), torch.full((2, 1, 8), 4.0)]]
    >>> feats_fake = [[torch.zeros(2, 4, 8), torch.full((2, 1, 8), 2.0)]]
    >>> FeatureMatchingLoss()(feats_fake, feats_real)  # (1 + 2) / 2
    tensor(1.5000)
    >>> FeatureMatchingLoss(relative=True)(feats_fake, feats_real)  # (1 / 1 + 2 / 4) / 2
    tensor(0.7500)
    >>> FeatureMatchingLoss()(feats_real, feats_real)
    tensor(0.)
    """

    def __init__(self, relative: bool = False, eps: float = 1e-8):
        super().__init__()
        self.relative = relative
        self.eps = eps
        self.melgan_loss = MelganFeatureLoss()

    def forward(
        self,
        feats_fake: Sequence[Sequence[torch.Tensor]],
        feats_real: Sequence[Sequence[torch.Tensor]],
    ) -> torch.Tensor:
        """Returns the feature-matching loss.

        Arguments
        ---------
        feats_fake : list of list of torch.Tensor
            Feature maps of the generated waveforms, one list per sub-discriminator.
        feats_real : list of list of torch.Tensor
            Feature maps of the real waveforms, in the same layout.

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        if len(feats_fake) != len(feats_real) or any(
            len(fake) != len(real) for fake, real in zip(feats_fake, feats_real)
        ):
            raise ValueError("feats_fake and feats_real must have the same layout")
        feats_real = [[feat.detach() for feat in real] for real in feats_real]
        if not self.relative:
            return self.melgan_loss(feats_fake, feats_real)
        losses = [
            (fake - real).abs().mean() / (real.abs().mean() + self.eps)
            for fakes, reals in zip(feats_fake, feats_real)
            for fake, real in zip(fakes, reals)
        ]
        return torch.stack(losses).mean()
