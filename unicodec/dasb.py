"""UniCodec as a tokenizer of SpeechBrain's discrete-token benchmark (DASB).

DASB (``speechbrain/benchmarks``, ``benchmarks/DASB``) extracts tokens with any object that
honours its ``BaseTokenizer`` contract (``utils/tokenizer_interface.py``): an
``nn.Module`` with a ``sample_rate`` attribute and three methods,

- ``sig_to_tokens(signal [B, T], lengths, num_codebooks)`` -> ``[B, N, K]`` long, time on
  dim 1 (the extractor trims each item to ``round(length * N)`` frames with
  ``speechbrain.utils.data_utils.undo_padding``);
- ``tokens_to_sig(tokens [B, N, K])`` -> ``[B, T]``;
- ``get_pretrained_embeddings(vocab_size, num_codebooks)`` -> ``[K * C, H]``, codebook-major,
  the initialisation of DASB's ``Discrete_EmbeddingLayer`` (which adds ``k * C`` to the
  tokens of codebook ``k``).

:class:`UniCodecTokenizer` implements it for a trained UniCodec (DASB need not be
importable: the contract is duck-typed). Its columns, all on the 50 Hz grid of S:

=========  ==================  ============================================================
columns    stream              on the 50 Hz grid
=========  ==================  ============================================================
0 .. Ks-1  S (the words)       as they are
next Kp    P (prosody, detail) each 25 Hz frame repeated over its two S frames
last Kg    G (the voice)       the utterance's tokens repeated on every frame (optional)
=========  ==================  ============================================================

so ``num_codebooks=Ks`` gives S, ``Ks + Kp`` gives S+P, and all of them S+P+G.

Authors
 * UniCodec authors 2026
"""

import numbers

import torch
from torch import nn

from unicodec.lengths import frames_for_samples
from unicodec.tokens import Tokens


