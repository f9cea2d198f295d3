"""Paralinguistic fidelity: pitch, voicing, voice and spectrum of resynthesis, beside Codec 2.

For every source (``NAME=PATH``: a recipe JSON manifest, a folder or a ``manifest.csv``)
each utterance is rebuilt by every model and by Codec 2 (1200 bps by default, when
``c2enc``/``c2dec`` are installed), and scored against its original with judges that
training does not use:

- pitch by WORLD's Harvest (pyworld; UniCodec itself tracks pitch with YIN): gross pitch
  error (share of the frames voiced in both that are more than 20% off), log-F0 contour
  correlation, F0 RMSE in cents, voicing agreement (on every frame, and on the frames
  where the original is audible: Harvest voices a rebuilt noise floor where the
  original is digitally silent); whispered utterances (``style`` label) have no pitch
  and are left out of these rows. Harvest also voices short voiceless consonants between
  vowels, with a contour no periodicity supports, and a few such frames dominate an
  utterance's contour correlation; two more rows score the contour on the frames WORLD's
  DIO voices too, and the voicing on the frames where DIO and Harvest agree on the
  original (a second opinion from the same package, not UniCodec's tracker);
- speaker similarity (Resemblyzer) and log-mel distance.

A column "tracker on the original" scores the analysis the first model's tokens are made of
(its :class:`~unicodec.lobes.pitch_tracker.ProsodyFeatures`: YIN, tracked) against Harvest
on the original audio itself: its contour (interpolated through the frames it calls
unvoiced, as P's pitch tokens hold it) on every frame Harvest voices, its voicing on every
frame. Where two trackers disagree on the same audio, pitch tokens holding that contour
cannot agree with Harvest better, whatever the decoder.

For models with G, voice conversion by G swap is scored on pairs of utterances of
different speakers: the share of pairs whose converted audio is closer (Resemblyzer) to the
target than to the source, and the share whose mean F0 moves to the target's side.
Where the utterances have a ``style`` label, a linear probe reads it from G+P, G, P and S
on held-out speakers (five folds by speaker; each embedding relative to its speaker's
mean, as the styles are offsets from each speaker's own voice).

Usage::

    python benchmarks/fidelity.py --model unicodec=results/embedded/model \\
        --data unseen=data/unseen/... --data real=../shared/data/real --output results/fidelity

Writes ``fidelity.md``, ``fidelity.json`` and, per source, a picture of one utterance
(spectrograms and F0 contours of the original, each model and Codec 2).
"""

import argparse
import json
import math
import os
import random
import sys
import time
from collections import Counter

import numpy as np
import torch

from unicodec.evaluation import codec2, judges
from unicodec.data.audio import load_audio
from unicodec.evaluation.report import load_codec, read_source, select, source_name
from unicodec.evaluation.metrics import mel_distance
from unicodec.swapping import voice_of
from unicodec.tokens import Tokens

SAMPLE_RATE = 16000
METRICS = [
    ("gross_pitch_error", "gross pitch error (lower better)"),
    ("f0_contour_corr", "log-F0 contour correlation"),
    ("f0_rmse_cents", "F0 RMSE, cents (lower better)"),
    ("voicing_agreement", "voicing agreement"),
    ("voicing_agreement_audible", "voicing agreement, audible frames of the original"),
    ("f0_contour_corr_periodic", "log-F0 contour correlation, frames DIO also voices"),
    ("voicing_agreement_certain", "voicing agreement, frames DIO and Harvest agree on"),
    ("speaker_similarity", "speaker similarity (Resemblyzer)"),
    ("mel_distance", "log-mel distance (lower better)"),
]


def load_items(path, limit, max_seconds, seed=0):
    """Up to ``limit`` utterances of a source as ``(item, waveform)``, cut to max_seconds."""
    items = select(read_source(path), limit, seed)
    out = []
    for item in items:
        wav = load_audio(item["path"], SAMPLE_RATE)
        if max_seconds:
            wav = wav[: int(max_seconds * SAMPLE_RATE)]
        if wav.shape[0] >= SAMPLE_RATE // 2:
            out.append((item, wav))
    return out


def read_sources(specs, max_utterances, max_seconds, prog):
    """``(name, path, [(item, waveform)])`` of each ``NAME=PATH`` source (:func:`load_items`);
    a source that cannot be found is skipped with one line naming it."""
    for spec in specs:
        name, path = source_name(spec)
        try:
            data = load_items(path, max_utterances, max_seconds)
        except FileNotFoundError as err:
            print(f"[{prog}] skipped source {name}: {err}")
            continue
        yield name, path, data


@torch.no_grad()
def resynthesize(codec, wav):
    """Encode and decode one waveform ``[T]``; returns the waveform and the tokens."""
    tokens = codec.encode(wav[None])
    return codec.decode(tokens)[0, : wav.shape[0]], tokens


