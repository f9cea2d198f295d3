"""Where a codec loses the voice: speaker similarity after correcting parts of the rebuilt audio.

Every utterance of a source is rebuilt by each model (and by Codec 2, when installed),
and the rebuilt audio's Resemblyzer similarity to the original is measured again after
replacing one part of it by the original's:

- *long-term spectrum*: the rebuilt audio equalized so that its long-term average
  spectrum (cepstrally smoothed, 40 coefficients) is the original's: what a global
  timbre correction (one filter per utterance) would recover;
- *envelope, smoothed over N ms*: each frame's spectral envelope (30 cepstral
  coefficients, 32 ms frames every 8 ms) moved towards the original's by their
  difference averaged over N ms; at 8 ms the rebuilt audio keeps only its own excitation
  (harmonics, noise, phase): what is left is what the excitation costs;
- with ``--bands``, per frequency band (0-1, 1-2, 2-4 and 4-8 kHz): *envelope, 8 ms, in
  the band* (the 8 ms correction applied in that band only) and *fine structure, in the
  band* (the original's harmonics, noise and phase under the rebuilt audio's envelope, in
  that band only): which band's envelope, or excitation, costs the voice.

Beside the similarities, for every system: how much its envelope changes over time
against the original's (the standard deviation over the original's audible frames of
each cepstral coefficient of the envelope, rebuilt / original, averaged over the
utterances): below 1, the rebuilt sounds are more alike than the speaker's (a decoder
that hedges towards the average sound, what
:class:`~unicodec.lobes.envelope_postfilter.EnvelopePostfilter` undoes).

The correction's time scale at which similarity comes back tells where the voice is lost:
in the utterance's overall spectrum (a matter for G), in slow changes over several
phones, or in the envelope of each phone (what S, P and the decoder rebuild frame by
frame). Once per source, and for no codec, the table adds *the original with its own
envelope smoothed over N ms* (what a given time resolution of the envelope costs by
itself), another utterance of the same speaker (the judge's ceiling for "the same voice")
and an utterance of another speaker (its floor).

Usage::

    python benchmarks/voice_budget.py --model UniCodec=results/embedded/model \\
        --data unseen=data/unseen --data real=../shared/data/real --output results/voice

Writes ``voice_budget.md``, ``voice_budget.json`` and, per source, a picture of the
similarity of each system against the correction (``NAME.png``, with matplotlib) and one
of its envelope's change over time per coefficient (``NAME_variability.png``).
"""

import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from unicodec.evaluation import codec2, judges
from unicodec.evaluation.report import read_source, source_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fidelity import (  # noqa: E402
    SAMPLE_RATE, add_common_arguments, load_items, load_models, resynthesize,
)

N_FFT, HOP = 512, 128                 # 32 ms frames every 8 ms
ENVELOPE_COEFFS, SPECTRUM_COEFFS = 30, 40
SCALES_MS = (8, 40, 104, 200, 504)    # odd numbers of 8 ms frames
BANDS_HZ = ((0, 1000), (1000, 2000), (2000, 4000), (4000, 8000))
OWN_SCALES_MS = (24, 40, 72, 104)


def _stft(wav):
    return torch.stft(wav.float(), N_FFT, HOP, window=torch.hann_window(N_FFT),
                      return_complex=True)


def _istft(spec, length):
    return torch.istft(spec, N_FFT, HOP, window=torch.hann_window(N_FFT), length=length)


def cepstral_smooth(log_power, coeffs):
    """``log_power`` ``[..., bins]`` smoothed by keeping its first ``coeffs`` cepstral
    coefficients (the spectral envelope without the harmonics)."""
    cepstrum = torch.fft.irfft(log_power, dim=-1)
    cepstrum[..., coeffs:-coeffs + 1] = 0
    return torch.fft.rfft(cepstrum, dim=-1).real[..., : log_power.shape[-1]]


