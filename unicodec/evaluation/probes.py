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

:func:`voice_conversion_score` swaps G between speakers and asks whether the converted
audio sounds like the target or the source speaker.

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

import math
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F

from unicodec.lengths import frames_for_samples
from unicodec.features import frame_f0

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
@torch.no_grad()
def embed_tokens(codec, tokens):
    """Dequantized G, S and P of each utterance of ``tokens``, cut to its valid frames.

    Returns
    -------
    list of tuple
        ``(g [Dg], s [Ts, D], p [Tp, D])`` per utterance.
    """
    g, s, p = codec.quantizer.dequantize(
        tokens.global_tokens, tokens.semantic_tokens, tokens.paralinguistic_tokens
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


# ---------------------------------------------------------------------------- probes
def _standardiser(x):
    mean = x.mean(0, keepdim=True)
    std = x.std(0, unbiased=False, keepdim=True).clamp(min=1e-6)
    return lambda z: (z - mean) / std


def _subsample(n, max_items, seed):
    if max_items is None or n <= max_items:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:max_items].sort().values


def _mlp(input_size, hidden_size, output_size, seed):
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        if hidden_size:
            model = torch.nn.Sequential(
                torch.nn.Linear(input_size, hidden_size), torch.nn.ReLU(),
                torch.nn.Linear(hidden_size, output_size),
            )
        else:
            model = torch.nn.Linear(input_size, output_size)
            torch.nn.init.zeros_(model.weight)
            torch.nn.init.zeros_(model.bias)
    finally:
        torch.random.set_rng_state(gen_state)
    return model


def _fit(model, loss_fn, hidden_size, max_iter):
    """Full-batch training: L-BFGS for a linear probe, Adam for an MLP."""
    if hidden_size:
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(max_iter * 3):
            optimizer.zero_grad()
            loss = loss_fn()
            loss.backward()
            optimizer.step()
        return
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimizer.step(closure)


def probe_classification(x_train, y_train, x_test, y_test, hidden_size=0, weight_decay=1e-3,
                         max_iter=100, seed=0):
    """Trains a classifier on ``(x_train, y_train)`` and scores it on the test items.

    Arguments
    ---------
    x_train, x_test : torch.Tensor
        ``[N, D]`` features (standardised with the training statistics).
    y_train, y_test : list
        Labels (any hashable). Test items whose label was never seen in training are
        left out (they cannot be classified).
    hidden_size : int
        0: a linear probe (multinomial logistic regression by L-BFGS); else a one-hidden-
        layer MLP of that width (Adam).
    weight_decay : float
        L2 penalty on the weights.
    max_iter : int
        Optimisation steps (L-BFGS iterations; three times as many Adam steps).
    seed : int
        Seed of the MLP's initialisation (the linear probe starts from zero).

    Returns
    -------
    dict
        ``score`` (accuracy), ``chance`` (accuracy of the majority training class),
        ``num_train``, ``num_test``, ``num_classes``.

    Example
    -------
    >>> x = torch.tensor([[0.0], [0.1], [1.0], [1.1]])
    >>> probe_classification(x, ["a", "a", "b", "b"], x, ["a", "a", "b", "c"])["score"]
    1.0
    """
    classes = sorted(set(y_train), key=str)
    index = {label: i for i, label in enumerate(classes)}
    keep = [i for i, label in enumerate(y_test) if label in index]
    x_test = x_test[keep]
    targets = torch.tensor([index[y] for y in y_train])
    test_targets = torch.tensor([index[y_test[i]] for i in keep], dtype=torch.long)
    majority = Counter(targets.tolist()).most_common(1)[0][0]
    result = {"num_train": len(y_train), "num_test": len(keep), "num_classes": len(classes)}
    if not keep:
        return dict(result, score=float("nan"), chance=float("nan"))
    chance = float((test_targets == majority).float().mean())
    if len(classes) < 2:
        return dict(result, score=1.0, chance=chance)
    scale = _standardiser(x_train.float())
    x, x_test = scale(x_train.float()), scale(x_test.float())
    model = _mlp(x.shape[1], hidden_size, len(classes), seed)

    def loss_fn():
        penalty = sum(p.pow(2).sum() for n, p in model.named_parameters() if "weight" in n)
        return F.cross_entropy(model(x), targets) + weight_decay * penalty

    _fit(model, loss_fn, hidden_size, max_iter)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(-1) == test_targets).float().mean()
    return dict(result, score=float(accuracy), chance=chance)


