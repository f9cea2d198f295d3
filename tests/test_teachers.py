"""Tests of the distillation targets: SSL teacher, layer weighting, phone targets, cache."""

import os
import shutil
import socket

import pytest
import torch

from conftest import save_tiny_ssl_model
from unicodec.data.phones import PhoneTargets, phone_targets
from unicodec.data.teacher_cache import TeacherCache, cached_features
from unicodec.lobes.teachers import (
    SSLTeacher,
    WeightedLayerSum,
    align_frames,
)

pytest.importorskip("transformers")

HOP = 320


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No hub, no network: a connection attempt fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def wavlm_folder(tmp_path_factory):
    """A tiny WavLM, large-model style (layer-norm conv, pre-norm encoder, normalised input)."""
    folder = str(tmp_path_factory.mktemp("wavlm"))
    save_tiny_ssl_model(folder, model_type="wavlm", num_layers=3, feat_extract_norm="layer")
    return folder


@pytest.fixture(scope="module")
def hubert_folder(tmp_path_factory):
    """A tiny HuBERT, base-model style (group-norm conv)."""
    folder = str(tmp_path_factory.mktemp("hubert"))
    save_tiny_ssl_model(folder, model_type="hubert", num_layers=2, feat_extract_norm="group")
    return folder


def padded_batch(lengths, seed=0):
    """Random waveforms of the given lengths, padded with noise, and relative lengths."""
    gen = torch.Generator().manual_seed(seed)
    total = max(lengths)
    wav = torch.randn(len(lengths), total, generator=gen)
    for i, n in enumerate(lengths):
        wav[i, n:] = 5.0  # garbage padding: must not matter
    return wav, torch.tensor(lengths, dtype=torch.float) / total


def check_padding(teacher, lengths, atol=1e-4):
    wav, wav_lens = padded_batch(lengths)
    batch = teacher(wav, wav_lens)
    assert batch.shape[:2] == (len(lengths), -(-max(lengths) // HOP))
    for i, n in enumerate(lengths):
        frames = -(-n // HOP)
        alone = teacher(wav[i : i + 1, :n])
        assert alone.shape[1] == frames
        torch.testing.assert_close(batch[i, :frames], alone[0], atol=atol, rtol=1e-4)
        assert batch[i, frames:].abs().sum() == 0
    return batch


def test_wavlm_padded_batch_matches_single(wavlm_folder):
    teacher = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=2)
    assert not teacher.per_utterance  # layer-norm model: batched with an attention mask
    feats = check_padding(teacher, [16000, 9930, 4001])
    assert feats.shape == (3, 50, 32)
    assert not feats.requires_grad


def test_hubert_group_norm_runs_per_utterance(hubert_folder):
    teacher = SSLTeacher(source=hubert_folder, save_path=hubert_folder, layer=1)
    assert teacher.per_utterance
    check_padding(teacher, [12800, 7000])
    # batched, the group norm sees the padding: the features of the short one change
    batched = SSLTeacher(
        source=hubert_folder, save_path=hubert_folder, layer=1, per_utterance=False
    )
    wav, wav_lens = padded_batch([12800, 7000])
    wav[1, 7000:] = 0
    alone = batched(wav[1:, :7000])
    together = batched(wav, wav_lens)
    assert (together[1, : alone.shape[1]] - alone[0]).abs().max() > 1e-3


def test_all_layers_and_dropped_layers(wavlm_folder):
    everything = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=None)
    assert everything.num_layers == 4
    wav, wav_lens = padded_batch([8000, 6000])
    stacked = everything(wav, wav_lens)
    assert stacked.shape == (2, 25, 4, 32)
    for layer in (0, 1, 3):
        one = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=layer)
        assert len(one.model.encoder.layers) == min(layer + 1, 3)
        torch.testing.assert_close(one(wav, wav_lens), stacked[:, :, layer])
    two = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=[1, -1])
    torch.testing.assert_close(two(wav, wav_lens), stacked[:, :, [1, 3]])
    with pytest.raises(ValueError):
        SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=4)


def test_frame_count_and_short_input(wavlm_folder):
    teacher = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=1)
    for n in (100, 320, 321, 399, 16100):
        feats = teacher(torch.randn(1, n))
        assert feats.shape == (1, -(-n // HOP), 32)
        assert feats.abs().sum(-1).min() > 0  # every valid frame filled
    assert teacher.num_frames(torch.tensor([320, 321])).tolist() == [1, 2]


def test_resamples_from_codec_rate(wavlm_folder):
    import torchaudio.functional as AF

    at_24k = SSLTeacher(
        source=wavlm_folder, save_path=wavlm_folder, layer=1, sample_rate=24000, hop_length=480
    )
    at_16k = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=1)
    wav = torch.randn(1, 24000)
    feats = at_24k(wav)
    assert feats.shape == (1, 50, 32)
    torch.testing.assert_close(feats, at_16k(AF.resample(wav, 24000, 16000)), atol=1e-4, rtol=1e-4)


def test_frozen_and_eval(wavlm_folder):
    teacher = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=1)
    teacher.train()
    assert not teacher.model.training
    assert not any(p.requires_grad for p in teacher.parameters())
    wav = torch.randn(1, 3200, requires_grad=True)
    assert not teacher(wav).requires_grad


def test_folder_without_preprocessor_config(tmp_path, wavlm_folder):
    folder = tmp_path / "converted"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(wavlm_folder, name), folder / name)
    teacher = SSLTeacher(source=str(folder), save_path=str(folder), layer=1)
    assert teacher.normalize_input  # layer-norm conv: transformers' convention
    reference = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=1)
    wav = torch.randn(1, 4000)
    torch.testing.assert_close(teacher(wav), reference(wav))


