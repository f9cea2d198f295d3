"""Evaluates a trained UniCodec: resynthesis quality, codebook usage and disentanglement.

Command line::

    python -m unicodec.evaluation --model results/unicodec/1234/model \\
        --data data/synth --output reports/unicodec

``--model`` is an inference folder written by :func:`unicodec.export.export_model`
(``--hparams`` + ``--checkpoint``, a model-only YAML and a ``state_dict``, also work).
Each ``--data`` is a source of utterances: a SpeechBrain JSON manifest (as written by
``recipes/LibriTTS/libritts_prepare.py``), a ``manifest.csv`` (the layout of the real
speech set), or a folder (its ``manifest.csv`` when it has one, else every audio file
under it, with ``<id>.normalized.txt`` and ``<id>.labels.json`` beside them when present),
named after its file or folder or given as ``NAME=PATH``.
The real speech set ``../shared/data/real`` (beside the repository) is added when it is
there, read in place (``--no-real`` leaves it out).

For each source the report holds:

- resynthesis metrics of up to ``--max-utterances`` utterances: log-mel distance, F0
  agreement, and the optional judges that are installed (PESQ, STOI, speaker similarity,
  DNSMOS of the rebuilt and the original audio, English WER of both);
- codebook usage and perplexity of G, S and P;
- disentanglement probes (:mod:`unicodec.evaluation.probes`) on up to ``--max-probe-utterances``
  utterances: speaker from G/S/P (utterances split within speakers), the style, emotion,
  gender and language labels and the phones and F0 contour (trained on the training
  subsets, or on 70 % of the speakers, and scored on the held-out speakers);
- a voice-conversion score (G swapped between speakers);
- PNG spectrogram comparisons and probe bar charts.

It writes ``report.md``, ``metrics.json`` and the pictures to ``--output``.

Example
-------
>>> import tempfile
>>> source = write_example_source(tempfile.mkdtemp())
>>> items = read_source(source)
>>> [(item["id"], item["spk_id"]) for item in items][:2]
[('a_1', 'a'), ('a_2', 'a')]

Authors
 * UniCodec authors 2026
"""

import argparse
import csv
import json
import logging
import math
import os
import random
import time

import torch

from unicodec.evaluation import judges as judges_module
from unicodec.evaluation import probes
from unicodec.evaluation.bitrate_ladder import METRICS as LADDER_METRICS
from unicodec.evaluation.bitrate_ladder import BitrateLadder, save_quality_bitrate_plot
from unicodec.data.audio import load_audio
from unicodec.evaluation.metrics import ResynthesisMetrics, codebook_usage, save_spectrogram_comparison

logger = logging.getLogger(__name__)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REAL = os.path.join(REPO_ROOT, "..", "shared", "data", "real")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
LABELS = ("style", "emotion", "gender", "language")
"""Utterance labels probed besides the speaker, where a source has them."""


# ---------------------------------------------------------------------------- model
def load_codec(model=None, hparams=None, checkpoint=None, device="cpu"):
    """Loads a UniCodec for evaluation (eval mode, on ``device``).

    Arguments
    ---------
    model : str, optional
        An inference folder of :func:`unicodec.export.export_model`.
    hparams, checkpoint : str, optional
        Instead of ``model``: a model-only YAML (its ``codec`` key) and a ``state_dict``
        file (``checkpoint`` may be omitted for random weights).
    device : str
        Torch device.

    Returns
    -------
    unicodec.lobes.codec.UniCodec
    """
    if model is not None:
        try:
            from unicodec.inference import load_model
        except ImportError:  # the inference interface is optional here
            load_model = None
        if load_model is not None:
            return load_model(model, device=device).codec.eval()
        hparams = os.path.join(model, "hyperparams.yaml")
        checkpoint = os.path.join(model, "codec.ckpt")
    if hparams is None:
        raise ValueError("Give --model, or --hparams (and --checkpoint)")
    from hyperpyyaml import load_hyperpyyaml

    with open(hparams, encoding="utf-8") as f:
        codec = load_hyperpyyaml(f)["codec"]
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        codec.load_state_dict(state, strict=True)
    return codec.to(device).eval()


# ---------------------------------------------------------------------------- data
def _speaker_of(utt_id, path):
    parts = utt_id.replace("-", "_").split("_")
    if len(parts) >= 3:  # LibriTTS 19_198_000000_000000, LibriSpeech 1272-128104-0000
        return parts[0]
    return os.path.basename(os.path.dirname(path))


