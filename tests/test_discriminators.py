"""Tests of the discriminators and the adversarial losses."""

import math

import pytest
import torch
from speechbrain.lobes.models.HifiGAN import DiscriminatorP, HifiganDiscriminator

from unicodec.lobes.discriminators import (
    Discriminators,
    MultiPeriodDiscriminator,
    MultiResolutionSTFTDiscriminator,
    PeriodDiscriminator,
    STFTDiscriminator,
)
from unicodec.losses.adversarial import (
    DiscriminatorAdversarialLoss,
    FeatureMatchingLoss,
    GeneratorAdversarialLoss,
)

SMALL_MPD = dict(periods=[2, 3, 5, 7, 11], channels=[16, 32, 64, 128, 128])
SMALL_MRD = dict(n_ffts=[1024, 512, 256], channels=16)

# The parameter counts the docstrings of unicodec.lobes.discriminators state.
DEFAULT_MPD_PARAMS = 41_105_770
SMALL_MPD_PARAMS = 684_410
DEFAULT_MRD_PARAMS = 472_490
SMALL_MRD_PARAMS = 72_630


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def small_discriminators(**mrd_kwargs):
    return Discriminators(
        discriminators=[
            MultiPeriodDiscriminator(**SMALL_MPD),
            MultiResolutionSTFTDiscriminator(**{**SMALL_MRD, **mrd_kwargs}),
        ]
    )


def expected_period_score_size(length, period, n_layers, stride=3):
    rows = math.ceil(length / period)
    for _ in range(n_layers - 1):  # the last layer is not strided
        rows = math.ceil(rows / stride)
    return rows * period


def expected_stft_score_size(length, n_fft, n_dilations=3):
    frames = length // (n_fft // 4) + 1
    bins = n_fft // 2 + 1
    for _ in range(n_dilations):
        bins = math.ceil(bins / 2)
    return frames * bins


@pytest.fixture(scope="module")
def discs():
    torch.manual_seed(0)
    return small_discriminators()


@pytest.mark.parametrize("length", [700, 3001, 8000])
def test_output_structure_and_shapes(discs, length):
    batch = 3
    wav = torch.randn(batch, length)
    scores, feats = discs(wav)

    periods, n_ffts = SMALL_MPD["periods"], SMALL_MRD["n_ffts"]
    assert len(scores) == len(feats) == len(periods) + len(n_ffts)
    expected_sizes = [
        expected_period_score_size(length, p, len(SMALL_MPD["channels"])) for p in periods
    ] + [expected_stft_score_size(length, n_fft) for n_fft in n_ffts]
    expected_n_feats = [len(SMALL_MPD["channels"]) + 1] * len(periods) + [6] * len(n_ffts)
    for score, feat, size, n_feats in zip(scores, feats, expected_sizes, expected_n_feats):
        assert score.shape == (batch, size)
        assert torch.isfinite(score).all()
        assert len(feat) == n_feats
        assert all(f.dim() == 4 and f.shape[0] == batch for f in feat)
        # the score is the flattened last feature map
        assert torch.equal(feat[-1].flatten(1), score)


def test_channel_dimension_is_optional_and_items_are_independent(discs):
    wav = torch.randn(2, 2500)
    scores_2d, feats_2d = discs(wav)
    scores_3d, feats_3d = discs(wav.unsqueeze(1))
    scores_one, _ = discs(wav[1:])
    for s2, s3, s1 in zip(scores_2d, scores_3d, scores_one):
        assert torch.equal(s2, s3)
        assert torch.allclose(s2[1:], s1, atol=1e-5)
    assert all(torch.equal(a, b) for f2, f3 in zip(feats_2d, feats_3d) for a, b in zip(f2, f3))
    with pytest.raises(ValueError):
        discs(torch.randn(2, 2, 2500))


def test_single_discriminators_and_speechbrain_groups_combine():
    torch.manual_seed(0)
    combined = Discriminators(
        discriminators=[
            PeriodDiscriminator(period=3, channels=[4, 8]),
            STFTDiscriminator(n_fft=128, channels=4, representation="magnitude"),
            HifiganDiscriminator(),
        ]
    )
    scores, feats = combined(torch.randn(1, 2048))
    assert len(scores) == len(feats) == 2 + 8  # SpeechBrain's MPD and MSD hold 8
    assert scores[0].shape == (1, expected_period_score_size(2048, 3, 2))
    assert scores[1].shape == (1, expected_stft_score_size(2048, 128))