TRACKER = "tracker on the original"


def tracker_agreement(wav, prosody, original_f0, original_periodic=None):
    """:func:`judges.f0_agreement`'s counts of the analysis ``prosody`` (a model's
    ProsodyFeatures, 20 ms frames) of ``wav`` against Harvest's ``original_f0`` (10 ms):
    the pitch of the contour the tokens hold, on every frame Harvest voices, and the
    analysis' own voicing."""
    analysis = prosody(wav[None])
    repeat = int(round(prosody.hop_length / (SAMPLE_RATE * 0.010)))  # Harvest frames per frame
    contour = np.repeat(analysis["log_f0"][0].exp().numpy(), repeat)
    voiced = np.repeat(analysis["voiced"][0].numpy(), repeat)
    audible = judges.audible_frames(wav, SAMPLE_RATE)
    counts = judges.f0_agreement(contour, original_f0, audible, original_periodic)
    n = counts["pitch_frames"]
    agree = voiced[:n] == (original_f0[:n] > 0)
    counts["pitch_voicing_agree"] = int(agree.sum())
    counts["pitch_audible_voicing_agree"] = int((agree & audible[:n]).sum())
    if original_periodic is not None:
        periodic = np.asarray(original_periodic, dtype=bool)[:n]
        periodic = np.pad(periodic, (0, n - len(periodic)))
        certain = periodic == (original_f0[:n] > 0)
        counts["pitch_certain_voicing_agree"] = int((agree & certain).sum())
    return counts


def score(rebuilt, original, original_f0, speaker, pitch=True, original_periodic=None):
    """The pitch counts (when ``pitch``), speaker similarity and mel distance of one
    rebuilt waveform."""
    scores = {}
    if pitch:
        scores = judges.pitch_agreement(rebuilt, original, SAMPLE_RATE, original_f0,
                                        original_periodic)
    scores["mel_distance"] = mel_distance(rebuilt, original, SAMPLE_RATE)
    if speaker is not None:
        scores["speaker_similarity"] = float(speaker(rebuilt, original, SAMPLE_RATE))
    return scores


def summarize(rows):
    """Corpus figures of a system's per-utterance scores."""
    pitched = [r for r in rows if "pitch_frames" in r]
    summary = judges.pitch_summary(pitched) if pitched else {}
    for key in ("mel_distance", "speaker_similarity"):
        values = [r[key] for r in rows if key in r]
        if values:
            summary[key] = float(np.mean(values))
    return summary


def mean_log_f0(wav=None, f0=None):
    f0 = judges.harvest_f0(wav, SAMPLE_RATE) if f0 is None else f0
    voiced = f0 > 0
    return float(np.log(f0[voiced]).mean()) if voiced.any() else float("nan")


@torch.no_grad()
def voice_conversion(codec, data, f0s, speaker, num_pairs, seed=0):
    """G swap on pairs of different speakers: closer to the target, F0 moved to it."""
    rng = random.Random(seed)
    by_speaker = {}
    for i, (item, _) in enumerate(data):
        by_speaker.setdefault(item.get("spk_id", item["id"]), []).append(i)
    if len(by_speaker) < 2 or speaker is None:
        return None
    closer, moved, pairs = 0, 0, 0
    for _ in range(num_pairs):
        a, b = rng.sample(sorted(by_speaker), 2)
        i, j = rng.choice(by_speaker[a]), rng.choice(by_speaker[b])
        src_wav, tgt_wav = data[i][1], data[j][1]
        src, tgt = codec.encode(src_wav[None]), codec.encode(tgt_wav[None])
        voice = voice_of(src.global_tokens, tgt.global_tokens,
                         getattr(codec, "speech_level", None) is not None)
        swapped = Tokens(voice, src.semantic_tokens, src.paralinguistic_tokens, src.num_samples)
        converted = codec.decode(swapped)[0]
        closer += speaker(converted, tgt_wav, SAMPLE_RATE) > speaker(converted, src_wav,
                                                                      SAMPLE_RATE)
        f_src, f_tgt = mean_log_f0(f0=f0s[i]), mean_log_f0(f0=f0s[j])
        f_conv = mean_log_f0(converted)
        moved += abs(f_conv - f_tgt) < abs(f_conv - f_src)
        pairs += 1
    if not pairs:
        return None
    return {"vc_closer_to_target": closer / pairs, "vc_f0_moved_to_target": moved / pairs,
            "vc_pairs": pairs}