def _sidecar(path, suffix):
    side = os.path.splitext(path)[0] + suffix
    return side if os.path.isfile(side) else None


def _read_json_manifest(path):
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    items = []
    for utt_id, entry in entries.items():
        item = dict(entry)
        item.update(id=utt_id, path=entry["wav"], spk_id=str(entry.get("spk_id", "")),
                    text=entry.get("text", ""), language=entry.get("language", ""))
        item["subset"] = os.path.basename(os.path.dirname(os.path.dirname(
            os.path.dirname(entry["wav"]))))
        items.append(item)
    return items


def _read_csv_manifest(path):
    root = os.path.dirname(os.path.abspath(path))
    items = []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            rel = row["path"]
            items.append({
                "id": os.path.splitext(rel)[0].replace(os.sep, "/"),
                "path": os.path.join(root, rel),
                "spk_id": row.get("speaker", ""),
                "text": row.get("transcript", ""),
                "language": row.get("language", ""),
                "emotion": row.get("emotion") or None,
                "subset": rel.split("/")[0],
            })
    return items


def _read_folder(folder):
    items = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.lower().endswith(AUDIO_EXTENSIONS):
                continue
            path = os.path.join(dirpath, name)
            utt_id = os.path.splitext(name)[0]
            item = {"id": utt_id, "path": path, "spk_id": _speaker_of(utt_id, path),
                    "text": "", "language": "",
                    "subset": os.path.relpath(dirpath, folder).split(os.sep)[0]}
            text = _sidecar(path, ".normalized.txt")
            if text:
                with open(text, encoding="utf-8") as f:
                    item["text"] = f.read().strip()
            labels = _sidecar(path, ".labels.json")
            if labels:
                with open(labels, encoding="utf-8") as f:
                    item.update(json.load(f))
            items.append(item)
    return items