def probe_regression(x_train, y_train, x_test, y_test, hidden_size=0, weight_decay=1e-3,
                     max_iter=100, seed=0):
    """Trains a regressor on ``(x_train, y_train)``; R^2 on the test items.

    A linear probe is ridge regression (closed form); ``hidden_size > 0`` gives a
    one-hidden-layer MLP trained by Adam on the mean squared error.

    Returns
    -------
    dict
        ``score`` (R^2 on the test items: 1 is perfect, 0 is the test mean's score,
        negative is worse), ``corr`` (Pearson correlation of predictions and targets),
        ``chance`` (0), ``num_train``, ``num_test``, ``num_classes`` (0).

    Example
    -------
    >>> x = torch.linspace(-1, 1, 50)[:, None]
    >>> round(probe_regression(x, 3 * x[:, 0] + 1, x, 3 * x[:, 0] + 1)["score"], 4)
    1.0
    """
    y_train = torch.as_tensor(y_train, dtype=torch.float32).reshape(-1)
    y_test = torch.as_tensor(y_test, dtype=torch.float32).reshape(-1)
    result = {"num_train": len(y_train), "num_test": len(y_test), "num_classes": 0,
              "chance": 0.0}
    if len(y_test) < 2 or len(y_train) < 2:
        return dict(result, score=float("nan"), corr=float("nan"))
    scale = _standardiser(x_train.float())
    x, x_test = scale(x_train.float()), scale(x_test.float())
    y_mean, y_std = y_train.mean(), y_train.std(unbiased=False).clamp(min=1e-6)
    target = (y_train - y_mean) / y_std
    if hidden_size:
        model = _mlp(x.shape[1], hidden_size, 1, seed)

        def loss_fn():
            penalty = sum(p.pow(2).sum() for n, p in model.named_parameters() if "weight" in n)
            return F.mse_loss(model(x)[:, 0], target) + weight_decay * penalty

        _fit(model, loss_fn, hidden_size, max_iter)
        with torch.no_grad():
            pred = model(x_test)[:, 0]
    else:
        xb = torch.cat([x, torch.ones(len(x), 1)], 1).double()
        reg = weight_decay * len(x) * torch.eye(xb.shape[1], dtype=torch.float64)
        reg[-1, -1] = 0.0  # no penalty on the bias
        weights = torch.linalg.solve(xb.T @ xb + reg, xb.T @ target.double())
        pred = (torch.cat([x_test, torch.ones(len(x_test), 1)], 1).double() @ weights).float()
    pred = pred * y_std + y_mean
    residual = (y_test - pred).pow(2).sum()
    total = (y_test - y_test.mean()).pow(2).sum()
    r2 = float(1 - residual / total) if total > 0 else float("nan")
    a, b = pred - pred.mean(), y_test - y_test.mean()
    denom = a.norm() * b.norm()
    corr = float((a * b).sum() / denom) if denom > 0 else float("nan")
    return dict(result, score=r2, corr=corr)


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


def _utterance_data(utterances, stream, label):
    items = [u for u in utterances if u.labels.get(label) is not None]
    if not items:
        return None, []
    return torch.stack([u.pooled(stream) for u in items]), [str(u.labels[label]) for u in items]


def label_probe(train, test, label, streams=STREAMS, task=None, hidden_size=0, seed=0):
    """Utterance-level classification of ``label`` from each stream, train -> test.

    Returns
    -------
    list of ProbeResult
        One per stream; empty when the training split has fewer than two classes or the
        test split has no item with the label.
    """
    results = []
    for stream in streams:
        x_train, y_train = _utterance_data(train, stream, label)
        x_test, y_test = _utterance_data(test, stream, label)
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
    src.global_tokens = tgt.global_tokens
    return codec.decode(src)[0].cpu()


@torch.no_grad()
def global_embedding(codec, wav):
    """The codec's own utterance vector (the global encoder's output before quantization)."""
    codec.eval()
    device = next(codec.parameters()).device
    padded, _, lens = codec.pad_batch(wav.reshape(1, -1).float().to(device))
    return codec.global_encoder(padded, lens)[0].reshape(-1).cpu()


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
