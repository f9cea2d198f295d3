"""benchmarks/voice_budget.py: its corrections do what they say, and the report runs."""

import json
import math
import os
import sys

import pytest
import torch
from scipy.signal import lfilter

from test_inference import export_tiny, tiny_model
from unicodec.evaluation.report import write_example_source

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import voice_budget  # noqa: E402


def vowel(formant, seconds=1.0, f0=120.0, sample_rate=16000):
    """A pulse train through one resonance at ``formant`` Hz."""
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    pulses = torch.sign(torch.sin(2 * torch.pi * f0 * t)).diff(prepend=torch.zeros(1))
    r, theta = 0.97, 2 * math.pi * formant / sample_rate
    out = torch.from_numpy(  # a two-pole resonator
        lfilter([1.0], [1.0, -2 * r * math.cos(theta), r * r], pulses.numpy())).float()
    return 0.1 * out / out.abs().max()


def envelope_error(a, b):
    ea = voice_budget.envelopes(voice_budget._stft(a))
    eb = voice_budget.envelopes(voice_budget._stft(b))
    return (ea - eb).pow(2).mean().item()


def test_envelope_correction_moves_the_envelope_to_the_original():
    original, rebuilt = vowel(700.0), vowel(1400.0)
    before = envelope_error(rebuilt, original)
    frame_by_frame = envelope_error(voice_budget.correct_envelope(rebuilt, original, 8), original)
    assert frame_by_frame < 0.2 * before
    # a constant difference: the whole-utterance correction does as well, and so does the
    # long-term spectrum's
    whole = envelope_error(voice_budget.correct_envelope(rebuilt, original, 0), original)
    equalized = envelope_error(voice_budget.equalize(rebuilt, original), original)
    assert whole < 0.3 * before and equalized < 0.5 * before


def test_whole_utterance_correction_keeps_what_changes_within_it():
    # the rebuilt audio's formant jumps half way, the original's does not: one
    # correction for the utterance cannot fix both halves, a frame-by-frame one can
    original = torch.cat([vowel(700.0), vowel(700.0)])
    rebuilt = torch.cat([vowel(700.0), vowel(1400.0)])
    whole = envelope_error(voice_budget.correct_envelope(rebuilt, original, 0), original)
    local = envelope_error(voice_budget.correct_envelope(rebuilt, original, 40), original)
    assert local < 0.5 * whole


def band_error(a, b, band):
    """Envelope error of ``a`` against ``b`` on the bins of ``band`` (Hz) only."""
    mask = voice_budget.band_mask(band)[:, 0]
    ea = voice_budget.envelopes(voice_budget._stft(a))[:, mask]
    eb = voice_budget.envelopes(voice_budget._stft(b))[:, mask]
    return (ea - eb).pow(2).mean().item()


def test_band_correction_fixes_its_band_and_leaves_the_others():
    original, rebuilt = vowel(700.0), vowel(1400.0)
    low, high = (0, 1000), (2000, 8000)
    fixed = voice_budget.correct_envelope(rebuilt, original, 8, band=low)
    assert band_error(fixed, original, low) < 0.2 * band_error(rebuilt, original, low)
    assert band_error(fixed, rebuilt, high) < 0.05 * band_error(rebuilt, original, low)


def pitch_of(wav, sample_rate=16000):
    """Strongest autocorrelation lag between 2.5 and 12.5 ms, in Hz."""
    x = wav - wav.mean()
    ac = torch.fft.irfft(torch.fft.rfft(x, 2 * x.shape[0]).abs().pow(2))[: x.shape[0]]
    lo, hi = sample_rate // 400, sample_rate // 80
    return sample_rate / (lo + int(ac[lo:hi].argmax()))


def test_fine_structure_swap_takes_the_original_pitch_under_the_rebuilt_envelope():
    original, rebuilt = vowel(700.0, f0=200.0), vowel(1400.0, f0=120.0)
    everything = (0, 8001)
    swapped = voice_budget.swap_fine_structure(rebuilt, original, everything)
    assert abs(pitch_of(swapped) - 200.0) < 10.0 and abs(pitch_of(rebuilt) - 120.0) < 10.0
    assert band_error(swapped, rebuilt, everything) < 0.3 * band_error(
        original, rebuilt, everything)
    # outside the band nothing moves
    kept = voice_budget.swap_fine_structure(rebuilt, original, (7000, 8001))
    assert band_error(kept, rebuilt, (0, 6000)) < 0.01 * band_error(original, rebuilt, (0, 6000))


def test_smearing_an_envelope_changes_it_only_where_it_changes():
    steady = vowel(700.0)
    assert envelope_error(voice_budget.smear_envelope(steady, 104), steady) < 0.5
    jump = torch.cat([vowel(700.0), vowel(1800.0)])
    assert envelope_error(voice_budget.smear_envelope(jump, 104), jump) > envelope_error(
        voice_budget.smear_envelope(jump, 24), jump)


def test_variability_is_below_one_for_a_smoothed_envelope_and_one_for_the_original():
    jumps = torch.cat([vowel(formant, seconds=0.15) for formant in (700.0, 1800.0) * 6])
    same = voice_budget.variability(jumps, jumps)
    assert abs(same - 1.0).max() < 1e-4
    smoothed = voice_budget.variability(voice_budget.smear_envelope(jumps, 200), jumps)
    assert smoothed[1:9].mean() < 0.7


def test_voice_budget_report_on_a_tiny_model(tmp_path):
    pytest.importorskip("resemblyzer")
    model, _ = export_tiny(tiny_model(), str(tmp_path / "model"))
    source = write_example_source(str(tmp_path / "data"), num_speakers=2, utts_per_speaker=2)
    out = tmp_path / "report"
    assert voice_budget.main(["--model", f"tiny={model}", "--data", f"toy={source}",
                              "--codec2", "0", "--max-utterances", "3", "--bands",
                              "--output", str(out)]) == 0
    toy = json.loads((out / "voice_budget.json").read_text())["toy"]
    assert toy["_utterances"] == 3
    for column, _ in voice_budget.corrections(bands=True):
        assert -1.0 <= toy["tiny"][column] <= 1.0
    assert "same speaker, another utterance" in toy["_references"]
    report = (out / "voice_budget.md").read_text()
    assert "| envelope, 40 ms |" in report and "| fine structure, 0-1 kHz only |" in report
    assert "| coefficients 9-29 |" in report
    assert len(toy["_variability"]["tiny"]) == voice_budget.ENVELOPE_COEFFS
    if pytest.importorskip("matplotlib"):
        assert (out / "toy.png").stat().st_size > 1000
        assert (out / "toy_variability.png").stat().st_size > 1000


def test_voice_budget_names_a_missing_model(tmp_path, capsys):
    pytest.importorskip("resemblyzer")
    with pytest.raises(SystemExit) as err:
        voice_budget.main(["--model", f"x={tmp_path / 'nothing'}", "--data", str(tmp_path)])
    assert err.value.code == 2
    assert "nothing" in capsys.readouterr().err
