#!/usr/bin/env python3
"""Runs every downstream task on the tokens of several codecs and writes one table.

For each model: phones from S and from S+P (the phone of each 50 Hz frame, frame error
rate, held-out speakers), style from G+P and from S (held-out speakers), speaker from G+P and from S
(held-out utterances). A codec without G reads P where G+P is asked. Runs already done are
read back, so a rerun only trains what is missing.

Usage::

    python recipes/LibriTTS/downstream/table.py --data_folder data/unseen \\
        --model UniCodec=results/embedded/model \\
        --model "plain RVQ"=results/baseline_rvq_cpu/model --output results/downstream

Authors
 * UniCodec authors 2026
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TASKS = [  # (row, hparams file, overrides)
    ("phone frame error rate, S", "phones.yaml",
     ["--task", "frames", "--streams", "[S]", "--run_name", "frames_S"]),
    ("phone frame error rate, S+P", "phones.yaml",
     ["--task", "frames", "--streams", "[S, P]", "--run_name", "frames_S_P"]),
    ("style accuracy, G+P", "utterance.yaml",
     ["--label", "style", "--streams", "[G, P]", "--run_name", "style_G_P"]),
    ("style accuracy, S", "utterance.yaml",
     ["--label", "style", "--streams", "[S]", "--run_name", "style_S"]),
    ("speaker accuracy, G+P", "utterance.yaml",
     ["--label", "spk_id", "--streams", "[G, P]", "--run_name", "speaker_G_P"]),
    ("speaker accuracy, S", "utterance.yaml",
     ["--label", "spk_id", "--streams", "[S]", "--run_name", "speaker_S"]),
]


def slug(name):
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def run(model_name, model_folder, task, args):
    row, hparams, overrides = task
    run_name = overrides[overrides.index("--run_name") + 1]
    folder = os.path.join(args.output, slug(model_name), run_name)
    result = os.path.join(folder, "result.json")
    if not os.path.isfile(result):
        cmd = [sys.executable, os.path.join(HERE, "train.py"), os.path.join(HERE, "hparams", hparams),
               "--model_folder", model_folder, "--data_folder", args.data_folder,
               "--output_folder", folder,
               "--tokens_folder", os.path.join(args.output, slug(model_name), "tokens"),
               *overrides, *args.extra]
        print(f"[downstream] {model_name}: {row}", flush=True)
        subprocess.run(cmd + ["--noprogressbar"], check=True, stdout=subprocess.DEVNULL)
    with open(result) as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=FOLDER")
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--output", default="results/downstream")
    parser.add_argument("extra", nargs="*", help="more recipe overrides (after --)")
    args = parser.parse_args(argv)
    models = [spec.split("=", 1) for spec in args.model]
    results = {name: [run(name, folder, task, args) for task in TASKS] for name, folder in models}
    lines = ["| task (test split) | " + " | ".join(n for n, _ in models) + " |",
             "|---|" + "---|" * len(models)]
    for index, (row, _, _) in enumerate(TASKS):
        cells = []
        for name, _ in models:
            r = results[name][index]
            value = r["accuracy"] if r["task"] == "classify" else r["error_rate"]
            cells.append(f"{value:.3f} (cols {','.join(map(str, r['columns']))})")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "table.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.output, "table.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
