"""One utterance of a synthetic speaker: its language, style and sentence drawn, spoken
by espeak-ng (``espeak.py``) or a natural-sounding Kokoro voice (``kokoro.py``), resampled
and labelled (with a phone alignment that tiles it).

:mod:`unicodec.data.corpus` draws the speakers and writes the utterances.
"""

import math

import numpy as np
import scipy.signal
import torch

from unicodec.data.alignment import phone_segments
from unicodec.data.corpus_files import Utterance
from unicodec.data.espeak import SAMPLE_RATE as ESPEAK_SAMPLE_RATE
from unicodec.data.espeak import EspeakSynthesizer  # noqa: F401 (doctests)
from unicodec.data.kokoro import SAMPLE_RATE as KOKORO_SAMPLE_RATE
from unicodec.data.texts import compose_sentence
from unicodec.data.voices import STYLE_WEIGHTS, STYLES, voice_settings

SAMPLE_RATE = 16000
MAX_ATTEMPTS = 25
"""Sentences tried before an utterance that fits the duration bounds is given up."""


def _choose_style(rng):
    names = list(STYLE_WEIGHTS)
    return STYLES[rng.choices(names, weights=[STYLE_WEIGHTS[n] for n in names])[0]]


def _choose_language(speaker, rng):
    if len(speaker.languages) == 1 or rng.random() < 0.65:
        return speaker.languages[0]
    return rng.choice(speaker.languages[1:])


def _resample_poly(audio, orig_sample_rate, sample_rate):
    """Polyphase resampling of a numpy waveform, clipped to [-1, 1].

    Single-threaded (scipy), which keeps generation fast beside other jobs on few cores.
    """
    if orig_sample_rate != sample_rate:
        divisor = math.gcd(orig_sample_rate, sample_rate)
        audio = scipy.signal.resample_poly(
            audio, sample_rate // divisor, orig_sample_rate // divisor
        )
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def synthesize_utterance(tts, speaker, language, style, text, seed, sample_rate=SAMPLE_RATE):
    """Synthesises one utterance of a speaker and labels it.

    Arguments
    ---------
    tts : EspeakSynthesizer
        The synthesiser.
    speaker : voices.SpeakerProfile
        Who speaks.
    language : str
        One of the speaker's languages.
    style : voices.Style
        How.
    text : str
        What.
    seed : int
        Seed of the synthesiser's noise sources.
    sample_rate : int
        Sample rate of the returned audio.

    Returns
    -------
    Utterance
        Audio at ``sample_rate`` and labels with an alignment that tiles it.

    Example
    -------
    >>> import random
    >>> from unicodec.data.voices import STYLES, sample_speaker
    >>> speaker = sample_speaker("1", random.Random(0), ("es",))
    >>> utt = synthesize_utterance(EspeakSynthesizer(), speaker, "es", STYLES["sad"],
    ...                            "Hola a todos.", seed=0)
    >>> utt.labels["alignment"][0][0], utt.labels["alignment"][-1][1] == utt.duration
    (0.0, True)
    """
    settings = voice_settings(speaker, language, style)
    synthesis = tts.synthesize(text, seed=seed, **settings.as_kwargs())
    audio = torch.from_numpy(_resample_poly(synthesis.audio, ESPEAK_SAMPLE_RATE, sample_rate))
    scale = sample_rate / ESPEAK_SAMPLE_RATE
    events = [(round(event.sample * scale), event.phone) for event in synthesis.events]
    alignment = phone_segments(events, len(audio), sample_rate)
    voice = settings.as_kwargs()
    voice["seed"] = int(seed)
    speaker_settings = speaker.as_dict()
    for key in ("speaker_id", "gender", "languages", "accents"):
        speaker_settings.pop(key)
    labels = {
        "language": language,
        "style": style.name,
        "gender": speaker.gender,
        "accent": speaker.accents[language],
        "voice": settings.voice,
        "duration": round(len(audio) / sample_rate, 5),
        "speaker_settings": speaker_settings,
        "voice_settings": voice,
        "alignment": alignment,
    }
    return Utterance(audio=audio, text=text, labels=labels)


