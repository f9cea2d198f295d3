"""Inference with a trained UniCodec: encode, decode, token files and token swapping.

:class:`UniCodecInterface` is a SpeechBrain ``Pretrained`` interface. An exported model
folder (see :mod:`unicodec.export`) loads offline with::

    from speechbrain.inference.interfaces import foreign_class
    codec = foreign_class(source="path/to/folder", pymodule_file="custom.py",
                          classname="UniCodecInterface")

or with :func:`load_model`. The interface is a thin adapter over plain functions that
work on any :class:`~unicodec.lobes.codec.UniCodec` without SpeechBrain's ``Pretrained``:
long inputs coded in overlapping windows (:mod:`unicodec.windowing`, so that memory stays
flat however long the audio is) and token swapping (:mod:`unicodec.swapping`: voice
conversion, prosody transfer and its alignment in time).

Authors
 * UniCodec authors 2026
"""

import logging
import os

import soundfile as sf
import torch
from speechbrain.inference.interfaces import Pretrained

from unicodec.data.audio import check_waveform, load_audio
from unicodec.lobes.codec import check_waveform_batch
from unicodec.swapping import PROSODY_ALIGNMENTS, align_prosody, swap_tokens  # noqa: F401
from unicodec.token_file import load_tokens, model_info, save_tokens
from unicodec.tokens import Tokens
from unicodec.windowing import (  # noqa: F401
    Window,
    decode_windowed,
    encode_windowed,
    plan_windows,
    window_samples,
)

logger = logging.getLogger(__name__)


