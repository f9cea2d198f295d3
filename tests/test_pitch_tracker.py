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


@pytest.mark.parametrize("unvoiced_cost", [None, 0.6])
def test_tracking_of_a_padded_batch_is_each_utterances_alone(unvoiced_cost):
    torch.manual_seed(0)
    log_f0 = torch.rand(2, 30, 4).mul(2).add(4)
    cost = torch.rand(2, 30, 4)
    loud = torch.rand(2, 30) > 0.2
    kwargs = dict(unvoiced_cost=unvoiced_cost)
    alone = track_pitch(log_f0[1:, :12], cost[1:, :12], loud=loud[1:, :12], **kwargs)
    # garbage past utterance 1's 12 frames
    batch = track_pitch(log_f0, cost, torch.tensor([30, 12]), loud=loud, **kwargs)
    assert torch.equal(batch[1, :12], alone[0])
    assert batch[1, 12:].eq(0).all()
    if unvoiced_cost is not None:  # quiet frames are unvoiced
        assert batch[~loud].eq(4).logical_or(batch[~loud].eq(0)).all()
        assert batch[0][~loud[0]].eq(4).all()


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


def test_a_voiced_run_after_a_pause_starts_at_its_own_pitch():
    """Through a pause the path may be unvoiced, so a run's first frames are not dragged
    to the previous run's pitch (real speech: a 170 Hz onset read an octave low)."""
    f0 = torch.tensor([100.0] * 10 + [300.0] * 5 + [200.0] * 15)
    candidates = torch.stack([f0, f0 / 2, f0 * 2], -1)
    candidates[10:15, 1] = 100.0  # the pause has a poor dip at the previous pitch
    cost = torch.tensor([[0.0, 0.1, 0.1]] * 10 + [[0.8] * 3] * 5 + [[0.45, 0.3, 0.4]] * 2
                        + [[0.0, 0.2, 0.2]] * 13)
    log_f0, cost = candidates.log()[None], cost[None]
    dragged = track_pitch(log_f0, cost)[0]
    assert dragged[15:17].eq(1).all()  # without the state: 100 Hz at the onset
    path = track_pitch(log_f0, cost, unvoiced_cost=0.6, voicing_cost=0.5)[0]
    assert path[10:15].eq(3).all() and path[15:].eq(0).all() and path[:10].eq(0).all()


def breathy_vowel(noise, f0=150.0, sample_rate=16000):
    """One second of a pulse train through a 500 Hz resonance, with ``noise`` (times the
    pulses' height) added to the source from 0.44 s to 0.56 s."""
    source = np.zeros(sample_rate)
    source[np.round(np.arange(0, sample_rate, sample_rate / f0)).astype(int)] = 1.0
    middle = (np.arange(sample_rate) > 7000) & (np.arange(sample_rate) < 9000)
    rng = np.random.default_rng(0)
    source = source + noise * middle * rng.standard_normal(sample_rate)
    r, theta = math.exp(-math.pi * 100 / sample_rate), 2 * math.pi * 500 / sample_rate
    wav = lfilter([1 - r], [1, -2 * r * math.cos(theta), r * r], source)
    return torch.tensor(0.5 * wav / np.abs(wav).max(), dtype=torch.float32)[None]


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_analysis_keeps_a_breathy_stretch_voiced_at_its_pitch(config):
    prosody = shipped_prosody(config)
    slightly = prosody(breathy_vowel(0.1))
    # periodicity dips under the threshold there, but the path stays voiced
    assert slightly["periodicity"][0, 20:30].min() < prosody.voicing_threshold
    assert slightly["voiced"][0, 2:-2].all()
    # noisier: may go unvoiced, but no frame leaves the pitch
    for out in (slightly, prosody(breathy_vowel(0.3))):
        assert ((out["log_f0"][0].exp() / 150 - 1).abs() < 0.05).all()


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
