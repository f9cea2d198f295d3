"""The codec's pitch analysis: YIN, the tracked path through its candidates, the low-passed
band, padding, as the shipped configs build it."""

import math

import numpy as np
import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from scipy.signal import lfilter

from conftest import speechlike
from unicodec.lobes.pitch_tracker import ProsodyFeatures, track_pitch, yin

SHIPPED = ["hparams/models/unicodec_cpu.yaml", "hparams/models/unicodec.yaml"]


def shipped_prosody(config):
    with open(config) as f:
        return load_hyperpyyaml(f)["prosody"]


def pulses_with_a_period_doubling(start=0.46, end=0.52, f0=150.0, sample_rate=16000):
    """One second of a 150 Hz pulse train through a 500 Hz resonance; between ``start`` and
    ``end`` every other pulse is weaker (a brief creak: YIN hears 75 Hz there)."""
    period = sample_rate / f0
    source = np.zeros(sample_rate)
    for k in range(int(sample_rate / period) + 1):
        i = int(round(k * period))
        if i < sample_rate:
            source[i] = 0.3 if (start < i / sample_rate < end and k % 2) else 1.0
    r, theta = math.exp(-math.pi * 100 / sample_rate), 2 * math.pi * 500 / sample_rate
    wav = lfilter([1 - r], [1, -2 * r * math.cos(theta), r * r], source)
    return torch.tensor(0.5 * wav / np.abs(wav).max(), dtype=torch.float32)


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_tracker_goes_round_a_brief_octave_error(config):
    wav = pulses_with_a_period_doubling()[None]
    plain = ProsodyFeatures()(wav)["log_f0"][0].exp()
    tracked = shipped_prosody(config)(wav)["log_f0"][0].exp()
    # YIN alone takes the creak's double period: frames an octave low
    assert ((plain / 150 - 1).abs() > 0.2).sum() >= 2
    assert ((tracked / 150 - 1).abs() > 0.2).sum() == 0


def test_tracking_keeps_a_long_run_of_yins_picks():
    """An octave change that lasts is real: the path follows YIN there."""
    f0 = torch.tensor([100.0] * 10 + [200.0] * 15)
    candidates = torch.stack([f0, f0 / 2, f0 * 2], -1).log()[None]  # candidate 0: YIN's
    index = track_pitch(candidates, torch.zeros(1, 25, 3))
    assert index.eq(0).all()


def test_tracking_of_a_padded_batch_is_each_utterances_alone():
    torch.manual_seed(0)
    log_f0 = torch.rand(2, 30, 4).mul(2).add(4)
    cost = torch.rand(2, 30, 4)
    alone = track_pitch(log_f0[1:, :12], cost[1:, :12])
    # garbage past utterance 1's 12 frames
    batch = track_pitch(log_f0, cost, torch.tensor([30, 12]))
    assert torch.equal(batch[1, :12], alone[0])
    assert batch[1, 12:].eq(0).all()


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_analysis_of_a_padded_batch_is_each_utterances_alone(config):
    prosody = shipped_prosody(config)
    lengths = [16000, 9001, 4000]
    wavs = [speechlike(n, seed=20 + i) for i, n in enumerate(lengths)]
    batch = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    out = prosody(batch, torch.tensor(lengths) / batch.shape[1])
    for i, wav in enumerate(wavs):
        alone = prosody(wav[None])
        n = math.ceil(lengths[i] / 320)
        for key in ("log_f0", "periodicity", "log_energy", "features"):
            torch.testing.assert_close(out[key][i, :n], alone[key][0, :n], atol=1e-4, rtol=1e-4)
        assert torch.equal(out["voiced"][i, :n], alone["voiced"][0, :n])
        torch.testing.assert_close(out["stats"][i], alone["stats"][0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_analysis_finds_the_pitch_of_tones_and_no_voice_in_noise(config):
    prosody = shipped_prosody(config)
    t = torch.arange(16000) / 16000
    tones = torch.stack([
        sum(torch.sin(2 * math.pi * k * f * t) / k for k in range(1, 8)) * 0.3
        for f in (80.0, 150.0, 320.0)
    ])
    out = prosody(tones)
    assert out["voiced"][:, 2:-2].all()
    assert [round(v) for v in out["stats"][:, 0].exp().tolist()] == [80, 150, 320]
    noise = 0.3 * torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    assert prosody(noise)["voiced"].float().mean() < 0.1


def test_yin_is_the_tracked_paths_first_candidate_on_a_clean_tone():
    t = torch.arange(8000) / 16000
    wav = torch.sin(2 * math.pi * 210.0 * t)[None]
    f0, periodicity, _ = yin(wav)
    tracked = ProsodyFeatures(tracking=True, lowpass_hz=800.0)(wav)
    torch.testing.assert_close(tracked["log_f0"][0, 2:-2], f0[0, 2:-2].log(), atol=2e-3, rtol=0)