def envelopes(spec, coeffs=ENVELOPE_COEFFS):
    """Log-power envelope ``[frames, bins]`` of each frame of a spectrogram ``[bins, frames]``."""
    return cepstral_smooth(torch.log(spec.abs().pow(2).T + 1e-8), coeffs)


def long_term_spectrum(spec, coeffs=SPECTRUM_COEFFS):
    """Cepstrally smoothed log of the mean power spectrum over the non-silent frames."""
    power = spec.abs().pow(2)
    energy = power.sum(0)
    keep = energy > energy.max() * 1e-5
    return cepstral_smooth(torch.log(power[:, keep].mean(1) + 1e-9), coeffs)


def time_average(values, frames, weight):
    """``values`` ``[T, bins]`` averaged over ``frames`` (odd) around each frame, each frame
    weighted by ``weight`` ``[T]``; 0 frames: over the whole utterance."""
    if frames == 1:
        return values
    w = weight[:, None]
    if frames == 0:
        return ((values * w).sum(0) / w.sum().clamp(min=1e-9)).expand_as(values)
    kernel = torch.ones(1, 1, frames, dtype=values.dtype)
    num = F.conv1d((values * w).T[:, None], kernel, padding=frames // 2)[:, 0].T
    den = F.conv1d(w.T[:, None], kernel, padding=frames // 2)[:, 0].T
    return num / den.clamp(min=1e-9)


def frames_of(ms):
    """8 ms frames in ``ms`` (odd: the average is centred)."""
    return max(1, int(round(ms * SAMPLE_RATE / 1000 / HOP)) // 2 * 2 + 1)


def equalize(rebuilt, original):
    """``rebuilt`` filtered so that its long-term spectrum is ``original``'s."""
    spec = _stft(rebuilt)
    gain = 0.5 * (long_term_spectrum(_stft(original)) - long_term_spectrum(spec))
    return _istft(spec * gain.exp()[:, None], rebuilt.shape[-1])


def band_mask(band):
    """``[bins, 1]`` True on the STFT bins in ``band`` (Hz, ``(low, high)``); None: all."""
    freqs = torch.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    if band is None:
        return torch.ones(freqs.shape[0], 1, dtype=torch.bool)
    return ((freqs >= band[0]) & (freqs < band[1]))[:, None]


def _aligned(rebuilt, original):
    spec, target = _stft(rebuilt), _stft(original)
    frames = min(spec.shape[1], target.shape[1])
    return spec[:, :frames], target[:, :frames]


def correct_envelope(rebuilt, original, ms, band=None):
    """``rebuilt`` with each frame's envelope moved to ``original``'s by their difference
    averaged over ``ms`` (0: over the whole utterance), in ``band`` only (Hz) if given."""
    spec, target = _aligned(rebuilt, original)
    energy = target.abs().pow(2).sum(0)
    weight = (energy > energy.max() * 1e-4).to(spec.real.dtype)  # leave digital silence out
    diff = time_average(envelopes(target) - envelopes(spec), frames_of(ms) if ms else 0, weight)
    gain = torch.where(band_mask(band), (0.5 * diff).exp().T, torch.ones(()))
    return _istft(spec * gain, rebuilt.shape[-1])


def swap_fine_structure(rebuilt, original, band):
    """``rebuilt`` with, in ``band`` (Hz), the original's spectrum under the rebuilt
    audio's envelope: the original's excitation (harmonics, noise, phase), the rebuilt
    envelope."""
    spec, target = _aligned(rebuilt, original)
    moved = target * (0.5 * (envelopes(spec) - envelopes(target))).exp().T
    return _istft(torch.where(band_mask(band), moved, spec), rebuilt.shape[-1])


COEFFICIENT_GROUPS = (("0 (level)", 0, 1), ("1-8", 1, 9), ("9-29", 9, ENVELOPE_COEFFS))


def variability(rebuilt, original):
    """``[ENVELOPE_COEFFS]``: the standard deviation over time of each cepstral coefficient
    of ``rebuilt``'s envelope over that of ``original``'s, over the original's audible
    frames (within 40 dB of its loudest)."""
    spec, target = _aligned(rebuilt, original)
    energy = target.abs().pow(2).sum(0)
    keep = energy > energy.max() * 1e-4
    ratio = []
    for s in (spec, target):
        cepstrum = torch.fft.irfft(envelopes(s)[keep], dim=-1)[:, :ENVELOPE_COEFFS]
        ratio.append(cepstrum.std(0))
    return (ratio[0] / ratio[1].clamp(min=1e-6)).numpy()


def smear_envelope(wav, ms):
    """``wav`` with each frame's envelope replaced by its average over ``ms``."""
    spec = _stft(wav)
    env = envelopes(spec)
    ones = torch.ones(env.shape[0], dtype=env.dtype)
    return _istft(spec * (0.5 * (time_average(env, frames_of(ms), ones) - env)).exp().T,
                  wav.shape[-1])


def corrections(bands=False):
    """Names and functions ``(rebuilt, original) -> audio`` of the columns, in order: the
    time scales, then (``bands``) the per-band envelope and fine structure."""
    columns = [("as rebuilt", lambda r, o: r), ("long-term spectrum", equalize),
               ("envelope, whole utterance", lambda r, o: correct_envelope(r, o, 0))]
    for ms in sorted(SCALES_MS, reverse=True):
        columns.append((f"envelope, {ms} ms", lambda r, o, ms=ms: correct_envelope(r, o, ms)))
    if bands:
        for band in BANDS_HZ:
            name = f"{band[0] / 1000:g}-{band[1] / 1000:g} kHz"
            columns.append((f"envelope, 8 ms, {name} only",
                            lambda r, o, b=band: correct_envelope(r, o, 8, band=b)))
            columns.append((f"fine structure, {name} only",
                            lambda r, o, b=band: swap_fine_structure(r, o, b)))
    return columns


def references(data, items, speaker, seed=0):
    """The original's own envelope smoothed; another utterance of the speaker; another
    speaker's (each scored against the original)."""
    rng = random.Random(seed)
    from unicodec.data.audio import load_audio

    rows = {f"original, envelope over {ms} ms": [] for ms in OWN_SCALES_MS}
    rows["same speaker, another utterance"] = []
    rows["another speaker"] = []
    for item, wav in data:
        for ms in OWN_SCALES_MS:
            rows[f"original, envelope over {ms} ms"].append(
                speaker(smear_envelope(wav, ms), wav, SAMPLE_RATE))
        spk = item.get("spk_id")
        same = [i for i in items if spk is not None and i.get("spk_id") == spk
                and i["id"] != item["id"]]
        other = [i for i in items if i.get("spk_id", i["id"]) != item.get("spk_id", item["id"])]
        for key, pool in (("same speaker, another utterance", same),
                          ("another speaker", other)):
            if pool:
                ref = load_audio(rng.choice(pool)["path"], SAMPLE_RATE)[: wav.shape[0] * 2]
                rows[key].append(speaker(ref, wav, SAMPLE_RATE))
    return {k: float(np.mean(v)) for k, v in rows.items() if v}


def render(results, systems, bands=False):
    """Markdown: one table per source, one row per correction, one column per system."""
    lines = ["# Where the voice is lost (Resemblyzer similarity to the original)", ""]
    for source, res in results.items():
        lines += [f"## {source} ({res['_utterances']} utterances)", "",
                  "| correction of the rebuilt audio | " + " | ".join(systems) + " |",
                  "|---|" + "---|" * len(systems)]
        for name, _ in corrections(bands):
            cells = [f"{res[s][name]:.3f}" if name in res.get(s, {}) else "-" for s in systems]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "| envelope's change over time, rebuilt / original (std of cepstral "
                  "coefficients over frames) | " + " | ".join(systems) + " |",
                  "|---|" + "---|" * len(systems)]
        for group, low, high in COEFFICIENT_GROUPS:
            cells = [f"{np.mean(res['_variability'][s][low:high]):.2f}" for s in systems]
            lines.append(f"| coefficients {group} | " + " | ".join(cells) + " |")
        lines += ["", "| reference | similarity |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in res["_references"].items()]
        lines.append("")
    return "\n".join(lines)


def save_picture(path, result, systems, title):
    """Similarity of each system as its rebuilt audio is corrected at finer time scales."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name, _ in corrections()]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for system in systems:
        ax.plot(range(len(names)), [result[system][n] for n in names], marker="o",
                label=system)
    refs = result["_references"]
    for key, style in (("same speaker, another utterance", "--"), ("another speaker", ":")):
        if key in refs:
            ax.axhline(refs[key], color="grey", ls=style, lw=1)
            ax.text(len(names) - 1, refs[key], key, ha="right", va="bottom", fontsize=8,
                    color="grey")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace("envelope, ", "envelope\n") for n in names], fontsize=8)
    ax.set_ylabel("speaker similarity (Resemblyzer)")
    ax.set_xlabel("what is replaced by the original's (left: nothing)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_variability_picture(path, result, systems, title):
    """The rebuilt envelope's change over time, against the original's, per coefficient."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for system in systems:
        ax.plot(result["_variability"][system], marker=".", label=system)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.text(ENVELOPE_COEFFS - 1, 1.0, "the original's", ha="right", va="bottom",
            fontsize=8, color="grey")
    ax.set_xlabel("cepstral coefficient of the envelope (0: level)")
    ax.set_ylabel("std over time, rebuilt / original")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--output", default="results/voice_budget")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bands", action="store_true",
                        help="add the per-band corrections (envelope, fine structure)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        speaker = judges.SpeakerSimilarity()
    except judges.MissingJudgeError as err:
        parser.exit(2, f"voice_budget: {err}\n")
    models = load_models(parser, args.model, "voice_budget")
    anchor = None
    if args.codec2 and codec2.available():
        anchor = codec2.Codec2(args.codec2)
    systems = list(models) + ([f"Codec 2 {args.codec2}"] if anchor else [])
    results = {}
    for spec in args.data:
        name, path = source_name(spec)
        try:
            items = read_source(path)
            data = load_items(path, args.max_utterances, args.max_seconds)
        except FileNotFoundError as err:
            print(f"[voice_budget] skipped source {name}: {err}")
            continue
        start = time.time()
        columns = corrections(args.bands)
        rows = {s: {c: [] for c, _ in columns} for s in systems}
        ratios = {s: [] for s in systems}
        for _, wav in data:
            rebuilt = {m: resynthesize(codec, wav)[0] for m, codec in models.items()}
            if anchor:
                rebuilt[systems[-1]] = anchor(wav, SAMPLE_RATE)
            for system, out in rebuilt.items():
                ratios[system].append(variability(out, wav))
                for column, fix in columns:
                    rows[system][column].append(speaker(fix(out, wav), wav, SAMPLE_RATE))
        results[name] = {s: {c: float(np.mean(v)) for c, v in cols.items()}
                         for s, cols in rows.items()}
        results[name]["_utterances"] = len(data)
        results[name]["_variability"] = {s: np.mean(v, 0).tolist() for s, v in ratios.items()}
        results[name]["_references"] = references(data, items, speaker)
        print(f"[voice_budget] {name}: {len(data)} utterances in {time.time() - start:.0f} s")
    os.makedirs(args.output, exist_ok=True)
    for name, result in results.items():
        try:
            save_picture(os.path.join(args.output, f"{name}.png"), result, systems,
                         f"{name}: where the voice is lost")
            save_variability_picture(os.path.join(args.output, f"{name}_variability.png"),
                                     result, systems, f"{name}: the envelope's change over time")
        except ImportError:
            pass
    report = render(results, systems, args.bands)
    with open(os.path.join(args.output, "voice_budget.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.output, "voice_budget.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(report)
    print(f"[voice_budget] report: {os.path.join(args.output, 'voice_budget.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
