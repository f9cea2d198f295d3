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
import warnings

import numpy as np
import torch

from unicodec.evaluation.judge_registry import (  # noqa: F401
    EXTRA,
    JUDGE_PACKAGES,
    JUDGE_SAMPLE_RATE,
    MissingJudgeError,
    _import,
    _install_hint,
    available_judges,
    require,
    to_judge_audio,
)
from unicodec.evaluation.pitch_judge import (  # noqa: F401
    audible_frames,
    f0_agreement,
    harvest_f0,
    periodic_frames,
    pitch_agreement,
    pitch_summary,
)
from unicodec.evaluation.word_errors import (  # noqa: F401
    normalize_text,
    word_error_rate,
    word_errors,
)


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