class UniCodecInterface(Pretrained):
    """Encode speech into G/S/P tokens, decode them, and swap them between utterances.

    Results of the batch methods are on ``self.device``. Inputs longer than one window
    are coded in overlapping windows (:func:`plan_windows`): S and P tokens of each
    window's central part are kept, and G comes from the mean of the windows' utterance
    vectors (weighted by their kept lengths), so memory stays flat on long files.
    Inputs up to one window are coded in one pass, exactly as ``UniCodec.encode``. The
    windowed S and P tokens equal those of one pass when the encoder's receptive field
    (``codec.encoder.receptive_field``, finite with banded attention) fits in the
    ``(window - hop) / 2`` of context; with global attention they differ slightly.

    Arguments
    ---------
    *args, **kwargs
        As for ``speechbrain.inference.interfaces.Pretrained`` (``modules`` must hold
        ``codec``, a :class:`UniCodec`).
    window_seconds : float
        Window of long-input coding (rounded to whole paralinguistic frames).
    hop_seconds : float
        Hop between windows; ``(window - hop) / 2`` seconds of context on each side.

    Example
    -------
    >>> from unicodec.lobes.codec import example_codec
    >>> codec = example_codec()
    >>> interface = UniCodecInterface.from_codec(codec, device="cpu")
    >>> tokens = interface.encode_batch(torch.randn(2, 8000), torch.tensor([1.0, 0.5]))
    >>> tokens.semantic_tokens.shape, tokens.num_samples.tolist()
    (torch.Size([2, 26, 1]), [8000, 4000])
    >>> interface.decode_batch(tokens).shape
    torch.Size([2, 8000])
    >>> interface.convert(torch.randn(6400), speaker=torch.randn(3200)).shape
    torch.Size([1, 6400])
    >>> interface.sample_rate, interface.frame_rate, interface.bitrate
    (16000, 50.0, 600.0)
    """

    MODULES_NEEDED = ["codec"]

    def __init__(self, *args, window_seconds=20.0, hop_seconds=18.0, **kwargs):
        super().__init__(*args, **kwargs)
        missing = [name for name in self.MODULES_NEEDED if name not in self.mods]
        if missing:
            raise ValueError(f"UniCodecInterface needs modules {missing}")
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.window_samples()  # validates the window settings

    @classmethod
    def from_codec(cls, codec, device="cpu", **kwargs):
        """Wraps an in-memory :class:`UniCodec` (moved to ``device``, frozen, eval mode)."""
        return cls(modules={"codec": codec}, hparams={}, run_opts={"device": device}, **kwargs)

    @property
    def codec(self):
        """The wrapped :class:`UniCodec`."""
        return self.mods.codec

    # ------------------------------------------------------------------ description
    @property
    def sample_rate(self):
        """Sample rate of the waveforms the model takes and returns."""
        return self.codec.sample_rate

    @property
    def frame_rate(self):
        """Semantic (S) frames per second."""
        return self.codec.frame_rate

    @property
    def paralinguistic_frame_rate(self):
        """Paralinguistic (P) frames per second."""
        return self.codec.paralinguistic_frame_rate

    @property
    def hop_length(self):
        """Samples per S frame (the shortest input that can be coded)."""
        return self.codec.hop_length

    @property
    def samples_per_step(self):
        """Samples per P frame."""
        return self.codec.samples_per_step

    @property
    def bitrate(self):
        """Bits per second of the local streams (S and P, all codebooks)."""
        return self.codec.bitrate()

    def bitrate_for(self, duration, num_paralinguistic=None):
        """Bits per second of an utterance of ``duration`` seconds, G included."""
        return self.codec.bitrate(duration, num_paralinguistic)

    @property
    def codebook_sizes(self):
        """Codebook size of each stream (``global``, ``semantic``, ``paralinguistic``)."""
        return dict(self.codec.codebook_sizes())

    @property
    def num_codebooks(self):
        """Number of codebooks of each stream."""
        return dict(self.codec.num_codebooks())

    @property
    def model_info(self):
        """Token layout and fingerprint of the model (see :mod:`unicodec.token_file`)."""
        return model_info(self.codec)

    def window_samples(self):
        """Window and hop of long-input coding, in samples (multiples of a P frame)."""
        return window_samples(self.codec, self.window_seconds, self.hop_seconds)

    # ------------------------------------------------------------------ encoding
    def load_audio(self, path, savedir=None):
        """Reads an audio file as a mono waveform ``[T]`` at the model's sample rate.

        Any sample rate is resampled and channels are averaged. Errors name the file:
        missing, unreadable, empty, NaN/inf samples, or shorter than one frame.
        """
        wav = load_audio(path, self.sample_rate)
        check_waveform(wav, name=f"Audio file {os.fspath(path)}", min_samples=self.hop_length)
        return wav

    def encode_batch(self, wavs, wav_lens=None, num_paralinguistic=None, progress=False):
        """Tokens of a batch of waveforms at the model's sample rate.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, T]`` (or ``[T]``) waveforms.
        wav_lens : torch.Tensor, optional
            ``[B]`` relative lengths.
        num_paralinguistic : int, optional
            Keep only the first P codebooks (a lower bitrate).
        progress : bool
            Show a progress bar over the windows of long inputs.

        Returns
        -------
        Tokens
            On ``self.device``; a padded batch gives the tokens of each file alone.
        """
        wavs, wav_lens = check_waveform_batch(wavs, wav_lens, self.hop_length, "wavs")
        window, hop = self.window_samples()
        return encode_windowed(
            self.codec, wavs.to(self.device), wav_lens.to(self.device), window, hop,
            num_paralinguistic, progress,
        )

    def encode_file(self, path, num_paralinguistic=None, progress=False):
        """Tokens (batch of one) of an audio file at any sample rate (downmixed to mono)."""
        wav = self.load_audio(path)
        return self.encode_batch(wav.unsqueeze(0), None, num_paralinguistic, progress)

    # ------------------------------------------------------------------ decoding
    def decode_batch(self, tokens, progress=False):
        """Waveforms ``[B, max(num_samples)]`` of tokens, zero beyond each one's length.

        Token streams longer than one window are decoded window by window: each
        window's output is cropped to its central part (:func:`plan_windows`).
        """
        if not isinstance(tokens, Tokens):
            raise TypeError(f"decode_batch expects Tokens, got {type(tokens).__name__}")
        window, hop = self.window_samples()
        return decode_windowed(self.codec, tokens.to(self.device), window, hop, progress)

    def decode_file(self, path, progress=False):
        """Waveform ``[T]`` of a token file made by this model (checked by fingerprint)."""
        tokens, _ = load_tokens(path, expected_model_info=self.model_info)
        return self.decode_batch(tokens, progress)[0]

    def forward(self, wavs, wav_lens=None):
        """Resynthesis: decode(encode(wavs)), ``[B, T]``."""
        return self.decode_batch(self.encode_batch(wavs, wav_lens))

    def resynthesize(self, source, progress=False):
        """Resynthesis of a waveform ``[T]``/``[B, T]``, an audio file path or Tokens."""
        return self.decode_batch(self._as_tokens(source, "source", progress), progress)

    # ------------------------------------------------------------------ files
    def save_tokens(self, path, tokens):
        """Writes the tokens of one utterance to a token file (see :mod:`unicodec.token_file`)."""
        save_tokens(path, tokens.to("cpu"), self.model_info)

    def load_tokens(self, path):
        """Reads a token file made by this model; returns ``(tokens, info)``."""
        tokens, info = load_tokens(path, expected_model_info=self.model_info)
        return tokens.to(self.device), info

    def save_audio(self, path, wav, subtype=None):
        """Writes a waveform ``[T]`` (or ``[1, T]``) at the model's sample rate.

        Samples beyond [-1, 1] are clipped (with a warning) unless ``subtype`` is a
        float format such as ``"FLOAT"``.
        """
        wav = wav.detach().to("cpu", torch.float32).reshape(-1)
        if subtype not in ("FLOAT", "DOUBLE") and wav.abs().max() > 1:
            logger.warning("%s: clipping %d samples to [-1, 1]", path,
                           int((wav.abs() > 1).sum()))
            wav = wav.clamp(-1, 1)
        sf.write(os.fspath(path), wav.numpy(), self.sample_rate, subtype=subtype)

    # ------------------------------------------------------------------ swapping
    def _as_tokens(self, item, name, progress=False):
        """Tokens of Tokens, a waveform ``[T]``/``[B, T]`` or an audio file path."""
        if isinstance(item, Tokens):
            return item.to(self.device)
        if torch.is_tensor(item):
            return self.encode_batch(item, progress=progress)
        if isinstance(item, (str, os.PathLike)):
            return self.encode_file(item, progress=progress)
        raise TypeError(
            f"{name} must be Tokens, a waveform tensor or an audio file path, "
            f"got {type(item).__name__}"
        )

    def convert_tokens(self, source, speaker=None, prosody=None, prosody_align="stretch",
                       progress=False):
        """Tokens of ``source`` with G from ``speaker`` and, optionally, P from ``prosody``.

        Arguments
        ---------
        source, speaker, prosody : Tokens, torch.Tensor, str or os.PathLike
            Tokens, waveforms at the model's sample rate, or audio file paths.
            ``speaker`` and ``prosody`` have the batch size of ``source`` or 1
            (shared by every source utterance).
        prosody_align : str
            How the prosody reference's P frames are fitted to the source's:
            ``"stretch"`` (resampled in time, the default) or ``"trim"`` (one for one
            from the start; a shorter reference repeats its last frame). See
            :func:`align_prosody`.

        Returns
        -------
        Tokens
            S (and P unless ``prosody`` is given) and the length of ``source``.
        """
        if speaker is not None and self.num_codebooks["global"] == 0:
            raise ValueError(
                "this model has no global (G) tokens, so it cannot take the voice of "
                "`speaker`; only `prosody` can be swapped"
            )
        return swap_tokens(
            self._as_tokens(source, "source", progress),
            None if speaker is None else self._as_tokens(speaker, "speaker", progress),
            None if prosody is None else self._as_tokens(prosody, "prosody", progress),
            prosody_align,
            self.samples_per_step,
            keep_level=self.codec.speech_level is not None,
        )

    def convert(self, source, speaker=None, prosody=None, prosody_align="stretch",
                progress=False):
        """Voice conversion (G from ``speaker``) and prosody transfer (P from ``prosody``).

        Takes the same arguments as :meth:`convert_tokens` and returns the decoded
        waveforms ``[B, T]``, as long as the source.
        """
        tokens = self.convert_tokens(source, speaker, prosody, prosody_align, progress)
        return self.decode_batch(tokens, progress)


