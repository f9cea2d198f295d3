"""The speech level token: measured on the input, coded in G, restored at decoding."""

import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from unicodec.lobes.speech_level import SpeechLevel
from unicodec.swapping import swap_tokens
from unicodec.tokens import Tokens
from unicodec.windowing import decode_windowed, encode_windowed

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def speech_like(seconds=2.0, sample_rate=16000, seed=0):
    """Noise bursts with pauses between them and a falling spectrum (a talker's rhythm)."""
    generator = torch.Generator().manual_seed(seed)
    n = int(seconds * sample_rate)
    noise = torch.randn(n, generator=generator)
    tilt = torch.fft.irfft(torch.fft.rfft(noise) / (1 + torch.fft.rfftfreq(n, 1 / 16000) / 500),
                           n=n)
    bursts = (torch.sin(torch.arange(n) * 2 * torch.pi * 3 / sample_rate) > -0.3).float()
    return 0.2 * tilt * bursts


def shipped_cpu_codec():
    with open(os.path.join(ROOT, "hparams", "models", "unicodec_cpu.yaml")) as f:
        return load_hyperpyyaml(f)["codec"].eval()


def test_the_measure_follows_a_gain_and_ignores_pauses_and_padding():
    level = SpeechLevel()
    wav = speech_like()[None]
    base = float(level.measure(wav))
    for gain_db in (-20.0, -3.0, 6.0):
        shifted = float(level.measure(wav * 10 ** (gain_db / 20)))
        assert abs(shifted - base - gain_db) < 0.01, gain_db
    longer = torch.cat([wav, torch.zeros(1, 16000)], 1)  # one second more of silence
    assert abs(float(level.measure(longer)) - base) < 0.1  # but the edge frames
    padded = torch.cat([wav, torch.randn(1, 8000)], 1)  # past its length: not measured
    assert abs(float(level.measure(padded, torch.tensor([wav.shape[1]]))) - base) < 0.01


def lowpass(wav, cutoff, sample_rate=16000):
    spec = torch.fft.rfft(wav)
    spec[..., torch.fft.rfftfreq(wav.shape[-1], 1 / sample_rate) > cutoff] = 0
    return torch.fft.irfft(spec, n=wav.shape[-1])


def test_band_limited_audio_and_noisy_pauses_measure_as_loud_as_they_are():
    """A telephone-band copy at the same power, or the same speech with a noise floor in
    its pauses, measures the same level (within a step)."""
    level = SpeechLevel()
    wav = speech_like(seed=3)[None]
    narrow = lowpass(wav, 3400.0)
    narrow = narrow * (wav.pow(2).sum() / narrow.pow(2).sum()).sqrt()
    assert abs(float(level.measure(narrow) - level.measure(wav))) < 0.5
    floor = 10 ** (-60 / 20) * torch.randn(wav.shape, generator=torch.Generator().manual_seed(1))
    assert abs(float(level.measure(wav + floor) - level.measure(wav))) < 0.5


def test_the_level_is_restored_within_half_a_step_and_clamped_at_the_ends():
    level = SpeechLevel(levels=64, step_db=1.0, center_db=-45.0)
    wav = torch.stack([speech_like(seed=s) for s in range(4)])
    wav = wav * 10 ** (torch.tensor([[-12.3], [0.0], [4.4], [9.8]]) / 20)
    codes = level.encode(wav)
    decoded = level(0.05 * wav, codes)  # a decoder 26 dB too quiet
    error = level.measure(decoded) - level.measure(wav)
    assert error.abs().max() <= 0.5 + 1e-3, error
    assert level.encode(wav * 1e3).max() == 63 and level.encode(wav * 1e-4).min() == 0
    # the end codes hold "this loud or more" and "this quiet or less": an output already
    # beyond them is left as it is, one on the wrong side is brought to them
    loud, quiet = wav[:1] * 1e3, wav[:1] * 1e-3
    assert torch.equal(level(loud, torch.tensor([63])), loud)
    assert torch.equal(level(quiet, torch.tensor([0])), quiet)
    assert abs(float(level.measure(level(quiet, torch.tensor([63])))) - level.decode(
        torch.tensor([63]))) < 0.1


