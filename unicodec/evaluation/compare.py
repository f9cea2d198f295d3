"""Puts the evaluation reports of several models side by side.

Command line::

    python -m unicodec.evaluation compare --output reports/comparison \\
        UniCodec=results/embedded/report \\
        "plain RVQ"=results/baseline_rvq_cpu/report \\
        SpeechTokenizer-style=results/baseline_speechtokenizer_cpu/report

Each argument is a report folder written by :mod:`unicodec.evaluation.report` (or its
``metrics.json``), optionally named ``NAME=FOLDER`` (else named after the folder, or
after its parent when the folder's name starts with ``report``). The
reports should come from the same data and evaluation settings: a source whose utterance
count differs between reports is flagged. For each source ``comparison.md`` holds the
resynthesis metrics, codebook usage and voice conversion with a column per model, the
probes with a row per task and stream, quality against bitrate, and PNG pictures (a
quality-against-bitrate panel per source with a line per model, and the probes as bars).
``comparison.json`` holds the same figures.

Example
-------
>>> import json, os, tempfile
>>> folder = tempfile.mkdtemp()
>>> def report(name, mel):
...     source = {"name": "test", "data": {"utterances": 4, "minutes": 0.1, "speakers": 2},
...               "resynthesis": {"mel_distance": mel}, "resynthesized": 4,
...               "codebook_usage": {}, "probes": []}
...     os.makedirs(os.path.join(folder, name))
...     with open(os.path.join(folder, name, "metrics.json"), "w") as f:
...         json.dump({"model": {"parameters": "1M", "tokens": "S"}, "judges": [],
...                    "sources": [source]}, f)
...     return os.path.join(folder, name)
>>> reports = [load_report(spec) for spec in (f"a={report('a', 1.5)}", report("b", 2.0))]
>>> [r["label"] for r in reports]
['a', 'b']
>>> print(main_table(reports, "test").splitlines()[2])
| log-mel distance (lower is better) | 1.500 | 2.000 |

Authors
 * UniCodec authors 2026
"""

import argparse
import json
import logging
import os

from unicodec.evaluation import probes
from unicodec.evaluation.bitrate_ladder import save_quality_bitrate_plot
from unicodec.evaluation.report import METRIC_NAMES, format_value, ladder_table

logger = logging.getLogger(__name__)

MAIN_METRICS = ("mel_distance", "pesq", "stoi", "speaker_similarity", "f0_corr",
                "f0_rmse_cents", "dnsmos_ovrl", "wer")
"""Resynthesis metrics of the main table (each model's report has the others)."""

ORIGINAL_METRICS = ("dnsmos_ovrl_original", "wer_original")
"""Scores of the original audio: the same for every model, given once per source."""

TASK_ORDER = ("speaker", "phone", "f0", "style", "emotion", "gender", "language")
"""Order of the probe tasks in the tables and pictures (others follow)."""


def load_report(spec):
    """Reads ``[NAME=]FOLDER`` (a report folder or its ``metrics.json``).

    Returns
    -------
    dict
        The report's ``metrics.json`` with ``label`` and ``path`` added.

    Raises
    ------
    FileNotFoundError
        If there is no ``metrics.json`` there.
    ValueError
        If it holds no evaluated source.
    """
    label, sep, path = spec.partition("=")
    if not sep:
        label, path = "", spec
    metrics = path if path.endswith(".json") else os.path.join(path, "metrics.json")
    if not os.path.isfile(metrics):
        raise FileNotFoundError(f"No evaluation report at {path} (looked for {metrics}); "
                                "write one with python -m unicodec.evaluation")
    with open(metrics, encoding="utf-8") as f:
        report = json.load(f)
    if not report.get("sources"):
        raise ValueError(f"The report {metrics} holds no evaluated source")
    if not label:  # the report folder's name, or its parent's for results/<model>/report
        folder = os.path.dirname(os.path.abspath(metrics))
        label = os.path.basename(folder)
        if label.startswith("report"):
            label = os.path.basename(os.path.dirname(folder))
    report["label"] = label
    report["path"] = metrics
    return report


def _source(report, name):
    return next((s for s in report["sources"] if s["name"] == name), None)


def source_names(reports):
    """Source names in order of first appearance over the reports."""
    names = []
    for report in reports:
        for source in report["sources"]:
            if source["name"] not in names:
                names.append(source["name"])
    return names


def _row(label, cells):
    return f"| {label} | " + " | ".join(cells) + " |"


