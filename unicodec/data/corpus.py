"""Offline synthetic multi-speaker, multilingual speech corpus (the embedded default).

Speech is synthesised with libespeak-ng (``espeak.py``) from the sentences of
``texts.py`` by the speakers and styles of ``voices.py`` and, with ``natural_minutes``,
by natural-sounding Kokoro-82M voices (``kokoro.py``: blends of its voice styles, English,
Spanish and French, training subset only), and written in the LibriTTS layout, so the
LibriTTS recipe reads it unchanged::

    <output>/corpus.json                      settings, counts, ``complete`` flag
    <output>/speakers.json                    speaker id -> identity, subset
    <output>/phones.json                      phone inventory
    <output>/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<utt>.wav            16 kHz
    <output>/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<utt>.normalized.txt
    <output>/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<utt>.labels.json

The subsets are ``TRAIN_SUBSET``, ``VALID_SUBSET`` and ``TEST_SUBSET``; the held-out ones
share neither speakers nor sentences (not even a clause) with the training one. A chapter
holds one speaker's utterances in one language (``chapter = LANGUAGE_CHAPTERS[language]``).

``<id>.labels.json`` holds ``language``, ``style``, ``gender``, ``accent``, ``voice``,
``speaker_settings`` (the speaker's fixed identity), ``voice_settings`` (this
utterance's settings, style included) and ``alignment``, a list of
``[start_s, end_s, phone]`` that tiles the file from 0 to its duration.

``phones.json`` holds ``silence`` (the pause label), ``phone_to_id`` (all phones of the
corpus, silence first, ids shared by all languages) and ``languages`` (for each language
the phones it uses, with the same ids).

Generation is deterministic: the same settings give byte-identical files. Running it
again on a finished corpus with the same settings does nothing.

Command line::

    python -m unicodec.data.corpus --output data/embedded      # the embedded default
    python -m unicodec.data.corpus --output data/synth --minutes 18 --seed 1234 \
        --natural-minutes 0                                     # espeak-ng voices alone
    python -m unicodec.data.corpus --output data/unseen --minutes 30 --seed 4321 \
        --natural-minutes 0 --seconds-per-speaker 40            # the unseen voices

The command line adds ``DEFAULT_NATURAL_MINUTES`` of Kokoro voices to the training subset
and gives each speaker ``DEFAULT_SECONDS_PER_SPEAKER`` (the embedded default: more voices
for the same minutes); :func:`generate_corpus` and :class:`CorpusSettings` default to
espeak-ng voices alone, 40 s each.

Example
-------
>>> import tempfile
>>> info = generate_corpus(tempfile.mkdtemp(), minutes=0.1, seed=3, progress=False)
>>> sorted(info["subsets"]) == sorted([TRAIN_SUBSET, VALID_SUBSET, TEST_SUBSET])
True
"""

import argparse
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Tuple

from tqdm import tqdm

from unicodec.data.corpus_files import (  # noqa: F401 (the layout, for readers)
    CORPUS_FILE,
    LABELS_SUFFIX,
    PHONES_FILE,
    SPEAKERS_FILE,
    TRANSCRIPT_SUFFIX,
    Utterance,
    build_phone_inventory,
    corpus_is_complete,
    format_labels,
    load_phone_inventory,
    prepare_output,
    read_info,
    write_json,
    write_utterance,
)
from unicodec.data.espeak import EspeakSynthesizer
from unicodec.data.kokoro import LANGUAGES as KOKORO_LANGUAGES
from unicodec.data.kokoro import KokoroSynthesizer, sample_kokoro_speaker
from unicodec.data.texts import LANGUAGES
from unicodec.data.utterances import (  # noqa: F401
    draw_natural_utterance,
    draw_utterance,
    synthesize_natural_utterance,
    synthesize_utterance,
)
from unicodec.data.voices import sample_speaker

logger = logging.getLogger(__name__)

TRAIN_SUBSET = "train-synth"
VALID_SUBSET = "dev-synth"
TEST_SUBSET = "test-synth"
SUBSET_NAMES = {"train": TRAIN_SUBSET, "valid": VALID_SUBSET, "test": TEST_SUBSET}
"""Folder name of each subset role."""

SAMPLE_RATE = 16000
"""Sample rate of the written audio."""

