"""The evaluation report in Markdown: metric names, number formatting, the quality-against-
bitrate table and the whole report."""

import math

from unicodec.evaluation import probes
from unicodec.evaluation.bitrate_ladder import METRICS as LADDER_METRICS


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
