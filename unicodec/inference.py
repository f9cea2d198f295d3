"""Inference with a trained UniCodec: encode, decode, token files and token swapping.

:class:`UniCodecInterface` is a SpeechBrain ``Pretrained`` interface. An exported model
folder (see :mod:`unicodec.export`) loads offline with::

    from speechbrain.inference.interfaces import foreign_class
    codec = foreign_class(source="path/to/folder", pymodule_file="custom.py",
                          classname="UniCodecInterface")

or with :func:`load_model`. Long inputs are coded in overlapping windows (see
:func:`plan_windows`) so that memory stays flat however long the audio is.

Authors
 * UniCodec authors 2026
"""

import logging
import math
import os
from dataclasses import dataclass

import soundfile as sf
import torch
from speechbrain.inference.interfaces import Pretrained
from tqdm import tqdm

from unicodec.data.audio import check_waveform, load_audio
from unicodec.lengths import relative_to_count
from unicodec.lobes.codec import check_waveform_batch
from unicodec.token_file import load_tokens, model_info, save_tokens
from unicodec.tokens import Tokens

logger = logging.getLogger(__name__)

PROSODY_ALIGNMENTS = ("stretch", "trim")


@dataclass(frozen=True)
class Window:
    """One analysis window of a long input, in samples.

    Arguments
    ---------
    start, end : int
        The samples the window codes, ``[start, end)``.
    keep_start, keep_end : int
        The central part whose tokens (or output samples) are kept.
    """

    start: int
    end: int
    keep_start: int
    keep_end: int


