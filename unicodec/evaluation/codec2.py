"""Codec 2, the classical low-bitrate speech codec, as an anchor measured in the same run.

Codec 2 (David Rowe; Debian's ``codec2`` package: ``c2enc`` / ``c2dec``) codes 8 kHz speech
at 700 to 3200 bps with a sinusoidal model (pitch, voicing, energy, LSP envelope): the
parametric codec at UniCodec's bitrate. :class:`Codec2` resamples to 8 kHz, runs the two
command-line tools and resamples the result back, so its output is scored against the
same originals as UniCodec's.

Authors
 * UniCodec authors 2026
"""

import os
import shutil
import subprocess
import tempfile

import numpy as np
import torch

from unicodec.data.audio import resample

MODES = (3200, 2400, 1600, 1400, 1300, 1200, 700)


class Codec2Unavailable(RuntimeError):
    """``c2enc`` / ``c2dec`` are not on the PATH."""


def available():
    """Whether the Codec 2 command-line tools are installed."""
    return shutil.which("c2enc") is not None and shutil.which("c2dec") is not None


class Codec2:
    """Encode and decode with Codec 2 at one bitrate.

    Arguments
    ---------
    bitrate : int
        One of 3200, 2400, 1600, 1400, 1300, 1200, 700 (``700C`` mode for 700).

    Raises
    ------
    Codec2Unavailable
        If ``c2enc`` / ``c2dec`` are missing (``apt-get install codec2``).
    ValueError
        For an unknown bitrate.

    Example
    -------
    >>> if available():
    ...     out = Codec2(1200)(torch.randn(16000) * 0.1, 16000)
    ...     print(out.shape)
    ... else:
    ...     print(torch.Size([16000]))
    torch.Size([16000])
    """

    def __init__(self, bitrate=1200):
        if bitrate not in MODES:
            raise ValueError(f"Codec 2 bitrate must be one of {MODES}, got {bitrate}")
        if not available():
            raise Codec2Unavailable(
                "Codec 2 is not installed: `apt-get install codec2` gives c2enc and c2dec"
            )
        self.bitrate = bitrate
        self.mode = "700C" if bitrate == 700 else str(bitrate)

    def __call__(self, wav, sample_rate=16000):
        """Coded and decoded ``wav`` ``[T]`` (float), at ``sample_rate``, same length."""
        wav = torch.as_tensor(wav, dtype=torch.float32).flatten()
        narrow = resample(wav, sample_rate, 8000) if sample_rate != 8000 else wav
        pcm = (narrow.clamp(-1, 1) * 32767).round().to(torch.int16).numpy()
        with tempfile.TemporaryDirectory() as folder:
            raw, bits, out = (os.path.join(folder, n) for n in ("in.raw", "c2.bit", "out.raw"))
            pcm.tofile(raw)
            for cmd in (["c2enc", self.mode, raw, bits], ["c2dec", self.mode, bits, out]):
                result = subprocess.run(cmd, capture_output=True, text=True)
                if result.returncode != 0:
                    raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
            decoded = np.fromfile(out, dtype=np.int16).astype(np.float32) / 32768.0
        decoded = torch.from_numpy(decoded)
        if sample_rate != 8000:
            decoded = resample(decoded, 8000, sample_rate)
        decoded = decoded[: wav.shape[0]]
        return torch.nn.functional.pad(decoded, (0, wav.shape[0] - decoded.shape[0]))