def synthesize_natural_utterance(tts, speaker, language, text, speed, peak, sample_rate):
    """Synthesises one utterance of a natural-voice (Kokoro) speaker and labels it.

    Arguments
    ---------
    tts : kokoro.KokoroSynthesizer
    speaker : kokoro.KokoroSpeaker
    language : str
    text : str
    speed : float
        This utterance's rate, relative to the speaker's.
    peak : float
        Peak amplitude the audio is scaled to.
    sample_rate : int

    Returns
    -------
    Utterance
        Style ``neutral`` (Kokoro's rate is its only style control).
    """
    audio, events = tts.synthesize(text, language, speaker, speed=speed)
    audio = _resample_poly(audio, KOKORO_SAMPLE_RATE, sample_rate)
    audio = audio * (peak / max(float(np.abs(audio).max()), 1e-4))
    scale = sample_rate / KOKORO_SAMPLE_RATE
    events = [(round(sample * scale), phone) for sample, phone in events]
    identity = speaker.as_dict()
    labels = {
        "language": language,
        "style": "neutral",
        "gender": speaker.gender,
        "accent": identity["accents"][language],
        "voice": "kokoro",
        "duration": round(len(audio) / sample_rate, 5),
        "speaker_settings": {"weights": identity["weights"], "speed": speaker.speed},
        "voice_settings": {"speed": speed, "peak": peak},
        "alignment": phone_segments(events, len(audio), sample_rate),
    }
    return Utterance(audio=torch.from_numpy(audio.astype(np.float32)), text=text, labels=labels)


def _fit_duration(speak, num_clauses, settings, who):
    """``speak(num_clauses)`` again, a clause fewer or more, until its duration lies in
    ``[settings.min_duration, settings.max_duration]``; ``who`` names the speaker in the
    error after ``MAX_ATTEMPTS`` sentences."""
    for _ in range(MAX_ATTEMPTS):
        utterance = speak(num_clauses)
        if utterance.duration > settings.max_duration:
            num_clauses = max(1, num_clauses - 1)
        elif utterance.duration < settings.min_duration:
            num_clauses += 1
        else:
            return utterance
    raise RuntimeError(
        f"No sentence of {MAX_ATTEMPTS} for speaker {who} lasted between "
        f"{settings.min_duration} and {settings.max_duration} s"
    )


def draw_natural_utterance(tts, speaker, rng, settings):
    """As :func:`draw_utterance` for a natural-voice (Kokoro) training speaker."""
    language = rng.choice(speaker.languages)
    num_clauses = 1 if rng.random() < 0.6 else 2
    speed = round(rng.uniform(0.9, 1.1), 3)
    peak = round(rng.uniform(0.3, 0.9), 3)

    def speak(clauses):
        text = compose_sentence(language, "train", rng, num_clauses=clauses)
        return synthesize_natural_utterance(
            tts, speaker, language, text, speed, peak, settings.sample_rate
        )

    return _fit_duration(speak, num_clauses, settings, f"{speaker.speaker_id} ({language})")


def draw_utterance(tts, speaker, role, rng, settings):
    """Draws language, style and sentence, and synthesises until the duration fits.

    Arguments
    ---------
    tts : EspeakSynthesizer
    speaker : voices.SpeakerProfile
    role : str
        ``train``, ``valid`` or ``test``: which text pool the sentence comes from.
    rng : random.Random
        Source of every choice.
    settings : CorpusSettings

    Returns
    -------
    Utterance
        With a duration in ``[settings.min_duration, settings.max_duration]``.
    """
    language = _choose_language(speaker, rng)
    style = _choose_style(rng)
    num_clauses = 1 if rng.random() < 0.6 else 2

    def speak(clauses):
        text = compose_sentence(language, role, rng, num_clauses=clauses)
        seed = rng.randrange(2**31)
        return synthesize_utterance(
            tts, speaker, language, style, text, seed, settings.sample_rate
        )

    return _fit_duration(
        speak, num_clauses, settings, f"{speaker.speaker_id} ({language}, {style.name})"
    )
