"""G's class spectra: each class of S codes' spectrum, measured in the utterance and
applied by the decoder to that class's frames."""

import pytest
import torch
import torchaudio

from unicodec.lobes.class_spectrum import ClassSpectrum
from unicodec.lobes.decoder import FusionDecoder
from unicodec.lobes.harmonic_source import HarmonicSource
from unicodec.lobes.pitch_quantizer import SPECTRUM_SCALE

C = 6


def two_sounds(seconds=1.0):
    """Half a second of dark noise, then half a second of bright noise, and their codes
    (0 for the dark frames, 1 for the bright ones; 50 frames a second)."""
    torch.manual_seed(0)
    half = int(8000 * seconds)
    noise = torch.randn(1, 2 * half)
    dark = torchaudio.functional.lowpass_biquad(noise[:, :half], 16000, 500.0)
    bright = torchaudio.functional.highpass_biquad(noise[:, half:], 16000, 3000.0)
    codes = torch.zeros(1, int(50 * seconds), dtype=torch.long)
    codes[:, codes.shape[1] // 2:] = 1
    return torch.cat([dark, bright], -1), codes


def spectra(num_classes=2, codebook_size=4):
    module = ClassSpectrum(num_classes=num_classes, coefficients=C, codebook_size=codebook_size)
    module.class_of_code = torch.arange(codebook_size) % num_classes
    return module


def test_classes_group_the_codes_that_lie_together():
    torch.manual_seed(0)
    near_a = torch.randn(8, 4) * 0.1 + 5.0
    near_b = torch.randn(8, 4) * 0.1 - 5.0
    module = ClassSpectrum(num_classes=2, coefficients=C, codebook_size=16)
    module.update(torch.cat([near_a, near_b]))
    classes = module.class_of_code
    assert len(set(classes[:8].tolist())) == 1 and len(set(classes[8:].tolist())) == 1
    assert classes[0] != classes[8]
    with pytest.raises(ValueError, match="codebook has 8 codes"):
        module.update(near_a)


def test_each_class_reads_its_own_frames_spectrum_whatever_the_level():
    wav, codes = two_sounds()
    module = spectra(num_classes=3)
    values = module(wav, torch.ones(1), codes).unflatten(1, (3, C))[0]
    # relative to the utterance's long-term spectrum: the dark class tilts down (c1 > 0),
    # the bright one up; the class no frame falls in has zero offsets
    assert values[0, 0] > 3.0 and values[1, 0] < -3.0
    assert values[2].abs().max() == 0
    quiet = module(0.05 * wav, torch.ones(1), codes).unflatten(1, (3, C))[0]
    torch.testing.assert_close(quiet, values, atol=1e-3, rtol=0)
    # padding is not a frame of any class
    padded = torch.cat([wav, torch.zeros(1, 8000)], -1)
    codes_padded = torch.cat([codes, torch.ones(1, 25, dtype=torch.long)], -1)
    lens = torch.tensor([wav.shape[1] / padded.shape[1]])
    torch.testing.assert_close(module(padded, lens, codes_padded).unflatten(1, (3, C))[0],
                               values, atol=1e-3, rtol=0)


@pytest.mark.parametrize("coefficient,delta", [(0, 6.0), (2, -4.0)])
def test_decoder_applies_each_frames_class_spectrum(coefficient, delta):
    # moving class 1's coded coefficient moves what is measured in class 1's frames of
    # the output by that much, and class 0's frames not
    torch.manual_seed(0)
    k, n = 8, 2 * C  # the long-term spectrum's coefficients, the class spectra's values
    decoder = FusionDecoder(input_dim=8, global_dim=8 + k + n + 1, dim=16,
                            intermediate_dim=32, num_blocks=1, num_transformer_layers=0,
                            paralinguistic_dim=9, source=HarmonicSource(16000, 320),
                            spectrum_coefficients=k, spectrum_classes=2,
                            class_coefficients=C)
    for proj in (decoder.global_proj, decoder.pitch.global_proj):  # G reaches the output
        torch.nn.init.zeros_(proj.weight)  # only through the spectrum tokens
    _, codes = two_sounds(2.0)
    module = spectra()
    semantic, paralinguistic = torch.randn(1, 100, 8), torch.randn(1, 50, 9)
    measured = []
    for shift in (0.0, delta):
        g = torch.zeros(1, 8 + k + n + 1)
        g[0, 8 + k + C + coefficient] = SPECTRUM_SCALE * shift  # class 1's coefficient
        torch.manual_seed(1)  # the same noise excitation
        with torch.no_grad():
            wav, _ = decoder.decode(semantic, paralinguistic, g, classes=module.classes(codes))
        measured.append(module(wav, torch.ones(1), codes).unflatten(1, (2, C))[0])
    # both classes are relative to the output's long-term spectrum: compare class 1 to 0
    change = (measured[1][1] - measured[1][0]) - (measured[0][1] - measured[0][0])
    assert abs(change[coefficient] - delta) < 0.2 * abs(delta)
    others = torch.cat([change[:coefficient], change[coefficient + 1:]])
    assert others.abs().max() < 0.2 * abs(delta)
    with pytest.raises(ValueError, match="class"):
        decoder.decode(semantic, paralinguistic, g)


def test_decoder_names_class_spectra_it_cannot_apply():
    with pytest.raises(ValueError, match="class spectra"):
        FusionDecoder(input_dim=8, global_dim=30, dim=16, intermediate_dim=32, num_blocks=1,
                      source=HarmonicSource(16000, 320), spectrum_coefficients=4,
                      spectrum_classes=2, class_coefficients=6)



def test_learned_gains_cannot_make_the_classes_differ():
    # what the head learns is made the same for every class in the span of the class
    # spectra: how the classes differ is left to G's coded values
    torch.manual_seed(0)
    decoder = FusionDecoder(input_dim=8, global_dim=8 + 8 + 2 * C + 1, dim=16,
                            intermediate_dim=32, num_blocks=1, num_transformer_layers=0,
                            paralinguistic_dim=9, source=HarmonicSource(16000, 320),
                            spectrum_coefficients=8, spectrum_classes=2, class_coefficients=C)
    basis = decoder.spectrum_basis[:C]
    bins = basis.shape[1]
    _, codes = two_sounds(2.0)
    classes = spectra().classes(codes)
    mask = torch.ones(1, 100, dtype=torch.bool)
    mask[:, 90:] = False  # padding counts for no class
    tilt = torch.cat([basis[0], 0.5 * basis[1]])  # a class-1 shape the class spectra span
    log_gains = torch.randn(1, 100, 2 * bins) + 3.0 * (classes[..., None] == 1) * tilt
    adjusted = decoder._same_for_every_class(log_gains, classes, mask)

    def class_shapes(gains):
        valid = mask[0]
        means = [gains[0, valid & (classes[0] == c)].mean(0) for c in (0, 1)]
        return [(m.unflatten(0, (2, bins)) @ decoder.class_pinv) for m in means]

    before, after = class_shapes(log_gains), class_shapes(adjusted)
    assert (before[1] - before[0]).abs().max() > 2.0
    torch.testing.assert_close(after[1], after[0], atol=1e-3, rtol=0)
    # within a class, frame-to-frame changes stay as learned
    torch.testing.assert_close(adjusted[0, 1:40] - adjusted[0, :39],
                               log_gains[0, 1:40] - log_gains[0, :39], atol=1e-4, rtol=0)


def tiny_codec_with_class_spectra():
    from unicodec.lobes.codec import UniCodec
    from unicodec.lobes.encoder import Encoder
    from unicodec.lobes.global_encoder import GlobalEncoder
    from unicodec.lobes.multiscale_quantizer import MultiScaleQuantizer
    from unicodec.lobes.pitch_quantizer import PitchLevelQuantizer
    from unicodec.lobes.pitch_tracker import ProsodyFeatures
    from unicodec.lobes.quantizers import ResidualVectorQuantizer

    prosody = ProsodyFeatures(hop_length=320)
    k, n = C, 2 * C
    return UniCodec(
        encoder=Encoder(hop_length=320, n_fft=640, dim=16, intermediate_dim=32, num_blocks=1,
                        num_transformer_layers=0, output_dim=8),
        global_encoder=GlobalEncoder(n_fft=640, hop_length=320, dim=16, num_blocks=1,
                                     attention_channels=8, output_dim=8, pitch_stats=prosody,
                                     pitch_level=True, spectrum_coefficients=k),
        quantizer=MultiScaleQuantizer(
            global_quantizer=PitchLevelQuantizer(8 + k + n + 1, num_quantizers=1,
                                                 codebook_size=16, spectrum_dim=k + n),
            semantic_quantizer=ResidualVectorQuantizer(8, num_quantizers=1, codebook_size=16),
            paralinguistic_quantizer=ResidualVectorQuantizer(8, num_quantizers=1,
                                                             codebook_size=16),
            frame_dim=8),
        decoder=FusionDecoder(input_dim=8, global_dim=8 + k + n + 1, dim=16,
                              intermediate_dim=32, num_blocks=1, num_transformer_layers=0,
                              source=HarmonicSource(16000, 320), spectrum_coefficients=k,
                              spectrum_mels={"n_mels": 80, "n_fft": 640},
                              spectrum_classes=2, class_coefficients=C),
        prosody=prosody,
        class_spectrum=ClassSpectrum(num_classes=2, coefficients=C, codebook_size=16),
    )


def test_codec_codes_the_class_spectra_in_g_and_decodes_them():
    torch.manual_seed(0)
    codec = tiny_codec_with_class_spectra()
    wav, _ = two_sounds()
    codec.train()
    codec(wav.repeat(2, 1), reference=wav.repeat(2, 1)[:, :8000])  # classes follow S
    codec.eval()
    with torch.no_grad():
        tokens = codec.encode(wav)
        rebuilt = codec.decode(tokens)
    # G: the level, 6 long-term spectrum tokens, 2 x 6 class spectrum tokens, 1 stage
    assert tokens.global_tokens.shape == (1, 1 + C + 2 * C + 1)
    assert codec.global_bits() == 20 * 4
    assert rebuilt.shape == wav.shape and torch.isfinite(rebuilt).all()
    # the class tokens are the measured spectra of the classes of the S tokens
    measured = codec.class_spectrum(wav, torch.ones(1), tokens.semantic_tokens)
    quantizer = codec.quantizer.global_quantizer
    coded = quantizer._spectrum_values(tokens.global_tokens[:, 1 + C:1 + 3 * C])
    torch.testing.assert_close(coded / SPECTRUM_SCALE, measured, atol=0.3, rtol=0)
    # a swapped G decodes (voice conversion)
    other = codec.encode(torch.flip(wav, [-1]))
    tokens.global_tokens = other.global_tokens
    assert torch.isfinite(codec.decode(tokens)).all()


def test_codec_names_class_spectra_that_disagree():
    codec = tiny_codec_with_class_spectra()
    from unicodec.lobes.codec import UniCodec

    with pytest.raises(ValueError, match="class spectra"):
        UniCodec(codec.encoder, codec.global_encoder, codec.quantizer, codec.decoder,
                 prosody=codec.prosody,
                 class_spectrum=ClassSpectrum(num_classes=3, coefficients=4, codebook_size=16))


def test_long_inputs_coded_in_windows_keep_the_class_spectra():
    from unicodec.inference import UniCodecInterface

    torch.manual_seed(0)
    codec = tiny_codec_with_class_spectra()
    wav, _ = two_sounds(3.0)
    codec.train()
    codec(wav, reference=wav[:, :8000])
    codec.eval()
    interface = UniCodecInterface.from_codec(codec, window_seconds=1.0, hop_seconds=0.6)
    with torch.no_grad():
        one_shot = codec.encode(wav)
    windowed = interface.encode_batch(wav)
    assert windowed.global_tokens.shape == one_shot.global_tokens.shape
    classes = slice(1 + C, 1 + 3 * C)
    steps = (windowed.global_tokens[:, classes] - one_shot.global_tokens[:, classes]).abs()
    assert steps.max() <= 1, steps
    assert torch.isfinite(interface.decode_batch(windowed)).all()
    codec.spectrum_passes = 2  # each window's spectra corrected towards the whole file's G
    assert torch.isfinite(interface.decode_batch(windowed)).all()


def spectrum_errors(codec, wav):
    """Mean distance of the decoded spectra from G's after one pass and after two more
    (the classes following S after one training step)."""
    codec.train()
    codec(wav.repeat(2, 1), reference=wav.repeat(2, 1)[:, :8000])
    codec.eval()
    errors = []
    with torch.no_grad():
        tokens = codec.encode(wav)
        g = codec.quantizer.dequantize(codec.split_global(tokens.global_tokens)[0],
                                       tokens.semantic_tokens,
                                       tokens.paralinguistic_tokens)[0]
        for passes in (0, 2):
            codec.spectrum_passes = passes
            errors.append(codec._spectrum_error(codec.decode(tokens), tokens, g).abs().mean())
    return errors


def test_spectrum_passes_bring_the_output_to_gs_spectra():
    """Decoding passes that re-measure the output pull its long-term and class spectra
    towards the values G codes, even from an untrained decoder far from them."""
    torch.manual_seed(0)
    errors = spectrum_errors(tiny_codec_with_class_spectra(), two_sounds()[0])
    assert errors[1] < 0.5 * errors[0], errors


def test_spectrum_passes_need_spectrum_tokens():
    from conftest import build_tiny_codec
    from unicodec.lobes.codec import UniCodec

    codec = tiny_codec_with_class_spectra()
    with pytest.raises(ValueError, match="spectrum_passes"):
        UniCodec(codec.encoder, codec.global_encoder, codec.quantizer, codec.decoder,
                 prosody=codec.prosody, class_spectrum=codec.class_spectrum,
                 spectrum_passes=-1)
    plain = build_tiny_codec()  # no spectrum tokens: nothing to correct
    with pytest.raises(ValueError, match="the model needs spectrum_coefficients"):
        UniCodec(plain.encoder, plain.global_encoder, plain.quantizer, plain.decoder,
                 prosody=plain.prosody, spectrum_passes=1)
    with pytest.raises(ValueError, match=r"spectrum_offset \(1, 3\): expected \(1, 18\)"):
        codec.decoder._global_gains(torch.zeros(1, 8 + 3 * C + 1), torch.zeros(1, 4).long(),
                                    4, offset=torch.zeros(1, 3))


def test_shipped_cpu_model_corrects_its_spectra_when_decoding():
    """The embedded default decodes with spectrum passes, and they bring its output's
    long-term and class spectra closer to G's than one pass does."""
    import os

    from hyperpyyaml import load_hyperpyyaml

    root = os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(root, "hparams", "models", "unicodec_cpu.yaml")) as f:
        codec = load_hyperpyyaml(f)["codec"]
    assert codec.spectrum_passes == 2
    errors = spectrum_errors(codec, two_sounds(1.5)[0])
    assert errors[1] < 0.5 * errors[0], errors
