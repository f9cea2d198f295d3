"""The optional judges' registry: which package each judge needs, a one-line install hint
when it is missing, and the audio format judges take."""

import importlib
import importlib.util
import warnings

import numpy as np
import torch

from unicodec.data.audio import resample


JUDGE_SAMPLE_RATE = 16000
"""Sample rate at which every judge here works."""

EXTRA = "judges"
"""The pip extra of ``unicodec`` that installs every judge."""

JUDGE_PACKAGES = {
    "pesq": (("pesq", "pesq"),),
    "stoi": (("pystoi", "pystoi"),),
    "speaker_similarity": (("webrtcvad", "webrtcvad"), ("resemblyzer", "resemblyzer")),
    "dnsmos": (("onnxruntime", "onnxruntime"), ("librosa", "librosa"),
               ("speechmos", "speechmos")),
    "wer": (("pocketsphinx", "pocketsphinx"),),
    "pitch": (("pyworld", "pyworld"),),
}
"""Judge name -> ``(module, pip package)`` pairs it needs."""

class MissingJudgeError(ImportError):
    """An optional judge's package is not installed (the message says how to install it)."""

def _install_hint(judge):
    packages = " ".join(pip for _, pip in JUDGE_PACKAGES[judge])
    return f"pip install 'unicodec[{EXTRA}]' (or: pip install {packages})"

def _import(module):
    """Imports ``module``; webrtcvad (Resemblyzer's voice activity detector) is helped.

    webrtcvad 2.0.10 (and pyworld) read their own version with ``pkg_resources``, which setuptools 81
    and later no longer ship. When that is the only thing missing, a stand-in
    ``pkg_resources`` (``get_distribution`` over ``importlib.metadata``) is put in
    ``sys.modules`` for that one import and taken away again.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation warning
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as err:
            if module not in ("webrtcvad", "pyworld") or err.name != "pkg_resources":
                raise
        import sys
        import types
        from importlib import metadata

        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(
            version=metadata.version(name))
        sys.modules["pkg_resources"] = shim
        try:
            return importlib.import_module(module)
        finally:
            if sys.modules.get("pkg_resources") is shim:
                del sys.modules["pkg_resources"]

def require(judge):
    """Imports the packages of ``judge``; returns its main module (the last one listed).

    Arguments
    ---------
    judge : str
        A key of :data:`JUDGE_PACKAGES`.

    Raises
    ------
    MissingJudgeError
        Naming the missing package and the pip extra.

    Example
    -------
    >>> require("no_such_judge")
    Traceback (most recent call last):
    ...
    KeyError: "Unknown judge 'no_such_judge'; choose among ['dnsmos', 'pesq', ...]"
    """
    if judge not in JUDGE_PACKAGES:
        raise KeyError(f"Unknown judge {judge!r}; choose among {sorted(JUDGE_PACKAGES)}")
    modules = []
    for module, pip_name in JUDGE_PACKAGES[judge]:
        try:
            modules.append(_import(module))
        except ImportError as err:
            raise MissingJudgeError(
                f"The {judge} judge needs the Python package `{pip_name}`, which cannot be "
                f"imported ({err}). Install it with {_install_hint(judge)}."
            ) from err
    return modules[-1]

def available_judges():
    """Names of the judges whose packages are installed (found, not imported).

    Returns
    -------
    list of str
    """

    def found(module):
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError, AttributeError):  # a module blocked in sys.modules
            return False

    return [
        judge
        for judge, packages in JUDGE_PACKAGES.items()
        if all(found(module) for module, _ in packages)
    ]

def to_judge_audio(wav, sample_rate):
    """A 1-D float32 NumPy waveform at 16 kHz, clipped to [-1, 1].

    Example
    -------
    >>> to_judge_audio(torch.ones(2, 24000) * 2, 24000).shape
    (16000,)
    """
    wav = torch.as_tensor(np.asarray(wav) if not torch.is_tensor(wav) else wav)
    wav = wav.detach().float().cpu()
    if wav.dim() == 2:  # [1, T] or [C, T]
        wav = wav.mean(0)
    if wav.dim() != 1:
        raise ValueError(f"Expected a 1-D waveform, got shape {tuple(wav.shape)}")
    wav = resample(wav, int(sample_rate), JUDGE_SAMPLE_RATE)
    return wav.clamp(-1.0, 1.0).numpy().astype(np.float32)
