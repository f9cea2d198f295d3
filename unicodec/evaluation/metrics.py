"""Resynthesis metrics, token statistics and spectrogram pictures.

The metrics here need nothing beyond the package's requirements (log-mel distance, F0
agreement, codebook usage). :class:`ResynthesisMetrics` can add the optional offline judges
of :mod:`unicodec.evaluation.judges` (PESQ, STOI, speaker similarity, DNSMOS, English WER), and
:mod:`unicodec.evaluation.probes` measures what each token stream carries.

Authors
 * UniCodec authors 2026
"""

import math

import torch
import torchaudio

from unicodec.lengths import relative_to_count
from unicodec.features import frame_f0


class LogMel(torch.nn.Module):
    """Log-mel spectrogram ``[B, T, n_mels]`` used by the metrics and the pictures.

    Example
    -------
    >>> LogMel(sample_rate=16000)(torch.randn(2, 16000)).shape
    torch.Size([2, 101, 80])
    """

    def __init__(self, sample_rate=16000, n_fft=1024, hop_length=160, n_mels=80):
        super().__init__()
        self.hop_length = hop_length
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
            center=True, pad_mode="constant",
        )

    def forward(self, wav):
        """Natural-log mel energies of ``wav`` ``[B, T]``."""
        return torch.log(self.mel(wav.float()) + 1e-5).transpose(1, 2)


def mel_distance(rebuilt, original, sample_rate=16000):
    """Mean absolute log-mel difference of two 1-D waveforms (0 for identical audio).

    Example
    -------
    >>> wav = torch.randn(16000)
    >>> mel_distance(wav, wav)
    0.0
    >>> mel_distance(wav * 0.5, wav) > 0.5
    True
    """
    logmel = LogMel(sample_rate)
    n = min(rebuilt.shape[-1], original.shape[-1])
    a = logmel(rebuilt[..., :n].reshape(1, -1))
    b = logmel(original[..., :n].reshape(1, -1))
    return float((a - b).abs().mean())


def f0_agreement(rebuilt, original, sample_rate=16000, hop_length=160):
    """F0 RMSE (cents) and correlation over frames voiced in both waveforms.

    Returns
    -------
    dict
        ``f0_rmse_cents``, ``f0_corr`` (NaN when fewer than 3 frames are voiced in both)
        and ``voicing_agreement`` (share of frames with the same voiced/unvoiced decision).

    Example
    -------
    >>> t = torch.arange(16000) / 16000
    >>> tone = torch.sin(2 * math.pi * (150 + 20 * t) * t)
    >>> stats = f0_agreement(tone, tone)
    >>> stats["f0_rmse_cents"], stats["voicing_agreement"]
    (0.0, 1.0)
    """
    n = min(rebuilt.shape[-1], original.shape[-1])
    wavs = torch.stack([rebuilt[..., :n].reshape(-1), original[..., :n].reshape(-1)]).float()
    f0, voiced = frame_f0(wavs, sample_rate=sample_rate, hop_length=hop_length)
    both = voiced[0] & voiced[1]
    stats = {"voicing_agreement": float((voiced[0] == voiced[1]).float().mean())}
    if both.sum() < 3:
        stats.update(f0_rmse_cents=float("nan"), f0_corr=float("nan"))
        return stats
    a, b = f0[0][both], f0[1][both]
    cents = 1200 * torch.log2(a / b)
    stats["f0_rmse_cents"] = float(cents.pow(2).mean().sqrt())
    a, b = a - a.mean(), b - b.mean()
    denom = a.norm() * b.norm()
    stats["f0_corr"] = float((a * b).sum() / denom) if denom > 0 else float("nan")
    return stats