def test_each_waveform_alone_silence_stays_silent_and_nothing_past_its_length():
    level = SpeechLevel()
    wav = torch.stack([speech_like(seed=1), speech_like(seed=2)])
    wav[0] = 0.0
    codes = torch.tensor([40, 20])
    out = level(wav, codes, torch.tensor([32000, 20000]))
    assert out[0].abs().max() == 0
    assert torch.allclose(out[1:, :20000], level(wav[1:, :20000], codes[1:]), atol=1e-6)
    assert abs(float(level.measure(out[1:, :20000])) - float(level.decode(codes[1]))) < 0.01


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="levels"):
        SpeechLevel(levels=1)
    with pytest.raises(ValueError, match="step_db"):
        SpeechLevel(step_db=0.0)


def test_the_shipped_cpu_codec_codes_the_level_as_its_last_g_token_and_restores_it():
    codec = shipped_cpu_codec()
    assert isinstance(codec.speech_level, SpeechLevel)
    counts = codec.num_codebooks()
    assert counts["global"] == codec.quantizer.num_codebooks()["global"] + 1
    assert codec.global_bits() == counts["global"] * 6
    wav = speech_like(seconds=1.5)[None] * torch.tensor([[1.0], [0.3]])
    with torch.no_grad():
        tokens = codec.encode(wav)
        assert tokens.global_tokens.shape == (2, counts["global"])
        assert torch.equal(tokens.global_tokens[:, -1], codec.speech_level.encode(wav))
        out = codec.decode(tokens)
        error = codec.speech_level.measure(out) - codec.speech_level.measure(wav)
        assert error.abs().max() <= 0.5 + 1e-3, error
        # G tokens without the level token decode at the decoder's own level
        plain = codec.decode(type(tokens)(tokens.global_tokens[:, :-1], tokens.semantic_tokens,
                                          tokens.paralinguistic_tokens, tokens.num_samples))
        gain = codec.speech_level.measure(out) - codec.speech_level.measure(plain)
        assert torch.allclose(out, plain * 10 ** (gain[:, None] / 20), atol=1e-5)
        windowed = encode_windowed(codec, wav[:1], window=16000, hop=12800)
    assert windowed.global_tokens.shape == (1, counts["global"])
    assert windowed.global_tokens[0, -1] == tokens.global_tokens[0, -1]


def test_windowed_decoding_scales_the_joined_windows_once():
    """Long tokens are decoded window by window without the level, then the whole output
    takes one gain: a quiet passage stays quieter than a loud one."""
    codec = shipped_cpu_codec()
    wav = speech_like(seconds=3.0, seed=4)[None] * torch.cat(
        [torch.ones(24000), torch.full((24000,), 0.1)])
    with torch.no_grad():
        tokens = encode_windowed(codec, wav, window=16000, hop=12800)
        out = decode_windowed(codec, tokens, window=16000, hop=12800)
        plain = decode_windowed(codec, Tokens(tokens.global_tokens[:, :-1],
                                              tokens.semantic_tokens,
                                              tokens.paralinguistic_tokens,
                                              tokens.num_samples), window=16000, hop=12800)
    ratio = out[0, 1000:-1000] / plain[0, 1000:-1000]
    assert torch.allclose(ratio, ratio.median().expand_as(ratio), rtol=1e-3)
    error = codec.speech_level.measure(out) - codec.speech_level.measure(wav)
    assert error.abs().max() <= 0.5 + 1e-3


def test_voice_conversion_keeps_the_sources_level():
    source = Tokens(torch.tensor([[1, 2, 40]]), torch.zeros(1, 8, 1), torch.zeros(1, 4, 2),
                    torch.tensor([2560]))
    speaker = Tokens(torch.tensor([[7, 8, 20]]), torch.zeros(1, 4, 1), torch.zeros(1, 2, 2),
                     torch.tensor([1280]))
    kept = swap_tokens(source, speaker=speaker, samples_per_step=640, keep_level=True)
    assert kept.global_tokens.tolist() == [[7, 8, 40]]
    taken = swap_tokens(source, speaker=speaker, samples_per_step=640)
    assert taken.global_tokens.tolist() == [[7, 8, 20]]


def test_a_level_token_needs_g_with_as_many_codes():
    codec = shipped_cpu_codec()
    parts = dict(encoder=codec.encoder, global_encoder=codec.global_encoder,
                 quantizer=codec.quantizer, decoder=codec.decoder, prosody=codec.prosody,
                 class_spectrum=codec.class_spectrum)
    with pytest.raises(ValueError, match="codebook size"):
        type(codec)(**parts, speech_level=SpeechLevel(levels=32))
