"""Offline judges of speech quality, intelligibility and speaker identity.

Each judge wraps an optional package whose weights ship inside its wheel, so nothing is
downloaded at run time:

============================  =================  ==========================================
judge                         package            score
============================  =================  ==========================================
:func:`pesq_wb`               ``pesq``           wide-band PESQ (MOS-LQO, -0.5 to 4.64)
:func:`stoi`                  ``pystoi``         STOI (0 to 1), extended STOI on request
:class:`SpeakerSimilarity`    ``resemblyzer``    cosine of speaker embeddings (-1 to 1)
:class:`DNSMOS`               ``speechmos``      DNSMOS P.835 (SIG, BAK, OVRL) and P.808
:class:`EnglishASR`           ``pocketsphinx``   English transcript, for :func:`word_error_rate`
============================  =================  ==========================================

All of them are in the ``judges`` extra (``pip install 'unicodec[judges]'``); a judge whose
package is missing raises :class:`MissingJudgeError`, which names the package and the
extra. :func:`available_judges` tells which ones can run. The WER arithmetic
(:func:`normalize_text`, :func:`word_errors`, :func:`word_error_rate`) needs no package.
Pocketsphinx's English model is only meaningful on natural English speech: on synthetic
(espeak) speech its WER stays high whatever the codec does.

Waveforms are 1-D float tensors or arrays in [-1, 1] at ``sample_rate``; judges that work
at 16 kHz resample them first. :class:`Judges` scores a rebuilt waveform against its
original with a chosen set of judges, loading each model once.

Example
-------
>>> word_error_rate(["the cat sat"], ["the cat sat"])
0.0
>>> set(available_judges()) <= set(JUDGE_PACKAGES)
True

Authors
 * UniCodec authors 2026
"""

import copy
import importlib
import math
import importlib.util
import re
import unicodedata
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


def _pair(reference, degraded, sample_rate):
    ref = to_judge_audio(reference, sample_rate)
    deg = to_judge_audio(degraded, sample_rate)
    n = min(len(ref), len(deg))
    return ref[:n], deg[:n]


def pesq_wb(reference, degraded, sample_rate=JUDGE_SAMPLE_RATE):
    """Wide-band PESQ (ITU-T P.862.2) of ``degraded`` against ``reference``.

    Arguments
    ---------
    reference, degraded : torch.Tensor or numpy.ndarray
        1-D waveforms at ``sample_rate`` (cut to the shorter one).
    sample_rate : int
        Their sample rate (resampled to 16 kHz).

    Returns
    -------
    float
        MOS-LQO, higher is better; NaN when PESQ finds no speech in the reference.

    Example
    -------
    >>> t = torch.arange(32000) / 16000
    >>> clean = 0.3 * torch.sin(2 * torch.pi * 220 * t) * torch.sin(2 * torch.pi * 3 * t)
    >>> pesq_wb(clean, clean) > 4.5  # doctest: +SKIP
    True
    """
    pesq = require("pesq")
    ref, deg = _pair(reference, degraded, sample_rate)
    try:
        return float(pesq.pesq(JUDGE_SAMPLE_RATE, ref.astype(np.float64),
                               deg.astype(np.float64), "wb"))
    except pesq.NoUtterancesError:
        return float("nan")


