#!/usr/bin/env bash
# UniCodec against its two same-budget baselines on the embedded default: trains what is
# not trained yet (the embedded default, the plain RVQ codec, the SpeechTokenizer-style
# codec: same corpus, same 26 epochs, 800 bps), synthesizes a held-out corpus of unseen
# voices for the probes, evaluates each model on the test split, that corpus and the real
# speech set (when ../shared/data/real is there), and writes the side-by-side comparison.
# About 50 minutes on 2 CPU cores (30 training, 20 evaluating); re-running resumes.
# Extra arguments go to the recipe (e.g. --number_of_epochs 2); UNICODEC_EVAL_ARGS adds
# arguments to the evaluation (e.g. "--judges none --no-real").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/install.sh"
cd "$root"
python="${UNICODEC_VENV:-$root/.venv}/bin/python"
data="${UNICODEC_DATA:-$root/data/embedded}"
unseen="${UNICODEC_UNSEEN_DATA:-$root/data/unseen}"
results="${UNICODEC_RESULTS:-$root/results}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
start=$(date +%s)
"$python" -m unicodec.data.corpus --output "$data"
# unseen voices and sentences: another seed, more speakers, for the probes
"$python" -m unicodec.data.corpus --output "$unseen" --minutes 30 --seed 4321 \
  --natural-minutes 0 --seconds-per-speaker 40
specs=()
for run in "UniCodec:hparams/unicodec_cpu.yaml:embedded" \
           "plain RVQ:hparams/baselines/rvq_cpu.yaml:baseline_rvq_cpu" \
           "SpeechTokenizer-style:hparams/baselines/speechtokenizer_cpu.yaml:baseline_speechtokenizer_cpu"; do
  IFS=: read -r name hparams folder <<< "$run"
  output="$results/$folder"
  if [ ! -f "$output/model/hyperparams.yaml" ]; then
    "$python" recipes/LibriTTS/train.py "$hparams" --data_folder "$data" \
      --output_folder "$output" "$@"
  fi
  if [ ! -f "$output/report/metrics.json" ]; then
    "$python" -m unicodec.evaluation --model "$output/model" --data "$output/test.json" \
      --data "$unseen" --output "$output/report" --max-utterances 24 \
      --max-probe-utterances 450 ${UNICODEC_EVAL_ARGS:-}
  fi
  specs+=("$name=$output/report")
done
"$python" -m unicodec.evaluation compare --output "$results/comparison" "${specs[@]}"
echo "[compare] finished in $(( $(date +%s) - start )) s"
echo "[compare] comparison  $results/comparison/comparison.md"
