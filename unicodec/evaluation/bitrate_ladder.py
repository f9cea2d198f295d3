"""Quality against bitrate: the same tokens decoded with fewer paralinguistic codebooks.

P is a residual quantizer trained with quantizer dropout, so its first ``k`` codebooks are
a coarser description of the prosody and detail: decoding S (and G) with ``k = 0..Kp``
P codebooks gives a ladder of local bitrates from one encoding. ``k = 0`` (S and G alone)
is outside what the dropout trains (it keeps 1..Kp codebooks): that rung shows what the
decoder makes of the content and the voice without any P.

Example
-------
>>> import torch
>>> from unicodec.lobes.codec import example_codec
>>> codec = example_codec()
>>> [rung["bps"] for rung in ladder(codec)]  # S: 6 bits x 50 Hz, each P: 6 bits x 25 Hz
[300.0, 450.0, 600.0]
>>> scores = BitrateLadder(codec)
>>> wav = torch.randn(4800) * 0.1
>>> scores.append("utt", codec.encode(wav[None]), wav)
>>> [(r["paralinguistic_codebooks"], r["utterances"]) for r in scores.summarize()]
[(0, 1), (1, 1), (2, 1)]

Authors
 * UniCodec authors 2026
"""

import math

import torch

from unicodec.evaluation.metrics import ResynthesisMetrics

LADDER_JUDGES = ("pesq", "stoi", "speaker_similarity")
"""Judges scored at every rung (DNSMOS and WER, slower, only at the full bitrate)."""

METRICS = {
    "mel_distance": "log-mel distance (lower is better)",
    "pesq": "PESQ wide band",
    "stoi": "STOI",
    "speaker_similarity": "speaker similarity",
}
"""Metrics reported and drawn against the bitrate, where the results have them."""


def ladder(codec):
    """The rungs of ``codec``: every number of P codebooks with its local bitrate.

    Returns
    -------
    list of dict
        ``paralinguistic_codebooks`` (0..Kp) and ``bps`` (S and P; G's few bits per
        utterance are left out, as in :meth:`UniCodec.bitrate`).
    """
    count = codec.num_codebooks()["paralinguistic"]
    return [{"paralinguistic_codebooks": k, "bps": codec.bitrate(num_paralinguistic=k)}
            for k in range(count + 1)]


class BitrateLadder:
    """Scores the resynthesis of each utterance at every rung of :func:`ladder`.

    Arguments
    ---------
    codec : UniCodec
        The model.
    judges : unicodec.evaluation.judges.Judges, optional
        Judges; only those in :data:`LADDER_JUDGES` are run at the rungs.
    """

    def __init__(self, codec, judges=None):
        self.codec = codec
        self.rungs = ladder(codec)
        if judges is not None:
            judges = judges.subset(LADDER_JUDGES)
        self.metrics = [ResynthesisMetrics(codec.sample_rate, judges) for _ in self.rungs]

    @torch.no_grad()
    def append(self, utt_id, tokens, original):
        """Decodes ``tokens`` (one utterance) at every rung and scores it against ``original``.

        Arguments
        ---------
        utt_id : str
            Utterance id.
        tokens : unicodec.tokens.Tokens
            Tokens of the utterance, with every P codebook.
        original : torch.Tensor
            ``[T]`` the encoded waveform.
        """
        if tokens.batch_size != 1:
            raise ValueError(f"append takes one utterance, got a batch of {tokens.batch_size}")
        for rung, metrics in zip(self.rungs, self.metrics):
            rebuilt = self.codec.decode(
                tokens.truncate(num_paralinguistic=rung["paralinguistic_codebooks"]))
            metrics.append([utt_id], rebuilt.cpu(), original[None].cpu(), torch.ones(1))

    def summarize(self):
        """One dict per rung: its codebooks, ``bps``, ``utterances`` and mean metrics."""
        return [dict(rung, utterances=len(metrics.scores), metrics=metrics.summarize())
                for rung, metrics in zip(self.rungs, self.metrics)]


def save_quality_bitrate_plot(path, curves, title=None):
    """Writes a PNG of each metric against the bitrate, a line per curve.

    Arguments
    ---------
    path : str
        PNG file.
    curves : dict
        Label -> rungs as returned by :meth:`BitrateLadder.summarize`.
    title : str, optional
        Figure title.

    Returns
    -------
    list of str
        The metrics drawn (one panel each).

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ladder.png")
    >>> rungs = [{"paralinguistic_codebooks": k, "bps": 400.0 + 200 * k,
    ...           "metrics": {"mel_distance": 2.0 - 0.3 * k}} for k in range(3)]
    >>> save_quality_bitrate_plot(path, {"model": rungs})
    ['mel_distance']
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def finite(value):
        return value is not None and not math.isnan(value)

    names = [name for name in METRICS
             if any(finite(r["metrics"].get(name)) for rungs in curves.values() for r in rungs)]
    if not names:
        raise ValueError("no metric to plot against the bitrate")
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        for label, rungs in curves.items():
            points = [(r["bps"], r["metrics"][name]) for r in rungs
                      if finite(r["metrics"].get(name))]
            if points:
                ax.plot(*zip(*points), marker="o", label=label)
        ax.set_xlabel("local bitrate (bps)")
        ax.set_title(METRICS[name], fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return names