def load_model(source, device=None, savedir=None, **kwargs):
    """Loads an exported model folder (offline) as a :class:`UniCodecInterface`.

    Arguments
    ---------
    source : str or os.PathLike
        The folder written by :func:`unicodec.export.export_model`; relative paths are
        taken from the current directory.
    device : str, optional
        ``"cpu"``, ``"cuda:0"``, ...; by default the first accelerator if any.
    savedir : str, optional
        Where SpeechBrain links the model files; by default they are read in place.
    **kwargs
        Passed to :class:`UniCodecInterface` (``window_seconds``, ``hop_seconds``).

    Raises
    ------
    FileNotFoundError
        If ``source`` is not a folder holding ``hyperparams.yaml`` and ``codec.ckpt``
        (never falls back to a download).
    """
    folder = os.path.abspath(os.fspath(source))
    for name in ("hyperparams.yaml", "codec.ckpt"):
        if not os.path.isfile(os.path.join(folder, name)):
            raise FileNotFoundError(
                f"Model folder {folder} has no {name} (export one with "
                "unicodec.export.export_model)"
            )
    run_opts = {"device": device} if device else None
    try:  # SpeechBrain >= 1.1: say so explicitly, never a download
        from speechbrain.utils.fetching import FetchConfig

        kwargs["fetch_config"] = FetchConfig(allow_network=False)
    except ImportError:  # SpeechBrain 1.0.x reads a local folder in place without asking
        pass
    return UniCodecInterface.from_hparams(
        source=folder, savedir=savedir, run_opts=run_opts, **kwargs,
    )
