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
import json
import logging
import os
import time

import torch

from unicodec.evaluation import judges as judges_module
from unicodec.evaluation import probes
from unicodec.evaluation.bitrate_ladder import BitrateLadder, save_quality_bitrate_plot
from unicodec.data.audio import load_audio
from unicodec.evaluation.metrics import ResynthesisMetrics, codebook_usage, save_spectrogram_comparison
from unicodec.evaluation.sources import (  # noqa: F401
    AUDIO_EXTENSIONS,
    DEFAULT_REAL,
    REPO_ROOT,
    load_codec,
    read_source,
    select,
    source_name,
    write_example_source,
)
from unicodec.evaluation.markdown import (  # noqa: F401
    METRIC_NAMES,
    format_value,
    ladder_table,
    render_report,
)
from unicodec.evaluation.plots import (  # noqa: F401
    save_probe_bars,
)

logger = logging.getLogger(__name__)

LABELS = ("style", "emotion", "gender", "language")
"""Utterance labels probed besides the speaker, where a source has them."""


# ---------------------------------------------------------------------------- model


# ---------------------------------------------------------------------------- data


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


# ---------------------------------------------------------------------------- report


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