DEFAULT_MINUTES = 18.0
DEFAULT_SEED = 1234
DEFAULT_NATURAL_MINUTES = 5.0
"""Kokoro minutes of the command line's default, the embedded default (``CorpusSettings``
and ``generate_corpus`` default to espeak-ng voices alone)."""
DEFAULT_SECONDS_PER_SPEAKER = 15.0
"""Audio per speaker of the command line's default, the embedded default: 78 training
voices (58 espeak-ng, 20 Kokoro) in 18 minutes (``CorpusSettings`` defaults to 40 s)."""
FORMAT_VERSION = 1

LANGUAGE_CHAPTERS = {language: f"{index + 1:02d}" for index, language in enumerate(LANGUAGES)}
"""Chapter folder of each language."""

_SPEAKER_PREFIX = {"train": "1", "valid": "2", "test": "3"}


@dataclass(frozen=True)
class CorpusSettings:
    """Everything that determines the corpus (its files depend on nothing else).

    Arguments
    ---------
    minutes : float
        Total audio to synthesise, all subsets together.
    seed : int
        Seed of every random choice.
    languages : tuple of str
        Languages of the corpus (a subset of ``texts.LANGUAGES``).
    sample_rate : int
        Sample rate of the written audio.
    min_duration, max_duration : float
        Bounds of an utterance's duration in seconds.
    seconds_per_speaker : float
        Audio per speaker, which sets the number of speakers.
    subset_shares : tuple of float
        Shares of train, valid and test in the total duration.
    bilingual_probability : float
        Probability that a speaker also speaks a second language.
    natural_minutes : float
        Minutes of natural-sounding speech (Kokoro-82M voices, ``kokoro.py``) added to the
        training subset beside espeak-ng's; 0 for espeak-ng alone. The held-out subsets
        stay espeak-ng's.

    Example
    -------
    >>> settings = CorpusSettings(minutes=1.0)
    >>> settings.num_speakers("train"), settings.num_speakers("valid")
    (2, 1)
    """

    minutes: float = DEFAULT_MINUTES
    seed: int = DEFAULT_SEED
    languages: Tuple[str, ...] = LANGUAGES
    sample_rate: int = SAMPLE_RATE
    min_duration: float = 1.5
    max_duration: float = 8.0
    seconds_per_speaker: float = 40.0
    subset_shares: Tuple[float, float, float] = (0.8, 0.1, 0.1)
    bilingual_probability: float = 0.3
    natural_minutes: float = 0.0

    def __post_init__(self):
        unknown = [lang for lang in self.languages if lang not in LANGUAGES]
        if unknown or not self.languages:
            raise ValueError(f"Unknown languages {unknown}; choose among {LANGUAGES}")
        if self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
        if self.natural_minutes < 0:
            raise ValueError(f"natural_minutes must be >= 0, got {self.natural_minutes}")
        if self.natural_minutes and not set(self.languages) & set(KOKORO_LANGUAGES):
            raise ValueError(
                f"natural voices speak {list(KOKORO_LANGUAGES)}, none of {list(self.languages)}"
            )
        if not 0 < self.min_duration < self.max_duration:
            raise ValueError(
                f"Need 0 < min_duration < max_duration, got "
                f"{self.min_duration}, {self.max_duration}"
            )

    def subset_seconds(self, role):
        """Target duration of one subset (``train``, ``valid`` or ``test``) in seconds."""
        share = self.subset_shares[list(SUBSET_NAMES).index(role)]
        return self.minutes * 60.0 * share / sum(self.subset_shares)

    def num_speakers(self, role):
        """Number of speakers of one subset (at least 2 for train, 1 for the others)."""
        minimum = 2 if role == "train" else 1
        return max(minimum, round(self.subset_seconds(role) / self.seconds_per_speaker))

    def num_natural_speakers(self):
        """Number of natural-voice (Kokoro) training speakers (0 without them)."""
        if not self.natural_minutes:
            return 0
        return max(1, round(self.natural_minutes * 60.0 / self.seconds_per_speaker))

    def as_dict(self):
        """JSON-ready settings, with the format version."""
        settings = asdict(self)
        settings["languages"] = list(self.languages)
        settings["subset_shares"] = list(self.subset_shares)
        settings["format_version"] = FORMAT_VERSION
        if not self.natural_minutes:  # corpora made before natural voices existed
            del settings["natural_minutes"]
        return settings


