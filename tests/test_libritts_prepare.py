"""Tests of recipes/LibriTTS/libritts_prepare.py on LibriTTS-shaped and synthetic data."""

import glob
import hashlib
import importlib.util
import json
import logging
import os

import numpy as np
import pytest
import soundfile as sf

from unicodec.data.corpus import SUBSET_NAMES, TEST_SUBSET, TRAIN_SUBSET, VALID_SUBSET
from unicodec.data.corpus import generate_corpus

RECIPE = os.path.join(
    os.path.dirname(__file__), "..", "recipes", "LibriTTS", "libritts_prepare.py"
)


def _load_recipe():
    spec = importlib.util.spec_from_file_location("libritts_prepare", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prep = _load_recipe()
CORE = {"wav", "duration", "spk_id", "text", "language"}


def _manifests(folder):
    out = {}
    for split in ("train", "valid", "test"):
        with open(os.path.join(folder, f"{split}.json"), encoding="utf-8") as f:
            out[split] = json.load(f)
    return out


def _tree_digest(folder):
    digest = hashlib.sha1()
    for path in sorted(glob.glob(os.path.join(folder, "**", "*"), recursive=True)):
        digest.update(path.encode())
        if os.path.isfile(path):
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def _write_utt(root, subset, speaker, chapter, index, seconds, rate=24000, text="Some text.",
               kind="sine"):
    folder = os.path.join(root, subset, speaker, chapter)
    os.makedirs(folder, exist_ok=True)
    utt_id = f"{speaker}_{chapter}_{index:06d}_000000"
    n = int(seconds * rate)
    if kind == "sine":
        audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(n) / rate)
    else:
        audio = 0.1 * np.random.default_rng(index).standard_normal(n)
    sf.write(os.path.join(folder, utt_id + ".wav"), audio.astype(np.float32), rate)
    if text is not None:
        with open(os.path.join(folder, utt_id + ".normalized.txt"), "w", encoding="utf-8") as f:
            f.write(text)
    return os.path.join(folder, utt_id + ".wav"), utt_id


@pytest.fixture()
def libritts(tmp_path):
    """A LibriTTS-shaped tree: 3 subsets, 2 speakers, 2 chapters, sine and noise files."""
    root = str(tmp_path / "LibriTTS")
    expected = {}
    layout = {
        "train-clean-100": [("19", "198"), ("19", "227"), ("26", "495")],
        "dev-clean": [("84", "121123")],
        "test-clean": [("61", "70968")],
    }
    for subset, chapters in layout.items():
        for number, (speaker, chapter) in enumerate(chapters):
            for index in range(2):
                seconds = 1.25 + 0.5 * index + 0.1 * number
                kind = "sine" if index == 0 else "noise"
                path, utt_id = _write_utt(root, subset, speaker, chapter, index, seconds,
                                          text=f"Sentence {index} of {speaker}.", kind=kind)
                expected[utt_id] = (subset, path, speaker, seconds)
    return root, expected


def _prepare(root, save, **kwargs):
    args = dict(train_subsets=["train-clean-100"], valid_subsets=["dev-clean"],
                test_subsets=["test-clean"])
    args.update(kwargs)
    return prep.prepare_libritts(root, save, **args)


def test_libritts_tree_gives_core_fields(libritts, tmp_path):
    root, expected = libritts
    save = str(tmp_path / "save")
    summary = _prepare(root, save)
    manifests = _manifests(save)
    split_of = {"train-clean-100": "train", "dev-clean": "valid", "test-clean": "test"}
    assert {k: len(v) for k, v in manifests.items()} == {"train": 6, "valid": 2, "test": 2}
    for utt_id, (subset, path, speaker, seconds) in expected.items():
        entry = manifests[split_of[subset]][utt_id]
        assert set(entry) == CORE
        assert entry["wav"] == os.path.abspath(path) and os.path.isabs(entry["wav"])
        assert entry["duration"] == pytest.approx(seconds, abs=1e-4)
        assert entry["spk_id"] == speaker
        assert entry["text"] == f"Sentence {utt_id.split('_')[2][-1]} of {speaker}."
        assert entry["language"] == "en"
    assert summary["train"]["utterances"] == 6
    assert summary["train"]["speakers"] == 2
    hours = sum(e["duration"] for e in manifests["train"].values()) / 3600
    assert summary["train"]["hours"] == pytest.approx(hours, abs=1e-4)
    assert sum(summary["train"]["skipped"].values()) == 0


