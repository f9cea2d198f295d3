"""Synthetic speakers and speaking styles.

A speaker is a fixed set of synthesiser settings (voice variant, base pitch, pitch range,
rate, loudness, word gap, accent) plus the one or two languages it speaks. A style is an
offset applied to the speaker's settings (higher and livelier for ``excited``, lower,
flatter and slower for ``sad``, breath noise instead of voicing for ``whispered`` ...), so
the same speaker keeps its identity across styles.

Example
-------
>>> import random
>>> speaker = sample_speaker("1001", random.Random(0), languages=("fr",))
>>> settings = voice_settings(speaker, "fr", STYLES["excited"])
>>> settings.pitch > speaker.pitch and settings.rate > speaker.rate
True
"""

from dataclasses import asdict, dataclass, field
from typing import Dict, Tuple

MALE_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt3", "klatt4", "klatt5",
    "klatt6", "Denis", "Henrique", "Lee", "michel", "sandro", "travis", "victor", "Diogo",
    "miguel", "robert",
)
"""libespeak-ng voice variants with a male voice (none of them clips at normal volume)."""

FEMALE_VARIANTS = (
    "f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "anika", "belinda", "linda",
    "steph", "grandma", "aunty", "shelby",
)
"""libespeak-ng voice variants with a female voice."""

WHISPER_VARIANTS = {"male": "whisper", "female": "whisperf"}
"""Variant that replaces a speaker's own for the ``whispered`` style."""

ACCENTS = {
    "en": ("en-US", "en"),
    "fr": ("fr",),
    "de": ("de",),
    "es": ("es", "es-419"),
    "it": ("it",),
    "pt": ("pt-BR", "pt"),
    "cmn": ("cmn",),
}
"""libespeak-ng voice (file name) of each language; a speaker keeps one per language."""


@dataclass(frozen=True)
class Style:
    """A speaking style as offsets from a speaker's settings.

    Arguments
    ---------
    name : str
        Style label written to the corpus.
    pitch : int
        Added to the speaker's base pitch (0-99 scale).
    pitch_range : int
        Added to the speaker's pitch range (0-99 scale).
    rate : float
        Factor on the speaker's words per minute.
    volume : int
        Added to the speaker's amplitude (percent).
    word_gap : int
        Added pause between words (units of 10 ms).
    whisper : bool
        Use the whisper variant instead of the speaker's own.

    Example
    -------
    >>> STYLES["sad"].rate < 1.0 < STYLES["excited"].rate
    True
    """

    name: str
    pitch: int = 0
    pitch_range: int = 0
    rate: float = 1.0
    volume: int = 0
    word_gap: int = 0
    whisper: bool = False


STYLES = {
    style.name: style
    for style in (
        Style("neutral"),
        Style("excited", pitch=12, pitch_range=30, rate=1.18, volume=20),
        Style("sad", pitch=-10, pitch_range=-28, rate=0.78, volume=-30, word_gap=1),
        Style("angry", pitch=4, pitch_range=15, rate=1.1, volume=40),
        Style("calm", pitch=-4, pitch_range=-12, rate=0.9, volume=-10),
        Style("whispered", rate=0.92, volume=10, whisper=True),
    )
}
"""The speaking styles of the corpus, by name."""

STYLE_WEIGHTS = {
    "neutral": 0.4, "excited": 0.12, "sad": 0.12, "angry": 0.12, "calm": 0.12,
    "whispered": 0.12,
}
"""How often each style is drawn."""


@dataclass(frozen=True)
class SpeakerProfile:
    """The fixed identity of one synthetic speaker.

    Arguments
    ---------
    speaker_id : str
        Corpus speaker id.
    gender : str
        ``"male"`` or ``"female"`` (from the voice variant).
    variant : str
        libespeak-ng voice variant (e.g. ``"m3"``, ``"f2"``, ``"klatt4"``).
    pitch : int
        Base pitch, 0-99 (50 is the variant's own).
    pitch_range : int
        Pitch range, 0-99.
    rate : int
        Words per minute.
    volume : int
        Amplitude in percent.
    word_gap : int
        Pause between words (units of 10 ms).
    languages : tuple of str
        Languages the speaker speaks, the first most often.
    accents : dict
        libespeak-ng voice used for each of ``languages``.

    Example
    -------
    >>> profile = SpeakerProfile("1", "male", "m3", 40, 50, 170, 100, 0, ("en",), {"en": "en"})
    >>> profile.as_dict()["variant"]
    'm3'
    """

    speaker_id: str
    gender: str
    variant: str
    pitch: int
    pitch_range: int
    rate: int
    volume: int
    word_gap: int
    languages: Tuple[str, ...]
    accents: Dict[str, str] = field(default_factory=dict)

    def as_dict(self):
        """Returns the profile as a JSON-ready dictionary."""
        profile = asdict(self)
        profile["languages"] = list(self.languages)
        return profile


