"""Disentanglement probes: what each token stream (G, S, P) carries.

Small probes (linear by default, a one-hidden-layer MLP on request) are trained on the
frozen embeddings of the tokens (``quantizer.dequantize``: G ``[Dg]`` per utterance, S
``[Ts, D]`` at 50 Hz, P ``[Tp, D]`` at 25 Hz) of one split and scored on another. A
stream that carries a property lets a probe recover it; a disentangled stream leaves the
probe near chance. The tasks:

=============  ===============  ==================  =======================================
task           level            expected carrier    score
=============  ===============  ==================  =======================================
``speaker``    utterance        G                   accuracy (chance: majority class)
``style``      utterance        G (and P)           accuracy
``phone``      frame (50 Hz)    S                   accuracy
``f0``         frame (50 Hz)    P                   R^2 of the per-utterance standardised
                                                    log-F0 contour (chance: 0)
=============  ===============  ==================  =======================================

Utterance-level probes see G itself and the mean and standard deviation over time of the S
and P frames. Frame-level probes see S frames, P frames repeated to 50 Hz, and G
broadcast to every frame (so G can only give the utterance's own constant, which is worth
nothing against a per-utterance standardised F0 contour).

Speaker identification is a closed-set task: a classifier cannot name a speaker it has
never seen, so held-out speakers cannot be scored. :func:`speaker_probe` therefore pools
the utterances of both splits and splits them *by utterance* within each speaker
(:func:`split_by_utterance`); the other probes train on one split and score on the other
(held-out speakers, as in the corpus).

The embeddings the probes read are made in :mod:`unicodec.evaluation.embeddings`; voice
conversion by G swap is scored in :mod:`unicodec.evaluation.voice_conversion`.

Everything is deterministic for a given ``seed`` and takes seconds on a small corpus.

Example
-------
>>> gen = torch.Generator().manual_seed(0)
>>> utts = []
>>> for i in range(40):
...     speaker = i % 4
...     g = torch.randn(8, generator=gen)
...     g[speaker] += 6.0                          # the speaker lives in G only
...     utts.append(UtteranceEmbeddings(
...         f"u{i}", g, torch.randn(20, 6, generator=gen), torch.randn(10, 6, generator=gen),
...         labels={"spk_id": f"s{speaker}"}))
>>> results = {r.stream: r for r in speaker_probe(utts, seed=0)}
>>> results["global"].score, results["semantic"].score < 0.6
(1.0, True)

Authors
 * UniCodec authors 2026
"""

import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from unicodec.evaluation.embeddings import (  # noqa: F401 (the embeddings probes read)
    STREAM_LETTERS,
    STREAMS,
    UtteranceEmbeddings,
    embed_tokens,
    embed_utterances,
    utterance_embeddings,
)
from unicodec.evaluation.voice_conversion import (  # noqa: F401
    conversion_pairs,
    convert_voice,
    global_embedding,
    voice_conversion_score,
)
from unicodec.evaluation.probe_models import (  # noqa: F401
    _fit,
    _mlp,
    _standardiser,
    _subsample,
    probe_classification,
    probe_regression,
)


@dataclass
class ProbeResult:
    """The score of one probe.

    Arguments
    ---------
    task : str
        ``speaker``, ``style``, ``phone``, ``f0`` or another label name.
    stream : str
        ``global``, ``semantic`` or ``paralinguistic``.
    metric : str
        ``accuracy`` or ``r2``.
    score : float
        The probe's score on the test items.
    chance : float
        The score of a constant guess (the majority training class; 0 for R^2).
    num_train, num_test : int
        Items (utterances or frames) used.
    num_classes : int
        Classes seen in training (0 for regression).
    """

    task: str
    stream: str
    metric: str
    score: float
    chance: float
    num_train: int
    num_test: int
    num_classes: int = 0

    def as_dict(self):
        """JSON-ready dict."""
        return asdict(self)


# ---------------------------------------------------------------------------- embeddings


# ---------------------------------------------------------------------------- probes


# ---------------------------------------------------------------------------- tasks
def split_by_utterance(utterances, label="spk_id", test_share=0.3, seed=0):
    """Splits utterances within each label (e.g. speaker): both parts see every label.

    Labels with a single utterance are left out (they could not be in both parts).

    Arguments
    ---------
    utterances : list of UtteranceEmbeddings
    label : str
        The label that groups the utterances.
    test_share : float
        Share of each group's utterances in the test part (at least one, at most all
        but one).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    train, test : list of UtteranceEmbeddings

    Example
    -------
    >>> utts = [UtteranceEmbeddings(str(i), torch.zeros(1), torch.zeros(1, 1),
    ...                             torch.zeros(1, 1), {"spk_id": i % 2}) for i in range(6)]
    >>> train, test = split_by_utterance(utts, test_share=0.34)
    >>> len(train), len(test), sorted(u.labels["spk_id"] for u in test)
    (4, 2, [0, 1])
    """
    groups = defaultdict(list)
    for utt in utterances:
        if utt.labels.get(label) is not None:
            groups[str(utt.labels[label])].append(utt)
    rng = random.Random(seed)
    train, test = [], []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda u: u.utt_id)
        if len(group) < 2:
            continue
        rng.shuffle(group)
        n_test = min(max(1, round(test_share * len(group))), len(group) - 1)
        test.extend(group[:n_test])
        train.extend(group[n_test:])
    return train, test