def test_manifest_loads_in_speechbrain(libritts, tmp_path):
    from speechbrain.dataio.dataset import DynamicItemDataset

    root, expected = libritts
    save = str(tmp_path / "save")
    _prepare(root, save)
    dataset = DynamicItemDataset.from_json(os.path.join(save, "train.json"))
    dataset.set_output_keys(["id", "duration", "spk_id"])
    assert len(dataset) == 6
    assert {item["id"] for item in dataset} == {
        u for u, v in expected.items() if v[0] == "train-clean-100"
    }


def test_bad_entries_are_skipped_with_named_warnings(libritts, tmp_path, caplog):
    root, _ = libritts
    no_text, _ = _write_utt(root, "train-clean-100", "26", "495", 7, 2.0, text=None)
    blank_text, _ = _write_utt(root, "train-clean-100", "26", "495", 8, 2.0, text="  \n")
    corrupt, _ = _write_utt(root, "train-clean-100", "26", "495", 9, 2.0)
    with open(corrupt, "wb") as f:
        f.write(b"RIFF....WAVEjunk" * 5)
    empty, _ = _write_utt(root, "dev-clean", "84", "121123", 5, 0.0)
    labels_bad, _ = _write_utt(root, "test-clean", "61", "70968", 5, 2.0)
    with open(labels_bad[:-4] + ".labels.json", "w") as f:
        f.write("{not json")
    short, _ = _write_utt(root, "train-clean-100", "19", "198", 5, 0.5)
    long, _ = _write_utt(root, "train-clean-100", "19", "198", 6, 4.0)

    save = str(tmp_path / "save")
    with caplog.at_level(logging.INFO):
        summary = _prepare(root, save, min_duration=1.0, max_duration=3.0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for path, reason in [(no_text, "no transcript"), (blank_text, "empty transcript"),
                         (corrupt, "unreadable audio"), (empty, "empty audio"),
                         (labels_bad, "unreadable labels")]:
        assert any(path in w and reason in w for w in warnings), (path, warnings)
    assert not any(short in w or long in w for w in warnings)
    assert any("Skipped 5 bad files, filtered 2 by duration" in w for w in warnings)

    train = summary["train"]["skipped"]
    assert train["missing_transcript"] == 2 and train["unreadable_audio"] == 1
    assert train["too_short"] == 1 and train["too_long"] == 1
    assert summary["valid"]["skipped"]["empty_audio"] == 1
    assert summary["test"]["skipped"]["bad_labels"] == 1
    manifests = _manifests(save)
    assert {k: len(v) for k, v in manifests.items()} == {"train": 6, "valid": 2, "test": 2}
    kept = {e["wav"] for m in manifests.values() for e in m.values()}
    assert not kept & {no_text, blank_text, corrupt, empty, labels_bad, short, long}


def test_missing_data_folder_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "no_such_folder")
    with pytest.raises(FileNotFoundError, match="data folder not found: .*no_such_folder"):
        _prepare(missing, str(tmp_path / "save"))
    assert not os.path.exists(tmp_path / "save")


def test_missing_subset_is_a_clear_error(libritts, tmp_path):
    root, _ = libritts
    with pytest.raises(FileNotFoundError, match=r"\['train-other-500'\] not found.*dev-clean"):
        _prepare(root, str(tmp_path / "save"), train_subsets=["train-other-500"])


def test_skip_prep_writes_nothing(libritts, tmp_path):
    root, _ = libritts
    save = tmp_path / "save"
    assert _prepare(root, str(save), skip_prep=True) is None
    assert not save.exists()


def test_rerun_skips_and_changed_options_redo(libritts, tmp_path, caplog):
    root, _ = libritts
    save = str(tmp_path / "save")
    first = _prepare(root, save)
    train_json = os.path.join(save, "train.json")
    os.utime(train_json, (1, 1))
    with caplog.at_level(logging.INFO):
        assert _prepare(root, save) == first
    assert os.path.getmtime(train_json) == 1
    assert any("skipping" in r.getMessage() for r in caplog.records)
    # other options: the manifests are rebuilt
    second = _prepare(root, save, min_duration=1.5)
    assert os.path.getmtime(train_json) != 1
    assert second["train"]["utterances"] < first["train"]["utterances"]
    assert second["train"]["skipped"]["too_short"] > 0
    # a deleted manifest is rebuilt too
    os.remove(os.path.join(save, "valid.json"))
    assert _prepare(root, save, min_duration=1.5) == second
    assert os.path.isfile(os.path.join(save, "valid.json"))


