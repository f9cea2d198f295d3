"""Long inputs coded in overlapping windows, so that memory stays flat however long
the audio is.

:func:`plan_windows` lays out the windows; :func:`encode_windowed` and
:func:`decode_windowed` code a batch with any :class:`~unicodec.lobes.codec.UniCodec`,
one pass for inputs up to one window (exactly ``UniCodec.encode``/``decode``), window by
window beyond. :class:`~unicodec.inference.UniCodecInterface` is a thin adapter over them.

Example
-------
>>> from unicodec.lobes.codec import example_codec
>>> codec = example_codec().eval()
>>> window, hop = window_samples(codec, window_seconds=0.2, hop_seconds=0.12)
>>> wav = torch.randn(1, 16000)
>>> tokens = encode_windowed(codec, wav, window=window, hop=hop)
>>> decode_windowed(codec, tokens, window=window, hop=hop).shape
torch.Size([1, 16000])
"""

import math
from dataclasses import dataclass

import torch
from tqdm import tqdm

from unicodec.lengths import relative_to_count
from unicodec.lobes.codec import check_waveform_batch
from unicodec.tokens import Tokens


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


def window_samples(codec, window_seconds, hop_seconds):
    """Window and hop in samples (whole P frames of ``codec``) of durations in seconds.

    Example
    -------
    >>> from unicodec.lobes.codec import example_codec
    >>> window_samples(example_codec(), 20.0, 18.0)
    (320000, 288000)
    """
    step = codec.samples_per_step
    window = max(1, round(window_seconds * codec.sample_rate / step)) * step
    hop = max(1, round(hop_seconds * codec.sample_rate / step)) * step
    if hop > window:
        raise ValueError(
            f"hop_seconds ({hop_seconds}) must not exceed window_seconds ({window_seconds})"
        )
    return window, hop


def pad_frames(codes, length):
    """Zero-pads (or crops) ``[B, T, K]`` codes to ``length`` frames."""
    if codes.shape[1] >= length:
        return codes[:, :length]
    return torch.nn.functional.pad(codes, (0, 0, 0, length - codes.shape[1]))


def stack_tokens(parts):
    """One padded batch of single-utterance tokens (0 on padded frames)."""
    length_s = max(t.semantic_tokens.shape[1] for t in parts)
    length_p = max(t.paralinguistic_tokens.shape[1] for t in parts)
    return Tokens(
        global_tokens=torch.cat([t.global_tokens for t in parts]),
        semantic_tokens=torch.cat([pad_frames(t.semantic_tokens, length_s) for t in parts]),
        paralinguistic_tokens=torch.cat(
            [pad_frames(t.paralinguistic_tokens, length_p) for t in parts]),
        num_samples=torch.cat([t.num_samples for t in parts]),
    )


@torch.no_grad()
def encode_windowed(codec, wavs, wav_lens=None, window=320000, hop=288000,
                    num_paralinguistic=None, progress=False):
    """Tokens of a batch, each input longer than ``window`` samples coded in windows.

    S and P tokens of each window's central part are kept, and G comes from the mean of
    the windows' utterance vectors (weighted by their kept lengths). The windowed S and P
    tokens equal those of one pass when the encoder's receptive field
    (``codec.encoder.receptive_field``, finite with banded attention) fits in the
    ``(window - hop) / 2`` of context; with global attention they differ slightly.

    Arguments
    ---------
    codec : UniCodec
    wavs : torch.Tensor
        ``[B, T]`` (or ``[T]``) waveforms on the codec's device.
    wav_lens : torch.Tensor, optional
        ``[B]`` relative lengths.
    window, hop : int
        Samples (multiples of ``codec.samples_per_step``; see :func:`window_samples`).
    num_paralinguistic : int, optional
        Keep only the first P codebooks.
    progress : bool
        A progress bar over the windows.

    Returns
    -------
    Tokens
        A padded batch gives the tokens of each input alone.
    """
    wavs, wav_lens = check_waveform_batch(wavs, wav_lens, codec.hop_length, "wavs")
    wav_lens = wav_lens.to(wavs.device)
    counts = relative_to_count(wav_lens, wavs.shape[1])
    if int(counts.max()) <= window:
        return codec.encode(wavs, wav_lens, num_paralinguistic)
    parts = []
    for i, count in enumerate(counts.tolist()):
        wav = wavs[i, :count].unsqueeze(0)
        if count <= window:
            parts.append(codec.encode(wav, num_paralinguistic=num_paralinguistic))
        else:
            parts.append(_encode_windows(codec, wav, window, hop, num_paralinguistic, progress))
    return stack_tokens(parts)


