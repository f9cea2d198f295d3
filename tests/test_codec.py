"""UniCodec end to end: token layout, lengths, padding invariance, gradients, swaps."""

import math

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from conftest import build_codec_without_global, build_tiny_codec, speechlike
from unicodec.tokens import Tokens


def init_codebooks(codec, seconds=(2.0, 1.8, 1.6, 1.5, 2.0, 1.2, 1.9, 1.4)):
    """One training forward on speech-like audio (k-means init), then eval mode.

    The batch holds several times more frames than codes, so that k-means leaves no
    near-duplicate codes (which would make the nearest code a float coin toss).
    """
    wavs = [speechlike(int(s * 16000), seed=100 + i) for i, s in enumerate(seconds)]
    batch = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    lens = torch.tensor([w.shape[0] / batch.shape[1] for w in wavs])
    codec.train()
    with torch.no_grad():
        codec(batch, lens)
    return codec.eval()


def test_token_shapes_and_lengths(tiny_codec):
    codec = init_codebooks(tiny_codec)
    wav = torch.stack([speechlike(16000, 1), speechlike(16000, 2)])
    lens = torch.tensor([1.0, 0.55])
    tokens = codec.encode(wav, lens)
    assert tokens.global_tokens.shape == (2, 2)
    assert tokens.semantic_tokens.shape == (2, 50, 1)
    assert tokens.paralinguistic_tokens.shape == (2, 25, 2)
    assert tokens.num_samples.tolist() == [16000, 8800]
    # padded frames of the shorter utterance carry code 0
    assert tokens.semantic_tokens[1, math.ceil(8800 / 320):].eq(0).all()
    assert tokens.paralinguistic_tokens[1, math.ceil(8800 / 640):].eq(0).all()
    for name, tensor in vars(tokens).items():
        assert tensor.dtype == torch.long, name


@pytest.mark.parametrize("num_samples", [320, 641, 7777, 16000, 23999])
def test_decode_encode_keeps_length(tiny_codec, num_samples):
    codec = tiny_codec.eval()
    wav = speechlike(num_samples, 3).unsqueeze(0)
    with torch.no_grad():
        out = codec.decode(codec.encode(wav))
        train_out = codec(wav).wav
    assert out.shape == (1, num_samples)
    assert train_out.shape == (1, num_samples)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("attention_window", [None, 3])
