"""UniCodec: wav -> encoder -> multi-scale quantizer -> fusion decoder -> wav.

Authors
 * UniCodec authors 2026
"""

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from unicodec.lengths import (
    count_to_relative,
    frame_mask,
    frames_for_samples,
    relative_to_count,
)
from unicodec.lobes.global_encoder import NoGlobalEncoder
from unicodec.lobes.multiscale_quantizer import QuantizerOutput
from unicodec.lobes.pitch_quantizer import SPECTRUM_SCALE
from unicodec.tokens import Tokens


@dataclass
class CodecOutput:
    """What :meth:`UniCodec.forward` returns.

    Arguments
    ---------
    wav : torch.Tensor
        ``[B, T]`` reconstruction, as long as the input.
    quantized : QuantizerOutput
        Quantized streams, their tokens, masks and quantization losses.
    num_samples : torch.Tensor
        ``[B]`` long, valid samples of each utterance.
    pitch : torch.Tensor or None
        ``[B, Ts, 2]`` the decoder's predicted log-F0 and voicing logit (a source-filter
        decoder), else None.
    prosody : dict or None
        The prosody analysis of the input (:class:`ProsodyFeatures`' output) when the
        codec has one: the targets of the pitch loss.
    """

    wav: torch.Tensor
    quantized: QuantizerOutput
    num_samples: torch.Tensor
    pitch: Optional[torch.Tensor] = None
    prosody: Optional[dict] = None

    @property
    def tokens(self):
        """The tokens of this forward pass."""
        return Tokens(
            global_tokens=self.quantized.global_tokens,
            semantic_tokens=self.quantized.semantic_tokens,
            paralinguistic_tokens=self.quantized.paralinguistic_tokens,
            num_samples=self.num_samples,
        )


def check_waveform_batch(wav, wav_lens, min_samples, name="wav"):
    """Validates a waveform batch and its relative lengths; returns ``[B, T]`` and lens.

    Raises
    ------
    ValueError
        Naming ``name`` when the audio is empty, shorter than ``min_samples``, not
        finite, not 1-D/2-D, or when the lengths are outside (0, 1].
    """
    if not torch.is_tensor(wav) or not wav.is_floating_point():
        raise TypeError(f"{name} must be a floating point tensor")
    if wav.dim() == 1:
        wav = wav.unsqueeze(0)
    if wav.dim() != 2:
        raise ValueError(
            f"{name} must be [batch, time] (mono; downmix channels first), got shape "
            f"{tuple(wav.shape)}"
        )
    if wav.shape[0] == 0 or wav.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(wav.shape)}")
    if wav_lens is None:
        wav_lens = torch.ones(wav.shape[0], device=wav.device)
    if wav_lens.shape != (wav.shape[0],):
        raise ValueError(
            f"{name}_lens must have shape [{wav.shape[0]}], got {tuple(wav_lens.shape)}"
        )
    if (wav_lens <= 0).any() or (wav_lens > 1 + 1e-6).any():
        raise ValueError(f"{name}_lens must lie in (0, 1], got {wav_lens.tolist()}")
    num_samples = relative_to_count(wav_lens, wav.shape[1])
    too_short = (num_samples < min_samples).nonzero().flatten().tolist()
    if too_short:
        raise ValueError(
            f"{name}: utterances {too_short} are shorter than one frame "
            f"({min_samples} samples)"
        )
    if not torch.isfinite(wav).all():
        bad = (~torch.isfinite(wav)).any(dim=1).nonzero().flatten().tolist()
        raise ValueError(f"{name}: utterances {bad} hold NaN or infinite samples")
    return wav, wav_lens