def test_fingerprint_and_cache(tmp_path, wavlm_folder):
    layer1 = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=1)
    layer1_again = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=1)
    layer2 = SSLTeacher(source=wavlm_folder, save_path=wavlm_folder, layer=2)
    assert layer1.fingerprint == layer1_again.fingerprint
    assert layer1.fingerprint != layer2.fingerprint

    calls = []

    class Counting(torch.nn.Module):
        def __init__(self, teacher):
            super().__init__()
            self.teacher = teacher

        def num_frames(self, n):
            return self.teacher.num_frames(n)

        def forward(self, wav, wav_lens=None):
            calls.append(wav.shape[0])
            return self.teacher(wav, wav_lens)

    wav, wav_lens = padded_batch([9600, 6400, 3300])
    ids = ["spk/a", "spk/b", "c"]
    cache = TeacherCache(str(tmp_path), layer1)
    first = cached_features(Counting(layer1), ids, wav, wav_lens, cache)
    torch.testing.assert_close(first, layer1(wav, wav_lens), atol=1e-4, rtol=1e-4)
    assert calls == [3]
    assert cache.get("spk/a").shape == (30, 32)
    # a new batch: only the missing utterance is computed, at its own length
    wav2 = torch.zeros(2, 9600)
    wav2[0] = wav[0]
    wav2[1, :4000] = torch.randn(4000)
    lens2 = torch.tensor([1.0, 4000 / 9600])
    second = cached_features(Counting(layer1), ["spk/a", "d"], wav2, lens2, cache)
    assert calls == [3, 1]
    torch.testing.assert_close(second[0], first[0])
    assert second[1, 13:].abs().sum() == 0
    # another layer does not read layer 1's files
    other = TeacherCache(str(tmp_path), layer2.fingerprint)
    assert other.get("spk/a") is None
    assert not os.path.exists(other.folder)  # nothing written until put


def test_cache_dtype(tmp_path):
    cache = TeacherCache(str(tmp_path), "f", dtype=torch.float16)
    feats = torch.randn(5, 3)
    cache.put("x", feats)
    back = cache.get("x")
    assert back.dtype == torch.float32
    torch.testing.assert_close(back, feats, atol=1e-2, rtol=1e-2)


def test_weighted_layer_sum():
    layers = torch.randn(2, 10, 3, 8)
    weighted = WeightedLayerSum(num_layers=3)
    torch.testing.assert_close(weighted(layers), layers.mean(2))
    with torch.no_grad():
        weighted.weights.copy_(torch.tensor([0.0, 30.0, 0.0]))
    torch.testing.assert_close(weighted(layers), layers[:, :, 1], atol=1e-5, rtol=1e-5)
    weighted(layers).sum().backward()
    assert weighted.weights.grad is not None
    zeros = torch.zeros(1, 4, 3, 8)
    assert WeightedLayerSum(3, layer_norm=True)(zeros).abs().sum() == 0
    with pytest.raises(ValueError):
        weighted(torch.randn(1, 2, 4, 8))


def test_phone_targets_cover_frames():
    phones = {"sil": 0, "a": 1, "b": 2}
    alignment = [[0.0, 0.1, "sil"], [0.1, 0.25, "a"], [0.3, 0.405, "b"]]
    targets = phone_targets(alignment, phones, num_frames=25, frame_rate=50.0, pad_id=-1)
    # frame t covers [20t, 20t + 20) ms and takes the phone holding its centre
    expected = [0] * 5 + [1] * 7 + [-1] * 3 + [2] * 5 + [-1] * 5
    assert targets.tolist() == expected
    # another frame rate
    assert phone_targets(alignment, phones, 5, frame_rate=10.0).tolist() == [0, 1, -100, 2, -100]
    with pytest.raises(KeyError):
        phone_targets([[0.0, 0.1, "zz"]], phones, 5)


def test_phone_targets_batch():
    batch = PhoneTargets({"a": 3, "b": 4}, frame_rate=50.0, pad_id=-100)(
        [[[0.0, 0.1, "a"]], [[0.0, 0.02, "b"], [0.02, 0.04, "a"]]], [5, 3]
    )
    assert batch.tolist() == [[3, 3, 3, 3, 3], [4, 3, -100, -100, -100]]


def test_align_frames_rates():
    src = torch.arange(10.0).view(1, 10, 1)
    # equal rates: copy, last valid frame repeated
    same = align_frames(src, torch.tensor([6]), 8)
    assert same[0, :, 0].tolist() == [0, 1, 2, 3, 4, 5, 5, 5]
    # source twice as fast: centres fall between two source frames
    half = align_frames(src, torch.tensor([10]), 5, rate_ratio=2.0)
    assert half[0, :, 0].tolist() == [0.5, 2.5, 4.5, 6.5, 8.5]


def test_teacher_builds_from_yaml(wavlm_folder):
    from hyperpyyaml import load_hyperpyyaml

    hparams = load_hyperpyyaml(
        """
        teacher_source: !PLACEHOLDER
        teacher: !new:unicodec.lobes.teachers.SSLTeacher
            source: !ref <teacher_source>
            save_path: !ref <teacher_source>
            layer: 2
        layer_sum: !new:unicodec.lobes.teachers.WeightedLayerSum
            num_layers: 4
        """,
        overrides={"teacher_source": wavlm_folder},
    )
    assert hparams["teacher"](torch.randn(1, 3200)).shape == (1, 10, 32)
