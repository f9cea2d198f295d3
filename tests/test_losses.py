"""Tests of the reconstruction, distillation and disentanglement losses and supervised heads."""

import math

import pytest
import torch
import torch.nn.functional as F

from unicodec.losses.disentanglement import (
    CLUB,
    DecorrelationLoss,
    GradientReversal,
    SpeakerAdversary,
    align_s_to_p,
    gradient_reversal,
    masked_avg_pool,
)
from unicodec.losses.distillation import DistillationLoss
from unicodec.losses.reconstruction import MultiResolutionMelLoss, MultiResolutionSTFTLoss
from unicodec.losses.supervised import (
    PhoneClassifier,
    ProsodyRegression,
    ProsodyTargets,
    SpeakerClassifier,
)
from unicodec.features import frame_f0, frame_log_energy

SR = 16000


@pytest.fixture
def one_thread():
    """Small training loops run faster, and steadier on a busy machine, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def garbage_after(x, lengths, value=None, seed=1):
    """A copy of ``x`` ``[B, T, ...]`` with everything past each relative length replaced."""
    gen = torch.Generator().manual_seed(seed)
    out = x.detach().clone()
    for i, rel in enumerate(lengths.tolist()):
        start = math.ceil(rel * x.shape[1] - 1e-6)
        noise = torch.randn(out[i, start:].shape, generator=gen) * 10
        out[i, start:] = noise if value is None else value
    return out


def tone(freq, seconds=1.0, amplitude=0.3, harmonics=1):
    t = torch.arange(int(SR * seconds)) / SR
    wav = sum(torch.sin(2 * math.pi * k * freq * t) / k for k in range(1, harmonics + 1))
    return amplitude * wav


# ----------------------------------------------------------------------------- reconstruction


@pytest.mark.parametrize("loss_class", [MultiResolutionMelLoss, MultiResolutionSTFTLoss])
def test_reconstruction_zero_on_identical_and_padding_invariant(loss_class):
    loss = loss_class()
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 12000, generator=gen)
    pred = target + 0.3 * torch.randn(3, 12000, generator=gen)
    lengths = torch.tensor([1.0, 0.7, 0.45])
    assert loss(target, target, lengths).item() == pytest.approx(0.0, abs=1e-6)
    value = loss(pred, target, lengths)
    assert value > 0.05
    changed = loss(garbage_after(pred, lengths), garbage_after(target, lengths, seed=2), lengths)
    torch.testing.assert_close(changed, value)
    # no lengths: everything counts
    torch.testing.assert_close(loss(pred, target), loss(pred, target, torch.ones(3)))


@pytest.mark.parametrize("loss_class", [MultiResolutionMelLoss, MultiResolutionSTFTLoss])
def test_reconstruction_gradients_finite_and_ordering(loss_class):
    loss = loss_class()
    target = tone(200.0, 0.5)[None].repeat(2, 1)
    pred = target.clone().requires_grad_(True)
    loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all()
    # closer predictions cost less
    near = loss(target + 0.01 * torch.randn_like(target), target)
    far = loss(target + 0.3 * torch.randn_like(target), target)
    assert near < far


def test_mel_loss_measures_log_ratio():
    loss = MultiResolutionMelLoss(n_ffts=(512, 1024), n_mels=64)
    target = torch.randn(2, 16000)
    assert loss(0.5 * target, target).item() == pytest.approx(math.log(2.0), rel=1e-3)


def test_stft_loss_components():
    loss = MultiResolutionSTFTLoss(n_ffts=(256, 512), sc_weight=2.0, mag_weight=0.5)
    target = torch.randn(2, 8000)
    parts = loss.components(0.5 * target, target)
    # |S - S/2| / |S| = 1/2 ; |log S - log S/2| = log 2
    assert parts["spectral_convergence"].item() == pytest.approx(0.5, rel=1e-3)
    assert parts["magnitude"].item() == pytest.approx(math.log(2.0), rel=1e-3)
    assert loss(0.5 * target, target).item() == pytest.approx(1.0 + 0.5 * math.log(2.0), rel=1e-3)


# ----------------------------------------------------------------------------- distillation


@pytest.mark.parametrize("axis", ["time", "dim"])
def test_distillation_minimal_on_identical(axis):
    teacher = torch.randn(2, 30, 16)
    linear = DistillationLoss(input_size=None, teacher_size=16, axis=axis, cosine="linear")
    assert linear(teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)
    logsig = DistillationLoss(input_size=None, teacher_size=16, axis=axis)
    floor = math.log(1 + math.exp(-1.0))
    assert logsig(teacher, teacher).item() == pytest.approx(floor, abs=1e-5)
    assert logsig(torch.randn(2, 30, 16), teacher).item() > floor + 0.3


@pytest.mark.parametrize("axis", ["time", "dim"])
def test_distillation_padding_invariant(axis):
    loss = DistillationLoss(input_size=12, teacher_size=16, axis=axis)
    s, teacher = torch.randn(3, 40, 12), torch.randn(3, 40, 16)
    lengths = torch.tensor([1.0, 0.5, 0.26])
    value = loss(s, teacher, lengths)
    changed = loss(garbage_after(s, lengths), garbage_after(teacher, lengths, seed=3), lengths)
    torch.testing.assert_close(changed, value)
    # a teacher one frame longer is cut to S's length
    longer = torch.cat([teacher, torch.randn(3, 1, 16)], dim=1)
    torch.testing.assert_close(loss(s, longer, lengths), value)


def test_distillation_dim_axis_ignores_per_dimension_scale():
    teacher = torch.randn(2, 50, 8)
    scaled = teacher * torch.linspace(0.5, 3.0, 8)
    d_axis = DistillationLoss(None, 8, axis="dim", l1_weight=0.0, cosine="linear")
    t_axis = DistillationLoss(None, 8, axis="time", l1_weight=0.0, cosine="linear")
    assert d_axis(scaled, teacher).item() == pytest.approx(0.0, abs=1e-5)
    assert t_axis(scaled, teacher).item() > 1e-3


@pytest.mark.parametrize("axis", ["time", "dim"])
def test_distillation_steps_lower_loss(axis, one_thread):
    torch.manual_seed(0)
    teacher = torch.randn(2, 40, 16)
    s = torch.randn(2, 40, 24, requires_grad=True)
    loss = DistillationLoss(input_size=24, teacher_size=16, axis=axis)
    optimizer = torch.optim.Adam([s, *loss.parameters()], lr=0.05)
    lengths = torch.tensor([1.0, 0.7])
    first = loss(s, teacher, lengths).item()
    for _ in range(40):
        optimizer.zero_grad()
        value = loss(s, teacher, lengths)
        value.backward()
        optimizer.step()
    assert value.item() < 0.6 * first
    assert loss.projection.weight.grad is not None


def test_distillation_teacher_gets_no_gradient():
    teacher = torch.randn(1, 10, 8, requires_grad=True)
    DistillationLoss(4, 8)(torch.randn(1, 10, 4), teacher).backward()
    assert teacher.grad is None


# ----------------------------------------------------------------------------- gradient reversal


@pytest.mark.parametrize("scale", [1.0, 0.5, 3.0])
def test_gradient_reversal_flips_and_scales(scale):
    x = torch.randn(4, 6, requires_grad=True)
    weights = torch.randn(4, 6)
    (gradient_reversal(x, scale) * weights).sum().backward()
    torch.testing.assert_close(x.grad, -scale * weights)
    y = torch.randn(4, 6, requires_grad=True)
    layer = GradientReversal(scale)
    out = layer(y)
    torch.testing.assert_close(out, y)
    (out * weights).sum().backward()
    torch.testing.assert_close(y.grad, -scale * weights)


# ----------------------------------------------------------------------------- speaker adversary


def speaker_data(seed=0, speakers=4, per_speaker=4, frames=30, dim=8):
    """S frames carrying a speaker offset."""
    gen = torch.Generator().manual_seed(seed)
    centres = 2.0 * torch.randn(speakers, dim, generator=gen)
    ids = torch.arange(speakers).repeat_interleave(per_speaker)
    s = centres[ids][:, None, :] + torch.randn(len(ids), frames, dim, generator=gen)
    return s, ids


def test_speaker_adversary_reverses_encoder_gradient():
    torch.manual_seed(0)
    s, ids = speaker_data()
    lengths = torch.rand(len(ids)) * 0.5 + 0.5
    adversary = SpeakerAdversary(input_size=8, num_speakers=4, hidden_size=32, grl_scale=0.5)
    s1 = s.clone().requires_grad_(True)
    adversary(s1, ids, lengths).backward()
    # reference: the same classifier without reversal
    s2 = s.clone().requires_grad_(True)
    adversary.grl.scale = -1.0  # -(-1) = identity gradient
    adversary(s2, ids, lengths).backward()
    torch.testing.assert_close(s1.grad, -0.5 * s2.grad)
    # padding does not matter
    adversary.grl.scale = 1.0
    torch.testing.assert_close(
        adversary(garbage_after(s, lengths), ids, lengths), adversary(s, ids, lengths)
    )


def test_speaker_adversary_classifier_learns_and_encoder_hides(one_thread):
    torch.manual_seed(0)
    s, ids = speaker_data()
    adversary = SpeakerAdversary(input_size=8, num_speakers=4, hidden_size=32)
    optimizer = torch.optim.Adam(adversary.parameters(), lr=0.01)
    start = adversary(s, ids).item()
    for _ in range(20):
        optimizer.zero_grad()
        adversary(s, ids).backward()
        optimizer.step()
    trained = adversary(s, ids).item()
    assert trained < 0.1 * start
    # descending the total loss on S (through the reversal) raises the speaker loss
    s_param = s.clone().requires_grad_(True)
    s_optimizer = torch.optim.Adam([s_param], lr=0.1)
    for _ in range(20):
        s_optimizer.zero_grad()
        adversary(s_param, ids).backward()
        s_optimizer.step()
    assert adversary(s_param, ids).item() > start


# ----------------------------------------------------------------------------- S-P alignment


def test_masked_avg_pool_and_alignment():
    x = torch.arange(6.0).view(1, 6, 1)
    mask = torch.tensor([[True, True, True, False, False, False]])
    pooled, pooled_mask = masked_avg_pool(x, mask, 2)
    assert pooled[0, :, 0].tolist() == [0.5, 2.0, 0.0]
    assert pooled_mask.tolist() == [[True, True, False]]
    lengths = torch.tensor([1.0, 0.5])
    s, p, mask = align_s_to_p(torch.randn(2, 51, 4), torch.randn(2, 25, 3), lengths)
    assert s.shape == (2, 25, 4) and p.shape == (2, 25, 3)
    assert mask.sum(1).tolist() == [25, 13]


# ----------------------------------------------------------------------------- CLUB


def club_data(dependent, seed, utterances=8, frames=40):
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn(utterances, 2 * frames, 6, generator=gen)
    if dependent:
        pooled = 0.5 * (s[:, 0::2] + s[:, 1::2])
        p = pooled[..., :3] * 1.5 + 0.3 * torch.randn(utterances, frames, 3, generator=gen)
    else:
        p = torch.randn(utterances, frames, 3, generator=gen)
    return s, p


def train_club(dependent, steps=300):
    torch.manual_seed(0)
    club = CLUB(s_size=6, p_size=3, hidden_size=32, rate_ratio=2)
    optimizer = torch.optim.Adam(club.parameters(), lr=3e-3)
    lengths = torch.tensor([1.0, 0.9, 0.8, 0.7, 1.0, 0.6, 0.95, 0.5])
    for step in range(steps):
        s, p = club_data(dependent, seed=step)
        optimizer.zero_grad()
        club.learning_loss(s, p, lengths).backward()
        optimizer.step()
    s, p = club_data(dependent, seed=10_000)
    with torch.no_grad():
        return club, club(s, p, lengths).item(), (s, p, lengths)


def test_club_bound_larger_for_dependent_pairs(one_thread):
    _, dependent, _ = train_club(True)
    _, independent, _ = train_club(False)
    # true I(S; P): 3 dims of signal variance 1.125 over noise 0.09, 3 * 0.5 * log(13.5) = 3.9
    # nats, which CLUB bounds from above
    assert dependent > 3.0
    assert abs(independent) < 0.2
    assert dependent > independent + 1.0


def test_club_gradients_kept_apart_and_padding_invariant(one_thread):
    club, _, (s, p, lengths) = train_club(True, steps=5)
    club.zero_grad(set_to_none=True)
    s = s.clone().requires_grad_(True)
    p = p.clone().requires_grad_(True)
    club(s, p, lengths).backward()
    assert s.grad.abs().sum() > 0 and p.grad.abs().sum() > 0
    assert all(param.grad is None for param in club.parameters())
    s.grad = p.grad = None
    club.learning_loss(s, p, lengths).backward()
    assert s.grad is None and p.grad is None
    assert all(param.grad is not None for param in club.parameters())
    with torch.no_grad():
        torch.testing.assert_close(
            club(garbage_after(s, lengths), garbage_after(p, lengths, seed=4), lengths),
            club(s, p, lengths),
        )
        torch.testing.assert_close(
            club.learning_loss(
                garbage_after(s, lengths), garbage_after(p, lengths, seed=5), lengths
            ),
            club.learning_loss(s, p, lengths),
        )


def test_club_estimate_does_not_change_with_scale_and_is_never_negative(one_thread):
    """The encoder cannot lower the bound by growing P (or S): the estimate is that of
    standardised streams; and a q that fits worse than the marginal gives no negative
    estimate to chase."""
    club, _, (s, p, lengths) = train_club(True, steps=50)
    scale = torch.tensor(1.0, requires_grad=True)
    estimate = club(s, scale * 10 * p + 3, lengths)
    estimate.backward()
    assert abs(scale.grad.item()) < 1e-4
    with torch.no_grad():
        torch.testing.assert_close(estimate, club(s, p, lengths), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(club(0.1 * s, p, lengths), club(s, p, lengths), rtol=5e-3, atol=0)
        # P that goes against what q predicts: a lagging q's bound would be negative
        assert club(s, -p, lengths).item() == 0.0


# ----------------------------------------------------------------------------- decorrelation


def test_decorrelation_loss():
    s, p_dependent = club_data(True, seed=0)
    _, p_independent = club_data(False, seed=0)
    loss = DecorrelationLoss(rate_ratio=2)
    lengths = torch.rand(s.shape[0]) * 0.5 + 0.5
    assert loss(s, p_independent, lengths).item() < 0.02
    assert loss(s, p_dependent, lengths).item() > 0.1
    torch.testing.assert_close(
        loss(garbage_after(s, lengths), garbage_after(p_dependent, lengths), lengths),
        loss(s, p_dependent, lengths),
    )


# ----------------------------------------------------------------------------- F0 and energy


@pytest.mark.parametrize("freq", [150.0, 220.0])
@pytest.mark.parametrize("harmonics", [1, 12])
def test_f0_of_synthetic_tone(freq, harmonics):
    wav = tone(freq, seconds=1.0, harmonics=harmonics)[None]
    f0, voiced = frame_f0(wav, sample_rate=SR, hop_length=320)
    assert f0.shape == (1, 50)
    assert voiced[0, 2:-2].all()
    assert ((f0[voiced] - freq).abs() / freq).max() < 0.02


def test_f0_high_voice_and_range_ends():
    for freq in (70.0, 400.0):
        wav = tone(freq, harmonics=8)[None]
        f0, voiced = frame_f0(wav)
        assert voiced[0, 3:-3].all()
        assert ((f0[voiced] - freq).abs() / freq).max() < 0.02


def test_f0_unvoiced_noise_silence_and_padding():
    gen = torch.Generator().manual_seed(0)
    noise = 0.3 * torch.randn(1, 16000, generator=gen)
    assert frame_f0(noise)[1].float().mean() < 0.1
    assert not frame_f0(torch.zeros(1, 16000))[1].any()
    # a tone padded with another tone: padding frames unvoiced, valid ones unchanged
    wav = torch.stack([tone(150.0), torch.cat([tone(220.0, 0.5), tone(400.0, 0.5)])])
    lengths = torch.tensor([1.0, 0.5])
    f0, voiced = frame_f0(wav, lengths)
    alone, _ = frame_f0(tone(220.0, 0.5)[None])
    assert not voiced[1, 25:].any()
    torch.testing.assert_close(f0[1, :25], alone[0])


def test_log_energy():
    wav = torch.cat([torch.zeros(1, 3200), 0.5 * torch.ones(1, 3200)], dim=1)
    energy = frame_log_energy(wav, hop_length=320)
    assert energy.shape == (1, 20)
    assert energy[0, 12:].exp().tolist() == pytest.approx([0.25] * 8, rel=1e-4)
    assert energy[0, :9].max() < -15
    lengths = torch.tensor([0.5])
    padded = frame_log_energy(garbage_after(wav[..., None], lengths)[..., 0], lengths, 320)
    torch.testing.assert_close(padded[0, :10], frame_log_energy(wav[:, :3200], hop_length=320)[0])


def test_prosody_targets_at_p_rate():
    wav = torch.stack([tone(150.0), 2.0 * tone(150.0)])
    log_f0, voiced, log_energy = ProsodyTargets(sample_rate=SR, hop_length=640)(wav)
    assert log_f0.shape == voiced.shape == log_energy.shape == (2, 25)
    assert voiced[:, 1:-1].all()
    assert log_f0[voiced].sub(math.log(150.0)).abs().max() < 0.02
    # four times the power: log-energy up by log 4
    diff = (log_energy[1] - log_energy[0])[2:-2]
    assert diff.sub(math.log(4.0)).abs().max() < 1e-3


# ----------------------------------------------------------------------------- supervised heads


def test_prosody_regression_masks_and_learns(one_thread):
    torch.manual_seed(0)
    batch, frames = 4, 25
    log_f0 = 5 + 0.3 * torch.randn(batch, frames)
    log_energy = torch.randn(batch, frames)
    voiced = torch.rand(batch, frames) > 0.3
    lengths = torch.tensor([1.0, 0.8, 0.6, 0.4])
    p = torch.randn(batch, frames, 8)
    head = ProsodyRegression(input_size=8)
    value = head(p, log_f0, voiced, log_energy, lengths)
    # unvoiced F0 values and anything past the lengths do not matter
    other_f0 = torch.where(voiced, log_f0, torch.full_like(log_f0, 99.0))
    torch.testing.assert_close(head(p, other_f0, voiced, log_energy, lengths), value)
    torch.testing.assert_close(
        head(garbage_after(p, lengths), garbage_after(log_f0, lengths),
             voiced, garbage_after(log_energy, lengths), lengths),
        value,
    )
    # P that carries the (standardised) contour lets the head fit it
    standard_f0 = (log_f0 - log_f0.mean(1, keepdim=True)) / log_f0.std(1, keepdim=True)
    standard_e = (log_energy - log_energy.mean(1, keepdim=True)) / log_energy.std(1, keepdim=True)
    informative = torch.cat([standard_f0[..., None], standard_e[..., None], p[..., :6]], dim=-1)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    start = head(informative, log_f0, voiced, log_energy).item()
    for _ in range(100):
        optimizer.zero_grad()
        loss = head(informative, log_f0, voiced, log_energy)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * start


def test_speaker_classifier_on_g(one_thread):
    torch.manual_seed(0)
    g = torch.randn(6, 16)
    ids = torch.tensor([0, 1, 2, 0, 1, 2])
    head = SpeakerClassifier(input_size=16, num_speakers=3)
    torch.testing.assert_close(head(g, ids), F.cross_entropy(head.logits(g), ids))
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    start = head(g, ids).item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = head(g, ids)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * start


def test_phone_classifier_ignores_padding():
    torch.manual_seed(0)
    s = torch.randn(2, 20, 8)
    phones = torch.randint(0, 5, (2, 20))
    phones[0, 3] = -100  # an unaligned frame
    lengths = torch.tensor([1.0, 0.5])
    head = PhoneClassifier(input_size=8, num_phones=5)
    value = head(s, phones, lengths)
    logits = head.classifier(s)
    keep = torch.ones(2, 20, dtype=torch.bool)
    keep[0, 3] = False
    keep[1, 10:] = False
    torch.testing.assert_close(value, F.cross_entropy(logits[keep], phones[keep]))
    changed_s = garbage_after(s, lengths)
    changed_s[0, 3] = 100.0
    changed_phones = garbage_after(phones, lengths, value=3)
    torch.testing.assert_close(head(changed_s, changed_phones, lengths), value)
    # targets one frame short: the extra S frame is left out
    torch.testing.assert_close(head(s[:, :20], phones[:, :19]), head(s[:, :19], phones[:, :19]))


def test_losses_build_from_yaml():
    from hyperpyyaml import load_hyperpyyaml

    hparams = load_hyperpyyaml(
        """
        mel_loss: !new:unicodec.losses.reconstruction.MultiResolutionMelLoss
            sample_rate: 16000
            n_ffts: [256, 512]
            n_mels: 40
        stft_loss: !new:unicodec.losses.reconstruction.MultiResolutionSTFTLoss
            n_ffts: [256, 512]
        distill: !new:unicodec.losses.distillation.DistillationLoss
            input_size: 8
            teacher_size: 16
            axis: dim
        adversary: !new:unicodec.losses.disentanglement.SpeakerAdversary
            input_size: 8
            num_speakers: 3
            grl_scale: 0.5
        club: !new:unicodec.losses.disentanglement.CLUB
            s_size: 8
            p_size: 4
        prosody_targets: !new:unicodec.losses.supervised.ProsodyTargets
            hop_length: 640
        """
    )
    assert hparams["adversary"].grl.scale == 0.5
    assert hparams["distill"].axis == "dim"
    wav = torch.randn(2, 4000)
    assert hparams["mel_loss"](wav, wav).item() == 0.0


@pytest.mark.parametrize("loss_class", [MultiResolutionMelLoss, MultiResolutionSTFTLoss])
def test_reconstruction_padded_equals_alone(loss_class):
    """Zero padding of any amount leaves the loss of an utterance (nearly) as it was alone.

    Only the last frames differ: alone, the STFT reflects the signal at its end.
    """
    loss = loss_class()
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(1, 8000, generator=gen)
    pred = target + 0.5 * torch.randn(1, 8000, generator=gen)
    alone = loss(pred, target)
    for pad in (4000, 16000):
        lengths = torch.tensor([8000 / (8000 + pad)])
        padded = loss(F.pad(pred, (0, pad)), F.pad(target, (0, pad)), lengths)
        assert padded.item() == pytest.approx(alone.item(), rel=0.03)
