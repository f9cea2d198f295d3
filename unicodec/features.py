"""Frame speech features shared by losses, metrics and probes: log-energy and an
autocorrelation F0 tracker, at a token frame rate.

(The codec's own pitch analysis, the YIN tracker whose contour the pitch tokens hold, is
the lobe :mod:`unicodec.lobes.pitch_tracker`.)

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torch.nn.functional as F



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