def plan_speakers(settings):
    """Draws the speakers of every subset.

    First languages go round-robin over a seeded order of ``settings.languages``, so
    every language has speakers once a subset has as many speakers as languages.

    Arguments
    ---------
    settings : CorpusSettings

    Returns
    -------
    dict
        Role (``train``, ``valid``, ``test``) to a list of ``SpeakerProfile``.

    Example
    -------
    >>> plan = plan_speakers(CorpusSettings(minutes=10, seed=0))
    >>> [len(plan[role]) for role in ("train", "valid", "test")]
    [12, 2, 2]
    >>> plan["valid"][0].speaker_id
    '20001'
    """
    order = list(settings.languages)
    random.Random(f"{settings.seed}:languages").shuffle(order)
    plan = {}
    for offset, role in enumerate(SUBSET_NAMES):
        speakers = []
        for index in range(settings.num_speakers(role)):
            rng = random.Random(f"{settings.seed}:{role}:speaker:{index}")
            first = order[(index + offset * 3) % len(order)]
            speakers.append(
                sample_speaker(
                    f"{_SPEAKER_PREFIX[role]}{index + 1:04d}",
                    rng,
                    (first,),
                    second_language_probability=settings.bilingual_probability,
                    all_languages=settings.languages,
                )
            )
        plan[role] = speakers
    return plan


def plan_natural_speakers(settings):
    """Draws the natural-voice (Kokoro) training speakers, numbered after espeak-ng's.

    Arguments
    ---------
    settings : CorpusSettings

    Returns
    -------
    list of kokoro.KokoroSpeaker

    Example
    -------
    >>> settings = CorpusSettings(minutes=10, seed=0, natural_minutes=2)
    >>> [s.speaker_id for s in plan_natural_speakers(settings)]
    ['10013', '10014', '10015']
    """
    first = settings.num_speakers("train") + 1
    return [
        sample_kokoro_speaker(
            f"{_SPEAKER_PREFIX['train']}{first + index:04d}",
            random.Random(f"{settings.seed}:train:kokoro-speaker:{index}"),
            settings.languages,
        )
        for index in range(settings.num_natural_speakers())
    ]


def generate_corpus(
    output_dir,
    minutes=DEFAULT_MINUTES,
    seed=DEFAULT_SEED,
    languages=LANGUAGES,
    overwrite=False,
    progress=True,
    **settings_kwargs,
):
    """Synthesises the corpus into ``output_dir`` (skipped if already there).

    Arguments
    ---------
    output_dir : str
        Corpus folder (created if needed).
    minutes : float
        Total audio in minutes, all subsets together.
    seed : int
        Seed of every random choice.
    languages : sequence of str
        Languages to include (default: all of ``texts.LANGUAGES``).
    overwrite : bool
        Replace a corpus made with other settings (never needed for the same ones).
    progress : bool
        Show a progress bar.
    **settings_kwargs
        Further fields of ``CorpusSettings`` (e.g. ``seconds_per_speaker``).

    Returns
    -------
    dict
        The content of ``corpus.json``: ``settings``, ``subsets`` (utterances, speakers,
        seconds, languages and styles of each), ``complete`` and ``elapsed_s``.

    Raises
    ------
    FileExistsError
        If ``output_dir`` holds other files of the same names, or a corpus made with
        other settings and ``overwrite`` is False.
    """
    settings = CorpusSettings(
        minutes=float(minutes), seed=int(seed), languages=tuple(languages), **settings_kwargs
    )
    output_dir = os.path.abspath(output_dir)
    if corpus_is_complete(output_dir, settings):
        logger.info("Corpus in %s already generated with the same settings, skipping", output_dir)
        return read_info(output_dir)
    prepare_output(output_dir, settings, overwrite, SUBSET_NAMES.values())
    info = {"settings": settings.as_dict(), "subsets": {}, "complete": False}
    write_json(os.path.join(output_dir, CORPUS_FILE), info)

    start = time.time()
    tts = EspeakSynthesizer()
    natural_tts = KokoroSynthesizer() if settings.natural_minutes else None
    plan = plan_speakers(settings)
    natural = plan_natural_speakers(settings)
    phones = {language: set() for language in settings.languages}
    total = sum(settings.subset_seconds(role) for role in SUBSET_NAMES)
    total += settings.natural_minutes * 60.0
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}]"
    with tqdm(
        total=round(total), desc="Synthesising", bar_format=bar_format, disable=not progress
    ) as bar:
        for role, subset in SUBSET_NAMES.items():
            info["subsets"][subset] = _generate_subset(
                output_dir, role, plan[role], settings, tts, phones, bar
            )
        if natural:
            with natural_tts:
                _generate_subset(
                    output_dir, "train", natural, settings, natural_tts, phones, bar,
                    counts=info["subsets"][TRAIN_SUBSET],
                    budget=settings.natural_minutes * 60.0 / len(natural),
                )
    speakers_info = {
        speaker.speaker_id: {"subset": SUBSET_NAMES[role], **speaker.as_dict()}
        for role, speakers in [*plan.items(), ("train", natural)]
        for speaker in speakers
    }
    write_json(os.path.join(output_dir, SPEAKERS_FILE), speakers_info)
    write_json(os.path.join(output_dir, PHONES_FILE), build_phone_inventory(phones))
    info["complete"] = True
    info["elapsed_s"] = round(time.time() - start, 2)
    write_json(os.path.join(output_dir, CORPUS_FILE), info)
    logger.info("Corpus written to %s: %s", output_dir, _summary_line(info))
    return info


