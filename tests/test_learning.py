"""What the shipped models learn: gradients reach the encoder through every stream, the
residual VQ passes gradients unchanged, a bf16 training step runs, and a briefly trained
tiny codec puts F0 into P."""

import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from conftest import speechlike

ROOT = os.path.join(os.path.dirname(__file__), "..")
SHIPPED = [
    "hparams/models/unicodec_cpu.yaml",
    "hparams/models/unicodec.yaml",
    "hparams/models/baseline_cpu.yaml",
]


def load_shipped(path):
    with open(os.path.join(ROOT, path)) as f:
        return load_hyperpyyaml(f)


def batch(seconds=1.28, size=2):
    n = int(seconds * 16000)
    return torch.stack([speechlike(n, seed) for seed in range(size)]), torch.tensor([1.0, 0.8])


def _grad_norm(output, module):
    params = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(output, params, retain_graph=True, allow_unused=True)
    return sum(float(g.norm()) for g in grads if g is not None)


@pytest.mark.parametrize("config", SHIPPED)
def test_every_stream_sends_a_gradient_to_its_encoder(config):
    torch.manual_seed(0)
    codec = load_shipped(config)["codec"].train()
    wav, lens = batch()
    out = codec(wav, lens, reference=wav.flip(1), reference_lens=lens)
    q = out.quantized
    assert _grad_norm(q.semantic.pow(2).sum(), codec.encoder) > 0, "S"
    assert _grad_norm(q.paralinguistic.pow(2).sum(), codec.encoder) > 0, "P"
    if codec.quantizer.has_global:
        assert _grad_norm(q.global_vector.pow(2).sum(), codec.global_encoder) > 0, "G"
    # the waveform's gradient reaches the encoder through P alone too
    assert _grad_norm(out.wav.pow(2).sum(), codec.encoder) > 0


@pytest.mark.parametrize("config", SHIPPED)
def test_residual_vq_straight_through_gradient_is_the_identity(config):
    torch.manual_seed(0)
    quantizer = load_shipped(config)["quantizer"].train()
    streams = [quantizer.semantic_quantizer, quantizer.paralinguistic_quantizer]
    if quantizer.has_global:
        streams.append(quantizer.global_quantizer)
    # a PitchLevelQuantizer's level token is a fixed scalar code: its VQ part is learned
    for rvq in [getattr(stream, "vectors", stream) for stream in streams]:
        for _ in range(4):  # quantizer dropout keeps 1..K stages in some batches
            x = torch.randn(2, 6, rvq.input_dim, requires_grad=True)
            weight = torch.randn(2, 6, rvq.input_dim)
            quantized, _, _ = rvq(x)
            (grad,) = torch.autograd.grad((quantized * weight).sum(), x)
            torch.testing.assert_close(grad, weight)


