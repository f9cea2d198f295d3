"""Shared fixtures: a tiny UniCodec that builds in milliseconds."""

import pytest
import torch

from unicodec.lobes.codec import UniCodec
from unicodec.lobes.decoder import FusionDecoder
from unicodec.lobes.encoder import Encoder
from unicodec.lobes.global_encoder import GlobalEncoder
from unicodec.lobes.multiscale_quantizer import MultiScaleQuantizer
from unicodec.lobes.quantizers import ResidualVectorQuantizer


def build_tiny_codec(quantizer_dropout=0.0, **vq):
    """A UniCodec small enough for unit tests (same structure as the YAML configs).

    ``vq`` goes to every :class:`VectorQuantizer` (``ema``, ``codebook_dim``, ...).
    """
    return UniCodec(
        encoder=Encoder(dim=32, intermediate_dim=64, num_blocks=2,
                        num_transformer_layers=1, num_heads=2, output_dim=24),
        global_encoder=GlobalEncoder(n_mels=40, dim=32, num_blocks=1,
                                     attention_channels=16, output_dim=16),
        quantizer=MultiScaleQuantizer(
            global_quantizer=ResidualVectorQuantizer(16, num_quantizers=2, codebook_size=8, **vq),
            semantic_quantizer=ResidualVectorQuantizer(24, num_quantizers=1,
                                                       codebook_size=64, **vq),
            paralinguistic_quantizer=ResidualVectorQuantizer(
                24, num_quantizers=2, codebook_size=64,
                quantizer_dropout=quantizer_dropout, **vq),
            frame_dim=24,
        ),
        decoder=FusionDecoder(input_dim=24, global_dim=16, dim=32, intermediate_dim=64,
                              num_blocks=2, num_transformer_layers=1, num_heads=2),
    )


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
