"""Optional supervised heads that tell each token stream what it should carry.

- :class:`SpeakerClassifier`: speaker identity from the global vector G.
- :class:`ProsodyRegression`: frame F0 and energy from the paralinguistic stream P, with the
  targets from :class:`ProsodyTargets` (:func:`unicodec.features.frame_f0`, an
  autocorrelation pitch tracker, and :func:`unicodec.features.frame_log_energy`).
- :class:`PhoneClassifier`: frame phone ids (``unicodec.data.phones.PhoneTargets``) from
  the semantic stream S.

Each head is a small trainable module returning its loss; put it in the Brain's ``modules``.

Authors
 * UniCodec authors 2026
"""

import torch
import torch.nn.functional as F
from torch import nn

from unicodec.features import frame_f0, frame_log_energy
from unicodec.lengths import relative_frame_mask




class ProsodyTargets(nn.Module):
    """Frame log-F0, voicing and log-energy of waveforms, at a token frame rate.

    Arguments
    ---------
    sample_rate : int
        Sample rate.
    hop_length : int
        Samples per frame (640 for P at 25 Hz at 16 kHz).
    f0_min : float
        Lowest F0 searched (Hz).
    f0_max : float
        Highest F0 searched (Hz).
    voicing_threshold : float
        See :func:`frame_f0`.

    Example
    -------
    >>> targets = ProsodyTargets(sample_rate=16000, hop_length=640)
    >>> log_f0, voiced, log_energy = targets(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> log_f0.shape, voiced.dtype, log_energy.shape
    (torch.Size([2, 25]), torch.bool, torch.Size([2, 25]))
    """

    def __init__(
        self, sample_rate=16000, hop_length=640, f0_min=60.0, f0_max=500.0, voicing_threshold=0.45
    ):
        super().__init__()
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.f0_min = f0_min
        self.f0_max = f0_max
        self.voicing_threshold = voicing_threshold

    @torch.no_grad()
    def forward(self, wav, wav_lens=None):
        """Returns ``(log_f0, voiced, log_energy)``, each ``[B, ceil(T / hop_length)]``.

        ``log_f0`` is 0 where unvoiced.
        """
        f0, voiced = frame_f0(
            wav,
            wav_lens,
            sample_rate=self.sample_rate,
            hop_length=self.hop_length,
            f0_min=self.f0_min,
            f0_max=self.f0_max,
            voicing_threshold=self.voicing_threshold,
        )
        log_f0 = torch.where(voiced, torch.log(f0.clamp(min=1.0)), torch.zeros_like(f0))
        log_energy = frame_log_energy(wav, wav_lens, self.hop_length, 2 * self.hop_length)
        return log_f0, voiced, log_energy


def _standardise(values, mask, eps=1e-5):
    """Per-utterance zero mean, unit variance over ``mask``ed frames of ``[B, T]``."""
    mask = mask.to(values.dtype)
    count = mask.sum(1, keepdim=True).clamp(min=1)
    mean = (values * mask).sum(1, keepdim=True) / count
    var = (((values - mean) * mask) ** 2).sum(1, keepdim=True) / count
    return (values - mean) / torch.sqrt(var + eps) * mask