def read_source(path):
    """Utterances of a source: a JSON manifest, a ``manifest.csv`` or a folder.

    Returns
    -------
    list of dict
        Each with ``id``, ``path``, ``spk_id``, ``text``, ``language``, ``subset`` and
        any other labels (``style``, ``emotion``, ``alignment``, ...). Audio is not read.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or holds no audio.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"No data source at {path}")
    if os.path.isdir(path):
        csv_path = os.path.join(path, "manifest.csv")
        items = _read_csv_manifest(csv_path) if os.path.isfile(csv_path) else _read_folder(path)
    elif path.endswith(".csv"):
        items = _read_csv_manifest(path)
    else:
        items = _read_json_manifest(path)
    if not items:
        raise FileNotFoundError(f"No audio files found in {path}")
    return items


def source_name(spec):
    """``(name, path)`` of a ``--data`` argument: ``NAME=PATH``, or a path named after its
    file or folder.

    Example
    -------
    >>> source_name("results/embedded/test.json"), source_name("unseen=data/probe")
    (('test', 'results/embedded/test.json'), ('unseen', 'data/probe'))
    """
    name, sep, path = spec.partition("=")
    if sep and name and not os.path.exists(spec):
        return name, path
    return os.path.basename(os.path.normpath(spec)).replace(".json", ""), spec


def write_example_source(folder, num_speakers=3, utts_per_speaker=4, seconds=1.0, seed=0):
    """Writes a tiny folder of speech-like audio (``<speaker>/<speaker>_<n>.wav``) and labels.

    Used by the examples and tests; each speaker has its own pitch and each utterance a
    ``style`` label in ``<id>.labels.json``.

    Returns
    -------
    str
        The folder.
    """
    import soundfile as sf

    gen = torch.Generator().manual_seed(seed)
    sample_rate = 16000
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    for s in range(num_speakers):
        speaker = "abcdefghij"[s]
        for n in range(1, utts_per_speaker + 1):
            f0 = 100 + 40 * s + 15 * torch.sin(2 * math.pi * (1 + n / 3) * t)
            phase = 2 * math.pi * torch.cumsum(f0, 0) / sample_rate
            wav = sum(torch.sin(k * phase) / k for k in range(1, 6)) * 0.15
            wav = wav + 0.01 * torch.randn(wav.shape, generator=gen)
            utt_id = f"{speaker}_{n}"
            os.makedirs(os.path.join(folder, speaker), exist_ok=True)
            path = os.path.join(folder, speaker, f"{utt_id}.wav")
            sf.write(path, wav.numpy(), sample_rate)
            with open(path.replace(".wav", ".labels.json"), "w") as f:
                json.dump({"style": "calm" if n % 2 else "lively"}, f)
    return folder


def select(items, limit, seed=0):
    """A seeded subset of at most ``limit`` items, in their original order."""
    if limit is None or len(items) <= limit:
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def _labels(item):
    labels = {k: v for k, v in item.items() if k not in ("path", "wav", "duration")}
    return {k: v for k, v in labels.items() if v not in (None, "")}


# ---------------------------------------------------------------------------- evaluation
def _summary_stats(items):
    seconds = sum(item.get("seconds", 0.0) for item in items)
    return {"utterances": len(items), "minutes": seconds / 60,
            "speakers": len({item["spk_id"] for item in items if item.get("spk_id")})}


def _probe_splits(embeddings, seed):
    """Training subsets vs the rest when the source has them, else held-out speakers."""
    subsets = {u.labels.get("subset", "") for u in embeddings}
    train_subsets = {s for s in subsets if "train" in s}
    if train_subsets and subsets - train_subsets:
        train = [u for u in embeddings if u.labels.get("subset") in train_subsets]
        test = [u for u in embeddings if u.labels.get("subset") not in train_subsets]
        return train, test, "training subsets -> other subsets (held-out speakers)"
    train, test = probes.split_by_speaker(embeddings, test_share=0.3, seed=seed)
    return train, test, "70 % of the speakers -> the other 30 %"


@torch.no_grad()
def evaluate_source(codec, name, items, output, judges=None, max_utterances=40,
                    max_probe_utterances=300, max_seconds=20.0, num_plots=2, vc_pairs=8,
                    seed=0, hidden_size=0, bitrate_ladder=True):
    """Resynthesis metrics, codebook usage, probes and voice conversion of one source.

    Arguments
    ---------
    codec : UniCodec
        The model.
    name : str
        Name of the source (for the report and file names).
    items : list of dict
        Utterances (:func:`read_source`).
    output : str
        Report folder (pictures go to ``<output>/<name>/``).
    judges : unicodec.evaluation.judges.Judges, optional
        Optional judges for the resynthesis metrics.
    max_utterances, max_probe_utterances : int
        Utterances rebuilt and scored; utterances embedded for the probes.
    max_seconds : float
        Longer files are cut to this.
    num_plots : int
        Spectrogram comparisons written.
    vc_pairs : int
        Voice-conversion pairs (0: none).
    seed : int
        Seed of every selection and probe.
    hidden_size : int
        0 for linear probes, else the MLP width.
    bitrate_ladder : bool
        Also score the rebuilt utterances at every number of P codebooks
        (:mod:`unicodec.evaluation.bitrate_ladder`).

    Returns
    -------
    dict
    """
    folder = os.path.join(output, name)
    os.makedirs(folder, exist_ok=True)
    sr = codec.sample_rate
    device = next(codec.parameters()).device
    probe_items = select(items, max_probe_utterances, seed)
    resynth_ids = {item["id"] for item in select(probe_items, max_utterances, seed)}
    vc_ids = {item["id"] for item in select(probe_items, 4 * vc_pairs, seed + 1)}
    metrics = ResynthesisMetrics(sample_rate=sr, judges=judges)
    ladder = BitrateLadder(codec, judges) if bitrate_ladder else None
    embeddings, all_tokens, plots, waves = [], [], [], {}
    start = time.perf_counter()
    for item in probe_items:
        try:
            wav = load_audio(item["path"], sr)[: int(max_seconds * sr)]
        except Exception as err:  # one unreadable file must not end the evaluation
            logger.warning("Skipping %s: %s", item["path"], err)
            continue
        if wav.shape[0] < codec.samples_per_step:
            continue
        item["seconds"] = wav.shape[0] / sr
        tokens = codec.encode(wav[None].to(device))
        all_tokens.append(tokens.to("cpu"))
        embeddings.append(probes.utterance_embeddings(codec, item["id"], wav, tokens,
                                                      _labels(item)))
        if item["id"] in vc_ids:
            waves[item["id"]] = wav
        if item["id"] in resynth_ids:
            rebuilt = codec.decode(tokens)[0].cpu()
            metrics.append([item["id"]], rebuilt[None], wav[None], torch.ones(1),
                           texts=[item.get("text", "")], languages=[item.get("language", "")])
            if ladder is not None:
                ladder.append(item["id"], tokens, wav)
            if len(plots) < num_plots:
                png = os.path.join(folder, f"spectrogram_{len(plots)}.png")
                save_spectrogram_comparison(png, wav, rebuilt, sr, title=item["id"])
                plots.append(os.path.relpath(png, output))
    elapsed = time.perf_counter() - start
    used = [item for item in probe_items if "seconds" in item]
    result = {
        "name": name,
        "data": _summary_stats(used),
        "resynthesis": metrics.summarize(),
        "resynthesized": len(metrics.scores),
        "codebook_usage": codebook_usage(all_tokens, codec) if all_tokens else {},
        "spectrograms": plots,
        "seconds_spent": elapsed,
    }
    if ladder is not None and metrics.scores:
        result["bitrate_ladder"] = ladder.summarize()
    labels = [label for label in LABELS
              if len({str(u.labels.get(label)) for u in embeddings
                      if u.labels.get(label) is not None}) > 1]
    train, test, split = _probe_splits(embeddings, seed)
    # a codec without G (a baseline) has no global stream to probe or to swap
    has_global = codec.num_codebooks()["global"] > 0
    streams = probes.STREAMS if has_global else ("semantic", "paralinguistic")
    kwargs = {"streams": streams, "hidden_size": hidden_size, "seed": seed}
    results = probes.speaker_probe(embeddings, **kwargs)
    for label in labels:
        results += probes.label_probe(train, test, label, **kwargs)
    for target in ("phone", "f0"):
        results += probes.frame_probe(train, test, target, **kwargs)
    result["probes"] = [r.as_dict() for r in results]
    result["probe_split"] = split
    if results:
        png = os.path.join(folder, "probes.png")
        save_probe_bars(png, results, title=f"{name}: probes on frozen token embeddings")
        result["probe_plot"] = os.path.relpath(png, output)
    if vc_pairs and has_global:
        ids = list(waves)
        speakers = [next(u.labels.get("spk_id") for u in embeddings if u.utt_id == i)
                    for i in ids]
        pairs = probes.conversion_pairs(speakers, vc_pairs, seed)
        if pairs:
            result["voice_conversion"] = probes.voice_conversion_score(
                codec, [waves[ids[s]] for s, _ in pairs], [waves[ids[t]] for _, t in pairs])
    return result


def save_probe_bars(path, results, title=None):
    """Writes a PNG bar chart of probe scores: a group per task, a bar per stream.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "probes.png")
    >>> save_probe_bars(path, [probes.ProbeResult("speaker", "global", "accuracy",
    ...                                           0.9, 0.2, 10, 5, 3)])
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = []
    for r in results:
        if (r.task, r.metric) not in tasks:
            tasks.append((r.task, r.metric))
    colours = {"global": "tab:blue", "semantic": "tab:orange", "paralinguistic": "tab:green"}
    fig, ax = plt.subplots(figsize=(1.8 + 1.4 * len(tasks), 3.6))
    width = 0.26
    for i, (task, metric) in enumerate(tasks):
        for j, stream in enumerate(probes.STREAMS):
            match = [r for r in results if (r.task, r.metric, r.stream) == (task, metric, stream)]
            if not match:
                continue
            r = match[0]
            ax.bar(i + (j - 1) * width, max(r.score, -0.2), width, color=colours[stream],
                   label=probes.STREAM_LETTERS[stream] if i == 0 else None)
            ax.plot([i + (j - 1.5) * width, i + (j - 0.5) * width], [r.chance, r.chance],
                    color="black", linewidth=1)
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels([f"{task}\n({metric})" for task, metric in tasks])
    ax.set_ylim(min(-0.05, min(r.score for r in results) - 0.05), 1.05)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_ylabel("score (black: chance)")
    handles, names = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, names, loc="upper right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------- report
