"""How G reaches the decoder: adaptive layer norms, and optionally the input frames."""

import pytest
import torch

from unicodec.lobes.decoder import FusionDecoder


def decoder(**kwargs):
    torch.manual_seed(0)
    return FusionDecoder(input_dim=8, global_dim=6, dim=16, intermediate_dim=32,
                         num_blocks=2, num_transformer_layers=0, n_fft=64, hop_length=16,
                         **kwargs)


def test_global_input_adds_a_trained_path_from_g():
    dec = decoder(global_input=True)
    s, p, g = torch.randn(2, 5, 8), torch.randn(2, 3, 8), torch.randn(2, 6)
    dec(s, p, g).square().mean().backward()
    assert dec.global_input.weight.grad.abs().sum() > 0
    assert decoder().global_input is None  # off by default: G reaches the blocks' norms only


def test_global_input_needs_g():
    with pytest.raises(ValueError, match="global_input needs a global vector"):
        FusionDecoder(input_dim=8, global_dim=None, dim=16, intermediate_dim=32,
                      num_blocks=1, global_input=True)
