"""Tests of audio loading and waveform validation (unicodec.data.audio)."""

import numpy as np
import pytest
import soundfile as sf
import torch

from unicodec.data.audio import AudioError, change_speed, check_waveform, load_audio, resample


def _sine(freq, sample_rate, seconds=1.0, amplitude=0.5):
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_frequency(wav, sample_rate):
    spectrum = np.abs(np.fft.rfft(wav.numpy()))
    return np.argmax(spectrum) * sample_rate / len(wav)


def test_load_mono_same_rate(tmp_path):
    path = tmp_path / "mono.wav"
    data = _sine(440, 16000)
    sf.write(path, data, 16000, subtype="FLOAT")
    wav = load_audio(path, 16000)
    assert wav.dtype == torch.float32
    assert wav.shape == (16000,)
    assert torch.allclose(wav, torch.from_numpy(data))


def test_load_pcm16_is_scaled(tmp_path):
    path = tmp_path / "pcm.wav"
    sf.write(path, np.full(800, 0.5, dtype=np.float32), 16000, subtype="PCM_16")
    wav = load_audio(str(path), 16000)
    assert wav.abs().max() <= 1.0
    assert wav.mean().item() == pytest.approx(0.5, abs=1e-3)


def test_load_flac(tmp_path):
    path = tmp_path / "tone.flac"
    sf.write(path, _sine(300, 16000), 16000)
    wav = load_audio(path, 16000)
    assert wav.shape == (16000,)
    assert _peak_frequency(wav, 16000) == pytest.approx(300, abs=2)


def test_stereo_is_downmixed_by_averaging(tmp_path):
    path = tmp_path / "stereo.wav"
    data = np.stack([np.full(1000, 0.2), np.full(1000, 0.6)], axis=1).astype(np.float32)
    sf.write(path, data, 16000, subtype="FLOAT")
    wav = load_audio(path, 16000)
    assert wav.shape == (1000,)
    assert torch.allclose(wav, torch.full((1000,), 0.4), atol=1e-6)


def test_multichannel_is_downmixed(tmp_path):
    path = tmp_path / "four.wav"
    data = np.tile(np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32), (500, 1))
    sf.write(path, data, 16000, subtype="FLOAT")
    assert torch.allclose(load_audio(path, 16000), torch.full((500,), 0.25), atol=1e-6)


@pytest.mark.parametrize("file_rate", [22050, 48000, 8000])
def test_resampling_keeps_length_and_pitch(tmp_path, file_rate):
    path = tmp_path / f"tone_{file_rate}.wav"
    sf.write(path, _sine(440, file_rate), file_rate, subtype="FLOAT")
    wav = load_audio(path, 16000)
    assert wav.dtype == torch.float32
    assert abs(len(wav) - 16000) <= 1
    assert _peak_frequency(wav, 16000) == pytest.approx(440, abs=2)
    assert wav.abs().max().item() == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("factor", [0.9, 1.1, 1.25])
def test_change_speed_scales_duration_and_pitch(factor):
    wav = change_speed(torch.from_numpy(_sine(200, 16000)), factor)
    assert abs(len(wav) - 16000 / factor) <= 1
    assert _peak_frequency(wav, 16000) == pytest.approx(200 * factor, abs=2)
    with pytest.raises(ValueError, match="Speed factor must be positive"):
        change_speed(wav, 0)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "missing.wav"
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_audio(path, 16000)


def test_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00not really audio" + bytes(range(200)))
    with pytest.raises(AudioError, match="corrupt.wav") as info:
        load_audio(path, 16000)
    assert isinstance(info.value, ValueError)
    assert "Cannot read" in str(info.value)


def test_directory_is_rejected(tmp_path):
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path, 16000)


def test_empty_file_names_the_path(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty.*empty\.wav"):
        load_audio(path, 16000)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_name_the_path(tmp_path, bad):
    path = tmp_path / "nonfinite.wav"
    data = np.zeros(100, dtype=np.float32)
    data[[3, 50]] = bad
    sf.write(path, data, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"2 NaN or infinite samples.*nonfinite\.wav"):
        load_audio(path, 16000)


def test_resample_same_rate_returns_input():
    wav = torch.randn(100)
    assert resample(wav, 16000, 16000) is wav
    assert resample(torch.zeros(2, 22050), 22050, 16000).shape == (2, 16000)
    with pytest.raises(ValueError, match="positive"):
        resample(wav, 0, 16000)


def test_check_waveform_accepts_valid_inputs():
    single = torch.zeros(400)
    batch = torch.zeros(3, 400, dtype=torch.float64)
    assert check_waveform(single) is single
    assert check_waveform(batch, name="batch", min_samples=400) is batch


@pytest.mark.parametrize(
    "wav, error, message",
    [
        (np.zeros(10, dtype=np.float32), TypeError, "my_wav must be a torch.Tensor"),
        (torch.zeros(10, dtype=torch.int16), TypeError, "my_wav must be a floating point"),
        (torch.zeros(1, 1, 10), AudioError, r"my_wav must have shape \[T\] or \[B, T\]"),
        (torch.zeros(()), AudioError, r"my_wav must have shape"),
        (torch.zeros(0), AudioError, "my_wav has 0 samples"),
        (torch.zeros(0, 10), AudioError, "my_wav is an empty batch"),
        (torch.tensor([[0.0, float("inf")], [float("nan"), 0.0]]), AudioError,
         "my_wav has 2 NaN or infinite samples"),
    ],
)
def test_check_waveform_errors_name_the_input(wav, error, message):
    with pytest.raises(error, match=message):
        check_waveform(wav, name="my_wav")


def test_check_waveform_min_samples():
    with pytest.raises(AudioError, match="has 100 samples, fewer than the 320 needed"):
        check_waveform(torch.zeros(2, 100), name="wav", min_samples=320)
    assert check_waveform(torch.zeros(320), min_samples=320).shape == (320,)
