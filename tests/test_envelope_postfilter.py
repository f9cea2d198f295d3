"""The envelope postfilter: expands the envelope's changes over time, keeps its mean."""

import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from unicodec.lobes.envelope_postfilter import EnvelopePostfilter

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def resonance(noise, centre, width=150.0, sample_rate=16000):
    """``noise`` through one resonance at ``centre`` Hz (in the frequency domain)."""
    spec = torch.fft.rfft(noise)
    freqs = torch.fft.rfftfreq(noise.shape[-1], 1 / sample_rate)
    shape = 0.05 + torch.exp(-0.5 * ((freqs - centre) / width) ** 2)
    return torch.fft.irfft(spec * shape, n=noise.shape[-1])


def alternating(seconds=2.0, period=0.1, sample_rate=16000, seed=0):
    """Two sounds (resonances at 500 and 2500 Hz) taking turns every ``period`` s."""
    generator = torch.Generator().manual_seed(seed)
    n = int(seconds * sample_rate)
    noise = torch.randn(n, generator=generator)
    low, high = resonance(noise, 500.0), resonance(noise, 2500.0)
    turn = ((torch.arange(n) / (period * sample_rate)).floor() % 2).bool()
    return torch.where(turn, high, low) * 0.1


def envelope_stats(wav):
    """Per-coefficient std over time and mean of the envelope shape of ``wav``, and the
    log power of each frame (away from the edges)."""
    postfilter = EnvelopePostfilter()
    spec = torch.stft(wav[None], postfilter.n_fft, postfilter.hop_length,
                      window=postfilter.window, return_complex=True)
    power = spec.abs().pow(2)
    shape = postfilter.shape(power)[0, 4:-4]
    cepstrum = torch.fft.irfft(shape, n=postfilter.n_fft)[:, 1:postfilter.coefficients]
    return cepstrum.std(0), shape.mean(0), torch.log(power[0].sum(0)[4:-4])


def test_expansion_scales_the_shapes_changes_keeping_their_mean_and_each_frames_power():
    wav = alternating()
    std_in, mean_in, level_in = envelope_stats(wav)
    for factor in (0.7, 1.3):
        out = EnvelopePostfilter(expansion=factor, level_expansion=1.0)(wav[None])[0]
        std_out, mean_out, level_out = envelope_stats(out)
        ratio = (std_out.sum() / std_in.sum()).item()
        assert abs(ratio - factor) < 0.15 * factor, (factor, ratio)
        assert (mean_out - mean_in).abs().mean() < 0.2, factor
        assert (level_out - level_in).abs().median() < 0.1, factor


def test_level_expansion_scales_each_frames_level_around_the_mean():
    wav = alternating() * torch.linspace(0.2, 2.0, 32000)  # a 20 dB crescendo
    _, _, level_in = envelope_stats(wav)
    out = EnvelopePostfilter(expansion=1.0, level_expansion=1.5)(wav[None])[0]
    _, _, level_out = envelope_stats(out)
    ratio = ((level_out - level_out.mean()).std() / (level_in - level_in.mean()).std()).item()
    assert abs(ratio - 1.5) < 0.15, ratio
    assert abs(level_out.mean() - level_in.mean()) < 0.3


def test_it_undoes_a_shrinking_of_the_envelopes_changes():
    """An envelope whose changes over time were shrunk to 0.7 (an over-smoothing
    decoder's) comes back to the original's shapes with 1 / 0.7."""
    original = alternating(period=0.15)
    shrunk = EnvelopePostfilter(expansion=0.7, level_expansion=1.0)(original[None])
    restored = EnvelopePostfilter(expansion=1 / 0.7, level_expansion=1.0)(shrunk)[0]

    def shapes(wav):
        postfilter = EnvelopePostfilter()
        spec = torch.stft(wav[None], postfilter.n_fft, postfilter.hop_length,
                          window=postfilter.window, return_complex=True)
        return postfilter.shape(spec.abs().pow(2))[0, 4:-4]

    target = shapes(original)
    before = (shapes(shrunk[0]) - target).abs().mean()
    after = (shapes(restored) - target).abs().mean()
    assert after < 0.3 * before, (float(after), float(before))