METRIC_NAMES = {
    "mel_distance": "log-mel distance (lower is better)",
    "f0_rmse_cents": "F0 RMSE, cents",
    "f0_corr": "F0 correlation",
    "voicing_agreement": "voicing agreement",
    "pesq": "PESQ wide band",
    "stoi": "STOI",
    "speaker_similarity": "speaker similarity (Resemblyzer)",
    "dnsmos_ovrl": "DNSMOS OVRL, rebuilt",
    "dnsmos_ovrl_original": "DNSMOS OVRL, original",
    "dnsmos_sig": "DNSMOS SIG, rebuilt",
    "dnsmos_sig_original": "DNSMOS SIG, original",
    "dnsmos_bak": "DNSMOS BAK, rebuilt",
    "dnsmos_bak_original": "DNSMOS BAK, original",
    "dnsmos_p808": "DNSMOS P.808, rebuilt",
    "dnsmos_p808_original": "DNSMOS P.808, original",
    "wer": "WER (pocketsphinx), rebuilt",
    "wer_original": "WER (pocketsphinx), original",
}


def format_value(value):
    """A table cell: floats with three decimals, NaN as ``nan``."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def ladder_table(rows):
    """A markdown table of quality against bitrate.

    Arguments
    ---------
    rows : list of (str, list of dict)
        A label (source or model) and its rungs (:meth:`BitrateLadder.summarize`).
    """
    names = [n for n in LADDER_METRICS
             if any(n in rung["metrics"] for _, rungs in rows for rung in rungs)]
    header = " | ".join(LADDER_METRICS[n] for n in names)
    lines = [f"| | P codebooks | local bps | {header} |", "|---|---|---|" + "---|" * len(names)]
    for label, rungs in rows:
        for rung in rungs:
            cells = " | ".join(format_value(rung["metrics"].get(n, float("nan"))) for n in names)
            lines.append(f"| {label} | {rung['paralinguistic_codebooks']} "
                         f"| {rung['bps']:.0f} | {cells} |")
    return "\n".join(lines)


def render_report(model_info, results, judges_used, ladder_plot=None):
    """The markdown report of :func:`main`'s results."""
    lines = ["# UniCodec evaluation", ""]
    for key, value in model_info.items():
        lines.append(f"- {key}: {value}")
    lines.append(f"- judges: {', '.join(judges_used) if judges_used else 'none'}")
    lines += ["", "## Data", "", "| source | utterances | minutes | speakers | rebuilt |",
              "|---|---|---|---|---|"]
    for r in results:
        d = r["data"]
        lines.append(f"| {r['name']} | {d['utterances']} | {d['minutes']:.1f} "
                     f"| {d['speakers']} | {r['resynthesized']} |")
    lines += ["", "## Resynthesis", "", "| metric | " + " | ".join(r["name"] for r in results)
              + " |", "|---|" + "---|" * len(results)]
    names = [n for n in METRIC_NAMES if any(n in r["resynthesis"] for r in results)]
    for n in names:
        lines.append(f"| {METRIC_NAMES[n]} | " + " | ".join(
            format_value(r["resynthesis"].get(n, float("nan"))) for r in results) + " |")
    lines += ["", "WER is computed on English utterances with a transcript only; pocketsphinx "
              "is meaningful on natural speech, not on synthetic speech.", ""]
    ladders = [(r["name"], r["bitrate_ladder"]) for r in results if r.get("bitrate_ladder")]
    if ladders:
        lines += ["## Quality against bitrate", "",
                  "The same tokens decoded with the first k P codebooks (k = 0: S and G "
                  "alone, a rung the quantizer dropout does not train).", "",
                  ladder_table(ladders), ""]
        if ladder_plot:
            lines += [f"![quality against bitrate]({ladder_plot})", ""]
    lines += ["## Codebook usage", "",
              "| source | G usage | G perplexity | S usage | S perplexity | P usage "
              "| P perplexity |", "|---|---|---|---|---|---|---|"]
    for r in results:
        u = r["codebook_usage"]
        cells = [format_value(u[f"{s}_{k}"]) if f"{s}_{k}" in u else "-"  # "-": no such stream
                 for s in probes.STREAMS for k in ("usage", "perplexity")]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## Disentanglement probes", "",
              "Linear probes on frozen token embeddings (G; S and P pooled over time for "
              "utterance labels, frame-level for phones and F0). Speaker identification "
              "splits each speaker's utterances (held-out speakers cannot be classified); "
              "the other probes are scored on held-out speakers. F0 is the per-utterance "
              "standardised log-F0 contour (R^2; 0 is chance)."]
    for r in results:
        lines += ["", f"### {r['name']}", "", f"Split: {r['probe_split']}.", ""]
        if r["probes"]:
            lines.append(probes.results_table([probes.ProbeResult(**p) for p in r["probes"]]))
            if r.get("probe_plot"):
                lines += ["", f"![probes]({r['probe_plot']})"]
        else:
            lines.append("No labels to probe.")
    lines += ["", "## Voice conversion", "",
              "G tokens swapped between utterances of different speakers; similarity of the "
              "converted audio to the target and to the source speaker.", "",
              "| source | judge | pairs | to target | to source | margin | closer to target |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        vc = r.get("voice_conversion")
        if vc:
            lines.append(f"| {r['name']} | {vc['judge']} | {vc['pairs']} "
                         f"| {format_value(vc['target_similarity'])} "
                         f"| {format_value(vc['source_similarity'])} "
                         f"| {format_value(vc['margin'])} | {format_value(vc['success_rate'])} |")
    lines += ["", "The `global_embedding` judge is the codec's own global encoder (used when "
              "Resemblyzer is not installed): it is biased towards the swapped G.", "",
              "## Spectrograms", ""]
    for r in results:
        for png in r["spectrograms"]:
            lines.append(f"![{r['name']}]({png})")
    return "\n".join(lines) + "\n"


def _model_info(codec, args):
    params = sum(p.numel() for p in codec.parameters())
    return {
        "model": args.model or f"{args.hparams} + {args.checkpoint}",
        "parameters": f"{params / 1e6:.2f}M",
        "tokens": codec.bitrate_report(),
    }


def build_parser():
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m unicodec.evaluation",
        description="Evaluate a UniCodec model: resynthesis metrics, codebook usage, probes.",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model", help="inference folder from unicodec.export.export_model")
    model.add_argument("--hparams", help="model-only YAML (instead of --model)")
    model.add_argument("--checkpoint", help="codec state_dict (with --hparams)")
    parser.add_argument("--data", action="append", default=[],
                        help="JSON manifest, manifest.csv or audio folder, optionally "
                             "named NAME=PATH (repeatable)")
    parser.add_argument("--real", default=DEFAULT_REAL,
                        help="real speech set, added when present (default: %(default)s)")
    parser.add_argument("--no-real", action="store_true", help="leave the real set out")
    parser.add_argument("--output", required=True, help="report folder")
    parser.add_argument("--judges", default="available",
                        help="'available', 'none' or a comma list of pesq,stoi,"
                             "speaker_similarity,dnsmos,wer")
    parser.add_argument("--max-utterances", type=int, default=40,
                        help="utterances rebuilt and scored per source")
    parser.add_argument("--max-probe-utterances", type=int, default=300,
                        help="utterances embedded for the probes per source")
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument("--num-plots", type=int, default=2)
    parser.add_argument("--vc-pairs", type=int, default=8)
    parser.add_argument("--probe-hidden", type=int, default=0,
                        help="MLP probes of this width (0: linear)")
    parser.add_argument("--no-ladder", action="store_true",
                        help="leave out quality against bitrate (decoding with fewer P "
                             "codebooks)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    return parser


def main(argv=None):
    """Runs the evaluation and writes ``report.md`` and ``metrics.json``; returns the results."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    codec = load_codec(args.model, args.hparams, args.checkpoint, args.device)
    if args.judges == "none":
        judges = None
    else:
        names = args.judges if args.judges == "available" else args.judges.split(",")
        judges = judges_module.Judges(names, sample_rate=codec.sample_rate)
    sources = [source_name(d) for d in args.data]
    names = [name for name, _ in sources]
    if len(set(names)) != len(names):
        raise SystemExit(f"Sources share a name: {names}; name them NAME=PATH")
    if not args.no_real and args.real and os.path.isdir(args.real):
        sources.append(("real", args.real))
    if not sources:
        raise SystemExit("No data: give --data (and/or keep the real set)")
    os.makedirs(args.output, exist_ok=True)
    results = []
    for name, path in sources:
        logger.info("Evaluating %s (%s)", name, path)
        results.append(evaluate_source(
            codec, name, read_source(path), args.output, judges=judges,
            max_utterances=args.max_utterances,
            max_probe_utterances=args.max_probe_utterances, max_seconds=args.max_seconds,
            num_plots=args.num_plots, vc_pairs=args.vc_pairs, seed=args.seed,
            hidden_size=args.probe_hidden, bitrate_ladder=not args.no_ladder,
        ))
    judges_used = judges.names if judges is not None else []
    info = _model_info(codec, args)
    ladder_plot = None
    curves = {r["name"]: r["bitrate_ladder"] for r in results if r.get("bitrate_ladder")}
    if curves:
        ladder_plot = "quality_bitrate.png"
        save_quality_bitrate_plot(os.path.join(args.output, ladder_plot), curves,
                                  title="quality against bitrate (P codebooks kept)")
    with open(os.path.join(args.output, "report.md"), "w", encoding="utf-8") as f:
        f.write(render_report(info, results, judges_used, ladder_plot))
    with open(os.path.join(args.output, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump({"model": info, "judges": judges_used, "sources": results}, f, indent=1,
                  default=float)
    logger.info("Report: %s", os.path.join(args.output, "report.md"))
    return results


if __name__ == "__main__":
    main()