def main_table(reports, name):
    """Resynthesis, codebook usage and voice conversion of source ``name``, a column per model."""
    sources = [_source(r, name) for r in reports]
    lines = [_row("metric", [r["label"] for r in reports]), "|---|" + "---|" * len(reports)]
    metric_names = [m for m in MAIN_METRICS
                    if any(s and m in s["resynthesis"] for s in sources)]
    for metric in metric_names:
        lines.append(_row(METRIC_NAMES[metric], [
            format_value(s["resynthesis"].get(metric, float("nan"))) if s else "-"
            for s in sources]))
    for stream, letter in probes.STREAM_LETTERS.items():
        key = f"{stream}_usage"
        if any(s and key in s["codebook_usage"] for s in sources):
            lines.append(_row(f"{letter} codebook usage", [
                format_value(s["codebook_usage"][key]) if s and key in s["codebook_usage"] else "-"
                for s in sources]))
    vcs = [s.get("voice_conversion") if s else None for s in sources]
    if any(vcs):
        lines.append(_row("voice conversion: closer to the target", [
            f"{vc['success_rate'] * vc['pairs']:.0f} of {vc['pairs']}" if vc else "-"
            for vc in vcs]))
        lines.append(_row("voice conversion: similarity margin", [
            format_value(vc["margin"]) if vc else "-" for vc in vcs]))
    return "\n".join(lines)


def _ordered_tasks(results):
    tasks = []
    for r in results:
        if (r["task"], r["metric"]) not in tasks:
            tasks.append((r["task"], r["metric"]))

    def rank(task):
        return TASK_ORDER.index(task[0]) if task[0] in TASK_ORDER else len(TASK_ORDER)

    return sorted(tasks, key=rank)


def probe_table(reports, name):
    """Probe scores of source ``name``: a row per task and stream, a column per model."""
    by_model = [(_source(r, name) or {}).get("probes", []) for r in reports]
    tasks = _ordered_tasks([p for results in by_model for p in results])
    if not tasks:
        return ""
    lines = [_row("probe", [r["label"] for r in reports] + ["chance"]),
             "|---|" + "---|" * (len(reports) + 1)]
    for task, metric in tasks:
        for stream in probes.STREAMS:
            cells, chance = [], None
            for results in by_model:
                match = [p for p in results
                         if (p["task"], p["metric"], p["stream"]) == (task, metric, stream)]
                cells.append(format_value(match[0]["score"]) if match else "-")
                chance = match[0]["chance"] if match else chance
            if chance is not None:
                label = f"{task} from {probes.STREAM_LETTERS[stream]} ({metric})"
                lines.append(_row(label, cells + [format_value(chance)]))
    return "\n".join(lines)