def split_by_speaker(utterances, label="spk_id", test_share=0.3, seed=0):
    """Splits utterances by speaker: the test part holds held-out speakers only.

    Utterances without the label go to neither part. With a single speaker, everything
    is in the training part.

    Example
    -------
    >>> utts = [UtteranceEmbeddings(str(i), torch.zeros(1), torch.zeros(1, 1),
    ...                             torch.zeros(1, 1), {"spk_id": i % 4}) for i in range(8)]
    >>> train, test = split_by_speaker(utts, test_share=0.25)
    >>> len(train), len(test), len({u.labels["spk_id"] for u in test})
    (6, 2, 1)
    """
    speakers = sorted({str(u.labels[label]) for u in utterances
                       if u.labels.get(label) is not None})
    random.Random(seed).shuffle(speakers)
    n_test = min(max(1, round(test_share * len(speakers))), len(speakers) - 1)
    held_out = set(speakers[:n_test])
    train = [u for u in utterances if u.labels.get(label) is not None
             and str(u.labels[label]) not in held_out]
    test = [u for u in utterances if u.labels.get(label) is not None
            and str(u.labels[label]) in held_out]
    return train, test


def speaker_folds(utterances, folds=5, label="spk_id", seed=0):
    """Splits utterances into ``folds`` train/test pairs by speaker: every speaker is held
    out in exactly one fold, so every utterance is scored once, by a probe that never saw
    its speaker.

    Example
    -------
    >>> utts = [UtteranceEmbeddings(str(i), torch.zeros(1), torch.zeros(1, 1),
    ...                             torch.zeros(1, 1), {"spk_id": i % 4}) for i in range(8)]
    >>> pairs = speaker_folds(utts, folds=2)
    >>> [(len(train), len(test)) for train, test in pairs]
    [(4, 4), (4, 4)]
    >>> sorted(u.utt_id for _, test in pairs for u in test) == sorted(u.utt_id for u in utts)
    True
    """
    speakers = sorted({str(u.labels[label]) for u in utterances
                       if u.labels.get(label) is not None})
    random.Random(seed).shuffle(speakers)
    folds = max(1, min(int(folds), len(speakers)))
    labelled = [u for u in utterances if u.labels.get(label) is not None]
    pairs = []
    for k in range(folds):
        held_out = set(speakers[k::folds])
        pairs.append(([u for u in labelled if str(u.labels[label]) not in held_out],
                      [u for u in labelled if str(u.labels[label]) in held_out]))
    return pairs


def _utterance_data(utterances, stream, label, centre=None):
    items = [u for u in utterances if u.labels.get(label) is not None]
    if not items:
        return None, []
    x = torch.stack([u.pooled(stream) for u in items]).float()
    if centre is not None:
        # each utterance less the mean of its group (e.g. its speaker's utterances)
        groups = [str(u.labels.get(centre)) for u in items]
        for group in set(groups):
            rows = torch.tensor([g == group for g in groups])
            x[rows] = x[rows] - x[rows].mean(0)
    return x, [str(u.labels[label]) for u in items]


def label_probe(train, test, label, streams=STREAMS, task=None, hidden_size=0, seed=0,
                centre=None):
    """Utterance-level classification of ``label`` from each stream, train -> test.

    Arguments
    ---------
    centre : str, optional
        A label (``spk_id``) whose groups' mean embedding is taken from each of their
        utterances, in each split: what is left is how an utterance differs from its
        speaker's others, so a probe of a style that speakers express as offsets from
        their own voice is not misled by the voices themselves.

    Returns
    -------
    list of ProbeResult
        One per stream; empty when the training split has fewer than two classes or the
        test split has no item with the label.
    """
    results = []
    for stream in streams:
        x_train, y_train = _utterance_data(train, stream, label, centre)
        x_test, y_test = _utterance_data(test, stream, label, centre)
        if len(set(y_train)) < 2 or not y_test:
            return []
        scores = probe_classification(x_train, y_train, x_test, y_test,
                                      hidden_size=hidden_size, seed=seed)
        results.append(ProbeResult(task or label, stream, "accuracy", scores["score"],
                                   scores["chance"], scores["num_train"], scores["num_test"],
                                   scores["num_classes"]))
    return results


def speaker_probe(utterances, streams=STREAMS, test_share=0.3, hidden_size=0, seed=0,
                  label="spk_id"):
    """Speaker identification from each stream, utterances split within speakers.

    Held-out speakers cannot be identified by a closed-set classifier, so all the given
    utterances are pooled and split by utterance within each speaker
    (:func:`split_by_utterance`).

    Returns
    -------
    list of ProbeResult
    """
    train, test = split_by_utterance(utterances, label, test_share, seed)
    return label_probe(train, test, label, streams, task="speaker", hidden_size=hidden_size,
                       seed=seed)