class ResynthesisMetrics:
    """Collects per-utterance resynthesis metrics and averages them.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the waveforms.
    judges : list of str, or "available", or unicodec.evaluation.judges.Judges, optional
        Optional judges to run as well (see :class:`unicodec.evaluation.judges.Judges`): ``pesq``,
        ``stoi``, ``speaker_similarity``, ``dnsmos``, ``wer`` (English utterances with a
        transcript). None: only the built-in metrics.

    Example
    -------
    >>> metrics = ResynthesisMetrics()
    >>> wav = torch.randn(2, 8000)
    >>> metrics.append(["a", "b"], wav, wav, torch.tensor([1.0, 0.5]))
    >>> metrics.summarize()["mel_distance"]
    0.0
    """

    def __init__(self, sample_rate=16000, judges=None):
        self.sample_rate = sample_rate
        self.scores = {}
        if judges is not None and not hasattr(judges, "score"):
            from unicodec.evaluation.judges import Judges

            judges = Judges(judges, sample_rate=sample_rate)
        self.judges = judges

    def append(self, ids, rebuilt, original, wav_lens, texts=None, languages=None):
        """Scores a batch ``[B, T]`` of rebuilt waveforms against the originals.

        Arguments
        ---------
        ids : list of str
            Utterance ids (a repeated id replaces the earlier scores).
        rebuilt, original : torch.Tensor
            ``[B, T]`` waveforms.
        wav_lens : torch.Tensor
            ``[B]`` relative lengths.
        texts : list of str, optional
            Transcripts, for the WER judge.
        languages : list of str, optional
            Languages of the utterances (WER is computed for English only; default "en").
        """
        counts = relative_to_count(wav_lens.cpu(), original.shape[1])
        for i, utt_id in enumerate(ids):
            n = int(counts[i])
            a = rebuilt[i, :n].detach().float().cpu()
            b = original[i, :n].detach().float().cpu()
            scores = {"mel_distance": mel_distance(a, b, self.sample_rate)}
            scores.update(f0_agreement(a, b, self.sample_rate))
            if self.judges is not None:
                text = texts[i] if texts is not None else None
                language = languages[i] if languages is not None else "en"
                scores.update(self.judges.score(a, b, text=text, language=language))
            self.scores[utt_id] = scores

    def summarize(self):
        """Mean of each metric over the utterances (NaN scores left out).

        Word edit counts become corpus word error rates: ``wer`` of the rebuilt audio,
        ``wer_original`` of the original (the recogniser's own floor), each the sum of
        edits over the sum of reference words.
        """
        names = sorted({k for s in self.scores.values() for k in s})
        summary = {}
        for name in names:
            if name in ("word_edits", "word_edits_original", "ref_words"):
                continue
            values = [
                s[name] for s in self.scores.values()
                if name in s and not math.isnan(s[name])
            ]
            summary[name] = sum(values) / len(values) if values else float("nan")
        words = sum(s.get("ref_words", 0) for s in self.scores.values())
        if words:
            for key, name in (("word_edits", "wer"), ("word_edits_original", "wer_original")):
                summary[name] = sum(s.get(key, 0) for s in self.scores.values()) / words
        summary["num_utterances"] = len(self.scores)
        return summary


def codebook_usage(tokens_list, codec):
    """Share of codes used and perplexity of each codebook over a list of Tokens.

    Returns
    -------
    dict
        ``{stream}_usage`` (mean over that stream's codebooks of the share of codes seen)
        and ``{stream}_perplexity`` (mean of exp(entropy) of the code distribution).

    Example
    -------
    >>> from unicodec.tokens import Tokens
    >>> class Codec:
    ...     hop_length, samples_per_step = 320, 640
    ...     def codebook_sizes(self):
    ...         return {"global": 4, "semantic": 4, "paralinguistic": 4}
    >>> tokens = Tokens(torch.tensor([[0, 1]]), torch.tensor([[[0], [1], [2], [3]]]),
    ...                 torch.tensor([[[0, 0], [0, 0]]]), torch.tensor([1280]))
    >>> stats = codebook_usage([tokens], Codec())
    >>> stats["semantic_usage"], round(stats["semantic_perplexity"], 3)
    (1.0, 4.0)
    """
    sizes = codec.codebook_sizes()
    streams = {"global": [], "semantic": [], "paralinguistic": []}
    for tokens in tokens_list:
        s_frames = -(-tokens.num_samples // codec.hop_length)
        p_frames = -(-tokens.num_samples // codec.samples_per_step)
        for b in range(tokens.batch_size):
            streams["global"].append(tokens.global_tokens[b].unsqueeze(0))
            streams["semantic"].append(tokens.semantic_tokens[b, : s_frames[b]])
            streams["paralinguistic"].append(tokens.paralinguistic_tokens[b, : p_frames[b]])
    stats = {}
    for name, chunks in streams.items():
        if not chunks:
            continue
        codes = torch.cat(chunks)  # [N, K]
        if codes.shape[1] == 0:  # a codec without this stream (e.g. no G)
            continue
        usage, perplexity = [], []
        for k in range(codes.shape[1]):
            counts = torch.bincount(codes[:, k], minlength=sizes[name]).float()
            probs = counts / counts.sum()
            entropy = -(probs[probs > 0] * probs[probs > 0].log()).sum()
            usage.append(float((counts > 0).float().mean()))
            perplexity.append(float(entropy.exp()))
        stats[f"{name}_usage"] = sum(usage) / len(usage)
        stats[f"{name}_perplexity"] = sum(perplexity) / len(perplexity)
    return stats


def save_spectrogram_comparison(path, original, rebuilt, sample_rate=16000, title=None):
    """Writes a PNG with the log-mel spectrograms of the original and rebuilt audio.

    Arguments
    ---------
    path : str
        Output PNG.
    original, rebuilt : torch.Tensor
        1-D waveforms.
    sample_rate : int
        Sample rate.
    title : str, optional
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logmel = LogMel(sample_rate)
    panels = [("original", original), ("rebuilt", rebuilt)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 5), sharex=True)
    for ax, (name, wav) in zip(axes, panels):
        spec = logmel(wav.detach().float().cpu().reshape(1, -1))[0].T
        seconds = wav.shape[-1] / sample_rate
        ax.imshow(spec, origin="lower", aspect="auto", extent=[0, seconds, 0, spec.shape[0]],
                  vmin=-11, vmax=float(spec.max()), cmap="magma")
        ax.set_ylabel(f"{name}\nmel band")
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