@torch.no_grad()
def style_probe(codec, data, label="style", folds=5, seed=0):
    """Accuracy of a linear probe of ``label`` from G+P, G, P and S, on held-out speakers.

    The speakers are split into ``folds`` (every utterance is scored once, by a probe
    that never heard its speaker), and each utterance's embedding is taken relative to
    its speaker's mean: the corpus' styles are offsets from each speaker's own pitch,
    range, rate and loudness, which a probe cannot tell from the voice itself without
    knowing the voice. ``style_chance`` is the share of the most common style.
    """
    from unicodec.evaluation import probes

    embeddings = []
    for item, wav in data:
        if item.get(label) is None:
            continue
        tokens = codec.encode(wav[None])
        embeddings.append(probes.utterance_embeddings(codec, item["id"], wav, tokens,
                                                      labels=item, with_f0=False))
    if len({e.labels[label] for e in embeddings}) < 2:
        return None
    if codec.num_codebooks()["global"]:
        streams = ["global+paralinguistic", "global", "paralinguistic", "semantic"]
    else:
        streams = ["paralinguistic", "semantic"]
    correct, scored = {}, {}
    for train, test in probes.speaker_folds(embeddings, folds=folds, seed=seed):
        for r in probes.label_probe(train, test, label, streams=streams, seed=seed,
                                    centre="spk_id"):
            correct[r.stream] = correct.get(r.stream, 0.0) + r.score * r.num_test
            scored[r.stream] = scored.get(r.stream, 0) + r.num_test
    if not scored:
        return None
    names = {"global": "G", "paralinguistic": "P", "semantic": "S"}
    out = {"style_from_" + "+".join(names[p] for p in stream.split("+")):
           correct[stream] / scored[stream] for stream in scored}
    counts = Counter(str(e.labels[label]) for e in embeddings)
    out["style_chance"] = max(counts.values()) / sum(counts.values())
    return out


