"""The envelope postfilter: undoes the decoder's over-smoothing of the spectral envelope in time.

A decoder trained to minimise a spectral distance at a few hundred bits per second
hedges: where the tokens leave a frame's envelope uncertain, the safest guess is near
the average one, so consecutive sounds come out more alike than the speaker made them.
On the embedded default the rebuilt audio's envelope varies over time with a standard
deviation of 0.5-0.8 of the original's, coefficient by coefficient (30 cepstral
coefficients, 32 ms frames every 8 ms), and a speaker verifier hears the difference.

The postfilter measures each frame's spectral envelope (log power, cepstrally smoothed)
in the decoded waveform, takes the mean envelope over the utterance's audible frames and
moves the shape of each frame's envelope (all but its mean over frequency) away from
that mean's by ``expansion`` times its deviation, as a gain on the frame's spectrum
that keeps the frame's power; then each frame's power, in dB, moves away from the
utterance's mean by ``level_expansion`` times its deviation. The formants of each sound
stand out from the average shape as much as the factor says, loud and quiet sounds
differ a little more, the utterance's mean envelope shape (its timbre, which G codes)
stays, and the excitation (harmonics, noise, phase) is untouched. Expanding the shape without
holding each frame's power would raise the strongest bins of the loudest frames most:
peaks twice the original's. Expanding changes in the log domain also raises the mean
power of the bins that change most (the mean of an exponential grows with its spread), so
the utterance's long-term spectrum, which G codes and decoding enforces, would drift
(on the embedded default, the root mean square difference between the rebuilt audio's
20 long-term cepstral coefficients and G's coded ones is 0.28 before the postfilter and
0.77 after it); with ``keep_spectrum`` a smooth gain per bin takes the long-term
spectrum, measured over the audible frames on linear bins, back to the decoded one
(0.31 from G's after it; G measures its coefficients on a mel scale over all frames, so
the two measures differ a little). It is the codec counterpart of the global-variance
compensation of statistical speech synthesis, and like the postfilters of classical
codecs it runs at decoding only, on the output, with nothing to learn.

Authors
 * UniCodec authors 2026
"""

import torch
from torch import nn

from unicodec.lengths import frame_mask


