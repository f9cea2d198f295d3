"""Decoding with fewer paralinguistic codebooks: token truncation, zero stages, the ladder."""

import pytest
import torch

from conftest import build_codec_without_global, build_tiny_codec, speechlike
from unicodec.evaluation.bitrate_ladder import BitrateLadder, ladder, save_quality_bitrate_plot
from unicodec.evaluation.metrics import mel_distance


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    return build_tiny_codec().eval()


def test_truncate_keeps_leading_codebooks_and_checks_counts(codec):
    tokens = codec.encode(speechlike(8000, 0)[None])
    kept = tokens.truncate(num_paralinguistic=1)
    assert torch.equal(kept.paralinguistic_tokens, tokens.paralinguistic_tokens[..., :1])
    assert torch.equal(kept.semantic_tokens, tokens.semantic_tokens)
    assert torch.equal(kept.global_tokens, tokens.global_tokens)
    kp = tokens.paralinguistic_tokens.shape[-1]
    with pytest.raises(ValueError, match="paralinguistic"):
        tokens.truncate(num_paralinguistic=kp + 1)
    with pytest.raises(ValueError, match="semantic"):
        tokens.truncate(num_semantic=-1)


def test_decoding_without_p_reads_zero_vectors(codec):
    tokens = codec.encode(speechlike(8000, 0)[None])
    no_p = tokens.truncate(num_paralinguistic=0)
    assert no_p.paralinguistic_tokens.shape[-1] == 0
    g, s, p = codec.quantizer.dequantize(no_p.global_tokens, no_p.semantic_tokens,
                                         no_p.paralinguistic_tokens)
    assert p.shape == (1, tokens.paralinguistic_tokens.shape[1],
                       codec.quantizer.paralinguistic_quantizer.input_dim)
    assert torch.count_nonzero(p) == 0
    wav = codec.decode(no_p)
    assert wav.shape == (1, 8000) and torch.isfinite(wav).all()
    assert not torch.allclose(wav, codec.decode(tokens))


def test_ladder_rungs_and_scores(codec):
    rungs = ladder(codec)
    kp = codec.num_codebooks()["paralinguistic"]
    assert [r["paralinguistic_codebooks"] for r in rungs] == list(range(kp + 1))
    bps = [r["bps"] for r in rungs]
    assert bps == sorted(bps) and bps[-1] == codec.bitrate()
    assert bps[0] == codec.bitrate(num_paralinguistic=0) > 0

    scores = BitrateLadder(codec)
    wavs = [speechlike(6400, seed=i) for i in range(2)]
    for i, wav in enumerate(wavs):
        scores.append(f"u{i}", codec.encode(wav[None]), wav)
    summary = scores.summarize()
    assert [r["utterances"] for r in summary] == [2] * (kp + 1)
    # the top rung is the plain decoding
    with torch.no_grad():
        expected = sum(mel_distance(codec.decode(codec.encode(w[None]))[0], w)
                       for w in wavs) / 2
    assert summary[-1]["metrics"]["mel_distance"] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="one utterance"):
        scores.append("batch", codec.encode(torch.stack(wavs)), wavs[0])


def test_ladder_of_a_codec_without_global_tokens():
    torch.manual_seed(0)
    codec = build_codec_without_global().eval()
    scores = BitrateLadder(codec)
    wav = speechlike(4800, 0)
    scores.append("u", codec.encode(wav[None]), wav)
    assert len(scores.summarize()) == codec.num_codebooks()["paralinguistic"] + 1


def test_plot_needs_a_metric(tmp_path):
    rungs = [{"paralinguistic_codebooks": 0, "bps": 400.0, "metrics": {"wer": 0.5}}]
    with pytest.raises(ValueError, match="no metric"):
        save_quality_bitrate_plot(str(tmp_path / "x.png"), {"m": rungs})
    rungs[0]["metrics"]["stoi"] = 0.7
    assert save_quality_bitrate_plot(str(tmp_path / "x.png"), {"m": rungs}) == ["stoi"]
    assert (tmp_path / "x.png").stat().st_size > 0