class ProsodyRegression(nn.Module):
    """Predicts frame log-F0 and log-energy from P; L1 on voiced (F0) and valid (energy) frames.

    With ``normalize_per_utterance`` the targets are standardised within each utterance, so
    P is asked for the contour (prosody) rather than the speaker's mean pitch and loudness,
    which are G's.

    Arguments
    ---------
    input_size : int
        Dimension of the P features.
    f0_weight : float
        Weight of the F0 term.
    energy_weight : float
        Weight of the energy term.
    normalize_per_utterance : bool
        Standardise targets per utterance (see above).
    hidden_size : int
        Hidden width of the head (0: a linear head).

    Example
    -------
    >>> head = ProsodyRegression(input_size=16)
    >>> p = torch.randn(2, 25, 16)
    >>> log_f0, voiced = torch.rand(2, 25) + 5, torch.rand(2, 25) > 0.3
    >>> head(p, log_f0, voiced, torch.randn(2, 25), torch.tensor([1.0, 0.6])).shape
    torch.Size([])
    """

    def __init__(
        self,
        input_size,
        f0_weight=1.0,
        energy_weight=1.0,
        normalize_per_utterance=True,
        hidden_size=0,
    ):
        super().__init__()
        if hidden_size:
            self.head = nn.Sequential(
                nn.Linear(input_size, hidden_size), nn.LeakyReLU(0.2), nn.Linear(hidden_size, 2)
            )
        else:
            self.head = nn.Linear(input_size, 2)
        self.f0_weight = f0_weight
        self.energy_weight = energy_weight
        self.normalize_per_utterance = normalize_per_utterance

    def forward(self, p_feats, log_f0, voiced, log_energy, lengths=None):
        """Returns the loss (a scalar).

        Arguments
        ---------
        p_feats : torch.Tensor
            ``[B, T, D]`` P features.
        log_f0 : torch.Tensor
            ``[B, T']`` log-F0 targets (any value where unvoiced).
        voiced : torch.Tensor
            ``[B, T']`` bool voicing.
        log_energy : torch.Tensor
            ``[B, T']`` log-energy targets.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths. Time axes are cut to the shorter one.
        """
        num_frames = min(p_feats.shape[1], log_f0.shape[1])
        valid = relative_frame_mask(lengths, p_feats.shape[1], p_feats.device)
        valid = valid.expand(p_feats.shape[0], -1)[:, :num_frames]
        pred = self.head(p_feats[:, :num_frames])
        log_f0 = log_f0[:, :num_frames].to(pred.dtype)
        log_energy = log_energy[:, :num_frames].to(pred.dtype)
        voiced = voiced[:, :num_frames].bool() & valid
        if self.normalize_per_utterance:
            log_f0 = _standardise(log_f0, voiced)
            log_energy = _standardise(log_energy, valid)
        f0_mask = voiced.to(pred.dtype)
        energy_mask = valid.to(pred.dtype)
        f0_loss = ((pred[..., 0] - log_f0).abs() * f0_mask).sum() / f0_mask.sum().clamp(min=1)
        energy_loss = ((pred[..., 1] - log_energy).abs() * energy_mask).sum()
        energy_loss = energy_loss / energy_mask.sum().clamp(min=1)
        return self.f0_weight * f0_loss + self.energy_weight * energy_loss


class SpeakerClassifier(nn.Module):
    """Speaker identity from the global vector G: a linear (or MLP) classifier, cross-entropy.

    Arguments
    ---------
    input_size : int
        Dimension of G (inputs ``[B, ...]`` are flattened to ``[B, input_size]``).
    num_speakers : int
        Number of training speakers.
    hidden_size : int
        Hidden width (0: a linear classifier).

    Example
    -------
    >>> head = SpeakerClassifier(input_size=32, num_speakers=5)
    >>> head(torch.randn(4, 32), torch.tensor([0, 1, 4, 4])).shape
    torch.Size([])
    """

    def __init__(self, input_size, num_speakers, hidden_size=0):
        super().__init__()
        if hidden_size:
            self.classifier = nn.Sequential(
                nn.Linear(input_size, hidden_size),
                nn.LeakyReLU(0.2),
                nn.Linear(hidden_size, num_speakers),
            )
        else:
            self.classifier = nn.Linear(input_size, num_speakers)

    def logits(self, g):
        """Speaker logits ``[B, num_speakers]``."""
        return self.classifier(g.reshape(g.shape[0], -1))

    def forward(self, g, speaker_ids):
        """Cross-entropy of ``speaker_ids`` ``[B]`` given G ``[B, D]`` (a scalar)."""
        return F.cross_entropy(self.logits(g), speaker_ids.view(-1).long())