class UniCodec(nn.Module):
    """The universal speech codec: global, semantic and paralinguistic tokens.

    Arguments
    ---------
    encoder : Encoder
        Waveform -> frames at the semantic frame rate.
    global_encoder : GlobalEncoder or None
        Waveform -> one vector per utterance; None for a codec without G (a baseline:
        the quantizer then has no global quantizer and the decoder no condition), which
        the codec replaces by :class:`~unicodec.lobes.global_encoder.NoGlobalEncoder`, as
        the quantizer replaces its absent global quantizer by
        :class:`~unicodec.lobes.quantizers.NoQuantizer`.
    quantizer : MultiScaleQuantizer
        Owns the G, S and P quantizers.
    decoder : FusionDecoder
        S, P and G -> waveform.
    sample_rate : int
        Sample rate of the waveforms the codec takes and returns.
    prosody : ProsodyFeatures, optional
        Pitch and energy analysis of the input: explicit features pooled into P (when the
        quantizer has ``prosody_dim``) and the targets of the decoder's pitch prediction.
    teacher_forcing : float
        In training, the share of batches whose harmonic source takes the analysed
        log-F0 instead of the decoder's prediction (a source-filter decoder only).
    class_spectrum : ClassSpectrum, optional
        G's class spectra (:class:`~unicodec.lobes.class_spectrum.ClassSpectrum`): the
        utterance's spectrum of each class of S codes, measured once S is coded and put
        into G's vector between the long-term spectrum and the pitch level, for G's
        quantizer to code as scalar tokens; the decoder applies each frame's class's.
        Its classes follow S's codebook in training.
    spectrum_passes : int
        Decoding passes after the first that correct the output's spectrum towards G's
        (needs G's spectrum tokens): each measures the long-term spectrum (as the global
        encoder does) and the class spectra of the waveform it has, and adds their
        differences from G's coded values to the spectrum the decoder's head applies
        (``FusionDecoder.decode``'s ``spectrum_offset``), so what the listener gets is the
        spectrum G holds rather than the decoder's approximation of it. Each pass costs
        one more decoding. Inference only (:meth:`decode`); training decodes once.
    postfilter : EnvelopePostfilter, optional
        Applied to the decoded waveform, after the spectrum passes
        (:class:`~unicodec.lobes.envelope_postfilter.EnvelopePostfilter`: each frame's
        spectral envelope moved away from the utterance's mean envelope, undoing the
        decoder's over-smoothing). Inference only (:meth:`decode`).
    speech_level : SpeechLevel, optional
        The utterance's speech level as one more G token, after those of G's quantizer
        (:class:`~unicodec.lobes.speech_level.SpeechLevel`, with G's codebook size):
        :meth:`encode` measures it on the input, :meth:`decode` scales its output, after
        the postfilter, to the level it holds. G tokens without it (as many as G's
        quantizer has) decode at the decoder's own level. Needs G; nothing to learn.

    Example
    -------
    >>> from unicodec.lobes.encoder import Encoder
    >>> from unicodec.lobes.global_encoder import GlobalEncoder
    >>> from unicodec.lobes.quantizers import ResidualVectorQuantizer
    >>> from unicodec.lobes.multiscale_quantizer import MultiScaleQuantizer
    >>> from unicodec.lobes.decoder import FusionDecoder
    >>> codec = UniCodec(
    ...     encoder=Encoder(dim=32, intermediate_dim=64, num_blocks=1,
    ...                     num_transformer_layers=0, output_dim=16),
    ...     global_encoder=GlobalEncoder(dim=32, num_blocks=1, attention_channels=16,
    ...                                  output_dim=8),
    ...     quantizer=MultiScaleQuantizer(
    ...         global_quantizer=ResidualVectorQuantizer(8, num_quantizers=2, codebook_size=16),
    ...         semantic_quantizer=ResidualVectorQuantizer(16, num_quantizers=1, codebook_size=64),
    ...         paralinguistic_quantizer=ResidualVectorQuantizer(16, num_quantizers=2,
    ...                                                          codebook_size=64),
    ...         frame_dim=16),
    ...     decoder=FusionDecoder(input_dim=16, global_dim=8, dim=32, intermediate_dim=64,
    ...                           num_blocks=1),
    ... ).eval()
    >>> wav = torch.randn(2, 16000)
    >>> tokens = codec.encode(wav, torch.tensor([1.0, 0.7]))
    >>> tokens.global_tokens.shape, tokens.semantic_tokens.shape, tokens.paralinguistic_tokens.shape
    (torch.Size([2, 2]), torch.Size([2, 50, 1]), torch.Size([2, 25, 2]))
    >>> codec.decode(tokens).shape
    torch.Size([2, 16000])
    >>> codec.bitrate()  # 1 x 6 bits x 50 Hz + 2 x 6 bits x 25 Hz
    600.0
    """

    def __init__(
        self, encoder, global_encoder, quantizer, decoder, sample_rate=16000, prosody=None,
        teacher_forcing=0.0, class_spectrum=None, spectrum_passes=0, postfilter=None,
        speech_level=None,
    ):
        super().__init__()
        if getattr(quantizer, "prosody_dim", 0) and prosody is None:
            raise ValueError("the quantizer pools prosody features into P: give `prosody`")
        if prosody is not None and prosody.hop_length != encoder.hop_length:
            raise ValueError(
                f"prosody hop ({prosody.hop_length}) != encoder hop ({encoder.hop_length})"
            )
        if encoder.hop_length != decoder.hop_length:
            raise ValueError(
                f"encoder hop ({encoder.hop_length}) != decoder hop ({decoder.hop_length})"
            )
        if quantizer.paralinguistic_stride != decoder.paralinguistic_stride:
            raise ValueError("quantizer and decoder disagree on paralinguistic_stride")
        # a codec without G: the null global encoder (the quantizer takes the null
        # quantizer), so no method branches on it
        if global_encoder is None:
            global_encoder = NoGlobalEncoder()
        with_global = [
            not isinstance(global_encoder, NoGlobalEncoder),
            quantizer.has_global,
            decoder.global_proj is not None,
        ]
        if len(set(with_global)) != 1:
            raise ValueError(
                "global_encoder, the global quantizer and the decoder's global condition "
                f"must all be present or all absent, got {with_global}"
            )
        class_dim = 0 if class_spectrum is None else class_spectrum.dim
        spectrum = [
            getattr(global_encoder, "spectrum_coefficients", 0),
            getattr(getattr(quantizer, "global_quantizer", None), "spectrum_dim", 0) - class_dim,
            getattr(decoder, "spectrum_coefficients", 0),
        ]
        if len(set(spectrum)) != 1 or (spectrum[0] and not global_encoder.pitch_level):
            raise ValueError(
                "G's spectrum tokens: the global encoder's spectrum_coefficients, the global "
                "quantizer's spectrum_dim (less the class spectra's values) and the "
                f"decoder's spectrum_coefficients must be equal (got {spectrum}), and they "
                "need the global encoder's pitch_level"
            )
        classes = (getattr(decoder, "spectrum_classes", 0),
                   getattr(decoder, "class_coefficients", 0))
        wanted = (0, 0) if class_spectrum is None else (
            class_spectrum.num_classes, class_spectrum.coefficients)
        if classes != wanted or (class_spectrum is not None and not spectrum[0]):
            raise ValueError(
                f"class spectra: the decoder's (spectrum_classes, class_coefficients) {classes} "
                f"must be the class_spectrum's {wanted}, and they need G's spectrum tokens"
            )
        if spectrum_passes < 0 or (spectrum_passes and not spectrum[0]):
            raise ValueError(
                f"spectrum_passes ({spectrum_passes}) must be >= 0, and correct G's "
                "spectrum tokens: the model needs spectrum_coefficients"
            )
        if speech_level is not None and (
            not quantizer.has_global
            or speech_level.levels != quantizer.codebook_sizes()["global"]
        ):
            raise ValueError(
                f"speech_level needs G, and its levels ({speech_level.levels}) must be G's "
                f"codebook size ({quantizer.codebook_sizes().get('global', 0)})"
            )
        self.spectrum_passes = int(spectrum_passes)
        self.encoder = encoder
        self.global_encoder = global_encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.sample_rate = sample_rate
        self.prosody = prosody
        self.teacher_forcing = teacher_forcing
        self.class_spectrum = class_spectrum
        self.postfilter = postfilter
        self.speech_level = speech_level

    @property
    def hop_length(self):
        """Samples per semantic frame."""
        return self.encoder.hop_length

    @property
    def frame_rate(self):
        """Semantic frames per second."""
        return self.sample_rate / self.hop_length

    @property
    def paralinguistic_frame_rate(self):
        """Paralinguistic frames per second."""
        return self.frame_rate / self.quantizer.paralinguistic_stride

    @property
    def samples_per_step(self):
        """Samples covered by one paralinguistic frame; inputs are padded to a multiple."""
        return self.hop_length * self.quantizer.paralinguistic_stride

    def codebook_sizes(self):
        """Codebook size of each stream."""
        return self.quantizer.codebook_sizes()

    def num_codebooks(self):
        """Number of codebooks of each stream (G's speech level token included)."""
        counts = dict(self.quantizer.num_codebooks())
        if self.speech_level is not None:
            counts["global"] += 1
        return counts

    def split_global(self, global_tokens):
        """G tokens ``[B, Kg]`` as ``(quantizer's tokens, speech level codes [B] or None)``:
        the level token is the last of a full set (:meth:`num_codebooks`); fewer tokens
        hold none."""
        if (
            self.speech_level is None
            or global_tokens.shape[-1] != self.quantizer.num_codebooks()["global"] + 1
        ):
            return global_tokens, None
        return global_tokens[..., :-1], global_tokens[..., -1]

    def pad_batch(self, wav, wav_lens=None, name="wav"):
        """Validates a batch and zero-pads it to a multiple of one paralinguistic frame.

        Returns
        -------
        wav : torch.Tensor
            ``[B, T']`` padded waveforms, zero beyond each one's length.
        num_samples : torch.Tensor
            ``[B]`` long, valid samples of each utterance.
        lens : torch.Tensor
            ``[B]`` relative lengths with respect to ``T'``.
        """
        wav, wav_lens = check_waveform_batch(wav, wav_lens, self.hop_length, name)
        num_samples = relative_to_count(wav_lens, wav.shape[1])
        wav = wav * frame_mask(num_samples, wav.shape[1]).to(wav.dtype)
        pad = (-wav.shape[1]) % self.samples_per_step
        wav = nn.functional.pad(wav, (0, pad))
        return wav, num_samples, count_to_relative(num_samples, wav.shape[1])

    def _global_vector(self, wav, lens, analysis=None):
        """Utterance vectors ``[B, Dg]`` (``[B, 0]`` for a codec without G); ``analysis``
        is the prosody analysis of this same ``wav``, reused when G takes the same one."""
        shared = analysis is not None and self.global_encoder.pitch_stats is self.prosody
        if shared:
            return self.global_encoder(wav, lens, pitch_analysis=analysis)
        return self.global_encoder(wav, lens)

    def _rebuilt_level(self, global_vector, analysis, wav=None, lens=None):
        """G's vector from a reference crop with its pitch level token (the last entry,
        ``pitch_level``) set to the rebuilt audio's mean log-F0, and its long-term
        spectrum (the ``spectrum_coefficients`` before it) to the rebuilt audio's: P's
        contour is relative to that mean, and the decoder applies that spectrum as
        measured, so they are the rebuilt audio's, as they are when G and P see the same
        utterance (encoding)."""
        if (
            analysis is None or not getattr(self.global_encoder, "pitch_level", False)
            or self.global_encoder.pitch_stats is not self.prosody
        ):
            return global_vector
        parts = [analysis["stats"][:, :1].to(global_vector.dtype)]
        k = getattr(self.global_encoder, "spectrum_coefficients", 0)
        if k and wav is not None:
            parts.insert(0, self.global_encoder.spectrum(wav, lens).to(global_vector.dtype))
        return torch.cat([global_vector[:, : -1 - (k if len(parts) == 2 else 0)], *parts], -1)

    def _with_class_spectra(self, global_vector, wav, lens, frames, num_frames):
        """G's vector with the class spectra of ``wav`` (its S codes from ``frames``)
        put in before the pitch level (unchanged without class spectra)."""
        if self.class_spectrum is None:
            return global_vector
        semantic = self.quantizer.semantic_quantizer
        if self.training:
            self.class_spectrum.update(semantic.stage_vectors(0))
        codes = semantic.encode(frames, frame_mask(num_frames, frames.shape[1]))
        return self.with_class_spectra(global_vector, wav, lens, codes)

    def with_class_spectra(self, global_vector, wav, lens, semantic_tokens):
        """The global encoder's vectors ``[B, Dg']`` with the class spectra of the padded
        batch ``wav`` (``pad_batch``'s), whose S tokens are ``semantic_tokens``, put in
        before the pitch level: the vectors G's quantizer codes (unchanged without class
        spectra)."""
        if self.class_spectrum is None:
            return global_vector
        values = self.class_spectrum(wav, lens, semantic_tokens).to(global_vector.dtype)
        return torch.cat([global_vector[:, :-1], values, global_vector[:, -1:]], -1)

    def _classes(self, semantic_tokens):
        """Each frame's class of S code, for the decoder (None without class spectra)."""
        if self.class_spectrum is None:
            return None
        return self.class_spectrum.classes(semantic_tokens)

    def _frames(self, wav, lens, num_samples, level=None):
        frames = self.encoder(wav, lens) if level is None else self.encoder(wav, lens, level)
        return frames, frames_for_samples(num_samples, self.hop_length)

    def _analyse(self, wav, lens):
        """The prosody analysis and the features P takes (None where unused)."""
        if self.prosody is None:
            return None, None
        analysis = self.prosody(wav, lens)
        features = analysis["features"] if self.quantizer.prosody_dim else None
        return analysis, features

    def forward(self, wav, wav_lens=None, reference=None, reference_lens=None):
        """Encodes, quantizes (updating codebooks in training) and decodes a batch.

        Arguments
        ---------
        wav : torch.Tensor
            ``[B, T]`` waveforms to rebuild.
        wav_lens : torch.Tensor, optional
            ``[B]`` relative lengths.
        reference : torch.Tensor, optional
            ``[B, T']`` waveforms the global encoder sees instead of ``wav``: in training,
            another segment of the same utterance, so the words cannot leak into G.
        reference_lens : torch.Tensor, optional
            ``[B]`` relative lengths of ``reference``.

        Returns
        -------
        CodecOutput
        """
        length = wav.shape[-1]
        wav, num_samples, lens = self.pad_batch(wav, wav_lens, "wav")
        analysis, features = self._analyse(wav, lens)
        if reference is None:
            global_vector = self._global_vector(wav, lens, analysis)
        else:
            ref, _, ref_lens = self.pad_batch(reference, reference_lens, "reference")
            global_vector = self._rebuilt_level(
                self._global_vector(ref, ref_lens), analysis, wav, lens
            )
        frames, num_frames = self._frames(wav, lens, num_samples)
        global_vector = self._with_class_spectra(global_vector, wav, lens, frames, num_frames)
        quantized = self.quantizer(frames, num_frames, global_vector, prosody=features)
        log_f0 = None
        if (
            self.training and analysis is not None and self.teacher_forcing > 0
            and float(torch.rand(())) < self.teacher_forcing
        ):
            log_f0 = analysis["log_f0"]
        out, pitch = self.decoder.decode(
            quantized.semantic,
            quantized.paralinguistic,
            quantized.global_vector,
            quantized.semantic_mask,
            log_f0=log_f0,
            classes=self._classes(quantized.semantic_tokens),
        )
        out = out[:, :length] * frame_mask(num_samples, length).to(out.dtype)
        return CodecOutput(
            wav=out, quantized=quantized, num_samples=num_samples, pitch=pitch,
            prosody=analysis,
        )

    def encode(self, wav, wav_lens=None, num_paralinguistic=None, level=None):
        """Tokens of a padded batch.

        Arguments
        ---------
        wav : torch.Tensor
            ``[B, T]`` (or ``[T]``) waveforms at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            ``[B]`` relative lengths.
        num_paralinguistic : int, optional
            Keep only the first P codebooks (a lower bitrate).
        level : torch.Tensor, optional
            ``[B]`` RMS a level-invariant frame encoder divides by instead of each input's
            own (windowed coding gives each window the whole input's).

        Returns
        -------
        Tokens
        """
        wav, num_samples, lens = self.pad_batch(wav, wav_lens, "wav")
        analysis, features = self._analyse(wav, lens)
        global_vector = self._global_vector(wav, lens, analysis)
        frames, num_frames = self._frames(wav, lens, num_samples, level)
        global_vector = self._with_class_spectra(global_vector, wav, lens, frames, num_frames)
        g, s, p = self.quantizer.quantize(
            frames, num_frames, global_vector, num_paralinguistic, prosody=features
        )
        if self.speech_level is not None:
            g = torch.cat([g, self.speech_level.encode(wav, num_samples)[:, None].to(g)], -1)
        return Tokens(g, s, p, num_samples)

    def decode(self, tokens):
        """Waveforms ``[B, max(num_samples)]`` of tokens, zero beyond each one's length."""
        sizes = {
            "global_tokens": tokens.global_tokens.shape[0],
            "semantic_tokens": tokens.semantic_tokens.shape[0],
            "paralinguistic_tokens": tokens.paralinguistic_tokens.shape[0],
            "num_samples": tokens.num_samples.shape[0],
        }
        if len(set(sizes.values())) != 1:
            raise ValueError(f"tokens disagree on the batch size: {sizes}")
        num_frames = frames_for_samples(tokens.num_samples, self.hop_length)
        length = tokens.semantic_tokens.shape[1]
        if (num_frames > length).any():
            raise ValueError(
                f"tokens hold {length} semantic frames but num_samples "
                f"{tokens.num_samples.tolist()} needs up to {int(num_frames.max())}"
            )
        global_tokens, level = self.split_global(tokens.global_tokens)
        g, s, p = self.quantizer.dequantize(
            global_tokens, tokens.semantic_tokens, tokens.paralinguistic_tokens
        )
        mask = frame_mask(num_frames, length)
        # padded P frames are zeros, as in training (not the vectors of code 0)
        stride = self.quantizer.paralinguistic_stride
        para_frames = torch.div(num_frames + stride - 1, stride, rounding_mode="floor")
        p = p * frame_mask(para_frames, p.shape[1]).unsqueeze(-1).to(p.dtype)
        s = s * mask.unsqueeze(-1).to(s.dtype)
        classes = self._classes(tokens.semantic_tokens)
        out, _ = self.decoder.decode(s, p, g, mask, classes=classes)
        offset = None
        for _ in range(self.spectrum_passes):
            with torch.no_grad():
                offset = self._spectrum_error(out, tokens, g, offset)
            out, _ = self.decoder.decode(s, p, g, mask, classes=classes,
                                         spectrum_offset=offset)
        total = int(tokens.num_samples.max())
        out = out[:, :total] * frame_mask(tokens.num_samples, total).to(out.dtype)
        if self.postfilter is not None:
            out = self.postfilter(out, tokens.num_samples)
        if level is not None:
            out = self.speech_level(out, level, tokens.num_samples)
        return out

    def _spectrum_error(self, out, tokens, global_vector, offset=None):
        """``offset`` (zeros when None) plus how far the spectrum values of the decoded
        batch ``out`` ``[B, Ts * hop]`` (the long-term spectrum's coefficients, then the
        class spectra's) fall short of G's coded ones (``global_vector``, dequantized)."""
        total = out.shape[1]
        out = out.float() * frame_mask(tokens.num_samples, total).to(out.device)
        lens = tokens.num_samples.to(out.device).float() / total
        k = self.decoder.spectrum_coefficients
        n = self.decoder.spectrum_classes * self.decoder.class_coefficients
        measured = self.global_encoder.spectrum(out, lens)
        if n:
            classes = self.class_spectrum(out, lens, tokens.semantic_tokens)
            measured = torch.cat([measured, classes], -1)
        # the spectrum tokens hold each value less its centre
        measured = measured - self.quantizer.global_quantizer.spectrum_center
        coded = global_vector[:, -1 - k - n:-1].float() / SPECTRUM_SCALE
        error = coded - measured
        return error if offset is None else offset + error

    def bitrate(self, duration=None, num_paralinguistic=None):
        """Bits per second of the tokens.

        Arguments
        ---------
        duration : float, optional
            Utterance duration in seconds; the global tokens' bits are spread over it.
            Without it, only the local streams (S and P) count.
        num_paralinguistic : int, optional
            P codebooks kept (all by default).

        Returns
        -------
        float
        """
        sizes, counts = self.codebook_sizes(), self.num_codebooks()
        num_p = counts["paralinguistic"] if num_paralinguistic is None else num_paralinguistic
        bps = counts["semantic"] * math.log2(sizes["semantic"]) * self.frame_rate
        bps += num_p * math.log2(sizes["paralinguistic"]) * self.paralinguistic_frame_rate
        if duration is not None:
            bps += self.global_bits() / duration
        return bps

    def global_bits(self):
        """Bits of the global tokens of one utterance."""
        sizes, counts = self.codebook_sizes(), self.num_codebooks()
        return counts["global"] * math.log2(sizes["global"])

    def bitrate_report(self, duration=10.0):
        """A one-line summary of the token layout and its bitrate."""
        sizes, counts = self.codebook_sizes(), self.num_codebooks()
        if counts["global"]:
            global_part = (f"G {counts['global']}x{sizes['global']} per utterance "
                           f"({self.global_bits():.0f} bits)")
        else:
            global_part = "no G"
        return (
            f"{global_part}, "
            f"S {counts['semantic']}x{sizes['semantic']} at {self.frame_rate:g} Hz, "
            f"P {counts['paralinguistic']}x{sizes['paralinguistic']} at "
            f"{self.paralinguistic_frame_rate:g} Hz: {self.bitrate():.0f} bps local, "
            f"{self.bitrate(duration):.1f} bps total over {duration:g} s"
        )


