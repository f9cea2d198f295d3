"""The scale of the pitch judges: how they score audio whose pitch is the original's.

``fidelity.py`` scores a codec's pitch with WORLD's Harvest on the rebuilt audio against
Harvest on the original. Harvest's contour on the frames it voices but that carry little
periodicity (glides through voiceless consonants, the faint edges of voiced runs) moves
with anything that changes the waveform, and a few such frames dominate an utterance's
log-F0 correlation. This benchmark scores, with the same judges and on the same
utterances, transformations that keep the pitch exactly, so that the fidelity table's
pitch rows can be read against what an all but transparent codec gets:

- *delayed 0.3 ms*: the original five samples later (a fraction of Harvest's 10 ms hop);
- *white noise at 60 dB / 40 dB SNR*: the original plus a noise floor that far below
  its mean power;
- *G.711 mu-law*: 8-bit logarithmic PCM, the 64 kbps telephone codec;
- *8 kHz band*: the original low-passed at 4 kHz (resampled to 8 kHz and back);
- *Codec 2* at each bitrate of ``--codec2`` (when ``c2enc``/``c2dec`` are installed).

With ``--fidelity`` (a ``fidelity.json`` of ``fidelity.py`` run with the same sources and
utterance limits), the models of that run join the table as columns, so that a codec's
figures stand beside the scale.

Usage::

    python benchmarks/pitch_judge_scale.py --data unseen=data/unseen \\
        --data real=../shared/data/real --fidelity results/fidelity/fidelity.json \\
        --output results/pitch_judge_scale

Writes ``pitch_judge_scale.md``, ``pitch_judge_scale.json`` and, with matplotlib, a
picture of the contour correlations and the voicing agreement of every column per source
(``pitch_judge_scale.png``).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchaudio

from unicodec.evaluation import codec2, judges

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fidelity import METRICS, SAMPLE_RATE, TRACKER, fmt, read_sources  # noqa: E402

PITCH_METRICS = [(key, label) for key, label in METRICS
                 if key not in ("speaker_similarity", "mel_distance")]


def delayed(wav, samples=5):
    """``wav`` ``[T]`` later by ``samples``, same length."""
    return torch.cat([wav.new_zeros(samples), wav[:-samples]])


def with_noise(wav, snr_db, seed=0):
    """``wav`` plus white noise ``snr_db`` below its mean power (a fixed seed)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(wav.shape, generator=generator)
    return wav + noise * (wav.pow(2).mean() / 10 ** (snr_db / 10)).sqrt()


def mu_law(wav, channels=256):
    """``wav`` through 8-bit mu-law PCM (G.711), scaled to its own peak."""
    peak = wav.abs().max().clamp(min=1e-9)
    codes = torchaudio.functional.mu_law_encoding(wav / peak, channels)
    return torchaudio.functional.mu_law_decoding(codes, channels) * peak


def band_limited(wav, rate=8000):
    """``wav`` resampled to ``rate`` and back: nothing above ``rate / 2``."""
    down = torchaudio.functional.resample(wav, SAMPLE_RATE, rate)
    return torchaudio.functional.resample(down, rate, SAMPLE_RATE)[: wav.shape[0]]


def transformations(codec2_rates=()):
    """``{name: function of a waveform [T]}``: the pitch-keeping transformations, then
    Codec 2 at each rate of ``codec2_rates`` (when installed).

    Example
    -------
    >>> wav = torch.sin(torch.arange(16000) * 0.05)
    >>> names = list(transformations())
    >>> names[0], len(names)
    ('delayed 0.3 ms', 5)
    >>> all(fn(wav).shape == wav.shape for fn in transformations().values())
    True
    """
    systems = {
        "delayed 0.3 ms": delayed,
        "white noise, 60 dB SNR": lambda wav: with_noise(wav, 60.0),
        "white noise, 40 dB SNR": lambda wav: with_noise(wav, 40.0),
        "G.711 mu-law (64 kbps)": mu_law,
        "8 kHz band": band_limited,
    }
    if codec2_rates and codec2.available():
        for rate in codec2_rates:
            anchor = codec2.Codec2(rate)
            systems[f"Codec 2 {rate}"] = (
                lambda wav, anchor=anchor: anchor(wav, SAMPLE_RATE)[: wav.shape[0]])
    return systems


def score_source(data, systems, unvoiced_styles=("whispered",)):
    """Pitch summaries (:func:`judges.pitch_summary`) of every system over the pitched
    utterances of ``data`` (``[(item, waveform)]``), and how many were pitched."""
    rows = {name: [] for name in systems}
    for item, wav in data:
        if str(item.get("style")) in unvoiced_styles:
            continue
        f0 = judges.harvest_f0(wav, SAMPLE_RATE)
        periodic = judges.periodic_frames(wav, SAMPLE_RATE)
        for name, transform in systems.items():
            rows[name].append(judges.pitch_agreement(transform(wav), wav, SAMPLE_RATE, f0,
                                                     periodic))
    pitched = len(rows[next(iter(systems))])
    return {name: judges.pitch_summary(r) for name, r in rows.items() if r}, pitched


def read_fidelity(path):
    """The ``results`` of a ``fidelity.py`` run's ``fidelity.json``."""
    with open(path) as f:
        results = json.load(f)["results"]
    if not isinstance(results, dict):
        raise ValueError("no results by source")
    return results


