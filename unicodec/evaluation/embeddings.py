"""What the probes read: per-utterance vectors and per-frame features of each token stream
(dequantized G, S and P), with the utterance's labels and F0."""

import math
from dataclasses import dataclass, field
from typing import Optional

import torch

from unicodec.features import frame_f0
from unicodec.lengths import frames_for_samples

STREAMS = ("global", "semantic", "paralinguistic")
"""The token streams, in the order G, S, P."""

STREAM_LETTERS = {"global": "G", "semantic": "S", "paralinguistic": "P"}


@dataclass
class UtteranceEmbeddings:
    """The token embeddings of one utterance, with its labels and frame targets.

    Arguments
    ---------
    utt_id : str
        Utterance id.
    global_vector : torch.Tensor
        ``[Dg]`` dequantized G.
    semantic : torch.Tensor
        ``[Ts, D]`` dequantized S frames (valid frames only).
    paralinguistic : torch.Tensor
        ``[Tp, D]`` dequantized P frames (valid frames only).
    labels : dict
        Utterance labels (``spk_id``, ``style``, ``language``, ``alignment``, ...).
    frame_rate : float
        S frames per second (the rate of ``phones`` and ``log_f0``).
    log_f0 : torch.Tensor, optional
        ``[Ts]`` log-F0 of each S frame, 0 where unvoiced.
    voiced : torch.Tensor, optional
        ``[Ts]`` bool.
    """

    utt_id: str
    global_vector: torch.Tensor
    semantic: torch.Tensor
    paralinguistic: torch.Tensor
    labels: dict = field(default_factory=dict)
    frame_rate: float = 50.0
    log_f0: Optional[torch.Tensor] = None
    voiced: Optional[torch.Tensor] = None

    @property
    def num_frames(self):
        """Number of S frames."""
        return self.semantic.shape[0]

    def frames(self, stream):
        """``[Ts, D]`` features of ``stream`` at the S frame rate.

        P frames are repeated to the S rate; G is broadcast to every frame.
        """
        n = self.num_frames
        if stream == "semantic":
            return self.semantic
        if stream == "paralinguistic":
            p = self.paralinguistic
            stride = max(1, math.ceil(n / max(p.shape[0], 1)))
            p = p.repeat_interleave(stride, dim=0)[:n]
            if p.shape[0] < n:  # never for codec outputs; kept for hand-made inputs
                p = torch.cat([p, p[-1:].expand(n - p.shape[0], -1)])
            return p
        if stream == "global":
            return self.global_vector.unsqueeze(0).expand(n, -1)
        raise KeyError(f"Unknown stream {stream!r}; choose among {STREAMS}")

    def pooled(self, stream):
        """One vector per utterance: G, or the mean and standard deviation of S or P frames.

        Streams joined by ``+`` (``"global+paralinguistic"``) give their vectors side by side.
        """
        if "+" in stream:
            return torch.cat([self.pooled(part) for part in stream.split("+")])
        if stream == "global":
            return self.global_vector
        feats = self.semantic if stream == "semantic" else self.paralinguistic
        if stream not in STREAMS:
            raise KeyError(f"Unknown stream {stream!r}; choose among {STREAMS}")
        std = feats.std(0, unbiased=False) if feats.shape[0] > 1 else torch.zeros_like(feats[0])
        return torch.cat([feats.mean(0), std])

    def frame_phones(self):
        """Phone name of each S frame (None where the alignment leaves it uncovered)."""
        alignment = self.labels.get("alignment")
        if not alignment:
            return None
        centres = (torch.arange(self.num_frames, dtype=torch.float64) + 0.5) / self.frame_rate
        phones = [None] * self.num_frames
        for start, end, phone in alignment:
            covered = ((centres >= float(start)) & (centres < float(end))).nonzero().flatten()
            for t in covered.tolist():
                phones[t] = phone
        return phones

@torch.no_grad()
def embed_tokens(codec, tokens):
    """Dequantized G, S and P of each utterance of ``tokens``, cut to its valid frames.

    Returns
    -------
    list of tuple
        ``(g [Dg], s [Ts, D], p [Tp, D])`` per utterance.
    """
    g, s, p = codec.quantizer.dequantize(
        codec.split_global(tokens.global_tokens)[0], tokens.semantic_tokens,
        tokens.paralinguistic_tokens,
    )
    s_frames = frames_for_samples(tokens.num_samples, codec.hop_length)
    p_frames = frames_for_samples(tokens.num_samples, codec.samples_per_step)
    return [
        (g[b].float().cpu(), s[b, : s_frames[b]].float().cpu(),
         p[b, : p_frames[b]].float().cpu())
        for b in range(tokens.batch_size)
    ]

@torch.no_grad()
def utterance_embeddings(codec, utt_id, wav, tokens, labels=None, with_f0=True):
    """:class:`UtteranceEmbeddings` of one utterance from its waveform and tokens.

    Arguments
    ---------
    codec : unicodec.lobes.codec.UniCodec
        The model that made ``tokens``.
    utt_id : str
        Utterance id.
    wav : torch.Tensor
        1-D waveform at the codec's sample rate (for the F0 targets).
    tokens : unicodec.tokens.Tokens
        Its tokens (batch of one).
    labels : dict, optional
        Utterance labels.
    with_f0 : bool
        Compute frame log-F0 and voicing (``unicodec.features.frame_f0``).
    """
    g, s, p = embed_tokens(codec, tokens)[0]
    log_f0 = voiced = None
    if with_f0:
        f0, voiced = frame_f0(wav.reshape(1, -1).float().cpu(), sample_rate=codec.sample_rate,
                              hop_length=codec.hop_length)
        f0, voiced = f0[0, : s.shape[0]], voiced[0, : s.shape[0]]
        log_f0 = torch.where(voiced, f0.clamp(min=1.0).log(), torch.zeros_like(f0))
    return UtteranceEmbeddings(
        utt_id=str(utt_id), global_vector=g, semantic=s, paralinguistic=p,
        labels=dict(labels or {}), frame_rate=codec.frame_rate, log_f0=log_f0, voiced=voiced,
    )

@torch.no_grad()
def embed_utterances(codec, utterances, with_f0=True):
    """Encodes utterances and keeps their token embeddings, labels and F0 targets.

    Arguments
    ---------
    codec : unicodec.lobes.codec.UniCodec
        The model (put in eval mode here).
    utterances : iterable of dict
        Each with ``id``, ``wav`` (1-D tensor at the codec's sample rate) and optionally
        ``labels`` (``spk_id``, ``style``, ``alignment``, ...).
    with_f0 : bool
        Compute frame log-F0 and voicing (``unicodec.features.frame_f0``).

    Returns
    -------
    list of UtteranceEmbeddings

    Example
    -------
    >>> from unicodec.lobes.codec import example_codec
    >>> _ = torch.manual_seed(0)
    >>> codec = example_codec()
    >>> utts = embed_utterances(codec, [{"id": "a", "wav": torch.randn(8000), "labels": {}}])
    >>> utts[0].global_vector.shape, utts[0].semantic.shape, utts[0].paralinguistic.shape
    (torch.Size([8]), torch.Size([25, 8]), torch.Size([13, 8]))
    """
    codec.eval()
    device = next(codec.parameters()).device
    out = []
    for item in utterances:
        wav = item["wav"].reshape(1, -1).float()
        tokens = codec.encode(wav.to(device))
        out.append(utterance_embeddings(codec, item["id"], wav, tokens,
                                        item.get("labels", {}), with_f0))
    return out