def plan_windows(num_samples, window, hop, step):
    """Overlapping windows that cover ``num_samples``, each keeping its central part.

    Windows start every ``hop`` samples and are ``window`` long; the last one is moved
    back so that it ends on the last sample (so it is never shorter than a window). Two
    neighbours hand over in the middle of their overlap, rounded down to a multiple of
    ``step``, so every kept sample has about ``(window - hop) / 2`` samples of context on
    each side, except at the ends of the input.

    Arguments
    ---------
    num_samples : int
        Length of the input.
    window, hop : int
        Window length and hop, multiples of ``step``, ``0 < hop <= window``.
    step : int
        Samples per paralinguistic frame (``UniCodec.samples_per_step``): every window
        and every hand-over starts on a frame boundary of both token streams.

    Returns
    -------
    list of Window
        The kept parts tile ``[0, num_samples)`` in order.

    Example
    -------
    >>> for w in plan_windows(10000, window=3200, hop=1920, step=640):
    ...     print(w.start, w.end, w.keep_start, w.keep_end)
    0 3200 0 2560
    1920 5120 2560 4480
    3840 7040 4480 6400
    5760 8960 6400 7680
    6400 10000 7680 10000
    >>> len(plan_windows(3000, window=3200, hop=1920, step=640))
    1
    """
    if window % step or hop % step or not 0 < hop <= window:
        raise ValueError(
            f"window ({window}) and hop ({hop}) must be positive multiples of {step} "
            "with hop <= window"
        )
    if num_samples <= window:
        return [Window(0, num_samples, 0, num_samples)]
    starts = list(range(0, num_samples - window, hop))
    last = (num_samples - window) // step * step
    if starts[-1] == last:
        starts.pop()
    starts.append(last)
    ends = [s + window for s in starts[:-1]] + [num_samples]
    cuts = [(starts[k + 1] + ends[k]) // 2 // step * step for k in range(len(starts) - 1)]
    keeps = [0] + cuts + [num_samples]
    return [Window(s, e, keeps[k], keeps[k + 1]) for k, (s, e) in enumerate(zip(starts, ends))]


def _pad_frames(codes, length):
    """Zero-pads (or crops) ``[B, T, K]`` codes to ``length`` frames."""
    if codes.shape[1] >= length:
        return codes[:, :length]
    return torch.nn.functional.pad(codes, (0, 0, 0, length - codes.shape[1]))


def align_prosody(paralinguistic, num_frames, target_frames, mode="stretch"):
    """Maps the valid P frames of a prosody reference onto another utterance's P frames.

    Arguments
    ---------
    paralinguistic : torch.Tensor
        ``[T, K]`` P tokens of the reference.
    num_frames : int
        Valid frames of the reference.
    target_frames : int
        Valid P frames of the utterance that receives them.
    mode : str
        ``"stretch"``: the whole contour is resampled in time (nearest frame) to the
        target's length, so its shape spans the whole target. ``"trim"``: frames are
        taken one for one from the start, cut where the target ends; a shorter
        reference has its last frame repeated.

    Returns
    -------
    torch.Tensor
        ``[target_frames, K]``.

    Example
    -------
    >>> p = torch.arange(4).unsqueeze(1)
    >>> align_prosody(p, 4, 8, "stretch").flatten().tolist()
    [0, 0, 1, 1, 2, 2, 3, 3]
    >>> align_prosody(p, 4, 6, "trim").flatten().tolist()
    [0, 1, 2, 3, 3, 3]
    >>> align_prosody(p, 4, 2, "stretch").flatten().tolist()
    [0, 2]
    """
    if mode not in PROSODY_ALIGNMENTS:
        raise ValueError(f"prosody alignment must be one of {PROSODY_ALIGNMENTS}, got {mode!r}")
    target = torch.arange(target_frames, device=paralinguistic.device)
    if mode == "stretch":
        index = torch.div(target * num_frames, target_frames, rounding_mode="floor")
    else:
        index = target.clamp(max=num_frames - 1)
    return paralinguistic[index]


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
        step = self.samples_per_step
        window = max(1, round(self.window_seconds * self.sample_rate / step)) * step
        hop = max(1, round(self.hop_seconds * self.sample_rate / step)) * step
        if hop > window:
            raise ValueError(
                f"hop_seconds ({self.hop_seconds}) must not exceed window_seconds "
                f"({self.window_seconds})"
            )
        return window, hop

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
        codec = self.codec
        wavs, wav_lens = check_waveform_batch(wavs, wav_lens, codec.hop_length, "wavs")
        wavs, wav_lens = wavs.to(self.device), wav_lens.to(self.device)
        window, hop = self.window_samples()
        counts = relative_to_count(wav_lens, wavs.shape[1])
        with torch.no_grad():
            if int(counts.max()) <= window:
                return codec.encode(wavs, wav_lens, num_paralinguistic)
            parts = []
            for i, count in enumerate(counts.tolist()):
                wav = wavs[i, :count].unsqueeze(0)
                if count <= window:
                    parts.append(codec.encode(wav, num_paralinguistic=num_paralinguistic))
                else:
                    parts.append(self._encode_windows(wav, num_paralinguistic, progress))
        return self._stack(parts)

    def _encode_windows(self, wav, num_paralinguistic, progress):
        """Tokens of one long waveform ``[1, T]``, window by window."""
        codec = self.codec
        num_samples = wav.shape[1]
        step, hop = codec.samples_per_step, codec.hop_length
        stride = step // hop
        windows = plan_windows(num_samples, *self.window_samples(), step)
        num_p = math.ceil(num_samples / step)
        semantic = paralinguistic = None
        global_sum = 0.0
        for w in tqdm(windows, desc="encode", unit="window", disable=not progress):
            segment = wav[:, w.start:w.end]
            tokens = codec.encode(segment, num_paralinguistic=num_paralinguistic)
            padded, _, lens = codec.pad_batch(segment)
            global_sum = global_sum + (w.keep_end - w.keep_start) * codec.global_encoder(
                padded, lens)
            if semantic is None:
                semantic = tokens.semantic_tokens.new_zeros(
                    1, num_p * stride, tokens.semantic_tokens.shape[2])
                paralinguistic = tokens.paralinguistic_tokens.new_zeros(
                    1, num_p, tokens.paralinguistic_tokens.shape[2])
            for out, codes, size in ((semantic, tokens.semantic_tokens, hop),
                                     (paralinguistic, tokens.paralinguistic_tokens, step)):
                first = (w.keep_start - w.start) // size
                last = math.ceil((w.keep_end - w.start) / size)
                out[:, w.keep_start // size:w.keep_start // size + last - first] = (
                    codes[:, first:last])
        global_vector = global_sum / num_samples
        global_tokens = codec.quantizer.global_quantizer.encode(
            global_vector.unsqueeze(1)).squeeze(1)
        return Tokens(global_tokens, semantic, paralinguistic,
                      torch.tensor([num_samples], device=wav.device))

    @staticmethod
    def _stack(parts):
        """One padded batch of single-utterance tokens (0 on padded frames)."""
        length_s = max(t.semantic_tokens.shape[1] for t in parts)
        length_p = max(t.paralinguistic_tokens.shape[1] for t in parts)
        return Tokens(
            global_tokens=torch.cat([t.global_tokens for t in parts]),
            semantic_tokens=torch.cat([_pad_frames(t.semantic_tokens, length_s) for t in parts]),
            paralinguistic_tokens=torch.cat(
                [_pad_frames(t.paralinguistic_tokens, length_p) for t in parts]),
            num_samples=torch.cat([t.num_samples for t in parts]),
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
        codec = self.codec
        tokens = tokens.to(self.device)
        window, _ = self.window_samples()
        counts = tokens.num_samples.tolist()
        with torch.no_grad():
            if max(counts) <= window:
                return codec.decode(tokens)
            out = torch.zeros(len(counts), max(counts), device=self.device)
            for i, count in enumerate(counts):
                single = tokens[i]
                if count <= window:
                    out[i, :count] = codec.decode(single)[0]
                else:
                    self._decode_windows(single, out[i, :count], progress)
        return out

    def _decode_windows(self, tokens, out, progress):
        """Decodes the tokens of one long utterance into ``out`` ``[T]``, window by window."""
        codec = self.codec
        num_samples = int(tokens.num_samples[0])
        step, hop = codec.samples_per_step, codec.hop_length
        stride = step // hop
        num_p = math.ceil(num_samples / step)
        semantic = _pad_frames(tokens.semantic_tokens, num_p * stride)
        paralinguistic = _pad_frames(tokens.paralinguistic_tokens, num_p)
        windows = plan_windows(num_samples, *self.window_samples(), step)
        for w in tqdm(windows, desc="decode", unit="window", disable=not progress):
            first_p, frames_p = w.start // step, math.ceil((w.end - w.start) / step)
            window_tokens = Tokens(
                tokens.global_tokens,
                semantic[:, first_p * stride:(first_p + frames_p) * stride],
                paralinguistic[:, first_p:first_p + frames_p],
                torch.tensor([w.end - w.start], device=self.device),
            )
            wav = codec.decode(window_tokens)[0]
            out[w.keep_start:w.keep_end] = wav[w.keep_start - w.start:w.keep_end - w.start]
        return out

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
        src = self._as_tokens(source, "source", progress)
        batch = src.batch_size
        global_tokens = src.global_tokens
        if speaker is not None:
            global_tokens = self._broadcast(self._as_tokens(speaker, "speaker", progress),
                                            batch, "speaker").global_tokens
        paralinguistic = src.paralinguistic_tokens
        if prosody is not None:
            ref = self._broadcast(self._as_tokens(prosody, "prosody", progress), batch,
                                  "prosody")
            step = self.samples_per_step
            paralinguistic = ref.paralinguistic_tokens.new_zeros(
                batch, src.paralinguistic_tokens.shape[1], ref.paralinguistic_tokens.shape[2])
            for b in range(batch):
                target = math.ceil(int(src.num_samples[b]) / step)
                frames = math.ceil(int(ref.num_samples[b]) / step)
                paralinguistic[b, :target] = align_prosody(
                    ref.paralinguistic_tokens[b], frames, target, prosody_align)
        return Tokens(global_tokens, src.semantic_tokens, paralinguistic, src.num_samples)

    @staticmethod
    def _broadcast(tokens, batch, name):
        if tokens.batch_size == batch:
            return tokens
        if tokens.batch_size == 1:
            return Tokens(
                tokens.global_tokens.expand(batch, -1),
                tokens.semantic_tokens.expand(batch, -1, -1),
                tokens.paralinguistic_tokens.expand(batch, -1, -1),
                tokens.num_samples.expand(batch),
            )
        raise ValueError(
            f"{name} has {tokens.batch_size} utterances; the source has {batch} "
            "(give 1 or as many as the source)"
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
