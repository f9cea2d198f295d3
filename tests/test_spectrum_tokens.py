"""G's long-term spectrum tokens: measured by the global encoder, applied by the decoder."""

import pytest
import torch
import torchaudio

from unicodec.lobes.decoder import FusionDecoder
from unicodec.lobes.global_encoder import GlobalEncoder
from unicodec.lobes.harmonic_source import HarmonicSource
from unicodec.lobes.pitch_quantizer import SPECTRUM_SCALE

K = 6


def global_encoder():
    return GlobalEncoder(n_fft=640, hop_length=320, dim=16, num_blocks=1,
                         attention_channels=8, output_dim=8, spectrum_coefficients=K)


def spectrum(encoder, wav):
    power = encoder.melspec(wav).transpose(1, 2)
    return encoder.long_term_spectrum(power, torch.ones(*power.shape[:2], 1))


def test_long_term_spectrum_ignores_the_level_and_reads_the_tilt():
    torch.manual_seed(0)
    encoder = global_encoder()
    noise = torch.randn(1, 32000)
    bright = torchaudio.functional.highpass_biquad(noise, 16000, 3000.0)
    dark = torchaudio.functional.lowpass_biquad(noise, 16000, 500.0)
    flat = spectrum(encoder, noise)
    torch.testing.assert_close(spectrum(encoder, 0.05 * noise), flat, atol=1e-3, rtol=0)
    assert flat.abs().max() < 1.0  # white noise: flat, whatever the filters' widths
    # c1 is the tilt: positive when the low bands are louder
    assert spectrum(encoder, dark)[0, 0] > 5.0 > -5.0 > spectrum(encoder, bright)[0, 0]
    out = encoder(noise, torch.ones(1))
    assert out.shape == (1, 8 + K) and torch.equal(out[:, -K:], flat)


@pytest.mark.parametrize("coefficient,delta", [(0, 5.0), (3, -4.0)])
def test_decoder_applies_the_coded_spectrum(coefficient, delta):
    # what the global encoder measures in the output moves by what G's token says
    torch.manual_seed(0)
    encoder = global_encoder()
    decoder = FusionDecoder(input_dim=8, global_dim=8 + K + 1, dim=16, intermediate_dim=32,
                            num_blocks=1, num_transformer_layers=0, paralinguistic_dim=9,
                            source=HarmonicSource(16000, 320), spectrum_coefficients=K,
                            spectrum_mels={"n_mels": 80, "n_fft": 640})
    for proj in (decoder.global_proj, decoder.pitch.global_proj):  # G reaches the output
        torch.nn.init.zeros_(proj.weight)  # only through the spectrum tokens
    semantic, paralinguistic = torch.randn(1, 50, 8), torch.randn(1, 25, 9)
    measured = []
    for shift in (0.0, delta):
        g = torch.zeros(1, 8 + K + 1)
        g[0, 8 + coefficient] = SPECTRUM_SCALE * shift
        torch.manual_seed(1)  # the same noise excitation
        with torch.no_grad():
            wav, _ = decoder.decode(semantic, paralinguistic, g)
        measured.append(spectrum(encoder, wav)[0])
    change = measured[1] - measured[0]
    assert abs(change[coefficient] - delta) < 0.1 * abs(delta)
    others = torch.cat([change[:coefficient], change[coefficient + 1:]])
    assert others.abs().max() < 0.1


def test_spectrum_tokens_need_a_source_and_a_global_vector():
    with pytest.raises(ValueError, match="spectrum_coefficients"):
        FusionDecoder(input_dim=8, global_dim=8, dim=16, intermediate_dim=32, num_blocks=1,
                      spectrum_coefficients=4)
    with pytest.raises(ValueError, match="n_mels"):
        GlobalEncoder(n_mels=8, spectrum_coefficients=8)


def test_training_codes_the_rebuilt_crops_spectrum_not_the_references():
    # in training G sees another crop than the one rebuilt; the spectrum the decoder
    # applies must still be the rebuilt crop's, as it is when encoding (the shipped model)
    import os

    from hyperpyyaml import load_hyperpyyaml

    root = os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(root, "hparams", "models", "unicodec_cpu.yaml")) as f:
        model = load_hyperpyyaml(f)
    codec, encoder = model["codec"], model["global_encoder"]
    k = encoder.spectrum_coefficients
    quantizer = codec.quantizer.global_quantizer
    torch.manual_seed(0)
    noise = torch.randn(2, 24000)
    dark = torchaudio.functional.lowpass_biquad(noise, 16000, 600.0)
    bright = torchaudio.functional.highpass_biquad(noise, 16000, 2500.0)
    codec.train()
    out = codec(dark, reference=bright)
    n = codec.class_spectrum.dim if codec.class_spectrum is not None else 0  # class spectra
    values = out.quantized.global_vector[:, -1 - n - k:-1 - n]
    coded = values / SPECTRUM_SCALE + quantizer.spectrum_center[:k]
    measured = encoder.spectrum(dark, torch.ones(2))
    expected = quantizer._spectrum_values(quantizer._spectrum_codes(
        torch.cat([measured, torch.zeros(2, n)], -1)))[:, :k]
    torch.testing.assert_close(coded, expected / SPECTRUM_SCALE + quantizer.spectrum_center[:k])
    assert (coded - encoder.spectrum(bright, torch.ones(2))).abs().max() > 5.0
    if n:  # the class spectra too are the rebuilt crop's, classed by its own S codes
        # (from the second step: the first classes S's codes before S's k-means start)
        out = codec(dark, reference=bright)
        classes = out.quantized.global_vector[:, -1 - n:-1] / SPECTRUM_SCALE
        measured = codec.class_spectrum(dark, torch.ones(2), out.quantized.semantic_tokens)
        assert (classes - measured).abs().max() <= 0.5 * quantizer.spectrum_step + 1e-4
        assert measured.abs().max() > 1.0  # not the zeros of absent classes alone


def test_codec_names_spectrum_parts_that_disagree():
    import os

    from hyperpyyaml import load_hyperpyyaml

    from unicodec.lobes.codec import UniCodec

    root = os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(root, "hparams", "models", "unicodec_cpu.yaml")) as f:
        model = load_hyperpyyaml(f)
    model["decoder"].spectrum_coefficients = 12
    with pytest.raises(ValueError, match=r"spectrum_coefficients.*\[40, 40, 12\]"):
        UniCodec(model["encoder"], model["global_encoder"], model["quantizer"],
                 model["decoder"], prosody=model["prosody"],
                 class_spectrum=model["class_spectrum"])
