"""The codec recipe's data pipeline: crops differ between data-loader workers and epochs."""

import json
import os
from types import SimpleNamespace

import pytest
import soundfile as sf
import speechbrain as sb

from conftest import speechlike
from unicodec.data.codec_pipeline import dataio_prepare


def _datasets(tmp_path):
    wav = os.path.join(tmp_path, "long.wav")
    sf.write(wav, speechlike(16000 * 6, 0).numpy(), 16000)
    entry = {"wav": wav, "duration": 6.0, "spk_id": "s1"}
    for split, count in (("train", 4), ("valid", 1), ("test", 1)):
        with open(os.path.join(tmp_path, f"{split}.json"), "w") as f:
            json.dump({f"{split}{i}": dict(entry) for i in range(count)}, f)
    hparams = {"sample_rate": 16000, "segment_seconds": 0.5, "reference_seconds": 0.5,
               "eval_max_seconds": 2.0, "seed": 1, "output_folder": str(tmp_path),
               "save_folder": str(tmp_path)}
    codec = SimpleNamespace(samples_per_step=640, frame_rate=50.0, hop_length=320)
    return dataio_prepare(hparams, codec)[0]


def _starts(dataset, workers):
    loader = sb.dataio.dataloader.make_dataloader(
        dataset, batch_size=1, num_workers=workers, shuffle=False
    )
    with dataset.output_keys_as(["id", "start"]):
        return [int(batch.start[0]) for batch in loader]


def test_two_workers_and_two_epochs_draw_different_crops(tmp_path):
    sb.utils.seed_everything(1)
    train = _datasets(tmp_path)["train"]
    first, second = _starts(train, 2), _starts(train, 2)
    # four copies of one 6 s utterance: worker 0 crops items 0 and 2, worker 1 items 1, 3
    assert (first[0], first[2]) != (first[1], first[3]), first
    assert first != second, (first, second)


def test_dynamic_batches_stay_within_the_duration_budget():
    """With dynamic_batching, every batch's padded audio (its longest item, cut to the
    crop or the evaluation limit, times its size) stays within the budget, and every
    item is in exactly one batch; without it, fixed batches of batch_size."""
    import random

    from unicodec.data.codec_pipeline import loader_options

    rng = random.Random(0)
    durations = [round(rng.uniform(0.3, 9.0), 2) for _ in range(60)]
    data = {f"u{i}": {"wav": "unused.wav", "duration": d} for i, d in enumerate(durations)}
    datasets = {split: sb.dataio.dataset.DynamicItemDataset(data)
                for split in ("train", "valid", "test")}
    hparams = {"batch_size": 4, "num_workers": 0, "segment_seconds": 1.6,
               "eval_max_seconds": 6.0, "dynamic_batching": True, "max_batch_seconds": 12.8,
               "num_buckets": 5, "seed": 3}
    options = loader_options(hparams, datasets)
    for split, longest in (("train", 1.6), ("valid", 6.0), ("test", 6.0)):
        batches = list(options[split]["batch_sampler"])
        seen = sorted(i for batch in batches for i in batch)
        assert seen == list(range(len(durations))), split
        for batch in batches:
            padded = max(min(durations[i], longest) for i in batch) * len(batch)
            assert padded <= 12.8 + 1e-6, (split, batch)
    # short utterances pack more per batch than the fixed size
    assert max(len(b) for b in options["valid"]["batch_sampler"]) > 4
    fixed = loader_options({**hparams, "dynamic_batching": False}, datasets)
    assert fixed["train"] == {"num_workers": 0, "batch_size": 4, "shuffle": True,
                              "drop_last": True}
    hparams["max_batch_seconds"] = 4.0
    try:
        loader_options(hparams, datasets)
    except ValueError as err:
        assert "max_batch_seconds (4.0) < the longest valid item (6.0 s)" in str(err)
    else:
        raise AssertionError("a budget below the longest item is accepted")


