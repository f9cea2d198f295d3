"""Reconstruction losses between a decoded and a target waveform.

- :class:`MultiResolutionMelLoss`: L1 between log-mel spectrograms at several FFT sizes.
- :class:`MultiResolutionSTFTLoss`: spectral convergence + L1 of log magnitudes at several
  FFT sizes (Parallel WaveGAN, Yamamoto et al. 2020).

Both take waveforms ``[B, T]`` and SpeechBrain relative lengths; samples past each length are
zeroed in both signals and spectrogram frames centred past it are left out, so the padding
never changes the loss. SpeechBrain's ``HifiGAN.STFTLoss`` / ``MultiScaleSTFTLoss`` would fit
but call ``torch.stft`` without ``return_complex`` (an error on torch 2) and take no lengths;
the mel filterbanks come from ``torchaudio.transforms.MelSpectrogram``.

Authors
 * UniCodec authors 2026
"""

import torch
import torchaudio
from torch import nn


def _as_list(value, count):
    """``value`` repeated ``count`` times unless it is already a list or tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"expected {count} values, got {len(value)}")
        return list(value)
    return [value] * count


def sample_mask(wav, lengths=None):
    """``[B, T]`` float mask of the valid samples (all ones when ``lengths`` is None)."""
    if lengths is None:
        return torch.ones_like(wav)
    num = torch.round(lengths.to(wav.device).float() * wav.shape[1])
    return (torch.arange(wav.shape[1], device=wav.device) < num[:, None]).to(wav.dtype)


def spectrogram_frame_mask(wav, lengths, hop_length, num_frames):
    """``[B, num_frames]`` float mask of centred STFT frames whose centre is a valid sample."""
    if lengths is None:
        return wav.new_ones(wav.shape[0], num_frames)
    num = torch.round(lengths.to(wav.device).float() * wav.shape[1])
    centres = torch.arange(num_frames, device=wav.device) * hop_length
    return (centres < num[:, None]).to(wav.dtype)


class MultiResolutionMelLoss(nn.Module):
    """L1 distance between log-mel spectrograms at several resolutions, padding masked.

    Each resolution ``i`` is a centred STFT of size ``n_ffts[i]`` with hop ``hop_lengths[i]``
    and a Hann window of ``win_lengths[i]``, a mel filterbank of ``n_mels[i]`` bands on the
    magnitude, and ``log(max(mel, eps))``. The loss is the mean absolute difference over the
    valid frames and bands, averaged over resolutions.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the waveforms.
    n_ffts : list of int
        FFT sizes, one per resolution.
    hop_lengths : list of int, optional
        Hops; default ``n_fft // 4``.
    win_lengths : list of int, optional
        Window lengths; default ``n_fft``.
    n_mels : int or list of int
        Mel bands (one value for all resolutions, or one per resolution).
    f_min : float
        Lowest mel frequency.
    f_max : float, optional
        Highest mel frequency; default ``sample_rate / 2``.
    eps : float
        Floor of the mel magnitudes before the log.

    Example
    -------
    >>> loss = MultiResolutionMelLoss(sample_rate=16000)
    >>> target = torch.randn(2, 16000)
    >>> loss(target, target, torch.tensor([1.0, 0.5])).item()
    0.0
    >>> round(loss(0.1 * target, target).item(), 2)  # |log 0.1|
    2.3
    """

    def __init__(
        self,
        sample_rate=16000,
        n_ffts=(512, 1024, 2048),
        hop_lengths=None,
        win_lengths=None,
        n_mels=(40, 80, 128),
        f_min=0.0,
        f_max=None,
        eps=1e-5,
    ):
        super().__init__()
        n_ffts = list(n_ffts)
        count = len(n_ffts)
        hop_lengths = _as_list(hop_lengths, count) if hop_lengths else [n // 4 for n in n_ffts]
        win_lengths = _as_list(win_lengths, count) if win_lengths else list(n_ffts)
        n_mels = _as_list(n_mels, count)
        self.hop_lengths = hop_lengths
        self.eps = eps
        self.mels = nn.ModuleList(
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate,
                n_fft=n_fft,
                win_length=win,
                hop_length=hop,
                f_min=f_min,
                f_max=f_max,
                n_mels=mels,
                power=1.0,
                center=True,
                pad_mode="reflect",
                norm="slaney",
                mel_scale="slaney",
            )
            for n_fft, hop, win, mels in zip(n_ffts, hop_lengths, win_lengths, n_mels)
        )

    def forward(self, predictions, targets, lengths=None):
        """Returns the loss (a scalar).

        Arguments
        ---------
        predictions : torch.Tensor
            ``[B, T]`` decoded waveforms.
        targets : torch.Tensor
            ``[B, T]`` target waveforms.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        # spectra in float32, also under autocast
        predictions, targets = predictions.float(), targets.float()
        mask = sample_mask(targets, lengths)
        predictions = predictions * mask
        targets = targets * mask
        total = 0.0
        for mel, hop in zip(self.mels, self.hop_lengths):
            log_pred = torch.log(torch.clamp(mel(predictions), min=self.eps))
            log_target = torch.log(torch.clamp(mel(targets), min=self.eps))
            frames = spectrogram_frame_mask(targets, lengths, hop, log_target.shape[-1])
            diff = (log_pred - log_target).abs() * frames[:, None, :]
            total = total + diff.sum() / (frames.sum() * log_target.shape[1]).clamp(min=1)
        return total / len(self.mels)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 at several STFT resolutions, padding masked.

    Per resolution, with ``S`` the STFT magnitude over the valid frames of one utterance:
    spectral convergence ``||S_target - S_pred||_F / ||S_target||_F`` (averaged over the
    batch) and ``mean |log S_target - log S_pred|`` over valid frames and bins. The loss is
    ``sc_weight * sc + mag_weight * mag`` averaged over resolutions.

    Arguments
    ---------
    n_ffts : list of int
        FFT sizes, one per resolution.
    hop_lengths : list of int, optional
        Hops; default ``n_fft // 4``.
    win_lengths : list of int, optional
        Window lengths; default ``n_fft``.
    sc_weight : float
        Weight of spectral convergence.
    mag_weight : float
        Weight of the log-magnitude L1.
    eps : float
        Floor of magnitudes (before the log and in the denominators).

    Example
    -------
    >>> loss = MultiResolutionSTFTLoss()
    >>> target = torch.randn(2, 16000)
    >>> loss(target, target, torch.tensor([1.0, 0.5])).item()
    0.0
    >>> sorted(loss.components(torch.randn(2, 16000), target))
    ['magnitude', 'spectral_convergence']
    """

    def __init__(
        self,
        n_ffts=(512, 1024, 2048),
        hop_lengths=None,
        win_lengths=None,
        sc_weight=1.0,
        mag_weight=1.0,
        eps=1e-7,
    ):
        super().__init__()
        self.n_ffts = list(n_ffts)
        count = len(self.n_ffts)
        self.hop_lengths = (
            _as_list(hop_lengths, count) if hop_lengths else [n // 4 for n in self.n_ffts]
        )
        self.win_lengths = _as_list(win_lengths, count) if win_lengths else list(self.n_ffts)
        self.sc_weight = sc_weight
        self.mag_weight = mag_weight
        self.eps = eps
        for i, win in enumerate(self.win_lengths):
            self.register_buffer(f"window_{i}", torch.hann_window(win), persistent=False)

    def _magnitude(self, wav, index):
        spec = torch.stft(
            wav,
            n_fft=self.n_ffts[index],
            hop_length=self.hop_lengths[index],
            win_length=self.win_lengths[index],
            window=getattr(self, f"window_{index}").to(wav.dtype),
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        return spec.abs().clamp(min=self.eps)  # [B, F, N]

    def components(self, predictions, targets, lengths=None):
        """The two terms, each averaged over resolutions, in a dict.

        Arguments
        ---------
        predictions : torch.Tensor
            ``[B, T]`` decoded waveforms.
        targets : torch.Tensor
            ``[B, T]`` target waveforms.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.

        Returns
        -------
        dict
            ``spectral_convergence`` and ``magnitude`` (scalars).
        """
        # spectra in float32, also under autocast
        predictions, targets = predictions.float(), targets.float()
        mask = sample_mask(targets, lengths)
        predictions = predictions * mask
        targets = targets * mask
        sc_total, mag_total = 0.0, 0.0
        for i, hop in enumerate(self.hop_lengths):
            mag_pred = self._magnitude(predictions, i)
            mag_target = self._magnitude(targets, i)
            frames = spectrogram_frame_mask(targets, lengths, hop, mag_target.shape[-1])[:, None, :]
            diff = (mag_target - mag_pred) * frames
            # vector_norm has a zero (sub)gradient at 0, unlike sqrt
            num = torch.linalg.vector_norm(diff, dim=(1, 2))
            den = torch.linalg.vector_norm(mag_target * frames, dim=(1, 2)).clamp(min=self.eps)
            sc_total = sc_total + (num / den).mean()
            log_diff = (torch.log(mag_target) - torch.log(mag_pred)).abs() * frames
            mag_total = mag_total + log_diff.sum() / (frames.sum() * mag_target.shape[1])
        count = len(self.n_ffts)
        return {"spectral_convergence": sc_total / count, "magnitude": mag_total / count}

    def forward(self, predictions, targets, lengths=None):
        """Returns ``sc_weight * spectral_convergence + mag_weight * magnitude`` (a scalar).

        Arguments
        ---------
        predictions : torch.Tensor
            ``[B, T]`` decoded waveforms.
        targets : torch.Tensor
            ``[B, T]`` target waveforms.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        parts = self.components(predictions, targets, lengths)
        return self.sc_weight * parts["spectral_convergence"] + self.mag_weight * parts["magnitude"]