def test_padded_batch_gives_same_tokens_as_single_files(attention_window):
    """Valid frames of a padded batch match each file alone, with global or banded
    attention in the encoder.

    The encoder output agrees to float rounding (different batch shapes take different
    BLAS paths, about 1e-7); tokens then agree except at rare floating-point near-ties
    of the nearest-code search.
    """
    torch.manual_seed(0)
    codec = init_codebooks(build_tiny_codec(attention_window=attention_window))
    lengths = [16000, 11111, 5000, 700]
    wavs = [speechlike(n, seed=10 + i) for i, n in enumerate(lengths)]
    batch = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    lens = torch.tensor(lengths) / batch.shape[1]
    agree = total = 0
    with torch.no_grad():
        batch_tokens = codec.encode(batch, lens)
        batch_frames = codec.encoder(*codec.pad_batch(batch, lens)[::2])
        batch_global = codec.global_encoder(*codec.pad_batch(batch, lens)[::2])
        for i, wav in enumerate(wavs):
            single = codec.encode(wav.unsqueeze(0))
            padded, _, single_lens = codec.pad_batch(wav.unsqueeze(0))
            frames = codec.encoder(padded, single_lens)
            valid_s = math.ceil(lengths[i] / 320)
            valid_p = math.ceil(lengths[i] / 640)
            assert single.semantic_tokens.shape[1] >= valid_s
            assert single.paralinguistic_tokens.shape[1] >= valid_p
            torch.testing.assert_close(
                batch_frames[i, :valid_s], frames[0, :valid_s], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(
                batch_global[i], codec.global_encoder(padded, single_lens)[0],
                atol=1e-5, rtol=1e-5)
            assert torch.equal(batch_tokens.global_tokens[i], single.global_tokens[0])
            for b, s in [
                (batch_tokens.semantic_tokens[i, :valid_s], single.semantic_tokens[0, :valid_s]),
                (batch_tokens.paralinguistic_tokens[i, :valid_p],
                 single.paralinguistic_tokens[0, :valid_p]),
            ]:
                agree += int((b == s).sum())
                total += b.numel()
    assert agree / total >= 0.99, f"{total - agree} of {total} tokens differ"
    # the check is meaningful only if the codes vary over time
    assert batch_tokens.semantic_tokens[0].unique().numel() > 3


def test_banded_attention_bounds_the_receptive_field():
    """An encoder frame changes with the samples within its receptive field only."""
    torch.manual_seed(0)
    codec = build_tiny_codec(attention_window=4).eval()
    field = codec.encoder.receptive_field
    assert field == 1 + 2 * 3 + 4  # STFT overlap, two ConvNeXt blocks, one layer
    assert build_tiny_codec().encoder.receptive_field is None  # global attention
    wav = speechlike(16000, 5).unsqueeze(0)
    changed = wav.clone()
    k = 20  # perturb the samples of frame k
    changed[:, k * 320:(k + 1) * 320] += 0.5
    lens = torch.ones(1)
    with torch.no_grad():
        a, b = codec.encoder(wav, lens), codec.encoder(changed, lens)
    differs = (a - b).abs().amax(-1) > 1e-6
    moved = differs[0].nonzero().flatten()
    assert int(moved.min()) == k - field and int(moved.max()) == k + field


def test_gradients_reach_every_trainable_parameter():
    torch.manual_seed(0)
    # restarts would put unused global codes exactly on this 2-utterance batch (zero loss)
    codec = build_tiny_codec(codebook_dim=8, codebook_ema=False, dead_code_threshold=0).train()
    opt = torch.optim.Adam(codec.parameters(), lr=1e-3)
    wav = torch.stack([speechlike(8000, 4), speechlike(8000, 5)])
    ref = torch.stack([speechlike(6000, 6), speechlike(6000, 7)])
    # adaptive norms start at zero, and k-means on two utterances puts the global codes
    # exactly on them: every gradient is non-zero from the third step on
    for step in range(3):
        opt.zero_grad()
        out = codec(wav, torch.tensor([1.0, 0.8]), reference=ref)
        loss = (out.wav - wav).abs().mean() + sum(out.quantized.losses.values())
        loss.backward()
        if step < 2:
            opt.step()
    missing = [n for n, p in codec.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    zero = [n for n, p in codec.named_parameters() if p.grad.abs().sum() == 0]
    assert not zero, f"zero gradient for {zero}"


def test_global_tokens_swap_between_utterances(tiny_codec):
    codec = tiny_codec.train()
    opt = torch.optim.Adam(codec.parameters(), lr=1e-3)
    wav = torch.stack([speechlike(8000, 8), speechlike(8000, 9) * 2])
    for _ in range(3):  # a few steps so that G conditions the decoder
        opt.zero_grad()
        out = codec(wav)
        ((out.wav - wav).abs().mean() + sum(out.quantized.losses.values())).backward()
        opt.step()
    codec.eval()
    a = speechlike(9600, 11).unsqueeze(0)
    b = speechlike(4800, 12).unsqueeze(0) * 2
    with torch.no_grad():
        ta, tb = codec.encode(a), codec.encode(b)
        swapped = Tokens(tb.global_tokens, ta.semantic_tokens, ta.paralinguistic_tokens,
                         ta.num_samples)
        converted = codec.decode(swapped)
        original = codec.decode(ta)
    assert converted.shape == (1, 9600)
    if not torch.equal(ta.global_tokens, tb.global_tokens):
        assert not torch.allclose(converted, original)


def tokens_bits(codec, tokens):
    sizes = codec.codebook_sizes()
    return (
        tokens.global_tokens[0].numel() * math.log2(sizes["global"])
        + tokens.semantic_tokens[0].numel() * math.log2(sizes["semantic"])
        + tokens.paralinguistic_tokens[0].numel() * math.log2(sizes["paralinguistic"])
    )


@pytest.mark.parametrize("config", ["hparams/models/unicodec.yaml", "hparams/models/unicodec_cpu.yaml"])
def test_reported_bitrate_equals_bits_in_tokens(config):
    with open(config) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    seconds = 4.0
    with torch.no_grad():
        tokens = codec.encode(speechlike(int(seconds * 16000), 0).unsqueeze(0))
    measured = tokens_bits(codec, tokens) / seconds
    assert measured == pytest.approx(codec.bitrate(seconds), rel=1e-9)
    assert measured <= 1100
    # fewer paralinguistic codebooks: a lower bitrate, still decodable
    with torch.no_grad():
        low = codec.encode(speechlike(int(seconds * 16000), 0).unsqueeze(0),
                           num_paralinguistic=1)
        assert codec.decode(low).shape == (1, int(seconds * 16000))
    assert tokens_bits(codec, low) / seconds == pytest.approx(
        codec.bitrate(seconds, num_paralinguistic=1))


def test_bad_input_gives_clear_errors(tiny_codec):
    codec = tiny_codec.eval()
    good = speechlike(3200, 0).unsqueeze(0)
    nan = good.clone()
    nan[0, 100] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        codec.encode(nan)
    with pytest.raises(ValueError, match="empty"):
        codec.encode(torch.zeros(1, 0))
    with pytest.raises(ValueError, match="shorter than one frame"):
        codec.encode(torch.zeros(1, 100))
    with pytest.raises(ValueError, match="mono"):
        codec.encode(torch.zeros(1, 2, 3200))
    with pytest.raises(ValueError, match="wav_lens"):
        codec.encode(good, torch.tensor([1.5]))
    with pytest.raises(TypeError, match="floating point"):
        codec.encode(torch.zeros(1, 3200, dtype=torch.long))
    tokens = codec.encode(good)
    bad = Tokens(tokens.global_tokens, tokens.semantic_tokens + 1000,
                 tokens.paralinguistic_tokens, tokens.num_samples)
    with pytest.raises(ValueError, match=r"semantic tokens must lie in \[0, 64\)"):
        codec.decode(bad)
    mixed = Tokens(tokens.global_tokens.repeat(2, 1), tokens.semantic_tokens,
                   tokens.paralinguistic_tokens, tokens.num_samples)
    with pytest.raises(ValueError, match="batch size"):
        codec.decode(mixed)
    long = Tokens(tokens.global_tokens, tokens.semantic_tokens,
                  tokens.paralinguistic_tokens, tokens.num_samples * 4)
    with pytest.raises(ValueError, match="semantic frames"):
        codec.decode(long)


def test_a_codec_without_global_tokens(tmp_path):
    from unicodec.evaluation.metrics import codebook_usage
    from unicodec.token_file import load_tokens, model_info, save_tokens

    torch.manual_seed(0)
    codec = build_codec_without_global()
    assert codec.num_codebooks()["global"] == 0
    assert codec.bitrate(4.0) == codec.bitrate() == 6 * 50 + 2 * 6 * 25
    codec.train()
    wav = torch.stack([speechlike(8000, 1), speechlike(8000, 2)])
    out = codec(wav, torch.tensor([1.0, 0.7]), reference=wav)
    (out.wav.abs().mean() + sum(out.quantized.losses.values())).backward()
    assert all(p.grad is not None for p in codec.parameters())
    codec.eval()
    with torch.no_grad():
        tokens = codec.encode(wav, torch.tensor([1.0, 0.7]))
        assert tokens.global_tokens.shape == (2, 0)
        assert codec.decode(tokens).shape == (2, 8000)
    assert "global_usage" not in codebook_usage([tokens], codec)
    path = tmp_path / "no_global.uct"
    save_tokens(str(path), tokens[0], model_info(codec))
    loaded, _ = load_tokens(str(path), model_info(codec))
    assert torch.equal(loaded.semantic_tokens[0, :25], tokens.semantic_tokens[0, :25])
    assert loaded.global_tokens.shape == (1, 0)
    with pytest.raises(ValueError, match="no global tokens"):
        codec.decode(Tokens(torch.zeros(2, 1, dtype=torch.long), tokens.semantic_tokens,
                            tokens.paralinguistic_tokens, tokens.num_samples))


def test_global_parts_must_be_all_present_or_all_absent(tiny_codec):
    from unicodec.lobes.codec import UniCodec

    bare = build_codec_without_global()
    with pytest.raises(ValueError, match="all be present or all absent"):
        UniCodec(encoder=bare.encoder, global_encoder=tiny_codec.global_encoder,
                 quantizer=bare.quantizer, decoder=bare.decoder)


def test_voice_conversion_needs_global_tokens():
    from unicodec.inference import UniCodecInterface

    interface = UniCodecInterface.from_codec(build_codec_without_global().eval())
    wav = speechlike(8000, 3).unsqueeze(0)
    with pytest.raises(ValueError, match="no global"):
        interface.convert(wav, speaker=wav)
    assert interface.convert(wav, prosody=wav).shape == (1, 8000)


def test_global_encoder_reuses_the_codecs_pitch_analysis():
    """Encoding analyses the pitch once: G's statistics from the codec's analysis equal
    those of the global encoder's own."""
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "hparams", "models", "unicodec_cpu.yaml")
    with open(path) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    assert codec.global_encoder.pitch_stats is codec.prosody
    wav = torch.stack([speechlike(16000, 0), speechlike(16000, 1)])
    lens = torch.tensor([1.0, 0.7])
    with torch.no_grad():
        own = codec.global_encoder(wav, lens)
        shared = codec.global_encoder(wav, lens, pitch_analysis=codec.prosody(wav, lens))
    assert torch.equal(own, shared)


def _harmonic(f0, seconds=1.6, sample_rate=16000):
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    return sum(0.3 / k * torch.sin(2 * math.pi * k * f0 * t) for k in range(1, 6))


def test_training_level_token_is_the_rebuilt_audios():
    """In training G sees another crop (the reference), but its pitch level token is the
    rebuilt crop's mean: P's contour is relative to that mean, so level plus contour is
    the rebuilt audio's pitch, as when G and P see the same utterance in encoding."""
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "hparams", "models", "unicodec_cpu.yaml")
    with open(path) as f:
        codec = load_hyperpyyaml(f)["codec"].train()
    wav = torch.stack([_harmonic(120.0), _harmonic(200.0)])
    reference = torch.stack([_harmonic(240.0), _harmonic(100.0)])
    with torch.no_grad():
        out = codec(wav, reference=reference)
    from unicodec.lobes.quantizers import LEVEL_SCALE

    level_hz = (out.quantized.global_vector[:, -1] / LEVEL_SCALE + 5.0).exp()
    cents = 1200 * torch.log2(level_hz / torch.tensor([120.0, 200.0])).abs()
    assert (cents < 60).all(), level_hz