@pytest.mark.parametrize("representation", ["complex", "magnitude"])
def test_gradients_reach_every_parameter(representation):
    torch.manual_seed(0)
    model = small_discriminators(representation=representation)
    scores, feats = model(torch.randn(2, 3001))
    loss = sum(s.pow(2).mean() for s in scores) + sum(
        f.abs().mean() for fs in feats for f in fs
    )
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_stft_discriminator_layout_changes_no_score_or_gradient():
    """The convolutions run channels-last (faster on CPU): the scores, feature maps and
    gradients are those of the same convolutions on the default layout."""
    torch.manual_seed(0)
    disc = STFTDiscriminator(n_fft=256, channels=8)
    wav = torch.randn(3, 2000, requires_grad=True)
    score, feats = disc(wav)
    assert feats[0].is_contiguous(memory_format=torch.channels_last)
    grad = torch.autograd.grad(score.pow(2).sum(), wav)[0]

    def default_layout(wav):
        x = disc.spectrogram(wav).contiguous()
        maps = []
        for conv in disc.convs:
            x = torch.nn.functional.leaky_relu(conv(x), disc.negative_slope)
            maps.append(x)
        maps.append(disc.conv_post(x))
        return torch.flatten(maps[-1], 1, -1), maps

    reference, maps = default_layout(wav)
    torch.testing.assert_close(score, reference, rtol=1e-4, atol=1e-5)
    for feat, ref in zip(feats, maps, strict=True):
        torch.testing.assert_close(feat, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        grad, torch.autograd.grad(reference.pow(2).sum(), wav)[0], rtol=1e-4, atol=1e-5
    )


def test_parameter_counts_match_documentation():
    default_mpd = MultiPeriodDiscriminator()
    small_mpd = MultiPeriodDiscriminator(**SMALL_MPD)
    default_mrd = MultiResolutionSTFTDiscriminator()
    small_mrd = MultiResolutionSTFTDiscriminator(**SMALL_MRD)
    assert n_params(default_mpd) == DEFAULT_MPD_PARAMS
    assert n_params(small_mpd) == SMALL_MPD_PARAMS
    assert n_params(default_mrd) == DEFAULT_MRD_PARAMS
    assert n_params(small_mrd) == SMALL_MRD_PARAMS
    assert n_params(default_mpd) > 50 * n_params(small_mpd)
    assert n_params(default_mrd) > 5 * n_params(small_mrd)
    # With HiFi-GAN's widths, a period discriminator is SpeechBrain's DiscriminatorP.
    assert n_params(default_mpd.discriminators[0]) == n_params(DiscriminatorP(2))


def test_default_period_discriminator_shapes_match_speechbrain():
    torch.manual_seed(0)
    ours = PeriodDiscriminator(period=5)
    theirs = DiscriminatorP(5)
    wav = torch.randn(1, 1, 4000)
    score, feats = ours(wav)
    score_sb, feats_sb = theirs(wav)
    assert score.shape == score_sb.shape
    assert [f.shape for f in feats] == [f.shape for f in feats_sb]


@pytest.mark.parametrize("loss_type", ["mse", "hinge"])
def test_discriminator_loss_prefers_high_real_and_low_fake(loss_type):
    loss = DiscriminatorAdversarialLoss(loss_type=loss_type)
    high, low = [torch.ones(2, 7), torch.ones(2, 3)], [torch.zeros(2, 7), torch.zeros(2, 3)]
    good, good_real, good_fake = loss(scores_fake=low, scores_real=high)
    bad, bad_real, bad_fake = loss(scores_fake=high, scores_real=low)
    assert good < bad
    assert good_real < bad_real and good_fake < bad_fake
    assert torch.allclose(good, good_real + good_fake)
    # the gradient pushes real scores up and fake scores down
    real = torch.full((2, 5), 0.5, requires_grad=True)
    fake = torch.full((2, 5), 0.5, requires_grad=True)
    loss([fake], [real])[0].backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()


def test_discriminator_loss_parts_average_over_sub_discriminators():
    loss = DiscriminatorAdversarialLoss(loss_type="mse")
    scores_real = [torch.ones(1, 4), torch.zeros(1, 4)]  # real parts 0 and 1
    scores_fake = [torch.full((1, 4), 2.0), torch.zeros(1, 4)]  # fake parts 4 and 0
    total, real, fake = loss(scores_fake, scores_real)
    assert torch.allclose(real, torch.tensor(0.5))
    assert torch.allclose(fake, torch.tensor(2.0))
    assert torch.allclose(total, torch.tensor(2.5))
    total_sum, _, _ = DiscriminatorAdversarialLoss(reduction="sum")(scores_fake, scores_real)
    assert torch.allclose(total_sum, 2 * total)