def _frame_data(utterances, stream, target, max_frames, seed):
    feats, values = [], []
    for utt in utterances:
        if target == "phone":
            phones = utt.frame_phones()
            if phones is None:
                continue
            keep = [t for t, phone in enumerate(phones) if phone is not None]
            labels = [phones[t] for t in keep]
        else:
            if utt.log_f0 is None or int(utt.voiced.sum()) < 3:
                continue
            keep = utt.voiced.nonzero().flatten().tolist()
            contour = utt.log_f0[keep]
            std = contour.std(unbiased=False)
            if std < 1e-4:
                continue
            labels = ((contour - contour.mean()) / std).tolist()
        if keep:
            feats.append(utt.frames(stream)[keep])
            values.extend(labels)
    if not feats:
        return None, []
    x = torch.cat(feats)
    index = _subsample(len(x), max_frames, seed)
    return x[index], [values[i] for i in index.tolist()]


def frame_probe(train, test, target, streams=STREAMS, hidden_size=0, max_frames=20000, seed=0):
    """Frame-level probe of ``target`` (``"phone"`` or ``"f0"``) from each stream.

    ``phone``: classification of the phone of each S frame from the utterance alignment
    (frames no phone covers are left out). ``f0``: regression of the log-F0 of voiced
    frames, standardised within each utterance (the contour, not the speaker's register).

    Arguments
    ---------
    train, test : list of UtteranceEmbeddings
    target : str
        ``"phone"`` or ``"f0"``.
    streams : tuple of str
        Streams to probe.
    hidden_size : int
        0 for linear probes.
    max_frames : int
        At most this many frames of each split (a seeded random subset).
    seed : int
        Seed.

    Returns
    -------
    list of ProbeResult
    """
    if target not in ("phone", "f0"):
        raise ValueError(f"target must be 'phone' or 'f0', got {target!r}")
    results = []
    for stream in streams:
        x_train, y_train = _frame_data(train, stream, target, max_frames, seed)
        x_test, y_test = _frame_data(test, stream, target, max_frames, seed + 1)
        if not y_train or not y_test:
            return []
        if target == "phone":
            scores = probe_classification(x_train, y_train, x_test, y_test,
                                          hidden_size=hidden_size, seed=seed)
            metric = "accuracy"
        else:
            scores = probe_regression(x_train, y_train, x_test, y_test,
                                      hidden_size=hidden_size, seed=seed)
            metric = "r2"
        results.append(ProbeResult(target, stream, metric, scores["score"], scores["chance"],
                                   scores["num_train"], scores["num_test"],
                                   scores["num_classes"]))
    return results


def run_probes(train, test, hidden_size=0, seed=0, max_frames=20000, labels=("style",)):
    """Every probe the labels allow: speaker, ``labels``, phone and F0, from G, S and P.

    Arguments
    ---------
    train, test : list of UtteranceEmbeddings
        Embeddings of two splits (e.g. train and test speakers of a corpus).
    hidden_size : int
        0 for linear probes, else the MLP width.
    seed : int
        Seed.
    max_frames : int
        Frame budget of each frame-level probe and split.
    labels : tuple of str
        Utterance labels to probe besides the speaker (``style``, ``emotion``,
        ``gender``, ``language``...), where the items have them.

    Returns
    -------
    list of ProbeResult
    """
    results = speaker_probe(train + test, hidden_size=hidden_size, seed=seed)
    for label in labels:
        results += label_probe(train, test, label, hidden_size=hidden_size, seed=seed)
    results += frame_probe(train, test, "phone", hidden_size=hidden_size,
                           max_frames=max_frames, seed=seed)
    results += frame_probe(train, test, "f0", hidden_size=hidden_size,
                           max_frames=max_frames, seed=seed)
    return results


def results_table(results):
    """A markdown table of probe results, one row per task and a column per stream.

    Example
    -------
    >>> print(results_table([ProbeResult("speaker", "global", "accuracy", 0.9, 0.25, 30, 10, 4),
    ...                      ProbeResult("speaker", "semantic", "accuracy", 0.3, 0.25, 30, 10, 4)]))
    | task | metric | G | S | P | chance | train / test items |
    |---|---|---|---|---|---|---|
    | speaker | accuracy | 0.900 | 0.300 | - | 0.250 | 30 / 10 |
    """
    rows = {}
    for r in results:
        rows.setdefault((r.task, r.metric), {})[r.stream] = r
    lines = ["| task | metric | G | S | P | chance | train / test items |",
             "|---|---|---|---|---|---|---|"]
    for (task, metric), by_stream in rows.items():
        cells = [f"{by_stream[s].score:.3f}" if s in by_stream else "-" for s in STREAMS]
        first = next(iter(by_stream.values()))
        lines.append(f"| {task} | {metric} | " + " | ".join(cells)
                     + f" | {first.chance:.3f} | {first.num_train} / {first.num_test} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- conversion