def save_probe_comparison(path, reports, name, title=None):
    """Writes a PNG of the probes of source ``name``: a panel per task, bars per model.

    Returns
    -------
    bool
        False (and no file) when no report has probes for the source.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_model = [(r["label"], (_source(r, name) or {}).get("probes", [])) for r in reports]
    tasks = _ordered_tasks([p for _, results in by_model for p in results])
    if not tasks:
        return False
    columns = min(4, len(tasks))
    rows = (len(tasks) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 2.8 * rows),
                             squeeze=False)
    width = 0.8 / len(by_model)
    for ax, (task, metric) in zip(axes.flat, tasks):
        for m, (_, results) in enumerate(by_model):
            for i, stream in enumerate(probes.STREAMS):
                match = [p for p in results
                         if (p["task"], p["metric"], p["stream"]) == (task, metric, stream)]
                if not match:
                    continue
                x = i - 0.4 + (m + 0.5) * width
                ax.bar(x, max(match[0]["score"], -0.2), width, color=f"C{m}")
                ax.plot([x - width / 2, x + width / 2], [match[0]["chance"]] * 2,
                        color="black", linewidth=1)
        ax.set_xticks(range(len(probes.STREAMS)))
        ax.set_xticklabels([probes.STREAM_LETTERS[s] for s in probes.STREAMS])
        ax.set_title(f"{task} ({metric})", fontsize=9)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_ylim(-0.2, 1.05)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{m}") for m in range(len(by_model))]
    fig.legend(handles, [label for label, _ in by_model], loc="lower center",
               ncol=len(by_model), fontsize=8, frameon=False)
    fig.suptitle(title or f"{name}: probes on frozen token embeddings (black: chance)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.07 / rows, 1, 1 - 0.05 / rows))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def render_comparison(reports, pictures, output="."):
    """The markdown comparison; ``pictures`` maps (source, kind) to a PNG path.

    Links to each model's ``report.md`` are relative to ``output``, the comparison folder.
    """
    lines = ["# UniCodec comparison", "", "| model | parameters | tokens | report |",
             "|---|---|---|---|"]
    for r in reports:
        info = r.get("model", {})
        link = os.path.relpath(os.path.join(os.path.dirname(r["path"]), "report.md"), output)
        lines.append(f"| {r['label']} | {info.get('parameters', '-')} "
                     f"| {info.get('tokens', '-')} | [report.md]({link}) |")
    for name in source_names(reports):
        sources = [_source(r, name) for r in reports]
        counts = {s["data"]["utterances"] for s in sources if s}
        rebuilt = {s["resynthesized"] for s in sources if s}
        lines += ["", f"## {name}", ""]
        first = next(s for s in sources if s)
        d = first["data"]
        lines.append(f"{d['utterances']} utterances ({d['minutes']:.1f} min, "
                     f"{d['speakers']} speakers), {first['resynthesized']} rebuilt and scored.")
        if len(counts) > 1 or len(rebuilt) > 1 or None in sources:
            lines += ["", "**The reports differ on this source** (utterances "
                      f"{sorted(counts)}, rebuilt {sorted(rebuilt)}, or missing): compare "
                      "with care."]
        originals = [f"{METRIC_NAMES[m]} {format_value(first['resynthesis'][m])}"
                     for m in ORIGINAL_METRICS if m in first["resynthesis"]]
        lines += ["", main_table(reports, name)]
        if originals:
            lines += ["", "Of the original audio: " + "; ".join(originals) + "."]
        ladders = [(r["label"], s["bitrate_ladder"]) for r, s in zip(reports, sources)
                   if s and s.get("bitrate_ladder")]
        if ladders:
            lines += ["", "### Quality against bitrate", "", ladder_table(ladders)]
            if (name, "ladder") in pictures:
                lines += ["", f"![quality against bitrate]({pictures[(name, 'ladder')]})"]
        table = probe_table(reports, name)
        if table:
            lines += ["", "### Probes", "", table]
            if (name, "probes") in pictures:
                lines += ["", f"![probes]({pictures[(name, 'probes')]})"]
    return "\n".join(lines) + "\n"


def compare(specs, output):
    """Loads the reports, writes ``comparison.md``, ``comparison.json`` and the pictures.

    Returns
    -------
    str
        Path of ``comparison.md``.
    """
    if len(specs) < 1:
        raise ValueError("give at least one report folder")
    reports = [load_report(spec) for spec in specs]
    labels = [r["label"] for r in reports]
    if len(set(labels)) != len(labels):
        raise ValueError(f"report names repeat: {labels}; name them NAME=FOLDER")
    os.makedirs(output, exist_ok=True)
    pictures = {}
    for name in source_names(reports):
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        curves = {r["label"]: s["bitrate_ladder"] for r in reports
                  for s in [_source(r, name)] if s and s.get("bitrate_ladder")}
        if curves:
            png = f"quality_bitrate_{stem}.png"
            save_quality_bitrate_plot(os.path.join(output, png), curves,
                                      title=f"{name}: quality against bitrate")
            pictures[(name, "ladder")] = png
        png = f"probes_{stem}.png"
        if save_probe_comparison(os.path.join(output, png), reports, name):
            pictures[(name, "probes")] = png
    path = os.path.join(output, "comparison.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_comparison(reports, pictures, output))
    with open(os.path.join(output, "comparison.json"), "w", encoding="utf-8") as f:
        json.dump({"models": [{"label": r["label"], "report": r["path"],
                               "model": r.get("model", {}), "judges": r.get("judges", [])}
                              for r in reports],
                   "sources": {name: {r["label"]: _source(r, name) for r in reports}
                               for name in source_names(reports)}},
                  f, indent=1, default=float)
    logger.info("Comparison: %s", path)
    return path


def build_parser():
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m unicodec.evaluation compare",
        description="Put evaluation reports (python -m unicodec.evaluation) side by side.")
    parser.add_argument("reports", nargs="+", metavar="[NAME=]FOLDER",
                        help="report folder or metrics.json, optionally named")
    parser.add_argument("--output", required=True, help="comparison folder")
    return parser


def main(argv=None):
    """Writes the comparison; returns the path of ``comparison.md``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return compare(args.reports, args.output)


if __name__ == "__main__":
    main()
