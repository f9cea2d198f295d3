"""Optional supervised heads that tell each token stream what it should carry.

- :class:`SpeakerClassifier`: speaker identity from the global vector G.
- :class:`ProsodyRegression`: frame F0 and energy from the paralinguistic stream P, with the
  targets from :class:`ProsodyTargets` (:func:`frame_f0`, an autocorrelation pitch tracker,
  and :func:`frame_log_energy`).
- :class:`PhoneClassifier`: frame phone ids (``unicodec.lobes.teachers.PhoneTargets``) from
  the semantic stream S.

Each head is a small trainable module returning its loss; put it in the Brain's ``modules``.

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from unicodec.lengths import relative_frame_mask




def _frames(wav, hop_length, win_length):
    """``[B, ceil(T / hop), win]`` windows, frame ``t`` centred on sample ``t*hop + hop/2``."""
    num_frames = math.ceil(wav.shape[1] / hop_length)
    offset = win_length + hop_length // 2 - win_length // 2
    padded = F.pad(wav, (win_length, win_length + hop_length))
    return padded[:, offset:].unfold(1, win_length, hop_length)[:, :num_frames]


def _validrelative_frame_mask(wav, wav_lens, hop_length):
    """``[B, ceil(T / hop)]`` bool: frames whose centre is a valid sample."""
    num_frames = math.ceil(wav.shape[1] / hop_length)
    centres = torch.arange(num_frames, device=wav.device) * hop_length + hop_length // 2
    if wav_lens is None:
        num = torch.full((wav.shape[0],), wav.shape[1], device=wav.device)
    else:
        num = torch.round(wav_lens.to(wav.device).float() * wav.shape[1])
    # a last partial frame counts when it holds valid samples
    return (centres[None, :] - hop_length // 2) < num[:, None]


def frame_log_energy(wav, wav_lens=None, hop_length=320, win_length=None, eps=1e-8):
    """Frame log-energy: ``log(mean(x^2) + eps)`` over a window centred on each frame.

    Arguments
    ---------
    wav : torch.Tensor
        ``[B, T]`` waveforms.
    wav_lens : torch.Tensor, optional
        ``[B]`` relative lengths; padding samples are zeroed first.
    hop_length : int
        Samples per frame (``ceil(T / hop_length)`` frames).
    win_length : int, optional
        Window length; default ``hop_length``.
    eps : float
        Floor inside the log.

    Returns
    -------
    torch.Tensor
        ``[B, ceil(T / hop_length)]``.

    Example
    -------
    >>> wav = torch.cat([torch.zeros(1, 640), 0.5 * torch.ones(1, 640)], dim=1)
    >>> frame_log_energy(wav, hop_length=320).exp().round(decimals=2)
    tensor([[0.0000, 0.0000, 0.2500, 0.2500]])
    """
    win_length = win_length or hop_length
    wav = wav * _sample_mask(wav, wav_lens)
    frames = _frames(wav, hop_length, win_length)
    return torch.log(frames.pow(2).mean(-1) + eps)


def _sample_mask(wav, wav_lens):
    if wav_lens is None:
        return torch.ones_like(wav)
    num = torch.round(wav_lens.to(wav.device).float() * wav.shape[1])
    return (torch.arange(wav.shape[1], device=wav.device) < num[:, None]).to(wav.dtype)


def frame_f0(
    wav,
    wav_lens=None,
    sample_rate=16000,
    hop_length=320,
    win_length=None,
    f0_min=60.0,
    f0_max=500.0,
    voicing_threshold=0.45,
    silence_db=-40.0,
    octave_cost=0.01,
    upsample=4,
):
    """Frame F0 by normalised autocorrelation (Boersma 1993), vectorised over frames.

    Each frame (centred like :func:`frame_log_energy`'s) has its mean removed and a Hann
    window applied; its autocorrelation, divided by the window's own, is searched between
    lags ``sample_rate / f0_max`` and ``sample_rate / f0_min`` for the peak maximising
    ``r(lag) - octave_cost * log2(f0_min * lag / sample_rate)`` among local maxima (a
    slight preference for higher candidates, against halving errors), refined by parabolic
    interpolation. A frame
    is voiced when that peak exceeds ``voicing_threshold`` and its energy is within
    ``-silence_db`` dB of the utterance's loudest frame.

    Arguments
    ---------
    wav : torch.Tensor
        ``[B, T]`` waveforms.
    wav_lens : torch.Tensor, optional
        ``[B]`` relative lengths; padding is zeroed and its frames unvoiced.
    sample_rate : int
        Sample rate.
    hop_length : int
        Samples per frame (``ceil(T / hop_length)`` frames).
    win_length : int, optional
        Analysis window; default three periods of ``f0_min``.
    f0_min : float
        Lowest F0 searched (Hz).
    f0_max : float
        Highest F0 searched (Hz).
    voicing_threshold : float
        Minimum normalised autocorrelation of a voiced frame.
    silence_db : float
        Frames quieter than the loudest frame by more than this are unvoiced.
    octave_cost : float
        Preference for higher F0 candidates (Praat's "octave cost").
    upsample : int
        The autocorrelation is evaluated every ``1 / upsample`` samples (band-limited
        interpolation), so that the peaks of high voices are not missed between lags.

    Returns
    -------
    f0 : torch.Tensor
        ``[B, ceil(T / hop_length)]`` F0 in Hz, 0 where unvoiced.
    voiced : torch.Tensor
        ``[B, ceil(T / hop_length)]`` bool.

    Example
    -------
    >>> t = torch.arange(16000) / 16000
    >>> wav = torch.sin(2 * math.pi * 150.0 * t)[None]
    >>> f0, voiced = frame_f0(wav)
    >>> f0.shape, bool(voiced[0, 5:-5].all()), round(f0[0, 25].item())
    (torch.Size([1, 50]), True, 150)
    """
    if win_length is None:
        win_length = int(math.ceil(3 * sample_rate / f0_min))
    win_length += win_length % 2
    wav = wav * _sample_mask(wav, wav_lens)
    frames = _frames(wav, hop_length, win_length)  # [B, T, W]
    frames = frames - frames.mean(-1, keepdim=True)
    window = torch.hann_window(win_length, periodic=False, device=wav.device, dtype=wav.dtype)
    n_fft = 2 ** math.ceil(math.log2(2 * win_length))
    # autocorrelations at lags of 1 / upsample samples (band-limited interpolation)
    acf = _autocorrelation(frames * window, n_fft, upsample)
    window_acf = _autocorrelation(window, n_fft, upsample)
    size = win_length * upsample
    acf, window_acf = acf[..., :size], window_acf[:size]
    power = acf[..., :1]
    acf = acf / power.clamp(min=1e-12) / (window_acf / window_acf[0]).clamp(min=1e-6)

    lag_min = max(int(math.floor(upsample * sample_rate / f0_max)), 2)
    lag_max = min(int(math.ceil(upsample * sample_rate / f0_min)), size // 2)
    lags = torch.arange(lag_min, lag_max + 1, device=wav.device)
    candidates = acf[..., lag_min : lag_max + 1]
    left = acf[..., lag_min - 1 : lag_max]
    right = acf[..., lag_min + 1 : lag_max + 2]
    score = candidates - octave_cost * torch.log2(
        f0_min * lags.to(wav.dtype) / (upsample * sample_rate)
    )
    # only local maxima are candidates (not the ends of the searched range)
    score = score.masked_fill((candidates < left) | (candidates < right), -math.inf)
    best = score.argmax(-1)  # [B, T]
    has_peak = torch.gather(score, -1, best[..., None])[..., 0] > -math.inf
    lag = lags[best]
    peak = torch.gather(candidates, -1, best[..., None])[..., 0]

    # parabolic interpolation around the peak
    left = torch.gather(left, -1, best[..., None])[..., 0]
    right = torch.gather(right, -1, best[..., None])[..., 0]
    curvature = left - 2 * peak + right
    shift = torch.where(
        curvature < 0, 0.5 * (left - right) / curvature.clamp(max=-1e-12), torch.zeros_like(peak)
    )
    f0 = upsample * sample_rate / (lag.to(wav.dtype) + shift.clamp(-0.5, 0.5))

    energy = power[..., 0] / win_length
    valid = _validrelative_frame_mask(wav, wav_lens, hop_length)
    loudest = (energy * valid).amax(-1, keepdim=True)
    loud = 10 * torch.log10(energy.clamp(min=1e-20) / loudest.clamp(min=1e-20)) > silence_db
    voiced = has_peak & (peak > voicing_threshold) & loud & valid & (energy > 1e-10)
    return f0 * voiced, voiced


def _autocorrelation(frames, n_fft, upsample):
    """Autocorrelation along the last axis, at lags of ``1 / upsample`` samples."""
    spec = torch.fft.rfft(frames, n=n_fft)
    power = spec.real**2 + spec.imag**2
    return torch.fft.irfft(power, n=n_fft * upsample) * upsample


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