@pytest.mark.parametrize("keep_spectrum", [False, True])
def test_each_waveform_alone_and_nothing_past_its_length(keep_spectrum):
    wav = torch.stack([alternating(seed=1), alternating(seed=2)])
    postfilter = EnvelopePostfilter(expansion=1.3, keep_spectrum=keep_spectrum)
    out = postfilter(wav, torch.tensor([32000, 20000]))
    alone = postfilter(wav[1:, :20000])
    assert out[1, 20000:].abs().max() == 0
    # the same but for the last window, which the batch pads with zeros, not reflection
    assert torch.allclose(out[1, :19500], alone[0, :19500], atol=1e-4)
    assert torch.allclose(out[0], postfilter(wav[:1])[0], atol=1e-5)


def test_digital_silence_stays_silent():
    wav = alternating()
    wav[8000:16000] = 0
    out = EnvelopePostfilter(expansion=1.3)(wav[None])[0]
    assert out[8600:15400].abs().max() < 1e-4
    assert torch.isfinite(out).all()


def test_unit_expansion_is_the_identity_and_bad_values_are_refused():
    wav = alternating()[None]
    assert torch.equal(EnvelopePostfilter(expansion=1.0, level_expansion=1.0)(wav), wav)
    with pytest.raises(ValueError, match="expansion"):
        EnvelopePostfilter(expansion=0.0)
    with pytest.raises(ValueError, match="level_expansion"):
        EnvelopePostfilter(level_expansion=-1.0)
    with pytest.raises(ValueError, match="coefficients"):
        EnvelopePostfilter(coefficients=0)


def test_the_codec_filters_what_it_decodes_and_the_shipped_cpu_model_does():
    with open(os.path.join(ROOT, "hparams", "models", "unicodec_cpu.yaml")) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    assert isinstance(codec.postfilter, EnvelopePostfilter)
    assert codec.postfilter.expansion > 1.0
    assert codec.postfilter.keep_spectrum  # G's long-term spectrum, as decoded
    codec.speech_level = None  # its gain follows the postfilter (tests/test_speech_level.py)
    wav = alternating(seconds=1.0)[None]
    with torch.no_grad():
        tokens = codec.encode(wav)
        filtered = codec.decode(tokens)
        postfilter, codec.postfilter = codec.postfilter, None
        plain = codec.decode(tokens)
    assert torch.allclose(filtered, postfilter(plain, tokens.num_samples), atol=1e-5)
    assert not torch.allclose(filtered, plain, atol=1e-3)


def long_term_spectrum(wav, bands=16):
    """Log mean power of ``wav`` in ``bands`` equal bands of a 512-point STFT."""
    spec = torch.stft(wav, 512, 128, window=torch.hann_window(512), return_complex=True)
    power = spec.abs().pow(2).mean(-1)[..., 1:257]
    return torch.log(power.unflatten(-1, (bands, -1)).mean(-1))


def test_keep_spectrum_holds_the_long_term_spectrum_that_expansion_moves():
    """Expanding each frame's envelope raises the bins that change most over time (the
    mean of a power grows with its spread): the 2500 Hz sound, quiet in the low half of
    a crescendo, comes out louder on average. ``keep_spectrum`` takes each bin's mean
    power back to the decoded one, and leaves the changes over time expanded."""
    wav = alternating(period=0.15) * torch.linspace(0.2, 2.0, 32000)
    wav[14000:18000] = 0  # a pause: left out of the means
    before = long_term_spectrum(wav)
    std_in, _, _ = envelope_stats(wav)
    drift = {}
    for keep in (False, True):
        postfilter = EnvelopePostfilter(expansion=1.5, level_expansion=1.3, keep_spectrum=keep)
        out = postfilter(wav[None])[0]
        drift[keep] = (long_term_spectrum(out) - before).abs().max().item()
        std_out, _, _ = envelope_stats(out)
        assert std_out.sum() > 1.3 * std_in.sum(), keep  # the changes over time grow
    assert drift[False] > 0.5, drift  # more than 2 dB somewhere
    assert drift[True] < 0.4 * drift[False], drift
