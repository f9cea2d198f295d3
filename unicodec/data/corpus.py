"""Offline synthetic multi-speaker, multilingual speech corpus (the embedded default).

Speech is synthesised with libespeak-ng (``espeak.py``) from the sentences of
``texts.py`` by the speakers and styles of ``voices.py`` and written in the LibriTTS
layout, so the LibriTTS recipe reads it unchanged::

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

    python -m unicodec.data.corpus --output data/synth --minutes 18 --seed 1234

Example
-------
>>> import tempfile
>>> info = generate_corpus(tempfile.mkdtemp(), minutes=0.1, seed=3, progress=False)
>>> sorted(info["subsets"]) == sorted([TRAIN_SUBSET, VALID_SUBSET, TEST_SUBSET])
True
"""

import argparse
import json
import logging
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Tuple

import numpy as np
import scipy.signal
import soundfile as sf
import torch
from tqdm import tqdm

from unicodec.data.alignment import SILENCE, phone_segments
from unicodec.data.espeak import SAMPLE_RATE as ESPEAK_SAMPLE_RATE
from unicodec.data.espeak import EspeakSynthesizer
from unicodec.data.texts import LANGUAGES, compose_sentence
from unicodec.data.voices import STYLE_WEIGHTS, STYLES, sample_speaker, voice_settings

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
FORMAT_VERSION = 1
CORPUS_FILE = "corpus.json"
SPEAKERS_FILE = "speakers.json"
PHONES_FILE = "phones.json"
LABELS_SUFFIX = ".labels.json"
TRANSCRIPT_SUFFIX = ".normalized.txt"

LANGUAGE_CHAPTERS = {language: f"{index + 1:02d}" for index, language in enumerate(LANGUAGES)}
"""Chapter folder of each language."""

_SPEAKER_PREFIX = {"train": "1", "valid": "2", "test": "3"}
_MAX_ATTEMPTS = 25


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

    def __post_init__(self):
        unknown = [lang for lang in self.languages if lang not in LANGUAGES]
        if unknown or not self.languages:
            raise ValueError(f"Unknown languages {unknown}; choose among {LANGUAGES}")
        if self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
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

    def as_dict(self):
        """JSON-ready settings, with the format version."""
        settings = asdict(self)
        settings["languages"] = list(self.languages)
        settings["subset_shares"] = list(self.subset_shares)
        settings["format_version"] = FORMAT_VERSION
        return settings


@dataclass
class Utterance:
    """One synthesised utterance, ready to be written.

    Arguments
    ---------
    audio : torch.Tensor
        Waveform ``[T]`` at the corpus sample rate.
    text : str
        What was said.
    labels : dict
        Content of ``<id>.labels.json``.
    """

    audio: torch.Tensor
    text: str
    labels: dict = field(default_factory=dict)

    @property
    def duration(self):
        """Duration in seconds."""
        return self.labels["duration"]


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
    for _ in range(_MAX_ATTEMPTS):
        text = compose_sentence(language, role, rng, num_clauses=num_clauses)
        seed = rng.randrange(2**31)
        utterance = synthesize_utterance(
            tts, speaker, language, style, text, seed, settings.sample_rate
        )
        if utterance.duration > settings.max_duration:
            num_clauses = max(1, num_clauses - 1)
        elif utterance.duration < settings.min_duration:
            num_clauses += 1
        else:
            return utterance
    raise RuntimeError(
        f"No sentence of {_MAX_ATTEMPTS} for speaker {speaker.speaker_id} ({language}, "
        f"{style.name}) lasted between {settings.min_duration} and "
        f"{settings.max_duration} s"
    )


def write_utterance(folder, utt_id, utterance):
    """Writes ``<id>.wav`` (16-bit PCM), ``<id>.normalized.txt`` and ``<id>.labels.json``.

    Arguments
    ---------
    folder : str
        Chapter folder (created if needed).
    utt_id : str
        Utterance id.
    utterance : Utterance
        What to write.

    Returns
    -------
    str
        Path of the written wav file.
    """
    os.makedirs(folder, exist_ok=True)
    wav_path = os.path.join(folder, utt_id + ".wav")
    sample_rate = round(len(utterance.audio) / utterance.duration)
    sf.write(wav_path, utterance.audio.numpy(), sample_rate, subtype="PCM_16")
    with open(os.path.join(folder, utt_id + TRANSCRIPT_SUFFIX), "w", encoding="utf-8") as f:
        f.write(utterance.text + "\n")
    with open(os.path.join(folder, utt_id + LABELS_SUFFIX), "w", encoding="utf-8") as f:
        f.write(format_labels(utterance.labels))
    return wav_path


def format_labels(labels):
    """JSON text of a labels dictionary, one key (and one alignment segment) per line.

    Arguments
    ---------
    labels : dict
        JSON-ready labels.

    Returns
    -------
    str
        Valid JSON, readable in a text editor.

    Example
    -------
    >>> print(format_labels({"style": "sad", "alignment": [[0.0, 0.5, "sil"]]}))
    {
     "style": "sad",
     "alignment": [
      [0.0, 0.5, "sil"]
     ]
    }
    """
    items = []
    for key, value in labels.items():
        if key == "alignment":
            segments = ",\n  ".join(json.dumps(s, ensure_ascii=False) for s in value)
            items.append(f' "{key}": [\n  {segments}\n ]' if value else f' "{key}": []')
        else:
            items.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(items) + "\n}\n"