def save_picture(path, original, systems, title):
    """Spectrograms and Harvest F0 contours of an original and its rebuilt versions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["original"] + list(systems)
    waves = [original] + [systems[n] for n in systems]
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(10, 2.2 * (len(names) + 1)),
                             sharex=True)
    for ax, name, wav in zip(axes, names, waves):
        spec = torch.stft(wav, 1024, 160, window=torch.hann_window(1024), return_complex=True)
        db = 20 * torch.log10(spec.abs() + 1e-5)
        seconds = wav.shape[0] / SAMPLE_RATE
        ax.imshow(db.numpy(), origin="lower", aspect="auto", vmin=float(db.max()) - 80,
                  extent=[0, seconds, 0, SAMPLE_RATE / 2000], cmap="magma")
        ax.set_ylim(0, 4)
        ax.set_ylabel(f"{name}\nkHz")
    ax = axes[-1]
    for name, wav in zip(names, waves):
        f0 = judges.harvest_f0(wav, SAMPLE_RATE)
        t = np.arange(len(f0)) * 0.01
        ax.plot(t, np.where(f0 > 0, f0, np.nan), label=name, lw=1.2)
    ax.set_ylabel("F0 (Hz), Harvest")
    ax.set_xlabel("seconds")
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fmt(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"


def render(results, systems, bitrates):
    lines = ["# Paralinguistic fidelity", "",
             "Pitch by WORLD's Harvest (not the YIN tracker UniCodec uses), speaker similarity "
             "by Resemblyzer; every system rebuilds the same utterances in the same run. "
             f"\"{TRACKER}\": the first model's own pitch analysis (its ProsodyFeatures) against "
             "Harvest on the original audio (its contour on every frame Harvest voices), "
             "the ceiling of pitch tokens that hold that contour.", ""]
    header = "| metric | source | " + " | ".join(
        f"{s} ({bitrates[s]:.0f} bps)" if s in bitrates else s for s in systems) + " |"
    lines += [header, "|---|---|" + "---|" * len(systems)]
    extra = [("vc_closer_to_target", "VC by G swap: closer to target"),
             ("vc_f0_moved_to_target", "VC by G swap: F0 moved to target"),
             ("style_from_G+P", "style probe from G+P (held-out speakers)"),
             ("style_from_G", "style probe from G"), ("style_from_P", "style probe from P"),
             ("style_from_S", "style probe from S"),
             ("style_chance", "style probe: the most common style's share")]
    for key, label in METRICS + extra:
        for source, per_system in results.items():
            cells = [fmt(per_system.get(s, {}).get(key)) for s in systems]
            if all(c == "-" for c in cells):
                continue
            lines.append(f"| {label} | {source} | " + " | ".join(cells) + " |")
    lines.append("")
    for source, per_system in results.items():
        n, unpitched = per_system.get("_utterances"), per_system.get("_unpitched", 0)
        left_out = f" ({unpitched} whispered, left out of the pitch rows)" if unpitched else ""
        lines.append(f"- {source}: {n} utterances{left_out}; picture `{source}.png`")
    return "\n".join(lines) + "\n"


def add_common_arguments(parser):
    """The models, sources, anchor and utterance limits of a side-by-side benchmark."""
    parser.add_argument("--model", action="append", required=True,
                        help="NAME=FOLDER of an exported model (repeatable)")
    parser.add_argument("--data", action="append", required=True,
                        help="NAME=PATH of a source (repeatable)")
    parser.add_argument("--codec2", type=int, default=1200,
                        help="Codec 2 bitrate of the anchor (0: none)")
    parser.add_argument("--max-utterances", type=int, default=24)
    parser.add_argument("--max-seconds", type=float, default=6.0)


def load_models(parser, specs, prog):
    """``{name: codec}`` of ``NAME=FOLDER`` specs; a model that cannot load ends the run
    with one line naming its folder."""
    models = {}
    for spec in specs:
        name, folder = source_name(spec)
        try:
            models[name] = load_codec(model=folder)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            parser.exit(2, f"{prog}: model {folder}: {err}\n")
    return models


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--vc-pairs", type=int, default=20)
    parser.add_argument("--unvoiced-styles", nargs="*", default=["whispered"],
                        help="style labels of utterances without pitch (left out of the "
                             "pitch rows)")
    parser.add_argument("--style-utterances", type=int, default=1000,
                        help="utterances embedded for the style probe, at most (0: no probe)")
    parser.add_argument("--output", default="results/fidelity")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        judges.require("pitch")
    except judges.MissingJudgeError as err:
        parser.exit(2, f"fidelity: {err}\n")
    speaker = None
    try:
        speaker = judges.SpeakerSimilarity()
    except judges.MissingJudgeError as err:
        print(f"[fidelity] no speaker similarity: {err}")
    models = load_models(parser, args.model, "fidelity")
    anchor = None
    if args.codec2:
        if codec2.available():
            anchor = codec2.Codec2(args.codec2)
        else:
            print("[fidelity] Codec 2 is not installed (apt-get install codec2): no anchor")
    systems = list(models) + ([f"Codec 2 {args.codec2}"] if anchor else []) + [TRACKER]
    prosody = next((c.prosody for c in models.values() if c.prosody is not None), None)
    if prosody is None:
        from unicodec.lobes.pitch_tracker import ProsodyFeatures

        prosody = ProsodyFeatures(sample_rate=SAMPLE_RATE)
    bitrates = {name: codec.bitrate() for name, codec in models.items()}
    if anchor:
        bitrates[systems[-2]] = float(args.codec2)
    os.makedirs(args.output, exist_ok=True)
    results = {}
    for name, path, data in read_sources(args.data, args.max_utterances,
                                         args.max_seconds, "fidelity"):
        start = time.time()
        rows = {s: [] for s in systems}
        example = None
        f0s = []
        unpitched = 0
        for index, (item, wav) in enumerate(data):
            f0s.append(judges.harvest_f0(wav, SAMPLE_RATE))
            periodic = judges.periodic_frames(wav, SAMPLE_RATE)
            # whispered speech has no pitch (Harvest still finds some in breath noise)
            pitched = str(item.get("style")) not in args.unvoiced_styles
            unpitched += not pitched
            rebuilt = {m: resynthesize(codec, wav)[0] for m, codec in models.items()}
            if anchor:
                rebuilt[systems[-2]] = anchor(wav, SAMPLE_RATE)
            for system, out in rebuilt.items():
                rows[system].append(score(out, wav, f0s[-1], speaker, pitched, periodic))
            if pitched:
                rows[TRACKER].append(tracker_agreement(wav, prosody, f0s[-1], periodic))
            if index == 0:
                example = (item["id"], wav, rebuilt)
        results[name] = {s: summarize(rows[s]) for s in systems}
        results[name]["_utterances"] = len(data)
        results[name]["_unpitched"] = unpitched
        for m, codec in models.items():
            if args.style_utterances:
                style_data = load_items(path, args.style_utterances, args.max_seconds, seed=1)
                style = style_probe(codec, style_data)
                if style:
                    results[name][m].update(style)
            if codec.num_codebooks()["global"]:
                vc = voice_conversion(codec, data, f0s, speaker, args.vc_pairs)
                if vc:
                    results[name][m].update(vc)
        if example is not None:
            try:
                save_picture(os.path.join(args.output, f"{name}.png"), example[1], example[2],
                             f"{name}: {example[0]}")
            except ImportError:
                pass
        print(f"[fidelity] {name}: {len(data)} utterances in {time.time() - start:.0f} s")
    report = render(results, systems, bitrates)
    with open(os.path.join(args.output, "fidelity.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.output, "fidelity.json"), "w") as f:
        json.dump({"bitrates": bitrates, "results": results}, f, indent=2)
    print(report)
    print(f"[fidelity] report: {os.path.join(args.output, 'fidelity.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