class PhoneClassifier(nn.Module):
    """Frame phone ids from S: a linear classifier, cross-entropy over valid, labelled frames.

    Arguments
    ---------
    input_size : int
        Dimension of the S features.
    num_phones : int
        Number of phone classes.
    ignore_index : int
        Target id of unlabelled frames (``PhoneTargets``' ``pad_id``).

    Example
    -------
    >>> head = PhoneClassifier(input_size=16, num_phones=10)
    >>> s = torch.randn(2, 50, 16)
    >>> phones = torch.randint(0, 10, (2, 50))
    >>> head(s, phones, torch.tensor([1.0, 0.5])).shape
    torch.Size([])
    """

    def __init__(self, input_size, num_phones, ignore_index=-100):
        super().__init__()
        self.classifier = nn.Linear(input_size, num_phones)
        self.ignore_index = ignore_index

    def forward(self, s_feats, phone_ids, lengths=None):
        """Cross-entropy (a scalar) of ``phone_ids`` ``[B, T']`` given S ``[B, T, D]``.

        Time axes are cut to the shorter one; frames past ``lengths`` are ignored.
        """
        num_frames = min(s_feats.shape[1], phone_ids.shape[1])
        valid = relative_frame_mask(lengths, s_feats.shape[1], s_feats.device)
        valid = valid.expand(s_feats.shape[0], -1)[:, :num_frames]
        targets = phone_ids[:, :num_frames].long().masked_fill(~valid, self.ignore_index)
        logits = self.classifier(s_feats[:, :num_frames])
        if (targets != self.ignore_index).sum() == 0:
            return logits.sum() * 0.0
        return F.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=self.ignore_index
        )


class PitchLoss(nn.Module):
    """Teaches a source-filter decoder's pitch prediction the analysed pitch.

    L1 between the predicted and the analysed log-F0 (interpolated through unvoiced
    frames, which weigh ``unvoiced_weight``), plus the binary cross-entropy of the
    predicted voicing; both over valid frames.

    Arguments
    ---------
    unvoiced_weight : float
        Weight of the F0 error on unvoiced frames (their F0 is interpolated).
    voicing_weight : float
        Weight of the voicing term.

    Example
    -------
    >>> loss = PitchLoss()
    >>> pitch = torch.zeros(2, 10, 2)
    >>> prosody = {"log_f0": torch.zeros(2, 10), "voiced": torch.ones(2, 10, dtype=torch.bool)}
    >>> float(loss(pitch, prosody, torch.tensor([1.0, 0.5])))  # F0 exact, voicing at chance
    0.6931...
    """

    def __init__(self, unvoiced_weight=0.1, voicing_weight=1.0):
        super().__init__()
        self.unvoiced_weight = unvoiced_weight
        self.voicing_weight = voicing_weight

    def forward(self, pitch, prosody, lengths=None):
        """Returns the loss (a scalar).

        Arguments
        ---------
        pitch : torch.Tensor
            ``[B, T, 2]`` predicted log-F0 and voicing logit.
        prosody : dict
            ``log_f0`` and ``voiced`` ``[B, T']`` (``ProsodyFeatures``' output).
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths; time axes are cut to the shorter one.
        """
        num_frames = min(pitch.shape[1], prosody["log_f0"].shape[1])
        valid = relative_frame_mask(lengths, pitch.shape[1], pitch.device)
        valid = valid.expand(pitch.shape[0], -1)[:, :num_frames].float()
        pred = pitch[:, :num_frames].float()
        voiced = prosody["voiced"][:, :num_frames].float()
        weight = valid * (voiced + self.unvoiced_weight * (1 - voiced))
        error = (pred[..., 0] - prosody["log_f0"][:, :num_frames].float()).abs()
        f0_loss = (error * weight).sum() / weight.sum().clamp(min=1)
        bce = F.binary_cross_entropy_with_logits(pred[..., 1], voiced, reduction="none")
        voicing_loss = (bce * valid).sum() / valid.sum().clamp(min=1)
        return f0_loss + self.voicing_weight * voicing_loss