def example_codec():
    """A tiny, randomly initialised UniCodec for examples and quick trials (eval mode).

    G 2x16 per utterance, S 1x64 at 50 Hz, P 2x64 at 25 Hz (600 bps), 8-dimensional
    frames: the wiring of :class:`UniCodec`'s example at the smallest useful size.

    Example
    -------
    >>> codec = example_codec()
    >>> codec.bitrate(), codec.decode(codec.encode(torch.randn(1, 8000))).shape
    (600.0, torch.Size([1, 8000]))
    """
    from unicodec.lobes.decoder import FusionDecoder
    from unicodec.lobes.encoder import Encoder
    from unicodec.lobes.global_encoder import GlobalEncoder
    from unicodec.lobes.multiscale_quantizer import MultiScaleQuantizer
    from unicodec.lobes.quantizers import ResidualVectorQuantizer as RVQ

    return UniCodec(
        encoder=Encoder(dim=16, intermediate_dim=32, num_blocks=1,
                        num_transformer_layers=0, output_dim=8),
        global_encoder=GlobalEncoder(dim=16, num_blocks=1, attention_channels=8,
                                     output_dim=8),
        quantizer=MultiScaleQuantizer(RVQ(8, 2, codebook_size=16),
                                      RVQ(8, 1, codebook_size=64),
                                      RVQ(8, 2, codebook_size=64), frame_dim=8),
        decoder=FusionDecoder(input_dim=8, global_dim=8, dim=16, intermediate_dim=32,
                              num_blocks=1),
    ).eval()
