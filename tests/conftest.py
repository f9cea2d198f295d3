"""Shared fixtures: a tiny UniCodec that builds in milliseconds."""

import re

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    """The test models are tiny: one thread is as fast, and much faster on a busy shared
    CPU (waiting threads of an oversubscribed pool)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_MODEL_YAML = """\
# A UniCodec small enough for unit tests (the structure of hparams/models/*.yaml).
sample_rate: 16000
transformer_layers: 1
attention_window: null
semantic_codebook_size: 64
quantizer_dropout: 0.0
codebook_ema: True
codebook_dim: null
dead_code_threshold: 0.05

encoder: !new:unicodec.lobes.encoder.Encoder
    dim: 32
    intermediate_dim: 64
    num_blocks: 2
    num_transformer_layers: !ref <transformer_layers>
    num_heads: 2
    output_dim: 24
    attention_window: !ref <attention_window>
global_encoder: !new:unicodec.lobes.global_encoder.GlobalEncoder
    n_mels: 40
    dim: 32
    num_blocks: 1
    attention_channels: 16
    output_dim: 16
quantizer: !new:unicodec.lobes.multiscale_quantizer.MultiScaleQuantizer
    frame_dim: 24
    global_quantizer: !new:unicodec.lobes.quantizers.ResidualVectorQuantizer
        input_dim: 16
        num_quantizers: 2
        codebook_size: 8
        ema: !ref <codebook_ema>
        codebook_dim: !ref <codebook_dim>
        dead_code_threshold: !ref <dead_code_threshold>
    semantic_quantizer: !new:unicodec.lobes.quantizers.ResidualVectorQuantizer
        input_dim: 24
        num_quantizers: 1
        codebook_size: !ref <semantic_codebook_size>
        ema: !ref <codebook_ema>
        codebook_dim: !ref <codebook_dim>
        dead_code_threshold: !ref <dead_code_threshold>
    paralinguistic_quantizer: !new:unicodec.lobes.quantizers.ResidualVectorQuantizer
        input_dim: 24
        num_quantizers: 2
        codebook_size: 64
        quantizer_dropout: !ref <quantizer_dropout>
        ema: !ref <codebook_ema>
        codebook_dim: !ref <codebook_dim>
        dead_code_threshold: !ref <dead_code_threshold>
decoder: !new:unicodec.lobes.decoder.FusionDecoder
    input_dim: 24
    global_dim: 16
    dim: 32
    intermediate_dim: 64
    num_blocks: 2
    num_transformer_layers: !ref <transformer_layers>
    num_heads: 2
codec: !new:unicodec.lobes.codec.UniCodec
    encoder: !ref <encoder>
    global_encoder: !ref <global_encoder>
    quantizer: !ref <quantizer>
    decoder: !ref <decoder>
    sample_rate: !ref <sample_rate>
"""


def tiny_model_yaml(**values):
    """TINY_MODEL_YAML with some top-level values replaced (a model-only YAML text)."""
    text = TINY_MODEL_YAML
    for key, value in values.items():
        value = "null" if value is None else value
        text, count = re.subn(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.M)
        assert count == 1, f"no top-level key {key} in TINY_MODEL_YAML"
    return text


def build_tiny_codec(**values):
    """The codec of TINY_MODEL_YAML; ``values`` override its top-level keys
    (``transformer_layers``, ``attention_window``, ``quantizer_dropout``, ``codebook_ema``,
    ``codebook_dim``, ``dead_code_threshold``, ``semantic_codebook_size``)."""
    return load_hyperpyyaml(tiny_model_yaml(**values))["codec"]


NO_GLOBAL_MODEL_YAML = """\
# The tiny architecture without G: the layout of the baselines (S and P only).
codec: !new:unicodec.lobes.codec.UniCodec
    encoder: !new:unicodec.lobes.encoder.Encoder
        dim: 32
        intermediate_dim: 64
        num_blocks: 1
        num_transformer_layers: 0
        output_dim: 24
    global_encoder: null
    quantizer: !new:unicodec.lobes.multiscale_quantizer.MultiScaleQuantizer
        frame_dim: 24
        global_quantizer: null
        semantic_quantizer: !new:unicodec.lobes.quantizers.ResidualVectorQuantizer
            input_dim: 24
            num_quantizers: 1
            codebook_size: 64
        paralinguistic_quantizer: !new:unicodec.lobes.quantizers.ResidualVectorQuantizer
            input_dim: 24
            num_quantizers: 2
            codebook_size: 64
    decoder: !new:unicodec.lobes.decoder.FusionDecoder
        input_dim: 24
        global_dim: null
        dim: 32
        intermediate_dim: 64
        num_blocks: 1
"""


def build_codec_without_global():
    """The codec of NO_GLOBAL_MODEL_YAML."""
    return load_hyperpyyaml(NO_GLOBAL_MODEL_YAML)["codec"]


def speechlike(num_samples, seed, sample_rate=16000):
    """A deterministic voiced-like signal: a gliding harmonic tone with noise bursts."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(num_samples) / sample_rate
    f0 = 100 + 60 * torch.rand((), generator=gen) + 30 * torch.sin(2 * torch.pi * 1.5 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / sample_rate
    wav = sum(torch.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * torch.sin(2 * torch.pi * (2 + torch.rand((), generator=gen)) * t)
    noise = 0.05 * torch.randn(num_samples, generator=gen)
    return (0.2 * wav * envelope + noise).float()


@pytest.fixture
def tiny_codec():
    torch.manual_seed(0)
    return build_tiny_codec()


def save_tiny_ssl_model(
    folder,
    model_type="wavlm",
    hidden_size=32,
    num_layers=2,
    feat_extract_norm="layer",
    seed=0,
):
    """Saves a randomly initialised small SSL model (and its preprocessor config) to ``folder``.

    The conv feature extractor has the real models' total stride (320 samples at 16 kHz) with
    fewer channels; ``SSLTeacher(source=folder)`` then loads it offline. For tests and examples.

    Arguments
    ---------
    folder : str
        Destination folder.
    model_type : str
        "wavlm", "hubert" or "wav2vec2".
    hidden_size : int
        Transformer width.
    num_layers : int
        Number of transformer layers.
    feat_extract_norm : str
        "layer" (large-model style, pre-norm encoder, normalised input) or "group"
        (base-model style).
    seed : int
        Seed of the random weights.

    Example
    -------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> save_tiny_ssl_model(folder, model_type="hubert", feat_extract_norm="group")
    >>> sorted(f for f in os.listdir(folder) if f.endswith(".json"))
    ['config.json', 'preprocessor_config.json']
    """
    import transformers

    classes = {
        "wavlm": (transformers.WavLMConfig, transformers.WavLMModel),
        "hubert": (transformers.HubertConfig, transformers.HubertModel),
        "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
    }
    config_class, model_class = classes[model_type]
    layer_norm = feat_extract_norm == "layer"
    extra = {"num_buckets": 32, "max_bucket_distance": 100} if model_type == "wavlm" else {}
    config = config_class(
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        conv_dim=(16, 16, 16, 16, 16),
        conv_stride=(5, 4, 4, 2, 2),
        conv_kernel=(10, 8, 8, 4, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm=feat_extract_norm,
        do_stable_layer_norm=layer_norm,
        **extra,
    )
    torch.manual_seed(seed)
    model_class(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(
        sampling_rate=16000, do_normalize=layer_norm, return_attention_mask=layer_norm
    ).save_pretrained(folder)
