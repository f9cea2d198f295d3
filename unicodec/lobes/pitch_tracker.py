"""Pitch and loudness of speech frames: a YIN pitch tracker and the codec's prosody features.

:func:`yin` finds each frame's F0 from the cumulative mean normalised difference function
(de Cheveigné and Kawahara 2002): the first dip below ``threshold`` between the lags of
``f0_max`` and ``f0_min`` (the global minimum when none is that low), refined by parabolic
interpolation. Taking the *first* good dip rather than the deepest one avoids the
octave-too-low errors of autocorrelation trackers. The depth of the dip gives a
periodicity in [0, 1].

:class:`ProsodyFeatures` turns that into what the codec quantizes and what its decoder is
taught: at the semantic frame rate, log-F0 interpolated through unvoiced frames,
periodicity and log-energy, and per utterance the mean and spread of the voiced log-F0.
The local features are relative to the utterance's own means, so the P tokens carry the
contour and the G tokens the level: swapping G moves the pitch level to the other voice.

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from unicodec.lengths import frame_mask, frames_for_samples, relative_to_count


def _centred_frames(wav, hop_length, frame_length):
    """``[B, ceil(T / hop), frame_length]`` windows, frame ``t`` centred on ``t*hop + hop/2``."""
    num_frames = math.ceil(wav.shape[1] / hop_length)
    start = hop_length // 2 - frame_length // 2  # of frame 0, may be negative
    padded = F.pad(wav, (frame_length, frame_length + hop_length))
    return padded[:, frame_length + start:].unfold(1, frame_length, hop_length)[:, :num_frames]


def yin(wav, sample_rate=16000, hop_length=320, f0_min=60.0, f0_max=500.0, threshold=0.2,
        tolerance=0.1):
    """Frame F0 and periodicity by YIN, vectorised over frames.

    Arguments
    ---------
    wav : torch.Tensor
        ``[B, T]`` waveforms.
    sample_rate : int
        Sample rate.
    hop_length : int
        Samples per frame; frame ``t`` is centred on sample ``t * hop + hop / 2``.
    f0_min, f0_max : float
        Search range in Hz.
    threshold : float
        A dip of the normalised difference below this is taken as the period...
    tolerance : float
        ... when it is also within this of the deepest dip (the first such dip).

    Returns
    -------
    f0 : torch.Tensor
        ``[B, ceil(T / hop)]`` F0 in Hz of every frame (meaningful where periodic).
    periodicity : torch.Tensor
        ``[B, ceil(T / hop)]`` in [0, 1]: one minus the normalised difference at the period.
    energy : torch.Tensor
        ``[B, ceil(T / hop)]`` mean square of the analysis window.

    Example
    -------
    >>> t = torch.arange(16000) / 16000
    >>> f0, periodicity, _ = yin(torch.sin(2 * math.pi * 150.0 * t)[None])
    >>> round(f0[0, 25].item()), periodicity[0, 25].item() > 0.95
    (150, True)
    """
    tau_max = int(math.ceil(sample_rate / f0_min))
    tau_min = max(int(math.floor(sample_rate / f0_max)), 2)
    width = tau_max  # integration window
    length = width + tau_max + 2
    frames = _centred_frames(wav.float(), hop_length, length)
    frames = frames - frames.mean(-1, keepdim=True)
    n_fft = 2 ** math.ceil(math.log2(2 * length))
    head = torch.fft.rfft(frames[..., :width], n=n_fft)
    whole = torch.fft.rfft(frames, n=n_fft)
    # r[tau] = sum_j x[j] x[j + tau] over the integration window
    corr = torch.fft.irfft(head.conj() * whole, n=n_fft)[..., : tau_max + 2]
    taus = torch.arange(tau_max + 2, device=wav.device)
    cumulative = F.pad(frames.pow(2).cumsum(-1), (1, 0))
    energy_at = cumulative[..., taus + width] - cumulative[..., taus]
    diff = (energy_at[..., :1] + energy_at - 2 * corr).clamp(min=0)
    running = diff[..., 1:].cumsum(-1).clamp(min=1e-12)
    cmnd = torch.cat([torch.ones_like(diff[..., :1]), diff[..., 1:] * taus[1:] / running], -1)

    search = cmnd[..., tau_min : tau_max + 1]
    left = cmnd[..., tau_min - 1 : tau_max]
    right = cmnd[..., tau_min + 1 : tau_max + 2]
    is_dip = (search <= left) & (search <= right)
    is_dip[..., 0] = False  # the range's edge is no dip (breath noise sits there)
    deepest_value = torch.where(is_dip, search, torch.full_like(search, math.inf)).amin(-1)
    # the first dip that is good in absolute terms and close to the deepest one: earlier
    # than a subharmonic's (octave too low), not a formant's shallow dip (too high)
    good = is_dip & (search < threshold) & (search <= deepest_value.unsqueeze(-1) + tolerance)
    first_good = torch.argmax(good.int(), -1)
    deepest = torch.where(is_dip, search, torch.full_like(search, math.inf)).argmin(-1)
    index = torch.where(good.any(-1), first_good, deepest)
    value = search.gather(-1, index[..., None])[..., 0]
    left = left.gather(-1, index[..., None])[..., 0]
    right = right.gather(-1, index[..., None])[..., 0]
    curvature = left - 2 * value + right
    shift = torch.where(
        curvature > 1e-12, 0.5 * (left - right) / curvature.clamp(min=1e-12),
        torch.zeros_like(value),
    )
    lag = (index + tau_min).to(value.dtype) + shift.clamp(-0.5, 0.5)
    f0 = sample_rate / lag
    periodicity = (1 - value).clamp(0, 1)
    energy = energy_at[..., 0] / width
    return f0, periodicity, energy


def _median3(x):
    """Median over three neighbouring frames (edges repeated) of ``[B, T]``."""
    padded = F.pad(x[:, None], (1, 1), mode="replicate")[:, 0]
    return padded.unfold(1, 3, 1).median(-1).values


def _interpolate_unvoiced(log_f0, voiced, fill):
    """Log-F0 with unvoiced frames linearly interpolated between voiced neighbours.

    Frames before the first / after the last voiced frame take the nearest voiced value;
    an utterance with no voiced frame is ``fill`` everywhere.
    """
    out = log_f0.clone()
    positions = torch.arange(log_f0.shape[1], device=log_f0.device, dtype=log_f0.dtype)
    for b in range(log_f0.shape[0]):
        idx = voiced[b].nonzero().flatten()
        if idx.numel() == 0:
            out[b] = fill[b]
            continue
        xp, fp = positions[idx], log_f0[b, idx]
        right = torch.searchsorted(xp, positions).clamp(1, max(idx.numel() - 1, 1))
        left = right - 1
        if idx.numel() == 1:
            out[b] = fp[0]
            continue
        span = (xp[right] - xp[left]).clamp(min=1)
        weight = ((positions - xp[left]) / span).clamp(0, 1)
        out[b] = fp[left] + weight * (fp[right] - fp[left])
    return out


class ProsodyFeatures(nn.Module):
    """Pitch and energy of a padded batch at the codec's semantic frame rate.

    Arguments
    ---------
    sample_rate : int
        Sample rate.
    hop_length : int
        Samples per frame (the semantic hop: ``ceil(num_samples / hop)`` frames).
    f0_min, f0_max : float
        Search range of the tracker (Hz).
    threshold : float
        YIN's dip threshold.
    voicing_threshold : float
        Frames with periodicity above this (and loud enough) are voiced.
    silence_db : float
        Frames quieter than the utterance's loudest by more than this are unvoiced.
    min_voiced : float
        An utterance with a smaller share of voiced frames is unvoiced throughout (its
        pitch level is then 150 Hz).

    Example
    -------
    >>> t = torch.arange(16000) / 16000
    >>> wav = torch.stack([torch.sin(2 * math.pi * 120 * t), torch.sin(2 * math.pi * 240 * t)])
    >>> out = ProsodyFeatures()(wav, torch.tensor([1.0, 0.5]))
    >>> out["features"].shape, out["stats"].shape
    (torch.Size([2, 50, 3]), torch.Size([2, 2]))
    >>> [round(v) for v in out["stats"][:, 0].exp().tolist()]  # mean F0 of each
    [120, 240]
    >>> int(out["mask"][1].sum())
    25
    """

    num_features = 3
    num_stats = 2

    def __init__(
        self,
        sample_rate=16000,
        hop_length=320,
        f0_min=60.0,
        f0_max=500.0,
        threshold=0.2,
        voicing_threshold=0.6,
        silence_db=-45.0,
        min_voiced=0.1,
    ):
        super().__init__()
        self.min_voiced = min_voiced
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.f0_min = f0_min
        self.f0_max = f0_max
        self.threshold = threshold
        self.voicing_threshold = voicing_threshold
        self.silence_db = silence_db

    @torch.no_grad()
    def forward(self, wav, wav_lens=None):
        """Analyses ``wav`` ``[B, T]`` (relative lengths ``wav_lens``).

        Returns
        -------
        dict
            ``log_f0`` ``[B, N]`` absolute log-F0 (natural log of Hz), interpolated
            through unvoiced frames; ``voiced`` ``[B, N]`` bool; ``periodicity`` ``[B, N]``;
            ``log_energy`` ``[B, N]``; ``mask`` ``[B, N]`` valid frames; ``features``
            ``[B, N, 3]``: log-F0 and log-energy relative to the utterance's means, and
            periodicity, scaled to about unit range, 0 past the end; ``stats`` ``[B, 2]``:
            mean and standard deviation of the voiced log-F0.
        """
        wav = wav.float()
        if wav_lens is None:
            wav_lens = torch.ones(wav.shape[0], device=wav.device)
        num_samples = relative_to_count(wav_lens, wav.shape[1])
        wav = wav * frame_mask(num_samples, wav.shape[1]).to(wav.dtype)
        f0, periodicity, energy = yin(
            wav, self.sample_rate, self.hop_length, self.f0_min, self.f0_max, self.threshold
        )
        mask = frame_mask(frames_for_samples(num_samples, self.hop_length), f0.shape[1])
        log_energy = torch.log(energy + 1e-8)
        loudest = log_energy.masked_fill(~mask, -math.inf).amax(-1, keepdim=True)
        loud = 10 / math.log(10) * (log_energy - loudest) > self.silence_db
        voiced = (periodicity > self.voicing_threshold) & loud & mask
        # an utterance with hardly any voiced frame (whispered) has no pitch: its few
        # "voiced" frames are breath noise
        share = voiced.sum(-1) / mask.sum(-1).clamp(min=1)
        voiced = voiced & (share >= self.min_voiced).unsqueeze(-1)
        log_f0 = _median3(torch.log(f0.clamp(self.f0_min, self.f0_max)))
        count = voiced.sum(-1).clamp(min=1)
        mean = (log_f0 * voiced).sum(-1) / count
        mean = torch.where(voiced.any(-1), mean, torch.full_like(mean, math.log(150.0)))
        std = (((log_f0 - mean[:, None]) * voiced).pow(2).sum(-1) / count).sqrt()
        log_f0 = _interpolate_unvoiced(log_f0, voiced, mean)
        valid = mask.to(log_f0.dtype)
        energy_mean = (log_energy * valid).sum(-1) / valid.sum(-1).clamp(min=1)
        features = torch.stack(
            [
                4.0 * (log_f0 - mean[:, None]),  # 0.25 = a third of an octave
                2.0 * periodicity - 1.0,
                (log_energy - energy_mean[:, None]) / 4.0,
            ],
            dim=-1,
        ) * valid.unsqueeze(-1)
        return {
            "log_f0": log_f0,
            "voiced": voiced,
            "periodicity": periodicity * valid,
            "log_energy": log_energy,
            "mask": mask,
            "features": features,
            "stats": torch.stack([mean, std], dim=-1),
        }
