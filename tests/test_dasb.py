"""UniCodec through DASB's tokenizer contract, used the way DASB's extraction and
downstream recipes use a tokenizer."""

import os

import pytest
import torch
import torchaudio
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.data_utils import undo_padding

from conftest import speechlike
from unicodec.dasb import UniCodecTokenizer
from unicodec.export import export_model

ROOT = os.path.join(os.path.dirname(__file__), "..")
MODEL_YAML = os.path.join(ROOT, "hparams", "models", "unicodec_cpu.yaml")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """The shipped CPU model (random weights) exported as a model folder."""
    torch.manual_seed(0)
    with open(MODEL_YAML) as f:
        codec = load_hyperpyyaml(f)["codec"].eval()
    folder = tmp_path_factory.mktemp("model")
    export_model(codec, MODEL_YAML, str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def tokenizer(model_folder):
    """Built from YAML keywords, as a DASB extraction YAML builds it."""
    text = f"tokenizer: !new:unicodec.dasb.UniCodecTokenizer\n    source: {model_folder}\n"
    return load_hyperpyyaml(text)["tokenizer"]


def padded_batch(signals):
    """SpeechBrain's PaddedBatch of 1-D signals: zero-padded ``[B, T]`` and relative lengths."""
    longest = max(s.shape[0] for s in signals)
    batch = torch.zeros(len(signals), longest)
    for i, s in enumerate(signals):
        batch[i, : s.shape[0]] = s
    return batch, torch.tensor([s.shape[0] / longest for s in signals])


# hparams/models/unicodec_cpu.yaml: S, P's pitch token and learned code, then G's 140
# tokens (the pitch level, 40 long-term spectrum, 8 x 12 class spectra, 2 learned, the
# speech level)
COLUMNS = 3 + 140


def test_layout_of_the_shipped_model(tokenizer):
    assert tokenizer.sample_rate == 16000
    assert tokenizer.describe() == f"S 0, P 1-2, G 3-{COLUMNS - 1}"
    assert tokenizer.num_columns == COLUMNS and tokenizer.vocab_size == 256


def test_extraction_as_dasb_does_it(tokenizer):
    """Resample to the tokenizer's rate, sig_to_tokens on a padded batch, undo_padding:
    each utterance keeps exactly round(length * N) frames, equal to its tokens alone."""
    resample = torchaudio.transforms.Resample(24000, tokenizer.sample_rate)
    originals = [speechlike(n, seed) for n, seed in ((36000, 0), (23000, 1), (12345, 2))]
    signals = [resample(s) for s in originals]
    x, lengths = padded_batch(signals)
    tokens = tokenizer.sig_to_tokens(x, lengths, num_codebooks=tokenizer.num_columns)
    assert tokens.dtype == torch.long and tokens.shape[-1] == COLUMNS
    n = tokens.shape[1]
    assert n == -(-x.shape[1] // tokenizer.hop_length)
    kept = undo_padding(tokens, lengths)
    for item, signal, relative in zip(kept, signals, lengths):
        item = torch.as_tensor(item)
        assert item.shape[0] == round(float(relative) * n)
        alone = tokenizer.sig_to_tokens(signal[None])[0]  # no padding at all
        m = min(alone.shape[0], item.shape[0])
        assert torch.equal(alone[:m], item[:m])  # the same whatever the padding
    # P is repeated over each pair of S frames, G over every frame
    first = torch.as_tensor(kept[0])
    assert torch.equal(first[0::2, 1:3][: first.shape[0] // 2], first[1::2, 1:3])
    assert (first[:, 3:] == first[0, 3:]).all()


def test_column_selection(tokenizer):
    x = speechlike(16000, 3)[None]
    full = tokenizer.sig_to_tokens(x)
    assert torch.equal(tokenizer.sig_to_tokens(x, num_codebooks=1), full[..., :1])
    assert torch.equal(tokenizer.sig_to_tokens(x, num_codebooks=[0, 3]), full[..., [0, 3]])
    for bad in (0, COLUMNS + 1, [COLUMNS]):
        with pytest.raises(ValueError, match="num_codebooks"):
            tokenizer.sig_to_tokens(x, num_codebooks=bad)


def test_pretrained_embeddings_rows_are_the_codebooks(tokenizer):
    """DASB's Discrete_EmbeddingLayer offsets codebook k by k * vocab_size: the rows it
    looks up, summed per stream, are the codec's dequantized vectors."""
    vocab, k = tokenizer.vocab_size, tokenizer.num_columns
    table = tokenizer.get_pretrained_embeddings(vocab, k)
    # the widest vector: G (128 + 40 + 96 + 1), and the speech level's dimension
    assert table.shape == (k * vocab, 266)
    x = speechlike(16000, 4)[None]
    tokens = tokenizer.sig_to_tokens(x)
    offsets = torch.arange(0, k * vocab, vocab)
    rows = table[tokens + offsets]  # [1, N, K, H], as the embedding layer looks them up
    codec = tokenizer.codec
    encoded = codec.encode(x)
    g, s, p = codec.quantizer.dequantize(
        encoded.global_tokens[:, :-1], encoded.semantic_tokens, encoded.paralinguistic_tokens
    )
    n = s.shape[1]
    assert torch.allclose(rows[0, :n, :1].sum(1)[:, :128], s[0], atol=1e-5)
    assert torch.allclose(rows[0, :n:2, 1:3].sum(1)[:, :129], p[0, : -(-n // 2)], atol=1e-5)
    assert torch.allclose(rows[0, 0, 3:].sum(0)[:265], g[0], atol=1e-5)
    # the speech level token adds to none of G's dimensions, only to its own, last one
    level = codec.speech_level
    assert float(rows[0, 0, -1, -1]) == pytest.approx(
        2 * int(encoded.global_tokens[0, -1]) / (level.levels - 1) - 1, abs=1e-5)
    assert rows[0, 0, 3:-1, -1].abs().max() == 0
    # G's codebooks have 64 codes: rows past them are zero padding
    g_block = table[3 * vocab : 4 * vocab]
    assert (g_block[64:] == 0).all() and g_block[:64].abs().sum() > 0
    with pytest.raises(ValueError, match="vocab_size"):
        tokenizer.get_pretrained_embeddings(64, k)


def test_tokens_to_sig_on_random_valid_tokens(tokenizer):
    """Tokens a language model might predict: any index below vocab_size decodes."""
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, tokenizer.vocab_size, (2, 37, COLUMNS), generator=generator)
    wav = tokenizer.tokens_to_sig(tokens)
    assert wav.shape == (2, 37 * tokenizer.hop_length) and torch.isfinite(wav).all()
    # S alone (no P, no G columns): a neutral voice, still a waveform
    assert tokenizer.tokens_to_sig(tokens[..., :1]).shape == (2, 37 * tokenizer.hop_length)
    with pytest.raises(ValueError, match="columns"):
        tokenizer.tokens_to_sig(torch.zeros(1, 5, COLUMNS + 1, dtype=torch.long))


def test_round_trip_and_majority_global(tokenizer):
    x = speechlike(16000, 5)[None]
    tokens = tokenizer.sig_to_tokens(x)
    reference = tokenizer.codec.decode(tokenizer.codec.encode(x))
    rebuilt = tokenizer.tokens_to_sig(tokens)
    assert torch.allclose(rebuilt[:, : reference.shape[1]], reference, atol=1e-4)
    corrupted = tokens.clone()
    corrupted[0, :5, 3:] = 0  # a few frames of G predicted wrong: the majority wins
    assert torch.allclose(tokenizer.tokens_to_sig(corrupted), rebuilt, atol=1e-5)


def test_device_and_eval(tokenizer):
    tokenizer.device = "cpu"
    assert tokenizer.device.type == "cpu"
    assert tokenizer.to("cpu").eval() is tokenizer
    assert not tokenizer.codec.training


def test_a_source_that_is_not_a_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="hyperparams.yaml"):
        UniCodecTokenizer(source=str(tmp_path))
    with pytest.raises(ValueError, match="source"):
        UniCodecTokenizer()


@pytest.fixture
def dasb_modules(monkeypatch):
    """Stand-ins for DASB's `utils.tokens` and `model.custom_model` (not installed here):
    they record the arguments the YAMLs give them."""
    import types

    class Recorder(torch.nn.Module):
        def __init__(self, **kwargs):
            super().__init__()
            self.kwargs = kwargs

    for name, classes in (("utils.tokens", ["TokensExtractor", "TokensLoader"]),
                          ("model.custom_model", ["Discrete_EmbeddingLayer", "AttentionMLP"])):
        package, _ = name.split(".")
        module = types.ModuleType(name)
        for cls in classes:
            setattr(module, cls, type(cls, (Recorder,), {}))
        parent = types.ModuleType(package)
        setattr(parent, name.split(".")[1], module)
        monkeypatch.setitem(__import__("sys").modules, package, parent)
        monkeypatch.setitem(__import__("sys").modules, name, module)


def test_shipped_dasb_yamls_match_the_tokenizer(dasb_modules, model_folder, tmp_path):
    with open(os.path.join(ROOT, "recipes", "DASB", "extraction", "unicodec.yaml")) as f:
        extraction = load_hyperpyyaml(f, {"data_folder": str(tmp_path),
                                          "model_folder": model_folder})
    tokenizer = extraction["tokenizer"]
    assert extraction["tokens_extractor"].kwargs["tokenizer"] is tokenizer
    assert extraction["sample_rate"] == tokenizer.sample_rate
    assert extraction["num_codebooks"] == tokenizer.num_columns
    assert extraction["vocab_size"] == tokenizer.vocab_size
    table = tokenizer.get_pretrained_embeddings(extraction["vocab_size"],
                                                extraction["num_codebooks"])
    with open(os.path.join(ROOT, "recipes", "DASB", "ASR", "unicodec_lstm.yaml")) as f:
        asr = load_hyperpyyaml(f, {"data_folder": str(tmp_path), "run_name": "S",
                                   "cached_data_folder": str(tmp_path),
                                   "tokens_folder": str(tmp_path),
                                   "output_folder": str(tmp_path / "asr")})
    assert asr["vocab_size"] == tokenizer.vocab_size
    assert asr["sample_rate"] == tokenizer.sample_rate
    assert asr["encoder_dim"] == table.shape[1]  # pretrained embeddings fit the layer
    assert asr["num_codebooks"] <= tokenizer.num_columns


def test_valid_frames_round_as_undo_padding_does(tokenizer):
    """1120 of 1600 samples: float32 rounding keeps 4 of 5 frames; all 4 are real tokens
    (the last real frame repeated past the encoded samples), none is padding."""
    x, lengths = padded_batch([speechlike(1600, 7), speechlike(1120, 8)])
    tokens = tokenizer.sig_to_tokens(x, lengths)
    kept = torch.as_tensor(undo_padding(tokens, lengths)[1])
    alone = tokenizer.sig_to_tokens(speechlike(1120, 8)[None])[0]
    assert kept.shape[0] == 4 and alone.shape[0] == 4
    assert torch.equal(kept, alone)
    short = tokenizer.sig_to_tokens(torch.randn(1, 200) * 0.1)  # shorter than one frame
    assert short.shape == (1, 1, COLUMNS)
