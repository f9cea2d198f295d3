"""Disentanglement probes on synthetic embeddings whose answers are known."""

import math

import pytest
import torch

from conftest import build_tiny_codec, speechlike
from unicodec.evaluation.probes import (
    UtteranceEmbeddings,
    conversion_pairs,
    embed_utterances,
    frame_probe,
    label_probe,
    probe_classification,
    probe_regression,
    results_table,
    run_probes,
    speaker_folds,
    speaker_probe,
    split_by_utterance,
    voice_conversion_score,
)

PHONES = ["sil", "a", "b", "k", "o", "s", "t", "u"]


def synthetic_corpus(num_speakers=6, utts_per_speaker=12, seed=0, dim=12, prefix="s"):
    """Embeddings where each property lives in one stream only.

    G: speaker and style (plus noise); S: the phone of each frame; P: the per-utterance
    F0 contour. The speaker's mean pitch (its register) goes into log-F0 but not into P.
    """
    gen = torch.Generator().manual_seed(seed)
    speaker_codes = 3.0 * torch.randn(num_speakers, dim, generator=gen)
    style_codes = 3.0 * torch.randn(3, dim, generator=gen)
    phone_codes = 3.0 * torch.randn(len(PHONES), dim, generator=gen)
    contour_direction = torch.randn(dim, generator=gen)
    contour_direction /= contour_direction.norm()
    utts = []
    for spk in range(num_speakers):
        register = math.log(100 + 20 * spk)
        for u in range(utts_per_speaker):
            style = (spk + u) % 3
            g = speaker_codes[spk].clone()
            g[: dim // 2] = 0  # speaker in the second half, style in the first half
            g[: dim // 2] += style_codes[style, : dim // 2]
            g += 0.3 * torch.randn(dim, generator=gen)
            # a phone alignment tiling the utterance, 2 to 6 frames per phone
            num_frames, alignment, frame_phone = 0, [], []
            while num_frames < 60:
                length = int(torch.randint(2, 7, (), generator=gen))
                phone = PHONES[int(torch.randint(0, len(PHONES), (), generator=gen))]
                alignment.append([num_frames / 50, (num_frames + length) / 50, phone])
                frame_phone += [PHONES.index(phone)] * length
                num_frames += length
            s = phone_codes[frame_phone] + 0.5 * torch.randn(num_frames, dim, generator=gen)
            # slow F0 contour; P at half the S rate carries it
            t = torch.arange(num_frames) / 50
            phase = 2 * math.pi * float(torch.rand((), generator=gen))
            contour = 0.1 * torch.sin(2 * math.pi * 0.8 * t + phase)
            num_p = math.ceil(num_frames / 2)
            p = 3.0 * contour[::2, None] / 0.1 * contour_direction
            p = p + 0.3 * torch.randn(num_p, dim, generator=gen)
            log_f0 = register + contour
            utts.append(UtteranceEmbeddings(
                utt_id=f"{prefix}{spk}_{u:02d}", global_vector=g, semantic=s, paralinguistic=p,
                labels={"spk_id": f"{prefix}{spk}", "style": f"style{style}",
                        "alignment": alignment},
                log_f0=log_f0, voiced=torch.ones(num_frames, dtype=torch.bool),
            ))
    return utts


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus(seed=0), synthetic_corpus(seed=0, prefix="t")[::2]


def by_stream(results, task):
    return {r.stream: r for r in results if r.task == task}


def test_speaker_only_from_global(corpus):
    train, _ = corpus
    results = by_stream(speaker_probe(train, seed=0), "speaker")
    assert set(results) == {"global", "semantic", "paralinguistic"}
    chance = results["global"].chance
    assert chance == pytest.approx(1 / 6, abs=0.05)
    assert results["global"].score >= 0.95
    assert results["semantic"].score <= chance + 0.2
    assert results["paralinguistic"].score <= chance + 0.2
    assert results["global"].num_classes == 6


def test_style_from_global_not_from_semantic():
    # both splits hold the same speakers' codes here (seed 0), as styles are shared codes
    train = synthetic_corpus(seed=0)
    train, test = split_by_utterance(train, "spk_id", test_share=0.3, seed=1)
    results = by_stream(label_probe(train, test, "style", seed=0), "style")
    assert results["global"].score >= 0.9
    assert results["semantic"].score <= 0.6
    assert results["paralinguistic"].score <= 0.6


def test_centring_by_speaker_reads_styles_that_are_offsets_from_each_voice():
    """Styles as small offsets of G from each speaker's own vector, speakers far apart:
    on held-out speakers a probe of the raw G is misled by the voices, one of G relative
    to its speaker's mean reads the style."""
    gen = torch.Generator().manual_seed(0)
    offsets = torch.randn(3, 8, generator=gen)
    utts = []
    for spk in range(20):
        voice = 6.0 * torch.randn(8, generator=gen)
        for i in range(9):
            g = voice + offsets[i % 3] + 0.2 * torch.randn(8, generator=gen)
            utts.append(UtteranceEmbeddings(f"{spk}_{i}", g, torch.zeros(4, 2),
                                            torch.zeros(2, 2),
                                            {"spk_id": spk, "style": i % 3}))
    raw, centred = [], []
    for train, test in speaker_folds(utts, folds=5):
        assert not {u.labels["spk_id"] for u in train} & {u.labels["spk_id"] for u in test}
        raw += label_probe(train, test, "style", streams=["global"])
        centred += label_probe(train, test, "style", streams=["global"], centre="spk_id")
    assert sum(r.num_test for r in raw) == len(utts)
    assert sum(r.score for r in centred) / 5 >= 0.95
    assert sum(r.score for r in raw) / 5 <= 0.75


def test_phones_only_from_semantic(corpus):
    train, test = corpus
    results = by_stream(frame_probe(train, test, "phone", seed=0), "phone")
    chance = results["semantic"].chance
    assert results["semantic"].score >= 0.95
    assert results["global"].score <= chance + 0.1
    assert results["paralinguistic"].score <= chance + 0.1
    assert results["semantic"].num_classes == len(PHONES)


def test_f0_contour_only_from_paralinguistic(corpus):
    train, test = corpus
    results = by_stream(frame_probe(train, test, "f0", seed=0), "f0")
    assert results["paralinguistic"].metric == "r2"
    assert results["paralinguistic"].score >= 0.8
    assert results["semantic"].score <= 0.1
    # G is constant within an utterance: worth nothing against a standardised contour
    assert results["global"].score <= 0.05


def test_run_probes_is_deterministic_and_tabulates(corpus):
    train, test = corpus
    first = [r.as_dict() for r in run_probes(train, test, seed=3)]
    second = [r.as_dict() for r in run_probes(train, test, seed=3)]
    assert first == second
    assert {r["task"] for r in first} == {"speaker", "style", "phone", "f0"}
    table = results_table(run_probes(train, test, seed=3))
    assert table.count("\n") == 1 + 4
    assert "| speaker | accuracy |" in table


def test_mlp_probe_recovers_a_nonlinear_label():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(600, 2, generator=gen)
    y = [int(a * b > 0) for a, b in x.tolist()]  # XOR of signs: no linear probe can do it
    linear = probe_classification(x[:400], y[:400], x[400:], y[400:], seed=0)
    mlp = probe_classification(x[:400], y[:400], x[400:], y[400:], hidden_size=32, seed=0)
    assert linear["score"] < 0.7
    assert mlp["score"] > 0.9
    again = probe_classification(x[:400], y[:400], x[400:], y[400:], hidden_size=32, seed=0)
    assert again == mlp


def test_classification_leaves_out_unseen_test_labels():
    x = torch.tensor([[0.0], [1.0], [0.1], [5.0]])
    scores = probe_classification(x[:2], ["a", "b"], x[2:], ["a", "z"])
    assert scores["num_test"] == 1 and scores["score"] == 1.0


def test_regression_scores():
    x = torch.linspace(-1, 1, 100)[:, None]
    y = 2 * x[:, 0] - 1
    assert probe_regression(x, y, x, y)["score"] == pytest.approx(1.0, abs=1e-4)
    noise = torch.randn(100, 1, generator=torch.Generator().manual_seed(0))
    scores = probe_regression(noise, y, noise, y)
    assert scores["score"] < 0.1 and scores["chance"] == 0.0
    mlp = probe_regression(x, y ** 2, x, y ** 2, hidden_size=16, seed=0)
    assert mlp["score"] > 0.9


def test_split_by_utterance_keeps_every_speaker_on_both_sides():
    utts = synthetic_corpus(num_speakers=3, utts_per_speaker=5)
    utts.append(UtteranceEmbeddings("lone", torch.zeros(12), torch.zeros(2, 12),
                                    torch.zeros(1, 12), {"spk_id": "lonely"}))
    train, test = split_by_utterance(utts, test_share=0.4, seed=0)
    assert {u.labels["spk_id"] for u in train} == {u.labels["spk_id"] for u in test}
    assert "lonely" not in {u.labels["spk_id"] for u in train + test}
    assert len(test) == 3 * 2 and len(train) == 3 * 3
    assert not {u.utt_id for u in train} & {u.utt_id for u in test}
    assert [u.utt_id for u in split_by_utterance(utts, test_share=0.4, seed=0)[1]] == \
        [u.utt_id for u in test]


def test_stream_views():
    utt = UtteranceEmbeddings("x", torch.arange(3.0), torch.zeros(5, 2),
                              torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    assert utt.frames("paralinguistic")[:, 0].tolist() == [1, 1, 2, 2, 3]
    assert utt.frames("global").shape == (5, 3)
    assert utt.pooled("paralinguistic").tolist() == pytest.approx(
        [2, 2, math.sqrt(2 / 3), math.sqrt(2 / 3)])
    utt.labels["alignment"] = [[0.0, 0.05, "a"], [0.05, 0.08, "b"]]
    assert utt.frame_phones() == ["a", "a", "b", "b", None]
    with pytest.raises(KeyError):
        utt.frames("words")


def test_conversion_pairs():
    speakers = ["a", "a", "b", "c"]
    pairs = conversion_pairs(speakers, 5, seed=0)
    assert len(pairs) == 5 and len(set(pairs)) == 5
    assert all(speakers[s] != speakers[t] for s, t in pairs)
    assert conversion_pairs(speakers, 5, seed=0) == pairs
    assert len(conversion_pairs(["a", "a"], 3)) == 0


def test_embed_utterances_on_the_codec():
    torch.manual_seed(0)
    codec = build_tiny_codec()
    t = torch.arange(16000) / 16000
    tone = 0.5 * torch.sin(2 * math.pi * 150 * t)
    utts = embed_utterances(codec, [
        {"id": "tone", "wav": tone, "labels": {"spk_id": "a"}},
        {"id": "speech", "wav": speechlike(12000, 1)},
    ])
    assert [u.utt_id for u in utts] == ["tone", "speech"]
    assert utts[0].semantic.shape == (50, 24) and utts[0].paralinguistic.shape == (25, 24)
    assert utts[1].semantic.shape == (38, 24) and utts[1].paralinguistic.shape == (19, 24)
    assert utts[0].global_vector.shape == (16,)
    voiced = utts[0].voiced[5:-5]
    assert voiced.all()
    assert utts[0].log_f0[25].exp().item() == pytest.approx(150, rel=0.02)
    # the embeddings are those of the tokens
    tokens = codec.encode(tone[None])
    g, s, p = codec.quantizer.dequantize(tokens.global_tokens, tokens.semantic_tokens,
                                         tokens.paralinguistic_tokens)
    assert torch.equal(utts[0].semantic, s[0]) and torch.equal(utts[0].global_vector, g[0])


def test_voice_conversion_score_arithmetic():
    torch.manual_seed(0)
    codec = build_tiny_codec()
    sources = [speechlike(8000, 1), speechlike(8000, 2)]
    targets = [speechlike(9000, 3), speechlike(7000, 4)]

    def judge(converted, reference, sample_rate):
        assert sample_rate == 16000 and converted.shape == (8000,)
        return 0.75 if any(reference is t for t in targets) else 0.25

    score = voice_conversion_score(codec, sources, targets, judge=judge, return_audio=True)
    assert score["judge"] == "judge" and score["pairs"] == 2
    assert score["target_similarity"] == 0.75 and score["source_similarity"] == 0.25
    assert score["margin"] == pytest.approx(0.5) and score["success_rate"] == 1.0
    assert len(score["audio"]) == 2
    own = voice_conversion_score(codec, sources, targets, judge="global_embedding")
    assert own["judge"] == "global_embedding"
    assert -1.0 <= own["target_similarity"] <= 1.0
    with pytest.raises(ValueError):
        voice_conversion_score(codec, sources, targets[:1], judge=judge)