class UniCodecTokenizer(nn.Module):
    """DASB's tokenizer contract over a trained UniCodec.

    Tokens are the same whatever the padding: each item of a batch is encoded alone, at
    its own length.

    Arguments
    ---------
    source : str, optional
        A model folder (:func:`unicodec.export.export_model`), as DASB's YAMLs name it.
    codec : unicodec.lobes.codec.UniCodec, optional
        Instead of ``source``: a codec object.
    with_global : bool
        Append G's tokens as columns (when the codec has G). Without them
        :meth:`tokens_to_sig` uses ``global_tokens`` if given, else a neutral voice (the
        code nearest each G codebook's mean).
    device : str
        Torch device (settable later: ``tokenizer.device = "cuda:0"``).
    savedir : str, optional
        Where SpeechBrain links the model files of ``source``.

    Example
    -------
    >>> from unicodec.lobes.codec import example_codec
    >>> tokenizer = UniCodecTokenizer(codec=example_codec())
    >>> tokenizer.num_columns, tokenizer.vocab_size, tokenizer.sample_rate
    (5, 64, 16000)
    >>> signal = torch.randn(2, 16000) * 0.1
    >>> tokens = tokenizer.sig_to_tokens(signal, torch.tensor([1.0, 0.5]))
    >>> tokens.shape                       # 50 Hz: S, P, P, G, G
    torch.Size([2, 50, 5])
    >>> tokenizer.sig_to_tokens(signal, num_codebooks=1).shape   # S alone
    torch.Size([2, 50, 1])
    >>> tokenizer.tokens_to_sig(tokens).shape
    torch.Size([2, 16000])
    >>> tokenizer.get_pretrained_embeddings(64, 5).shape
    torch.Size([320, 8])
    """

    def __init__(self, source=None, codec=None, with_global=True, device="cpu", savedir=None):
        super().__init__()
        if (source is None) == (codec is None):
            raise ValueError("UniCodecTokenizer: give `source` (a model folder) or `codec`")
        if codec is None:
            from unicodec.inference import load_model

            codec = load_model(source, device=device, savedir=savedir).codec
        self.codec = codec.eval()
        self.sample_rate = codec.sample_rate
        self.hop_length = codec.hop_length
        self.stride = codec.quantizer.paralinguistic_stride
        counts, sizes = codec.num_codebooks(), codec.codebook_sizes()
        self.with_global = bool(with_global and counts["global"])
        streams = ["semantic", "paralinguistic"] + (["global"] if self.with_global else [])
        self.layout = [(s, k) for s in streams for k in range(counts[s])]
        self.column_sizes = [sizes[s] for s, _ in self.layout]
        self.counts = counts
        self.vocab_size = max(self.column_sizes)
        self.to(device)

    @property
    def num_columns(self):
        """Token columns of :meth:`sig_to_tokens` with every codebook."""
        return len(self.layout)

    @property
    def device(self):
        """The device of the codec's weights (settable)."""
        return next(self.codec.parameters()).device

    @device.setter
    def device(self, value):
        self.to(value)

    def _columns(self, num_codebooks):
        if num_codebooks is None:
            return list(range(self.num_columns))
        if isinstance(num_codebooks, numbers.Integral):
            if not 1 <= num_codebooks <= self.num_columns:
                raise ValueError(
                    f"num_codebooks={num_codebooks}: this tokenizer has {self.num_columns} "
                    f"columns ({self.describe()})"
                )
            return list(range(num_codebooks))
        columns = [int(c) for c in num_codebooks]
        bad = [c for c in columns if not 0 <= c < self.num_columns]
        if bad or not columns:
            raise ValueError(
                f"num_codebooks={list(num_codebooks)}: columns must be in "
                f"0..{self.num_columns - 1} ({self.describe()})"
            )
        return columns

    def describe(self):
        """The column layout in words, e.g. ``S 0, P 1-2, G 3-4``."""
        parts, start = [], 0
        for stream in ("semantic", "paralinguistic", "global"):
            count = sum(1 for s, _ in self.layout if s == stream)
            if count:
                span = f"{start}" if count == 1 else f"{start}-{start + count - 1}"
                parts.append(f"{stream[0].upper()} {span}")
                start += count
        return ", ".join(parts)

    def frame_tokens(self, tokens):
        """All columns ``[B, Ts, K]`` of :class:`~unicodec.tokens.Tokens` on S's grid."""
        semantic = tokens.semantic_tokens
        length = semantic.shape[1]
        parts = [semantic]
        para = tokens.paralinguistic_tokens.repeat_interleave(self.stride, dim=1)[:, :length]
        parts.append(para)
        if self.with_global:
            parts.append(tokens.global_tokens[:, None, :].expand(-1, length, -1))
        return torch.cat(parts, -1)

    @torch.no_grad()
    def sig_to_tokens(self, signal, lengths=None, num_codebooks=None, **kwargs):
        """Tokens ``[B, N, K]`` of waveforms ``[B, T]`` at ``sample_rate``.

        Arguments
        ---------
        signal : torch.Tensor
            ``[B, T]`` (or ``[T]``) padded waveforms.
        lengths : torch.Tensor, optional
            ``[B]`` relative lengths (SpeechBrain's convention).
        num_codebooks : None, int or list
            All columns, the first ``num_codebooks``, or these column indices.

        Returns
        -------
        torch.Tensor
            ``[B, N, K]`` long, ``N = ceil(T / hop)``; item ``i`` has exactly
            ``round(lengths[i] * N)`` valid frames (zeros after them).
        """
        self.eval()
        columns = self._columns(num_codebooks)
        signal = signal[None] if signal.dim() == 1 else signal
        batch, total = signal.shape
        if lengths is None:
            lengths = torch.ones(batch)
        num_frames = int(frames_for_samples(torch.tensor([total]), self.hop_length)[0])
        out = torch.zeros(batch, num_frames, len(columns), dtype=torch.long, device=self.device)
        lengths = torch.as_tensor(lengths).float().cpu()
        # rounded as speechbrain.utils.data_utils.undo_padding rounds (float32)
        valid_frames = torch.round(lengths * num_frames).long().clamp(0, num_frames)
        for i in range(batch):
            valid = int(valid_frames[i])
            if valid == 0:
                continue
            samples = min(total, int(torch.round(lengths[i] * total)))
            wav = signal[i : i + 1, :samples].to(self.device).float()
            if wav.shape[1] < self.hop_length:  # shorter than a frame: zero-padded to one
                wav = torch.nn.functional.pad(wav, (0, self.hop_length - wav.shape[1]))
            tokens = self.codec.encode(wav)
            # frames of the encoded samples; past them (rounding, the padding to a P frame)
            # the last real frame is repeated
            real = int(frames_for_samples(tokens.num_samples, self.hop_length)[0])
            frames = self.frame_tokens(tokens)[0, : min(real, valid)]
            if frames.shape[0] < valid:
                pad = frames[-1:].expand(valid - frames.shape[0], -1)
                frames = torch.cat([frames, pad], 0)
            out[i, :valid] = frames[:, columns]
        return out

    def neutral_global(self):
        """G tokens of a neutral voice: each codebook's code nearest its mean (G's
        quantizer's tokens, without a speech level token: the decoder's own level)."""
        codes = []
        for stage in range(self.codec.quantizer.num_codebooks()["global"]):
            rows = self._stage_vectors("global", stage)
            codes.append(int((rows - rows.mean(0)).norm(dim=-1).argmin()))
        return torch.tensor(codes, dtype=torch.long, device=self.device)

    @torch.no_grad()
    def tokens_to_sig(self, tokens, global_tokens=None, **kwargs):
        """Waveforms ``[B, N * hop]`` of tokens ``[B, N, K]`` (the first K columns).

        Tokens a model predicted are welcome: every index is clamped into its codebook,
        P is read from the first frame of each pair, G by majority over the frames.

        Arguments
        ---------
        tokens : torch.Tensor
            ``[B, N, K]`` (or ``[N, K]``); K covers at least the S columns.
        global_tokens : torch.Tensor, optional
            ``[B, Kg]`` or ``[Kg]`` G tokens when the columns hold none.
        """
        self.eval()
        tokens = torch.as_tensor(tokens, device=self.device).long()
        tokens = tokens[None] if tokens.dim() == 2 else tokens
        batch, length, width = tokens.shape
        ks, kp, kg = (self.counts[s] for s in ("semantic", "paralinguistic", "global"))
        if width < ks or width > self.num_columns:
            raise ValueError(
                f"tokens have {width} columns; this tokenizer reads {ks} to "
                f"{self.num_columns} ({self.describe()})"
            )
        if length == 0:
            return torch.zeros(batch, 0, device=self.device)
        sizes = torch.tensor(self.column_sizes[:width], device=self.device)
        tokens = torch.minimum(tokens.clamp(min=0), sizes - 1)
        semantic = tokens[..., :ks]
        para = tokens[:, :: self.stride, ks : ks + kp]
        # G's quantizer's tokens at least (the speech level token may be left out)
        kq = self.codec.quantizer.num_codebooks()["global"]
        if kg and width >= ks + kp + kq and self.with_global:
            g = tokens[..., ks + kp :].mode(dim=1).values
        elif kg:
            g = self.neutral_global() if global_tokens is None else global_tokens
            g = torch.as_tensor(g, device=self.device).long()
            g = (g[None] if g.dim() == 1 else g).expand(batch, -1)
        else:
            g = tokens.new_zeros(batch, 0)
        num_samples = torch.full((batch,), length * self.hop_length, device=self.device)
        return self.codec.decode(Tokens(g, semantic, para, num_samples))

    @torch.no_grad()
    def get_pretrained_embeddings(self, vocab_size=None, num_codebooks=None, **kwargs):
        """``[K * C, H]``: row ``k * C + c`` is what code ``c`` of column ``k`` adds to its
        stream's dequantized vector (:meth:`~unicodec.lobes.quantizers.ResidualVectorQuantizer.stage_vectors`).

        ``C`` is ``vocab_size`` (at least the largest codebook; smaller codebooks are padded
        with zero rows), ``H`` the widest stream's dimension (narrower ones padded with zeros).
        A scalar pitch token's rows hold its value in one dimension.
        """
        columns = self._columns(num_codebooks)
        size = self.vocab_size if vocab_size is None else int(vocab_size)
        if size < max(self.column_sizes[c] for c in columns):
            raise ValueError(
                f"vocab_size={size} is smaller than a codebook of these columns "
                f"({max(self.column_sizes[c] for c in columns)} codes)"
            )
        blocks = [self._column_vectors(c) for c in columns]
        width = max(b.shape[1] for b in blocks)
        out = torch.zeros(len(columns) * size, width, device=self.device)
        for index, block in enumerate(blocks):
            out[index * size : index * size + block.shape[0], : block.shape[1]] = block
        return out

    def _column_vectors(self, column):
        return self._stage_vectors(*self.layout[column]).float()

    def _stage_vectors(self, stream, stage):
        """What each code of a stream's token ``stage`` adds to its dequantized vector.
        G's speech level token (after the quantizer's) adds nothing to it: its rows hold
        the level, from -1 (the lowest) to 1, in one more dimension past the vector's."""
        quantizer = getattr(self.codec.quantizer, f"{stream}_quantizer")
        if stream == "global" and stage == self.codec.quantizer.num_codebooks()["global"]:
            rows = torch.zeros(self.codec.speech_level.levels, quantizer.input_dim + 1,
                               device=self.device)
            rows[:, -1] = torch.linspace(-1.0, 1.0, rows.shape[0], device=self.device)
            return rows
        return quantizer.stage_vectors(stage)

    def extra_repr(self):
        return f"sample_rate={self.sample_rate}, columns: {self.describe()}"