@pytest.mark.parametrize("loss_type", ["mse", "hinge"])
def test_generator_loss_decreases_when_fake_scores_rise(loss_type):
    loss = GeneratorAdversarialLoss(loss_type=loss_type)
    values = [loss([torch.full((2, 5), s), torch.full((2, 3), s)]) for s in (-1.0, 0.0, 0.5, 0.9)]
    assert all(a > b for a, b in zip(values, values[1:]))
    fake = torch.zeros(2, 5, requires_grad=True)
    loss([fake]).backward()
    assert (fake.grad < 0).all()
    summed = GeneratorAdversarialLoss(loss_type=loss_type, reduction="sum")
    scores = [torch.randn(2, 5), torch.randn(2, 3)]
    assert torch.allclose(summed(scores), 2 * loss(scores))


def test_unknown_choices_are_refused():
    with pytest.raises(ValueError):
        GeneratorAdversarialLoss(loss_type="wasserstein")
    with pytest.raises(ValueError):
        DiscriminatorAdversarialLoss(reduction="max")
    with pytest.raises(ValueError):
        STFTDiscriminator(representation="phase")


@pytest.mark.parametrize("relative", [False, True])
def test_feature_matching_zero_on_identical_and_positive_otherwise(discs, relative):
    loss = FeatureMatchingLoss(relative=relative)
    torch.manual_seed(0)
    real = torch.sin(torch.linspace(0, 400, 3001)).repeat(2, 1)
    _, feats_real = discs(real)
    _, feats_same = discs(real.clone())
    _, feats_fake = discs(0.5 * torch.randn(2, 3001))
    assert loss(feats_same, feats_real) == 0
    assert loss(feats_fake, feats_real) > 0


def test_feature_matching_normalisation_and_targets():
    torch.manual_seed(0)
    real = [[torch.randn(2, 3, 8, 4), torch.randn(2, 1, 8, 4)], [torch.randn(2, 5, 6, 6)]]
    fake = [[torch.randn_like(f, requires_grad=True) for f in fs] for fs in real]
    real = [[f.clone().requires_grad_(True) for f in fs] for fs in real]
    plain = FeatureMatchingLoss()(fake, real)
    expected = torch.stack(
        [(a - b).abs().mean() for fs, rs in zip(fake, real) for a, b in zip(fs, rs)]
    ).mean()
    assert torch.allclose(plain, expected)
    # relative: invariant to scaling real and fake features together
    relative = FeatureMatchingLoss(relative=True)
    scaled = relative(
        [[10 * f for f in fs] for fs in fake], [[10 * f for f in fs] for fs in real]
    )
    assert torch.allclose(relative(fake, real), scaled, rtol=1e-5)
    assert not torch.allclose(plain, FeatureMatchingLoss()(
        [[10 * f for f in fs] for fs in fake], [[10 * f for f in fs] for fs in real]
    ))
    # real features are targets: no gradient flows into them
    (plain + relative(fake, real)).backward()
    assert all(f.grad is None for fs in real for f in fs)
    assert all(f.grad is not None for fs in fake for f in fs)
    with pytest.raises(ValueError):
        FeatureMatchingLoss()(fake, real[:1])


# The lowest discriminator loss reachable by scores that ignore the input.
BLIND_OPTIMUM = {"mse": 0.5, "hinge": 2.0}


@pytest.mark.parametrize("loss_type", ["mse", "hinge"])
def test_discriminator_training_separates_sine_from_noise(loss_type):
    torch.manual_seed(0)
    model = Discriminators(
        discriminators=[
            MultiPeriodDiscriminator(periods=[2, 3], channels=[8, 16, 16]),
            MultiResolutionSTFTDiscriminator(n_ffts=[128, 64], channels=8),
        ]
    )
    loss = DiscriminatorAdversarialLoss(loss_type=loss_type)
    time = torch.arange(2000) / 16000
    freqs = torch.tensor([220.0, 330.0, 440.0, 550.0]).unsqueeze(1)
    real = 0.5 * torch.sin(2 * math.pi * freqs * time)
    fake = 0.3 * torch.randn(4, 2000)

    def evaluate():
        with torch.no_grad():
            scores_real, _ = model(real)
            scores_fake, _ = model(fake)
            return loss(scores_fake, scores_real)[0].item(), scores_real, scores_fake

    before, _, _ = evaluate()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3, betas=(0.5, 0.9))
    for _ in range(15):
        scores_real, _ = model(real)
        scores_fake, _ = model(fake)
        optimizer.zero_grad()
        loss(scores_fake, scores_real)[0].backward()
        optimizer.step()
    after, scores_real, scores_fake = evaluate()
    assert after < 0.8 * before
    # better than any input-blind scoring: the discriminators tell sine from noise
    assert after < 0.8 * BLIND_OPTIMUM[loss_type]
    mean_real = torch.stack([s.mean() for s in scores_real]).mean()
    mean_fake = torch.stack([s.mean() for s in scores_fake]).mean()
    assert mean_real > mean_fake + 0.2