def _generate_subset(
    output_dir, role, speakers, settings, tts, phones, bar, counts=None, budget=None
):
    """Synthesises and writes one subset's speakers; returns its counts (``counts``
    extended when given) and updates ``phones``. Speakers of ``kokoro.py`` are spoken by
    ``tts`` a ``KokoroSynthesizer``, ``budget`` seconds each."""
    subset = SUBSET_NAMES[role]
    if counts is None:
        counts = {"utterances": 0, "speakers": 0, "seconds": 0.0, "languages": {},
                  "styles": {}}
    counts["speakers"] += len(speakers)
    if budget is None:
        budget = settings.subset_seconds(role) / len(speakers)
    natural = isinstance(tts, KokoroSynthesizer)
    for speaker in speakers:
        rng = random.Random(f"{settings.seed}:{role}:utterances:{speaker.speaker_id}")
        numbers = {}  # utterances so far in each chapter
        spent = 0.0
        while spent < budget:
            if natural:
                utterance = draw_natural_utterance(tts, speaker, rng, settings)
            else:
                utterance = draw_utterance(tts, speaker, role, rng, settings)
            language, style = utterance.labels["language"], utterance.labels["style"]
            chapter = LANGUAGE_CHAPTERS[language]
            numbers[chapter] = numbers.get(chapter, 0) + 1
            utt_id = f"{speaker.speaker_id}_{chapter}_{numbers[chapter]:06d}"
            folder = os.path.join(output_dir, subset, speaker.speaker_id, chapter)
            write_utterance(folder, utt_id, utterance)

            phones[language].update(phone for _, _, phone in utterance.labels["alignment"])
            spent += utterance.duration
            counts["utterances"] += 1
            counts["languages"][language] = counts["languages"].get(language, 0) + 1
            counts["styles"][style] = counts["styles"].get(style, 0) + 1
            bar.total = max(bar.total, math.ceil(bar.n + utterance.duration))
            bar.update(utterance.duration)
        counts["seconds"] += spent
    counts["seconds"] = round(counts["seconds"], 3)
    return counts


def _summary_line(info):
    parts = []
    for subset, counts in info["subsets"].items():
        parts.append(
            f"{subset}: {counts['utterances']} utterances, {counts['speakers']} speakers, "
            f"{counts['seconds'] / 60:.1f} min"
        )
    return "; ".join(parts)


def main(argv=None):
    """Command line entry point (``python -m unicodec.data.corpus --help``)."""
    parser = argparse.ArgumentParser(
        description="Synthesise the offline multi-speaker corpus in the LibriTTS layout."
    )
    parser.add_argument("--output", required=True, help="corpus folder")
    parser.add_argument(
        "--minutes", type=float, default=DEFAULT_MINUTES, help="total audio in minutes"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES,
        help="languages to include",
    )
    parser.add_argument(
        "--seconds-per-speaker", type=float, default=DEFAULT_SECONDS_PER_SPEAKER,
        help="audio per speaker, which sets the number of speakers",
    )
    parser.add_argument(
        "--natural-minutes", type=float, default=DEFAULT_NATURAL_MINUTES,
        help="minutes of natural-sounding Kokoro voices added to the training subset "
        "(the corpus extra; 0: espeak-ng voices alone)",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace a corpus made with other settings in the output folder",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return generate_corpus(
            args.output,
            minutes=args.minutes,
            seed=args.seed,
            languages=args.languages,
            overwrite=args.overwrite,
            progress=not args.quiet,
            seconds_per_speaker=args.seconds_per_speaker,
            natural_minutes=args.natural_minutes,
        )
    except (FileExistsError, ValueError, ImportError) as err:
        parser.error(str(err))


if __name__ == "__main__":
    main()