@dataclass(frozen=True)
class VoiceSettings:
    """Synthesiser settings of one utterance (a speaker in a style).

    Arguments
    ---------
    voice : str
        libespeak-ng voice name with variant, e.g. ``"en-US+f2"``.
    pitch, pitch_range, rate, volume, word_gap : int
        Arguments of ``EspeakSynthesizer.synthesize``.

    Example
    -------
    >>> VoiceSettings("fr+m1", 50, 50, 175, 100, 0).as_kwargs()["voice"]
    'fr+m1'
    """

    voice: str
    pitch: int
    pitch_range: int
    rate: int
    volume: int
    word_gap: int

    def as_kwargs(self):
        """Returns the settings as keyword arguments of ``EspeakSynthesizer.synthesize``."""
        return asdict(self)


def _clip(value, low, high):
    return int(min(max(round(value), low), high))


def sample_speaker(speaker_id, rng, languages, second_language_probability=0.0,
                   all_languages=None):
    """Draws a new speaker identity.

    Arguments
    ---------
    speaker_id : str
        Corpus speaker id.
    rng : random.Random
        Source of randomness (the only one used).
    languages : sequence of str
        The speaker's first language comes first; further entries are spoken too.
    second_language_probability : float
        Probability of adding one more language drawn from ``all_languages``.
    all_languages : sequence of str, optional
        Candidates for the extra language.

    Returns
    -------
    SpeakerProfile

    Example
    -------
    >>> import random
    >>> a = sample_speaker("7", random.Random(1), ("de",))
    >>> a == sample_speaker("7", random.Random(1), ("de",))
    True
    >>> a.languages, a.accents
    (('de',), {'de': 'de'})
    """
    languages = list(languages)
    candidates = [lang for lang in (all_languages or ()) if lang not in languages]
    if candidates and rng.random() < second_language_probability:
        languages.append(rng.choice(candidates))
    gender = rng.choice(("male", "female"))
    variant = rng.choice(MALE_VARIANTS if gender == "male" else FEMALE_VARIANTS)
    return SpeakerProfile(
        speaker_id=str(speaker_id),
        gender=gender,
        variant=variant,
        pitch=rng.randint(25, 75),
        pitch_range=rng.randint(25, 80),
        rate=rng.randint(140, 210),
        volume=rng.randint(75, 110),
        word_gap=rng.choice((0, 0, 0, 1, 2)),
        languages=tuple(languages),
        accents={lang: rng.choice(ACCENTS[lang]) for lang in languages},
    )


def voice_settings(speaker, language, style):
    """Applies a style to a speaker for one utterance in one of its languages.

    Arguments
    ---------
    speaker : SpeakerProfile
        The speaker.
    language : str
        One of ``speaker.languages``.
    style : Style
        The speaking style.

    Returns
    -------
    VoiceSettings

    Example
    -------
    >>> profile = SpeakerProfile("1", "female", "f2", 50, 50, 170, 100, 0, ("it",), {"it": "it"})
    >>> voice_settings(profile, "it", STYLES["whispered"]).voice
    'it+whisperf'
    """
    if language not in speaker.languages:
        raise ValueError(
            f"Speaker {speaker.speaker_id} speaks {speaker.languages}, not {language!r}"
        )
    variant = WHISPER_VARIANTS[speaker.gender] if style.whisper else speaker.variant
    return VoiceSettings(
        voice=f"{speaker.accents[language]}+{variant}",
        pitch=_clip(speaker.pitch + style.pitch, 0, 99),
        pitch_range=_clip(speaker.pitch_range + style.pitch_range, 0, 99),
        rate=_clip(speaker.rate * style.rate, 80, 450),
        volume=_clip(speaker.volume + style.volume, 0, 200),
        word_gap=_clip(speaker.word_gap + style.word_gap, 0, 100),
    )
