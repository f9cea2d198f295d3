"""Audio loading and waveform validation.

Files are read with soundfile (never ``torchaudio.load``), mixed down to mono and
resampled with ``torchaudio.functional.resample``. Every error names the file or the
input it is about, so a bad entry in a large corpus is easy to find.

Example
-------
>>> import torch
>>> wav = check_waveform(torch.zeros(2, 1600), name="batch")
>>> wav.shape
torch.Size([2, 1600])
"""

import os

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF


class AudioError(ValueError):
    """An audio file or waveform that cannot be used (corrupt, empty, non-finite, ...).

    A subclass of ``ValueError``, so callers that only know ``ValueError`` still catch it.

    Example
    -------
    >>> issubclass(AudioError, ValueError)
    True
    """


def resample(wav, orig_sample_rate, sample_rate):
    """Resamples a waveform along its last axis.

    Arguments
    ---------
    wav : torch.Tensor
        Waveform ``[T]`` or ``[B, T]``, floating point.
    orig_sample_rate : int
        Sample rate of ``wav`` in Hz.
    sample_rate : int
        Wanted sample rate in Hz.

    Returns
    -------
    torch.Tensor
        The resampled waveform (``wav`` itself when both rates are equal).

    Example
    -------
    >>> import torch
    >>> resample(torch.zeros(22050), 22050, 16000).shape
    torch.Size([16000])
    """
    orig_sample_rate, sample_rate = int(orig_sample_rate), int(sample_rate)
    if orig_sample_rate <= 0 or sample_rate <= 0:
        raise ValueError(
            f"Sample rates must be positive, got {orig_sample_rate} -> {sample_rate}"
        )
    if orig_sample_rate == sample_rate:
        return wav
    return AF.resample(wav, orig_sample_rate, sample_rate)


def change_speed(wav, factor):
    """Plays a waveform ``factor`` times faster: duration, pitch and formants all scale.

    The classic speed perturbation of speech recognition (Ko et al., 2015): at 1.1, the
    voice is 10% higher and its vocal tract 10% shorter, so a corpus of a few voices gains
    new, plausible ones. The waveform is resampled as if it had been recorded at
    ``factor`` times its rate.

    Arguments
    ---------
    wav : torch.Tensor
        Waveform ``[T]`` or ``[B, T]``, floating point.
    factor : float
        Speed factor (> 0; 1 leaves ``wav`` as it is). Rounded to a hundredth.

    Returns
    -------
    torch.Tensor
        About ``T / factor`` samples.

    Example
    -------
    >>> import torch
    >>> change_speed(torch.zeros(16000), 1.1).shape
    torch.Size([14546])
    >>> change_speed(torch.zeros(16000), 0.9).shape
    torch.Size([17778])
    """
    hundredths = int(round(float(factor) * 100))
    if hundredths <= 0:
        raise ValueError(f"Speed factor must be positive, got {factor}")
    if hundredths == 100:
        return wav
    return AF.resample(wav, hundredths, 100)


def load_audio(path, sample_rate):
    """Loads an audio file as a mono float32 waveform at ``sample_rate``.

    Multichannel files are mixed down by averaging their channels; files at another rate
    are resampled.

    Arguments
    ---------
    path : str or os.PathLike
        Audio file in any format soundfile reads (WAV, FLAC, OGG, MP3, ...).
    sample_rate : int
        Sample rate of the returned waveform in Hz.

    Returns
    -------
    torch.Tensor
        Waveform ``[T]``, ``torch.float32``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    AudioError
        If the file cannot be decoded, holds no samples, or holds NaN/inf samples.

    Example
    -------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> tmp = tempfile.mkdtemp()
    >>> path = os.path.join(tmp, "stereo.wav")
    >>> sf.write(path, np.full((48000, 2), 0.25, dtype="float32"), 48000, subtype="FLOAT")
    >>> wav = load_audio(path, 16000)
    >>> wav.shape, wav.dtype
    (torch.Size([16000]), torch.float32)
    >>> round(float(wav[8000]), 3)
    0.25
    >>> load_audio(os.path.join(tmp, "missing.wav"), 16000)
    Traceback (most recent call last):
    ...
    FileNotFoundError: Audio file not found: .../missing.wav
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Audio file not found: {path}")
    if os.path.isdir(path):
        raise AudioError(f"Expected an audio file but got a directory: {path}")
    try:
        data, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.SoundFileError, TypeError, ValueError) as err:
        raise AudioError(f"Cannot read audio file {path}: {err}") from err
    if data.size == 0:
        raise AudioError(f"Audio file is empty (0 samples): {path}")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise AudioError(f"Audio file has {bad} NaN or infinite samples: {path}")
    wav = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    return resample(wav, file_rate, sample_rate).to(torch.float32)


def check_waveform(wav, name="wav", min_samples=1):
    """Checks that an in-memory waveform can be coded and returns it unchanged.

    Arguments
    ---------
    wav : torch.Tensor
        Waveform ``[T]`` or batch of waveforms ``[B, T]``.
    name : str
        Name of the input, used in error messages.
    min_samples : int
        Smallest accepted number of samples per waveform.

    Returns
    -------
    torch.Tensor
        ``wav`` itself.

    Raises
    ------
    TypeError
        If ``wav`` is not a tensor or not floating point.
    AudioError
        If the shape is not ``[T]`` or ``[B, T]``, the batch or the waveform is shorter
        than allowed, or a sample is NaN or infinite.

    Example
    -------
    >>> import torch
    >>> check_waveform(torch.zeros(16000), name="x").shape
    torch.Size([16000])
    >>> check_waveform(torch.zeros(1, 10), name="x", min_samples=320)
    Traceback (most recent call last):
    ...
    unicodec.data.audio.AudioError: x has 10 samples, fewer than the 320 needed
    >>> check_waveform(torch.tensor([0.0, float("nan")]), name="x")
    Traceback (most recent call last):
    ...
    unicodec.data.audio.AudioError: x has 1 NaN or infinite samples
    """
    if not isinstance(wav, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(wav).__name__}")
    if not wav.is_floating_point():
        raise TypeError(f"{name} must be a floating point tensor, got {wav.dtype}")
    if wav.dim() not in (1, 2):
        raise AudioError(
            f"{name} must have shape [T] or [B, T], got {tuple(wav.shape)}"
        )
    if wav.dim() == 2 and wav.shape[0] == 0:
        raise AudioError(f"{name} is an empty batch, shape {tuple(wav.shape)}")
    num_samples = wav.shape[-1]
    if num_samples < max(1, min_samples):
        raise AudioError(
            f"{name} has {num_samples} samples, fewer than the "
            f"{max(1, min_samples)} needed"
        )
    finite = torch.isfinite(wav)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise AudioError(f"{name} has {bad} NaN or infinite samples")
    return wav
