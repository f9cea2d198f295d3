"""Voice conversion by G swap, scored: conversion pairs, the converted audio, and how much
closer to the target speaker (and its pitch) it comes than the source."""

import random

import torch

from unicodec.swapping import voice_of


def conversion_pairs(speakers, num_pairs, seed=0):
    """Seeded ``(source, target)`` index pairs whose speakers differ.

    Arguments
    ---------
    speakers : list
        The speaker of each utterance.
    num_pairs : int
        Pairs wanted (fewer when there are not enough distinct pairs).
    seed : int
        Seed.

    Example
    -------
    >>> pairs = conversion_pairs(["a", "a", "b"], 2, seed=0)
    >>> all(["a", "a", "b"][s] != ["a", "a", "b"][t] for s, t in pairs), len(pairs)
    (True, 2)
    """
    candidates = [(s, t) for s in range(len(speakers)) for t in range(len(speakers))
                  if speakers[s] != speakers[t]]
    random.Random(seed).shuffle(candidates)
    return sorted(candidates[:num_pairs])

@torch.no_grad()
def convert_voice(codec, source, target):
    """Decodes S and P of ``source`` with G of ``target`` (1-D waveforms; returns 1-D)."""
    codec.eval()
    device = next(codec.parameters()).device
    src = codec.encode(source.reshape(1, -1).float().to(device))
    tgt = codec.encode(target.reshape(1, -1).float().to(device))
    src.global_tokens = voice_of(src.global_tokens, tgt.global_tokens,
                                 getattr(codec, "speech_level", None) is not None)
    return codec.decode(src)[0].cpu()

@torch.no_grad()
def global_embedding(codec, wav):
    """The codec's own utterance vector (the global encoder's output before quantization;
    without the long-term spectrum's coefficients, whose scale would swamp the cosine)."""
    codec.eval()
    device = next(codec.parameters()).device
    padded, _, lens = codec.pad_batch(wav.reshape(1, -1).float().to(device))
    vector = codec.global_encoder(padded, lens)[0].reshape(-1)
    k = getattr(codec.global_encoder, "spectrum_coefficients", 0)
    if k:
        vector = torch.cat([vector[: -1 - k], vector[-1:]])
    return vector.cpu()

def voice_conversion_score(codec, sources, targets, judge="auto", return_audio=False):
    """How much converted speech sounds like the target speaker rather than the source.

    Each source is decoded with the G tokens of its target (:func:`convert_voice`), and
    the converted audio is compared with the target and with the source utterance.

    Arguments
    ---------
    codec : unicodec.lobes.codec.UniCodec
        The model.
    sources, targets : list of torch.Tensor
        1-D waveforms at the codec's sample rate, of different speakers pair by pair.
    judge : str or callable
        ``"resemblyzer"`` (an independent speaker encoder, :class:`SpeakerSimilarity`),
        ``"global_embedding"`` (cosine of the codec's own utterance vectors,
        :func:`global_embedding`: a biased judge, since G is what was swapped), ``"auto"``
        (Resemblyzer when installed, else the codec's vectors), or a callable
        ``(wav_a, wav_b, sample_rate) -> similarity``.
    return_audio : bool
        Also return the converted waveforms.

    Returns
    -------
    dict
        ``judge`` (its name), ``pairs``, ``target_similarity`` and ``source_similarity``
        (means), ``margin`` (mean of target minus source similarity) and ``success_rate``
        (share of pairs closer to the target); plus ``audio`` with ``return_audio``.

    Example
    -------
    >>> from unicodec.lobes.codec import example_codec
    >>> _ = torch.manual_seed(0)
    >>> codec = example_codec()
    >>> score = voice_conversion_score(codec, [torch.randn(8000)], [torch.randn(8000)],
    ...                                judge="global_embedding")
    >>> score["judge"], score["pairs"], -1 <= score["margin"] <= 1
    ('global_embedding', 1, True)
    """
    from unicodec.evaluation import judges

    name = judge
    if judge == "auto":
        name = "resemblyzer" if "speaker_similarity" in judges.available_judges() \
            else "global_embedding"
    if name == "resemblyzer":
        similarity = judges.SpeakerSimilarity()
    elif name == "global_embedding":
        def similarity(a, b, sample_rate):
            return judges.cosine(global_embedding(codec, a), global_embedding(codec, b))
    elif callable(judge):
        similarity, name = judge, getattr(judge, "__name__", type(judge).__name__)
    else:
        raise ValueError(f"Unknown judge {judge!r}")
    if len(sources) != len(targets):
        raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
    sr = codec.sample_rate
    to_target, to_source, audio = [], [], []
    for source, target in zip(sources, targets):
        converted = convert_voice(codec, source, target)
        to_target.append(similarity(converted, target, sr))
        to_source.append(similarity(converted, source, sr))
        if return_audio:
            audio.append(converted)
    n = len(to_target)
    result = {
        "judge": name,
        "pairs": n,
        "target_similarity": sum(to_target) / n if n else float("nan"),
        "source_similarity": sum(to_source) / n if n else float("nan"),
        "margin": sum(a - b for a, b in zip(to_target, to_source)) / n if n else float("nan"),
        "success_rate": sum(a > b for a, b in zip(to_target, to_source)) / n
        if n else float("nan"),
    }
    if return_audio:
        result["audio"] = audio
    return result