def stoi(reference, degraded, sample_rate=JUDGE_SAMPLE_RATE, extended=False):
    """Short-time objective intelligibility of ``degraded`` against ``reference``.

    Arguments
    ---------
    reference, degraded : torch.Tensor or numpy.ndarray
        1-D waveforms at ``sample_rate`` (cut to the shorter one).
    sample_rate : int
        Their sample rate (resampled to 16 kHz; pystoi works at 10 kHz inside).
    extended : bool
        Extended STOI (Jensen and Taal 2016).

    Returns
    -------
    float
        Between 0 and 1 (about), higher is better.

    Example
    -------
    >>> wav = 0.1 * torch.randn(16000)
    >>> round(stoi(wav, wav), 3)  # doctest: +SKIP
    1.0
    """
    pystoi = require("stoi")
    ref, deg = _pair(reference, degraded, sample_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Not enough STFT frames" on very short audio
        return float(pystoi.stoi(ref.astype(np.float64), deg.astype(np.float64),
                                 JUDGE_SAMPLE_RATE, extended=extended))


class SpeakerSimilarity:
    """Cosine similarity of Resemblyzer speaker embeddings (GE2E d-vectors).

    Each waveform is volume-normalised and its long pauses are shortened (Resemblyzer's
    own preprocessing; the untrimmed audio is kept when voice activity detection finds
    almost nothing, as on tones or noise).

    Arguments
    ---------
    device : str
        Torch device of the encoder.

    Example
    -------
    >>> judge = SpeakerSimilarity()  # doctest: +SKIP
    >>> wav = 0.1 * torch.randn(32000)
    >>> round(judge(wav, wav), 4)  # doctest: +SKIP
    1.0
    """

    def __init__(self, device="cpu"):
        require("speaker_similarity")
        self.device = device
        self._encoder = None

    @property
    def encoder(self):
        """The Resemblyzer ``VoiceEncoder`` (loaded on first use)."""
        if self._encoder is None:
            from resemblyzer import VoiceEncoder

            self._encoder = VoiceEncoder(device=self.device, verbose=False)
        return self._encoder

    def embed(self, wav, sample_rate=JUDGE_SAMPLE_RATE):
        """The unit-norm speaker embedding ``[256]`` (NumPy) of one waveform."""
        from resemblyzer import audio

        wav = to_judge_audio(wav, sample_rate)
        wav = audio.normalize_volume(wav, audio.audio_norm_target_dBFS, increase_only=True)
        trimmed = audio.trim_long_silences(wav)
        if len(trimmed) >= max(0.25 * len(wav), 0.5 * JUDGE_SAMPLE_RATE):
            wav = trimmed
        with torch.inference_mode():
            embedding = self.encoder.embed_utterance(wav.astype(np.float32))
        return embedding / max(np.linalg.norm(embedding), 1e-12)

    def __call__(self, wav_a, wav_b, sample_rate=JUDGE_SAMPLE_RATE):
        """Cosine similarity of the speakers of two waveforms."""
        return cosine(self.embed(wav_a, sample_rate), self.embed(wav_b, sample_rate))


def cosine(a, b):
    """Cosine similarity of two vectors (NumPy or torch), as a float.

    Example
    -------
    >>> round(cosine([1.0, 0.0], [1.0, 1.0]), 4)
    0.7071
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom > 0 else float("nan")


class DNSMOS:
    """DNSMOS non-intrusive quality (Microsoft's P.835 and P.808 models, via speechmos).

    The first call in a fresh environment is slow (librosa's numba functions compile,
    about 40 s once, then cached); later calls take about 0.1 s per second of audio.
    Clips shorter than 9 s are repeated to 9 s, as DNSMOS does.

    Example
    -------
    >>> scores = DNSMOS()(0.1 * torch.randn(16000))  # doctest: +SKIP
    >>> sorted(scores)  # doctest: +SKIP
    ['dnsmos_bak', 'dnsmos_ovrl', 'dnsmos_p808', 'dnsmos_sig']
    """

    def __init__(self, personalized=False):
        require("dnsmos")
        self.model_type = "dnsmos_personalized" if personalized else "dnsmos"

    def __call__(self, wav, sample_rate=JUDGE_SAMPLE_RATE):
        """``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl`` and ``dnsmos_p808`` (1 to 5)."""
        from speechmos import dnsmos

        scores = dnsmos.run(to_judge_audio(wav, sample_rate), JUDGE_SAMPLE_RATE,
                            model_type=self.model_type)
        return {
            "dnsmos_sig": float(scores["sig_mos"]),
            "dnsmos_bak": float(scores["bak_mos"]),
            "dnsmos_ovrl": float(scores["ovrl_mos"]),
            "dnsmos_p808": float(scores["p808_mos"]),
        }


class EnglishASR:
    """English speech recognition with pocketsphinx's bundled US English model.

    Meaningful on natural English speech only (WER about 0.2 on clean read speech, 0.7
    to 0.9 on espeak speech).

    Example
    -------
    >>> asr = EnglishASR()  # doctest: +SKIP
    >>> isinstance(asr(torch.zeros(16000)), str)  # doctest: +SKIP
    True
    """

    def __init__(self):
        require("wer")
        self._decoder = None

    @property
    def decoder(self):
        """The pocketsphinx ``Decoder`` (created on first use)."""
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(samprate=JUDGE_SAMPLE_RATE, loglevel="FATAL")
        return self._decoder

    def __call__(self, wav, sample_rate=JUDGE_SAMPLE_RATE):
        """The transcript of one waveform, lower case ('' when nothing is recognised)."""
        pcm = (to_judge_audio(wav, sample_rate) * 32767).astype(np.int16)
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""


def normalize_text(text):
    """Lower case, no punctuation (apostrophes inside words kept), single spaces.

    Example
    -------
    >>> normalize_text("Mr. Quilter's  GOSPEL, (again)!")
    "mr quilter's gospel again"
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    text = re.sub(r"(^|\s)'+|'+(\s|$)", " ", text)
    return " ".join(text.split())


def word_errors(reference, hypothesis):
    """Word edit distance (substitutions + deletions + insertions) and reference length.

    Both texts go through :func:`normalize_text` first.

    Example
    -------
    >>> word_errors("the cat sat on the mat", "the cat sat on mat too")
    (2, 6)
    """
    ref = normalize_text(reference).split()
    hyp = normalize_text(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_word != hyp_word),  # substitution or match
            )
        previous = current
    return previous[-1], len(ref)


def word_error_rate(references, hypotheses):
    """Corpus word error rate: all word edits over all reference words.

    Arguments
    ---------
    references, hypotheses : str or list of str
        Texts, one per utterance.

    Returns
    -------
    float
        NaN when the references hold no word.

    Example
    -------
    >>> word_error_rate(["a b c d", "e f"], ["a x c d", "e f g"])
    0.3333333333333333
    """
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    if len(references) != len(hypotheses):
        raise ValueError(
            f"{len(references)} references but {len(hypotheses)} hypotheses"
        )
    edits = words = 0
    for ref, hyp in zip(references, hypotheses):
        e, n = word_errors(ref, hyp)
        edits, words = edits + e, words + n
    return edits / words if words else float("nan")


def harvest_f0(wav, sample_rate=JUDGE_SAMPLE_RATE, frame_period=10.0, f0_min=60.0,
               f0_max=500.0, median_ms=50.0):
    """F0 every ``frame_period`` ms by WORLD's Harvest (pyworld), an independent tracker.

    UniCodec's training and encoder use YIN (:mod:`unicodec.lobes.pitch_tracker`); its
    pitch is scored with this one. The log-F0 of each voiced run is median-filtered over
    ``median_ms`` (octave blips of one or two frames).

    Returns
    -------
    numpy.ndarray
        F0 in Hz per frame, 0 where unvoiced.
    """
    pyworld = require("pitch")
    x = to_judge_audio(wav, sample_rate).astype(np.float64)
    f0, _ = pyworld.harvest(x, JUDGE_SAMPLE_RATE, f0_floor=f0_min, f0_ceil=f0_max,
                            frame_period=frame_period)
    half = int(round(median_ms / frame_period)) // 2
    voiced = f0 > 0
    if half > 0 and voiced.any():
        log_f0 = np.where(voiced, np.log(np.where(voiced, f0, 1.0)), np.nan)
        padded = np.pad(log_f0, half, constant_values=np.nan)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: unvoiced
            smooth = np.nanmedian(windows, axis=-1)
        f0 = np.where(voiced, np.exp(smooth), 0.0)
    return f0


def pitch_agreement(rebuilt, original, sample_rate=JUDGE_SAMPLE_RATE, original_f0=None):
    """Counts of how well ``rebuilt``'s pitch follows ``original``'s (Harvest on both).

    ``original_f0`` (:func:`harvest_f0` of the original) saves tracking it again when
    several versions of one original are scored.

    Returns
    -------
    dict
        ``pitch_frames`` (frames of the original), ``pitch_voicing_agree`` (frames whose
        voicing agrees), ``pitch_both_voiced``, ``pitch_gross_errors`` (voiced in both and
        more than 20% off), ``pitch_sq_cents`` (sum of squared errors in cents over frames
        voiced in both) and ``pitch_contour_corr`` (correlation of log-F0 over frames
        voiced in both; NaN under 10 such frames). Sum the counts over utterances for a
        corpus figure (:func:`pitch_summary`).
    """
    ref = harvest_f0(original, sample_rate) if original_f0 is None else original_f0
    return f0_agreement(harvest_f0(rebuilt, sample_rate), ref)


def f0_agreement(est, ref):
    """:func:`pitch_agreement`'s counts of two F0 tracks (Hz, 0 where unvoiced, same
    frame rate; cut to the shorter).

    Example
    -------
    >>> ref = np.array([0, 100, 100, 100, 0.0])
    >>> counts = f0_agreement(np.array([0, 100, 210, 0, 0.0]), ref)
    >>> counts["pitch_voicing_agree"], counts["pitch_both_voiced"], counts["pitch_gross_errors"]
    (4, 2, 1)
    """
    est, ref = np.asarray(est, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    n = min(len(ref), len(est))
    ref, est = ref[:n], est[:n]
    both = (ref > 0) & (est > 0)
    cents = 1200 * np.log2(est[both] / ref[both]) if both.any() else np.zeros(0)
    corr = float("nan")
    if both.sum() >= 10:
        a, b = np.log(ref[both]), np.log(est[both])
        if a.std() > 0 and b.std() > 0:
            corr = float(np.corrcoef(a, b)[0, 1])
    return {
        "pitch_frames": int(n),
        "pitch_voicing_agree": int(((ref > 0) == (est > 0)).sum()),
        "pitch_both_voiced": int(both.sum()),
        "pitch_gross_errors": int((np.abs(est[both] / ref[both] - 1) > 0.2).sum()),
        "pitch_sq_cents": float((cents ** 2).sum()),
        "pitch_contour_corr": corr,
    }


def pitch_summary(counts):
    """Corpus figures from a list of :func:`pitch_agreement` dicts.

    Returns
    -------
    dict
        ``gross_pitch_error`` (share of frames voiced in both), ``f0_rmse_cents``,
        ``voicing_agreement``, ``f0_contour_corr`` (mean over utterances).

    Example
    -------
    >>> pitch_summary([{"pitch_frames": 10, "pitch_voicing_agree": 9, "pitch_both_voiced": 8,
    ...   "pitch_gross_errors": 2, "pitch_sq_cents": 800.0, "pitch_contour_corr": 0.5}])
    {'gross_pitch_error': 0.25, 'f0_rmse_cents': 10.0, 'voicing_agreement': 0.9, 'f0_contour_corr': 0.5}
    """
    total = {k: sum(c[k] for c in counts) for k in counts[0] if k != "pitch_contour_corr"}
    both = max(total["pitch_both_voiced"], 1)
    corrs = [c["pitch_contour_corr"] for c in counts if not math.isnan(c["pitch_contour_corr"])]
    return {
        "gross_pitch_error": total["pitch_gross_errors"] / both,
        "f0_rmse_cents": math.sqrt(total["pitch_sq_cents"] / both),
        "voicing_agreement": total["pitch_voicing_agree"] / max(total["pitch_frames"], 1),
        "f0_contour_corr": float(np.mean(corrs)) if corrs else float("nan"),
    }


class Judges:
    """Scores rebuilt waveforms against their originals with a set of judges.

    Arguments
    ---------
    names : list of str, or "available"
        Judges among :data:`JUDGE_PACKAGES` (``pesq``, ``stoi``, ``speaker_similarity``,
        ``dnsmos``, ``wer``); ``"available"`` takes every installed one.
    sample_rate : int
        Sample rate of the waveforms given to :meth:`score`.
    device : str
        Device of the speaker encoder.

    Raises
    ------
    MissingJudgeError
        At construction, when a named judge's package is missing.

    Example
    -------
    >>> judges = Judges([])
    >>> judges.score(torch.zeros(16000), torch.zeros(16000))
    {}
    """

    def __init__(self, names="available", sample_rate=JUDGE_SAMPLE_RATE, device="cpu"):
        if names == "available":
            names = available_judges()
        unknown = [name for name in names if name not in JUDGE_PACKAGES]
        if unknown:
            raise KeyError(f"Unknown judges {unknown}; choose among {sorted(JUDGE_PACKAGES)}")
        for name in names:
            require(name)
        self.names = list(names)
        self.sample_rate = sample_rate
        self.speaker = SpeakerSimilarity(device) if "speaker_similarity" in names else None
        self.dnsmos = DNSMOS() if "dnsmos" in names else None
        self.asr = EnglishASR() if "wer" in names else None

    def subset(self, names):
        """The judges among ``names`` that this one has, sharing its loaded models.

        Example
        -------
        >>> Judges([]).subset(["pesq"]).names
        []
        """
        other = copy.copy(self)
        other.names = [name for name in self.names if name in names]
        other.speaker = self.speaker if "speaker_similarity" in other.names else None
        other.dnsmos = self.dnsmos if "dnsmos" in other.names else None
        other.asr = self.asr if "wer" in other.names else None
        return other

    def score(self, rebuilt, original, text=None, language="en"):
        """Scores of one rebuilt waveform against its original (1-D, ``sample_rate``).

        Returns
        -------
        dict
            ``pesq``, ``stoi``, ``speaker_similarity``; ``dnsmos_*`` of the rebuilt audio
            and ``dnsmos_*_original``; and, for English with a ``text``, ``word_edits``,
            ``word_edits_original`` and ``ref_words`` (sum them over utterances for a
            corpus WER, see :class:`unicodec.evaluation.metrics.ResynthesisMetrics`).
        """
        scores = {}
        sr = self.sample_rate
        if "pesq" in self.names:
            scores["pesq"] = pesq_wb(original, rebuilt, sr)
        if "stoi" in self.names:
            scores["stoi"] = stoi(original, rebuilt, sr)
        if self.speaker is not None:
            scores["speaker_similarity"] = self.speaker(rebuilt, original, sr)
        if self.dnsmos is not None:
            scores.update(self.dnsmos(rebuilt, sr))
            scores.update({f"{k}_original": v for k, v in self.dnsmos(original, sr).items()})
        if self.asr is not None and text and str(language).lower().startswith("en"):
            edits, words = word_errors(text, self.asr(rebuilt, sr))
            edits_original, _ = word_errors(text, self.asr(original, sr))
            scores.update(word_edits=edits, word_edits_original=edits_original,
                          ref_words=words)
        return {k: (float(v) if not isinstance(v, int) else v) for k, v in scores.items()}