def test_online_and_cached_teacher_give_the_same_targets_on_the_same_crops(tmp_path):
    """The cache holds each whole utterance's features (fp16), cut to the crop; online,
    the teacher runs on the whole utterance alone and is cut the same way."""
    import random

    import torch

    from unicodec.data.codec_pipeline import fill_teacher_cache, online_teacher_targets
    from conftest import save_tiny_ssl_model
    from unicodec.lobes.teachers import SSLTeacher

    pytest.importorskip("transformers")
    folder = tmp_path / "teacher"
    save_tiny_ssl_model(str(folder), model_type="hubert", hidden_size=32, num_layers=2)
    teacher = SSLTeacher(source=str(folder), save_path=str(tmp_path / "hub"), layer=1)
    data = tmp_path / "data"
    data.mkdir()
    for i, seconds in enumerate((2.3, 3.1)):  # two utterances of different lengths
        sf.write(data / f"u{i}.wav", speechlike(int(16000 * seconds), i).numpy(), 16000)
    for split in ("train", "valid", "test"):
        with open(data / f"{split}.json", "w") as f:
            json.dump({f"u{i}": {"wav": str(data / f"u{i}.wav"), "duration": 2.0,
                                 "spk_id": "s"} for i in range(2)}, f)
    codec = SimpleNamespace(samples_per_step=640, frame_rate=50.0, hop_length=320)
    base = {"sample_rate": 16000, "segment_seconds": 0.8, "reference_seconds": 0.8,
            "eval_max_seconds": 4.0, "output_folder": str(data), "save_folder": str(data),
            "teacher": teacher}

    def first_batch(train):
        random.seed(7)  # the same crops both ways
        loader = sb.dataio.dataloader.make_dataloader(train, batch_size=2, shuffle=False)
        return next(iter(loader))

    online = first_batch(dataio_prepare(base, codec)[0]["train"])
    cached_hparams = dict(base, teacher_cache_folder=str(tmp_path / "cache"))
    datasets = dataio_prepare(cached_hparams, codec)[0]
    fill_teacher_cache(cached_hparams, datasets, "cpu")
    cached = first_batch(datasets["train"])
    starts = [int(s) for s in online.start]
    assert torch.equal(online.sig.data, cached.sig.data) and any(starts)  # the same crops
    audio, audio_lens = online.audio
    targets = online_teacher_targets(teacher, audio, audio_lens, starts,
                                     online.sig.data.shape[1], 320)
    stored = cached.teacher_feats.data
    assert targets.shape == stored.shape == (2, 40, 32)
    # equal up to the cache's float16 rounding
    assert torch.allclose(targets, stored, rtol=2e-3, atol=2e-3)
    assert (targets - stored).abs().max() > 0  # the cache did store float16


def test_speed_perturbed_crops_keep_their_phones_and_have_no_speaker_class(tmp_path):
    """At speed 1.25 a 2 s utterance lasts 1.6 s, its phone boundary at 1 s moves to
    0.8 s (frame 40) and the voice is no training speaker's; at speed 1 nothing moves."""
    wav = os.path.join(tmp_path, "u.wav")
    sf.write(wav, speechlike(32000, 0).numpy(), 16000)
    entry = {"wav": wav, "duration": 2.0, "spk_id": "s1",
             "alignment": [[0.0, 1.0, "a"], [1.0, 2.0, "b"]]}
    for split in ("train", "valid", "test"):
        with open(os.path.join(tmp_path, f"{split}.json"), "w") as f:
            json.dump({"u": entry}, f)
    with open(os.path.join(tmp_path, "phones.json"), "w") as f:
        json.dump({"phone_to_id": {"a": 1, "b": 2}}, f)
    codec = SimpleNamespace(samples_per_step=640, frame_rate=50.0, hop_length=320)
    hparams = {"sample_rate": 16000, "segment_seconds": 4.0, "reference_seconds": 4.0,
               "eval_max_seconds": 4.0, "output_folder": str(tmp_path),
               "save_folder": str(tmp_path), "phone_inventory": str(tmp_path / "phones.json"),
               "num_phones": 4}
    for speed, samples, boundary, speaker in ((1.25, 25600, 40, -100), (1.0, 32000, 50, 0)):
        train = dataio_prepare(dict(hparams, speed_perturb=[speed]), codec)[0]["train"]
        item = train[0]
        assert item["sig"].shape[0] == samples and item["ref"].shape[0] == samples
        phones = item["phones"].tolist()
        assert phones[:boundary] == [1] * boundary, (speed, phones)
        assert set(phones[boundary:]) == {2}, (speed, phones)
        assert int(item["spk_id_encoded"]) == speaker
        # evaluation utterances are left as they are
        assert dataio_prepare(dict(hparams, speed_perturb=[speed]), codec)[0]["valid"][0][
            "sig"].shape[0] == 32000
    with pytest.raises(ValueError, match="speed_perturb with teacher_cache_folder"):
        dataio_prepare(dict(hparams, speed_perturb=[0.9, 1.0], teacher=object(),
                            teacher_cache_folder=str(tmp_path / "cache")), codec)
    with pytest.raises(ValueError, match="holds a factor <= 0"):
        dataio_prepare(dict(hparams, speed_perturb=[0.0]), codec)