@pytest.mark.parametrize("config", SHIPPED[:2])
def test_shipped_decoders_take_the_pitch_from_the_tokens(config):
    """Untrained, UniCodec's source F0 already follows the input's: G's level token plus
    P's contour token, not a learned guess."""
    torch.manual_seed(0)
    codec = load_shipped(config)["codec"].eval()
    wav, _ = pitch_sweeps(2, 1.28, torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = codec(wav)
    voiced = out.prosody["voiced"]
    error = (out.pitch[..., 0] - out.prosody["log_f0"])[voiced].abs()
    cents = 1200 / torch.log(torch.tensor(2.0)) * error
    assert voiced.float().mean() > 0.8
    assert float(cents.median()) < 40, float(cents.median())


@pytest.mark.parametrize("config", SHIPPED[:2])
def test_shipped_frame_tokens_do_not_depend_on_the_input_level(config):
    """S (the words) and P (the contour) are the same at any loudness: the frame encoder
    sees the waveform divided by its RMS, and only G, which sees it as it is, holds the
    level."""
    torch.manual_seed(0)
    codec = load_shipped(config)["codec"].eval()
    wav, _ = batch(seconds=1.28, size=1)
    with torch.no_grad():
        loud, quiet = codec.encode(wav), codec.encode(0.1 * wav)
        assert torch.equal(loud.semantic_tokens, quiet.semantic_tokens)
        assert torch.equal(loud.paralinguistic_tokens, quiet.paralinguistic_tokens)
        g_loud = codec.global_encoder(wav, torch.ones(1))
        g_quiet = codec.global_encoder(0.1 * wav, torch.ones(1))
    assert not torch.allclose(g_loud, g_quiet, atol=1e-3)


def test_bf16_autocast_training_step_runs_on_cpu():
    torch.manual_seed(0)
    hparams = load_shipped("hparams/models/unicodec_cpu.yaml")
    codec = hparams["codec"].train()
    from unicodec.losses.reconstruction import MultiResolutionMelLoss

    mel = MultiResolutionMelLoss()
    wav, lens = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = codec(wav, lens, reference=wav, reference_lens=lens)
        loss = mel(out.wav, wav, lens) + sum(out.quantized.losses.values())
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in codec.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


PITCH_MODEL_YAML = """\
# the structure of hparams/models/unicodec_cpu.yaml, tiny, without G's spectrum tokens
prosody: !new:unicodec.lobes.pitch_tracker.ProsodyFeatures
global_encoder: !new:unicodec.lobes.global_encoder.GlobalEncoder
    n_mels: 40
    dim: 32
    num_blocks: 1
    attention_channels: 16
    output_dim: 16
    pitch_stats: !ref <prosody>
    pitch_level: True
codec: !new:unicodec.lobes.codec.UniCodec
    encoder: !new:unicodec.lobes.encoder.Encoder
        dim: 32
        intermediate_dim: 64
        num_blocks: 1
        num_transformer_layers: 0
        output_dim: 24
        level_invariant: True
    global_encoder: !ref <global_encoder>
    quantizer: !new:unicodec.lobes.multiscale_quantizer.MultiScaleQuantizer
        frame_dim: 24
        prosody_dim: 3
        pitch_token: True
        global_quantizer: !new:unicodec.lobes.pitch_quantizer.PitchLevelQuantizer
            input_dim: 17
            num_quantizers: 2
            codebook_size: 16
        semantic_quantizer: !new:unicodec.lobes.quantizers.ResidualVectorQuantizer
            input_dim: 24
            num_quantizers: 1
            codebook_size: 32
        paralinguistic_quantizer: !new:unicodec.lobes.pitch_quantizer.PitchLevelQuantizer
            input_dim: 25
            num_quantizers: 1
            codebook_size: 64
            log_f0_min: -1.0
            log_f0_max: 1.0
            center: 0.0
    decoder: !new:unicodec.lobes.decoder.FusionDecoder
        input_dim: 24
        paralinguistic_dim: 25
        global_dim: 17
        dim: 32
        intermediate_dim: 64
        num_blocks: 2
        explicit_pitch: True
        source: !new:unicodec.lobes.harmonic_source.HarmonicSource
    prosody: !ref <prosody>
    teacher_forcing: 0.5
"""


def pitch_sweeps(batch_size, seconds, generator):
    """Harmonic tones whose F0 glides between random values (90-320 Hz), and that F0."""
    import math

    n = int(seconds * 16000)
    t = torch.arange(n) / 16000
    start = 90 * 2 ** (1.8 * torch.rand(batch_size, 1, generator=generator))
    end = 90 * 2 ** (1.8 * torch.rand(batch_size, 1, generator=generator))
    f0 = start * (end / start) ** (t / seconds)
    phase = 2 * math.pi * torch.cumsum(f0, 1) / 16000
    wav = sum(torch.sin(k * phase) / k for k in range(1, 8)) * 0.1
    wav = wav * (0.6 + 0.4 * torch.sin(2 * math.pi * 3 * t))
    return wav, f0


def _ridge_r2(x, y, ridge=1e-3):
    """R^2 on the second half of a ridge regression fitted on the first half."""
    half = x.shape[0] // 2
    x = torch.cat([x, torch.ones(x.shape[0], 1)], 1)
    a, b = x[:half], y[:half]
    w = torch.linalg.solve(a.T @ a + ridge * torch.eye(a.shape[1]), a.T @ b)
    pred = x[half:] @ w
    return float(1 - (pred - y[half:]).pow(2).sum() / (y[half:] - y[half:].mean()).pow(2).sum())


def _train_pitch_codec(steps=60):
    from unicodec.losses.reconstruction import MultiResolutionMelLoss
    from unicodec.losses.supervised import PitchLoss

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    codec = load_hyperpyyaml(PITCH_MODEL_YAML)["codec"]
    codec.train()
    mel, pitch_loss = MultiResolutionMelLoss(), PitchLoss()
    opt = torch.optim.AdamW(codec.parameters(), lr=2e-3)
    losses = []
    for _ in range(steps):
        wav, _ = pitch_sweeps(8, 0.64, generator)
        out = codec(wav, reference=wav)
        reconstruction = mel(out.wav, wav)
        loss = 15 * reconstruction + pitch_loss(out.pitch, out.prosody)
        loss = loss + sum(out.quantized.losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(reconstruction.detach()))
    codec.eval()
    wav, f0 = pitch_sweeps(32, 0.64, generator)
    with torch.no_grad():
        tokens = codec.encode(wav)
        _, _, p = codec.quantizer.dequantize(
            tokens.global_tokens, tokens.semantic_tokens, tokens.paralinguistic_tokens
        )
    # the mean log-F0 of each P frame (640 samples), relative to the utterance's mean: P
    # carries the contour, G the level
    target = f0.log().unfold(1, 640, 640).mean(-1)[:, : p.shape[1]]
    target = target - target.mean(1, keepdim=True)
    return codec, losses, _ridge_r2(p.reshape(-1, p.shape[-1]), target.reshape(-1, 1))


@pytest.fixture(scope="module")
def pitch_codec():
    """The tiny source-filter codec with explicit prosody in P, after 60 steps."""
    return _train_pitch_codec()


def test_briefly_trained_codec_puts_f0_into_p_and_learns_to_rebuild(pitch_codec):
    codec, losses, r2 = pitch_codec
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    assert r2 > 0.6, r2  # a linear probe on P's vectors explains most of the F0 variance


def test_source_filter_decoder_follows_the_predicted_pitch(pitch_codec):
    """After a short fit the decoder's pitch prediction tracks the input's F0."""
    codec = pitch_codec[0]
    generator = torch.Generator().manual_seed(7)
    wav, f0 = pitch_sweeps(8, 0.64, generator)
    with torch.no_grad():
        out = codec(wav)
    predicted = out.pitch[..., 0]
    truth = f0.log().unfold(1, 320, 320).mean(-1)[:, : predicted.shape[1]]
    inner = (slice(None), slice(2, -2))
    cents = 1200 / torch.log(torch.tensor(2.0)) * (predicted[inner] - truth[inner]).abs()
    # G's 16 levels here are 277-cent steps: up to 139 cents off before any correction
    assert float(cents.median()) < 100, float(cents.median())


def test_swapping_g_moves_the_pitch_level_and_keeps_the_contour(pitch_codec):
    """Voice conversion by G swap: the converted F0 takes the target's level."""
    from unicodec.tokens import Tokens

    codec = pitch_codec[0]
    generator = torch.Generator().manual_seed(3)
    low, _ = pitch_sweeps(1, 0.64, generator)
    import math

    t = torch.arange(low.shape[1]) / 16000
    phase = 2 * math.pi * torch.cumsum(torch.full_like(t, 260.0), 0) / 16000
    high = (0.1 * sum(torch.sin(k * phase) / k for k in range(1, 8)))[None]
    with torch.no_grad():
        source, target = codec.encode(low), codec.encode(high)
        swapped = Tokens(target.global_tokens, source.semantic_tokens,
                         source.paralinguistic_tokens, source.num_samples)
        g, s, p = codec.quantizer.dequantize(
            swapped.global_tokens, swapped.semantic_tokens, swapped.paralinguistic_tokens)
        converted = codec.decoder.decode(s, p, g)[1][..., 0]
        g, s, p = codec.quantizer.dequantize(
            source.global_tokens, source.semantic_tokens, source.paralinguistic_tokens)
        rebuilt = codec.decoder.decode(s, p, g)[1][..., 0]
    analysed = codec.prosody(low)["stats"][0, 0]
    shift = float(converted.mean() - rebuilt.mean())
    expected = math.log(260.0) - float(analysed)
    assert shift > 0.5 * expected > 0, (shift, expected)  # the level moved up toward 260 Hz
