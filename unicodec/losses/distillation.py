"""Distillation of the semantic (S) features toward a self-supervised teacher.

S features are projected to the teacher's dimension by a trainable linear layer and compared
with the teacher's features (see ``unicodec.lobes.teachers.SSLTeacher``) by an L1 term and a
cosine term, either per frame ("time" axis: DistilHuBERT, Chang et al. 2022) or per feature
dimension along time ("dim" axis: the D-axis loss of SpeechTokenizer, Zhang et al. 2024).

Authors
 * UniCodec authors 2026
"""

import torch
import torch.nn.functional as F
from torch import nn

from unicodec.lengths import relative_frame_mask




class DistillationLoss(nn.Module):
    """L1 + cosine distance between projected S features and teacher features, padding masked.

    With ``p`` the projected S features and ``t`` the teacher's, over valid frames only:

    - ``axis="time"``: per frame, ``l1_weight * mean_d |p - t| + cosine_weight * c(cos(p, t))``
      with the cosine over feature dimensions, averaged over valid frames of the batch.
    - ``axis="dim"`` (SpeechTokenizer's D-axis loss): the cosine is taken per utterance and
      per dimension along time, ``c`` averaged over utterances and dimensions; the L1 term is
      the same as above.

    ``c(x)`` is ``-log(sigmoid(x))`` (``cosine="logsigmoid"``, as in DistilHuBERT and
    SpeechTokenizer; its minimum, at ``x = 1``, is ``log(1 + e^-1) = 0.313``) or ``1 - x``
    (``cosine="linear"``, zero when aligned). The projection is trainable: put this module in
    the Brain's ``modules``.

    Arguments
    ---------
    input_size : int or None
        Dimension of the S features; None means no projection (then it must equal
        ``teacher_size``).
    teacher_size : int
        Dimension of the teacher's features.
    axis : str
        "time" or "dim" (see above).
    cosine_weight : float
        Weight of the cosine term.
    l1_weight : float
        Weight of the L1 term.
    cosine : str
        "logsigmoid" or "linear".
    teacher_norm : bool
        Layer-normalise the teacher's features (no affine) before comparing, which puts
        teachers of different scales on one scale for the L1 term.

    Example
    -------
    >>> loss = DistillationLoss(input_size=64, teacher_size=32, cosine="linear")
    >>> s = torch.randn(2, 50, 64)
    >>> teacher = torch.randn(2, 50, 32)
    >>> loss(s, teacher, torch.tensor([1.0, 0.6])).item() > 0
    True
    >>> same = DistillationLoss(input_size=None, teacher_size=32, cosine="linear")
    >>> abs(round(same(teacher, teacher).item(), 6))
    0.0
    """

    def __init__(
        self,
        input_size,
        teacher_size,
        axis="time",
        cosine_weight=1.0,
        l1_weight=1.0,
        cosine="logsigmoid",
        teacher_norm=False,
    ):
        super().__init__()
        if axis not in ("time", "dim"):
            raise ValueError(f"axis must be 'time' or 'dim', not {axis!r}")
        if cosine not in ("logsigmoid", "linear"):
            raise ValueError(f"cosine must be 'logsigmoid' or 'linear', not {cosine!r}")
        if input_size is None:
            self.projection = nn.Identity()
        else:
            self.projection = nn.Linear(input_size, teacher_size)
        self.teacher_size = teacher_size
        self.axis = axis
        self.cosine_weight = cosine_weight
        self.l1_weight = l1_weight
        self.cosine = cosine
        self.teacher_norm = teacher_norm

    def _cosine_cost(self, cos):
        if self.cosine == "logsigmoid":
            return -F.logsigmoid(cos)
        return 1.0 - cos

    def forward(self, s_feats, teacher_feats, lengths=None):
        """Returns the loss (a scalar).

        Arguments
        ---------
        s_feats : torch.Tensor
            ``[B, T, Ds]`` S features (before or after quantization).
        teacher_feats : torch.Tensor
            ``[B, T', Dt]`` teacher features at the same frame rate; both are cut to the
            shorter time axis (``SSLTeacher`` already gives ``T' == T``).
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        pred = self.projection(s_feats)
        num_frames = min(pred.shape[1], teacher_feats.shape[1])
        if lengths is None:
            mask = torch.ones(pred.shape[0], pred.shape[1], dtype=torch.bool, device=pred.device)
        else:
            mask = relative_frame_mask(lengths, pred.shape[1], pred.device)
        pred = pred[:, :num_frames]
        target = teacher_feats[:, :num_frames].to(pred.dtype).detach()
        if self.teacher_norm:
            target = F.layer_norm(target, target.shape[-1:])
        mask = mask[:, :num_frames].to(pred.dtype)
        num_valid = mask.sum().clamp(min=1)

        loss = pred.new_zeros(())
        if self.l1_weight:
            l1 = (pred - target).abs().mean(dim=-1)
            loss = loss + self.l1_weight * (l1 * mask).sum() / num_valid
        if self.cosine_weight:
            if self.axis == "time":
                cos = F.cosine_similarity(pred, target, dim=-1, eps=1e-8)
                cost = (self._cosine_cost(cos) * mask).sum() / num_valid
            else:
                pred_t = pred * mask[:, :, None]
                target_t = target * mask[:, :, None]
                cos = F.cosine_similarity(pred_t, target_t, dim=1, eps=1e-8)  # [B, Dt]
                cost = self._cosine_cost(cos).mean()
            loss = loss + self.cosine_weight * cost
        return loss