def build_phone_inventory(phones_by_language):
    """Builds the phone inventory from the phones seen in each language.

    Arguments
    ---------
    phones_by_language : dict
        Language to a collection of phone labels.

    Returns
    -------
    dict
        ``silence``, ``phone_to_id`` (silence is 0, then phones in sorted order) and
        ``languages`` (language to its own phones with the shared ids).

    Example
    -------
    >>> inventory = build_phone_inventory({"en": {"a", "b"}, "fr": {"a", "y"}})
    >>> inventory["phone_to_id"]
    {'sil': 0, 'a': 1, 'b': 2, 'y': 3}
    >>> inventory["languages"]["fr"]
    {'sil': 0, 'a': 1, 'y': 3}
    """
    every = set().union(*phones_by_language.values()) - {SILENCE}
    phone_to_id = {SILENCE: 0}
    for phone in sorted(every):
        phone_to_id[phone] = len(phone_to_id)
    languages = {}
    for language in sorted(phones_by_language):
        own = set(phones_by_language[language]) | {SILENCE}
        languages[language] = {p: i for p, i in phone_to_id.items() if p in own}
    return {"silence": SILENCE, "phone_to_id": phone_to_id, "languages": languages}


def load_phone_inventory(corpus_dir):
    """Reads ``phones.json`` of a generated corpus.

    Arguments
    ---------
    corpus_dir : str
        The corpus folder (or the path of ``phones.json`` itself).

    Returns
    -------
    dict
        See ``build_phone_inventory``.
    """
    path = corpus_dir
    if os.path.isdir(path):
        path = os.path.join(path, PHONES_FILE)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _read_info(output_dir):
    path = os.path.join(output_dir, CORPUS_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def _count_wavs(folder):
    count = 0
    for _, _, files in os.walk(folder):
        count += sum(name.endswith(".wav") for name in files)
    return count


def corpus_is_complete(output_dir, settings):
    """Tells whether ``output_dir`` holds a finished corpus made with ``settings``.

    Arguments
    ---------
    output_dir : str
    settings : CorpusSettings

    Returns
    -------
    bool
        True when ``corpus.json`` says complete with the same settings and every subset
        has the recorded number of wav files.
    """
    info = _read_info(output_dir)
    if not info or not info.get("complete") or info.get("settings") != settings.as_dict():
        return False
    for subset, counts in info.get("subsets", {}).items():
        folder = os.path.join(output_dir, subset)
        if _count_wavs(folder) != counts.get("utterances"):
            return False
    return True


def _prepare_output(output_dir, settings, overwrite):
    """Makes room for a new corpus, refusing to delete what the generator did not write."""
    info = _read_info(output_dir)
    ours = [CORPUS_FILE, SPEAKERS_FILE, PHONES_FILE, *SUBSET_NAMES.values()]
    present = [name for name in ours if os.path.exists(os.path.join(output_dir, name))]
    if present:
        if info is None:
            raise FileExistsError(
                f"{output_dir} already holds {present} without a readable {CORPUS_FILE}; "
                "refusing to overwrite it: choose another output folder"
            )
        same = info.get("settings") == settings.as_dict()
        if not same and not overwrite:
            raise FileExistsError(
                f"{output_dir} holds a corpus made with other settings "
                f"({info.get('settings')}); pass overwrite=True (--overwrite) to replace it"
            )
        for name in present:
            path = os.path.join(output_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    os.makedirs(output_dir, exist_ok=True)


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
        return _read_info(output_dir)
    _prepare_output(output_dir, settings, overwrite)
    info = {"settings": settings.as_dict(), "subsets": {}, "complete": False}
    _write_json(os.path.join(output_dir, CORPUS_FILE), info)

    start = time.time()
    tts = EspeakSynthesizer()
    plan = plan_speakers(settings)
    phones = {language: set() for language in settings.languages}
    total = sum(settings.subset_seconds(role) for role in SUBSET_NAMES)
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}]"
    with tqdm(
        total=round(total), desc="Synthesising", bar_format=bar_format, disable=not progress
    ) as bar:
        for role, subset in SUBSET_NAMES.items():
            info["subsets"][subset] = _generate_subset(
                output_dir, role, plan[role], settings, tts, phones, bar
            )
    speakers_info = {
        speaker.speaker_id: {"subset": SUBSET_NAMES[role], **speaker.as_dict()}
        for role, speakers in plan.items()
        for speaker in speakers
    }
    _write_json(os.path.join(output_dir, SPEAKERS_FILE), speakers_info)
    _write_json(os.path.join(output_dir, PHONES_FILE), build_phone_inventory(phones))
    info["complete"] = True
    info["elapsed_s"] = round(time.time() - start, 2)
    _write_json(os.path.join(output_dir, CORPUS_FILE), info)
    logger.info("Corpus written to %s: %s", output_dir, _summary_line(info))
    return info


def _generate_subset(output_dir, role, speakers, settings, tts, phones, bar):
    """Synthesises and writes one subset; returns its counts and updates ``phones``."""
    subset = SUBSET_NAMES[role]
    counts = {"utterances": 0, "speakers": len(speakers), "seconds": 0.0, "languages": {},
              "styles": {}}
    budget = settings.subset_seconds(role) / len(speakers)
    for speaker in speakers:
        rng = random.Random(f"{settings.seed}:{role}:utterances:{speaker.speaker_id}")
        numbers = {}  # utterances so far in each chapter
        spent = 0.0
        while spent < budget:
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
        "--seconds-per-speaker", type=float, default=CorpusSettings.seconds_per_speaker,
        help="audio per speaker, which sets the number of speakers",
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
        )
    except (FileExistsError, ValueError) as err:
        parser.error(str(err))


if __name__ == "__main__":
    main()