def test_single_strings_and_empty_splits(libritts, tmp_path):
    root, _ = libritts
    save = str(tmp_path / "save")
    summary = _prepare(root, save, train_subsets="train-clean-100", valid_subsets=[],
                       test_subsets=None)
    manifests = _manifests(save)
    assert len(manifests["train"]) == 6
    assert manifests["valid"] == {} and manifests["test"] == {}
    assert summary["valid"]["utterances"] == 0 and summary["valid"]["hours"] == 0


# --- the synthetic corpus through the same script --------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synth"))
    info = generate_corpus(root, minutes=0.4, seed=5, seconds_per_speaker=6.0, progress=False)
    return root, info


def test_synthetic_corpus_prepares_unchanged(synthetic, tmp_path):
    root, info = synthetic
    before = _tree_digest(root)
    save = str(tmp_path / "save")
    summary = prep.prepare_libritts(
        root, save, [TRAIN_SUBSET], [VALID_SUBSET], [TEST_SUBSET], min_duration=1.0,
        max_duration=10.0,
    )
    assert _tree_digest(root) == before  # never modified in place
    manifests = _manifests(save)
    for split, subset in SUBSET_NAMES.items():
        wavs = sorted(glob.glob(os.path.join(root, subset, "*", "*", "*.wav")))
        entries = manifests[split]
        assert len(entries) == len(wavs) == info["subsets"][subset]["utterances"]
        assert summary[split]["utterances"] == len(wavs)
        assert summary[split]["speakers"] == info["subsets"][subset]["speakers"]
        for wav in wavs:
            utt_id = os.path.basename(wav)[:-4]
            entry = entries[utt_id]
            file_info = sf.info(wav)
            assert entry["wav"] == os.path.abspath(wav)
            assert entry["duration"] == pytest.approx(file_info.frames / 16000, abs=1e-9)
            assert entry["spk_id"] == wav.split(os.sep)[-3] == utt_id.split("_")[0]
            with open(wav[:-4] + ".normalized.txt", encoding="utf-8") as f:
                assert entry["text"] == f.read().strip()
            with open(wav[:-4] + ".labels.json", encoding="utf-8") as f:
                labels = json.load(f)
            assert entry["language"] == labels["language"] != ""
            assert entry["style"] == labels["style"]
            assert entry["alignment"] == labels["alignment"]
            assert CORE | {"style", "gender", "alignment", "speaker_settings"} <= set(entry)
        seconds = sum(e["duration"] for e in entries.values())
        assert seconds == pytest.approx(info["subsets"][subset]["seconds"], abs=0.01)
        assert summary[split]["hours"] == pytest.approx(seconds / 3600, abs=1e-4)
    languages = {e["language"] for m in manifests.values() for e in m.values()}
    assert len(languages) >= 3


def test_command_line(synthetic, tmp_path):
    root, info = synthetic
    save = str(tmp_path / "cli")
    summary = prep.main(["--data_folder", root, "--save_folder", save,
                         "--train_subsets", TRAIN_SUBSET, "--valid_subsets", VALID_SUBSET,
                         "--test_subsets", TEST_SUBSET])
    assert summary["test"]["utterances"] == info["subsets"][TEST_SUBSET]["utterances"]


def test_duplicate_ids_across_splits_are_skipped(libritts, tmp_path, caplog):
    root, expected = libritts
    utt_id = next(u for u, v in expected.items() if v[0] == "train-clean-100")
    speaker, chapter = utt_id.split("_")[:2]
    duplicate, _ = _write_utt(root, "dev-clean", speaker, chapter, int(utt_id.split("_")[2]),
                              2.0)
    save = str(tmp_path / "save")
    with caplog.at_level(logging.WARNING):
        summary = _prepare(root, save)
    assert summary["valid"]["skipped"]["duplicate_id"] == 1
    assert any(duplicate in r.getMessage() and "already used" in r.getMessage()
               for r in caplog.records)
    assert _manifests(save)["train"][utt_id]["wav"] != duplicate