def _encode_windows(codec, wav, window, hop, num_paralinguistic, progress):
    """Tokens of one long waveform ``[1, T]``, window by window."""
    num_samples = wav.shape[1]
    step, frame = codec.samples_per_step, codec.hop_length
    stride = step // frame
    windows = plan_windows(num_samples, window, hop, step)
    num_p = math.ceil(num_samples / step)
    semantic = paralinguistic = None
    global_sum = 0.0
    level = None
    if getattr(codec.encoder, "level_invariant", False):  # every window at the input's level
        level = codec.encoder.level(wav, torch.ones(1, device=wav.device))
    for w in tqdm(windows, desc="encode", unit="window", disable=not progress):
        segment = wav[:, w.start:w.end]
        tokens = codec.encode(segment, num_paralinguistic=num_paralinguistic, level=level)
        padded, _, lens = codec.pad_batch(segment)
        global_sum = global_sum + (w.keep_end - w.keep_start) * codec.global_encoder(
            padded, lens)
        if semantic is None:
            semantic = tokens.semantic_tokens.new_zeros(
                1, num_p * stride, tokens.semantic_tokens.shape[2])
            paralinguistic = tokens.paralinguistic_tokens.new_zeros(
                1, num_p, tokens.paralinguistic_tokens.shape[2])
        for out, codes, size in ((semantic, tokens.semantic_tokens, frame),
                                 (paralinguistic, tokens.paralinguistic_tokens, step)):
            first = (w.keep_start - w.start) // size
            last = math.ceil((w.keep_end - w.start) / size)
            out[:, w.keep_start // size:w.keep_start // size + last - first] = (
                codes[:, first:last])
    global_vector = global_sum / num_samples
    if getattr(codec, "class_spectrum", None) is not None:  # over the whole utterance
        padded, _, lens = codec.pad_batch(wav)
        global_vector = codec.with_class_spectra(global_vector, padded, lens, semantic)
    global_tokens = codec.quantizer.global_quantizer.encode(
        global_vector.unsqueeze(1)).squeeze(1)
    if getattr(codec, "speech_level", None) is not None:  # over the whole utterance
        level = codec.speech_level.encode(wav)[:, None].to(global_tokens)
        global_tokens = torch.cat([global_tokens, level], -1)
    return Tokens(global_tokens, semantic, paralinguistic,
                  torch.tensor([num_samples], device=wav.device))


@torch.no_grad()
def decode_windowed(codec, tokens, window=320000, hop=288000, progress=False):
    """Waveforms ``[B, max(num_samples)]`` of tokens, zero beyond each one's length;
    token streams longer than ``window`` samples are decoded window by window, each
    window's output cropped to its central part (:func:`plan_windows`).

    Arguments
    ---------
    codec : UniCodec
    tokens : Tokens
        On the codec's device.
    window, hop : int
        As for :func:`encode_windowed`.
    progress : bool
        A progress bar over the windows.
    """
    if not isinstance(tokens, Tokens):
        raise TypeError(f"decoding expects Tokens, got {type(tokens).__name__}")
    counts = tokens.num_samples.tolist()
    if max(counts) <= window:
        return codec.decode(tokens)
    device = tokens.semantic_tokens.device
    out = torch.zeros(len(counts), max(counts), device=device)
    for i, count in enumerate(counts):
        single = tokens[i]
        if count <= window:
            out[i, :count] = codec.decode(single)[0]
        else:
            _decode_windows(codec, single, out[i, :count], window, hop, progress)
    return out


def _decode_windows(codec, tokens, out, window, hop, progress):
    """Decodes the tokens of one long utterance into ``out`` ``[T]``, window by window."""
    num_samples = int(tokens.num_samples[0])
    step, frame = codec.samples_per_step, codec.hop_length
    stride = step // frame
    num_p = math.ceil(num_samples / step)
    semantic = pad_frames(tokens.semantic_tokens, num_p * stride)
    paralinguistic = pad_frames(tokens.paralinguistic_tokens, num_p)
    device = semantic.device
    # the speech level is the whole utterance's: applied once to the joined output
    global_tokens, level = codec.split_global(tokens.global_tokens)
    for w in tqdm(plan_windows(num_samples, window, hop, step), desc="decode", unit="window",
                  disable=not progress):
        first_p, frames_p = w.start // step, math.ceil((w.end - w.start) / step)
        window_tokens = Tokens(
            global_tokens,
            semantic[:, first_p * stride:(first_p + frames_p) * stride],
            paralinguistic[:, first_p:first_p + frames_p],
            torch.tensor([w.end - w.start], device=device),
        )
        wav = codec.decode(window_tokens)[0]
        out[w.keep_start:w.keep_end] = wav[w.keep_start - w.start:w.keep_end - w.start]
    if level is not None:
        out[:] = codec.speech_level(out[None], level)[0]
    return out