def add_fidelity(results, fidelity):
    """The models of a ``fidelity.py`` run's ``results`` (:func:`read_fidelity`) as more
    columns of ``results``, for the sources both have (its columns named as one of
    ``results``', such as its Codec 2 where this run scored the same rate, and its
    pitch analysis, are left out); returns their names and a warning per source
    whose count of pitched utterances differs from this run's."""
    models, warnings = [], []
    for source, per_system in results.items():
        theirs = fidelity.get(source, {})
        pitched = theirs.get("_utterances", 0) - theirs.get("_unpitched", 0)
        if theirs and pitched != per_system["_utterances"]:
            warnings.append(f"{source}: {pitched} pitched utterances in the fidelity run, "
                            f"{per_system['_utterances']} here: not the same utterances")
        for name, figures in theirs.items():
            if name.startswith("_") or name == TRACKER or name in per_system:
                continue
            if isinstance(figures, dict) and "gross_pitch_error" in figures:
                per_system[name] = figures
                models += [name] if name not in models else []
    return models, warnings


def save_picture(path, results, systems):
    """Contour correlations and voicing agreement of every column, a panel per source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("f0_contour_corr", "log-F0 contour correlation, every frame Harvest voices"),
            ("f0_contour_corr_periodic", "log-F0 contour correlation, frames DIO also voices"),
            ("voicing_agreement", "voicing agreement, every frame")]
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 0.5 * len(systems) + 2),
                             sharey=True, squeeze=False)
    y = np.arange(len(systems))
    for ax, (source, per_system) in zip(axes[0], results.items()):
        for offset, (key, label) in zip((-0.27, 0.0, 0.27), keys):
            values = [per_system.get(s, {}).get(key, np.nan) for s in systems]
            ax.barh(y + offset, values, height=0.27, label=label)
        ax.axvline(0.8, color="grey", lw=0.8, ls=":", label="0.8 (contour target)")
        ax.axvline(0.9, color="grey", lw=0.8, ls="--", label="0.9 (voicing target)")
        ax.set_yticks(y, systems)
        ax.set_xlim(0, 1)
        ax.set_title(source)
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Harvest on each version against Harvest on the original")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def render(results, systems, models=()):
    lines = ["# The scale of the pitch judges", "",
             "Harvest on each transformed original against Harvest on the original, the "
             "fidelity table's pitch rows; every transformation keeps the pitch."]
    if models:
        lines[-1] += (" " + ", ".join(models) + ": from the fidelity.py run given, on the "
                      "same utterances.")
    lines.append("")
    lines += ["| metric | source | " + " | ".join(systems) + " |",
              "|---|---|" + "---|" * len(systems)]
    for key, label in PITCH_METRICS:
        for source, per_system in results.items():
            cells = [fmt(per_system.get(s, {}).get(key)) for s in systems]
            lines.append(f"| {label} | {source} | " + " | ".join(cells) + " |")
    lines.append("")
    for source, per_system in results.items():
        lines.append(f"- {source}: {per_system['_utterances']} pitched utterances")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", required=True,
                        help="NAME=PATH of a source (repeatable)")
    parser.add_argument("--codec2", type=int, nargs="*", default=[3200, 1200],
                        help="Codec 2 bitrates to score too (none: no Codec 2)")
    parser.add_argument("--max-utterances", type=int, default=24)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--unvoiced-styles", nargs="*", default=["whispered"],
                        help="style labels of utterances without pitch (left out)")
    parser.add_argument("--fidelity", help="fidelity.json of a fidelity.py run: its models "
                        "join the table")
    parser.add_argument("--output", default="results/pitch_judge_scale")
    args = parser.parse_args(argv)
    try:
        judges.require("pitch")
    except judges.MissingJudgeError as err:
        parser.exit(2, f"pitch_judge_scale: {err}\n")
    for rate in args.codec2:
        if rate not in codec2.MODES:
            parser.exit(2, f"pitch_judge_scale: --codec2 {rate}: not one of {codec2.MODES}\n")
    if args.codec2 and not codec2.available():
        print("[pitch_judge_scale] Codec 2 is not installed (apt-get install codec2)")
    fidelity = None
    if args.fidelity:
        try:
            fidelity = read_fidelity(args.fidelity)
        except (OSError, ValueError, KeyError, TypeError) as err:
            parser.exit(2, f"pitch_judge_scale: --fidelity {args.fidelity}: {err}\n")
    systems = transformations(args.codec2)
    results = {}
    for name, path, data in read_sources(args.data, args.max_utterances,
                                         args.max_seconds, "pitch_judge_scale"):
        start = time.time()
        results[name], pitched = score_source(data, systems, args.unvoiced_styles)
        results[name]["_utterances"] = pitched
        print(f"[pitch_judge_scale] {name}: {pitched} utterances in {time.time() - start:.0f} s")
    if not results:
        parser.exit(2, "pitch_judge_scale: no source could be read\n")
    models = []
    if fidelity is not None:
        models, warnings = add_fidelity(results, fidelity)
        for warning in warnings:
            print(f"[pitch_judge_scale] warning: {warning}")
    columns = list(systems) + models
    os.makedirs(args.output, exist_ok=True)
    report = render(results, columns, models)
    with open(os.path.join(args.output, "pitch_judge_scale.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.output, "pitch_judge_scale.json"), "w") as f:
        json.dump(results, f, indent=2)
    try:
        save_picture(os.path.join(args.output, "pitch_judge_scale.png"), results, columns)
    except ImportError:
        pass
    print(report)
    print(f"[pitch_judge_scale] report: {os.path.join(args.output, 'pitch_judge_scale.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