class EnvelopePostfilter(nn.Module):
    """Expands each frame's spectral envelope away from the utterance's mean envelope.

    Arguments
    ---------
    expansion : float
        Factor on the deviation of each frame's envelope shape (log power less its mean
        over frequency) from the utterance's mean shape; 1 leaves the shapes as they are,
        larger values sharpen their changes over time.
    level_expansion : float
        Factor on the deviation of each frame's log power from the utterance's mean
        (over its audible frames).
    n_fft : int
        STFT size (and window) of the analysis.
    hop_length : int
        STFT hop.
    coefficients : int
        Cepstral coefficients kept for the envelope (the rest is the excitation's).
    floor_db : float
        Frames more than this below the utterance's loudest are left out of its mean
        envelope (pauses and digital silence; they are filtered all the same).
    keep_spectrum : bool
        After the expansion, one gain per frequency bin (the same on every frame) gives
        the audible frames' mean log power spectrum, cepstrally smoothed to
        ``coefficients``, its value as decoded: the expansion then changes how the
        envelope moves, not the utterance's long-term spectrum.

    Example
    -------
    >>> postfilter = EnvelopePostfilter(expansion=1.3, level_expansion=1.2)
    >>> wav = torch.randn(2, 16000)
    >>> out = postfilter(wav, torch.tensor([16000, 8000]))
    >>> out.shape
    torch.Size([2, 16000])
    >>> bool(out[1, 8000:].abs().max() == 0)  # nothing past each waveform's length
    True
    >>> torch.equal(EnvelopePostfilter(expansion=1.0, level_expansion=1.0)(wav), wav)
    True
    >>> kept = EnvelopePostfilter(expansion=1.3, keep_spectrum=True)(wav)
    >>> kept.shape
    torch.Size([2, 16000])
    """

    def __init__(self, expansion=1.3, level_expansion=1.2, n_fft=512, hop_length=128,
                 coefficients=30, floor_db=40.0, keep_spectrum=False):
        super().__init__()
        if expansion <= 0 or level_expansion <= 0:
            raise ValueError(
                f"expansion ({expansion}) and level_expansion ({level_expansion}) must be > 0"
            )
        if not 0 < coefficients <= n_fft // 4:
            raise ValueError(f"coefficients ({coefficients}) must be in 1..{n_fft // 4}")
        self.expansion = float(expansion)
        self.level_expansion = float(level_expansion)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.coefficients = coefficients
        self.floor = 10.0 ** (-floor_db / 10.0)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        lifter = torch.zeros(n_fft)
        lifter[1:coefficients] = 1.0  # the shape: without the mean over frequency
        lifter[n_fft - coefficients + 1:] = 1.0
        self.register_buffer("lifter", lifter, persistent=False)
        self.keep_spectrum = keep_spectrum
        envelope_lifter = lifter.clone()
        envelope_lifter[0] = 1.0  # the mean over frequency too: the level of each bin
        self.register_buffer("envelope_lifter", envelope_lifter, persistent=False)

    def shape(self, power):
        """Log-power envelope ``[B, T, bins]`` of a power spectrogram ``[B, bins, T]``,
        less its mean over frequency (cepstral coefficients 1 to ``coefficients - 1``)."""
        return self._smooth(torch.log(power.transpose(1, 2) + 1e-8), self.lifter)

    def _smooth(self, log_power, lifter):
        """``log_power`` ``[..., bins]`` keeping only the cepstral coefficients ``lifter``
        keeps."""
        cepstrum = torch.fft.irfft(log_power, n=self.n_fft)
        return torch.fft.rfft(cepstrum * lifter, dim=-1).real

    def forward(self, wav, num_samples=None):
        """Filters ``wav`` ``[B, T]``; ``num_samples`` ``[B]`` (default: all of ``T``)
        are the valid samples of each waveform; the output is zero beyond them."""
        if self.expansion == 1.0 and self.level_expansion == 1.0:
            return wav
        total = wav.shape[1]
        if num_samples is None:
            num_samples = torch.full((wav.shape[0],), total, device=wav.device)
        valid = frame_mask(num_samples.to(wav.device), total).to(torch.float32)
        x = wav.float() * valid
        spec = torch.stft(x, self.n_fft, self.hop_length, window=self.window,
                          return_complex=True)
        power = spec.abs().pow(2)
        shape = self.shape(power)  # [B, T, bins]
        starts = torch.arange(shape.shape[1], device=wav.device) * self.hop_length
        inside = starts[None] < num_samples.to(wav.device)[:, None]
        energy = power.sum(1)  # [B, T]
        loudest = (energy * inside).amax(1, keepdim=True)
        weight = (inside & (energy > loudest * self.floor)).to(shape.dtype)
        count = weight.sum(1).clamp(min=1)
        mean = (shape * weight[..., None]).sum(1) / count[:, None]
        log_gain = 0.5 * (self.expansion - 1.0) * (shape - mean[:, None])  # log magnitude
        shaped = (power * (2 * log_gain).exp().transpose(1, 2)).sum(1)
        log_energy = torch.log(energy + 1e-8)
        mean_level = (log_energy * weight).sum(1, keepdim=True) / count[:, None]
        level = 0.5 * (self.level_expansion - 1.0) * (log_energy - mean_level)
        frame_gain = 0.5 * (log_energy - torch.log(shaped + 1e-8)) + level  # [B, T]
        log_gain = log_gain + frame_gain[..., None]  # [B, T, bins]
        if self.keep_spectrum:
            # the mean power of each bin over the audible frames, as decoded: the
            # expansion raises the bins that vary most (the mean of exp grows with the
            # spread), so the long-term spectrum G codes would drift
            before = (power.transpose(1, 2) * weight[..., None]).sum(1)
            after = (power.transpose(1, 2) * (2 * log_gain).exp() * weight[..., None]).sum(1)
            drift = torch.log(before + 1e-8) - torch.log(after + 1e-8)  # [B, bins]
            log_gain = log_gain + 0.5 * self._smooth(drift, self.envelope_lifter)[:, None]
        gain = log_gain.exp()
        out = torch.istft(spec * gain.transpose(1, 2), self.n_fft, self.hop_length,
                          window=self.window, length=total)
        return (out * valid).to(wav.dtype)
