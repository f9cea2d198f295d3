#!/usr/bin/env bash
# The main job on the embedded default: synthesize the small multilingual corpus, prepare
# it, train the CPU-sized UniCodec, score its test split and export the model.
# Extra arguments go to the recipe (e.g. --number_of_epochs 2). Re-running resumes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/install.sh"
cd "$root"
python="${UNICODEC_VENV:-$root/.venv}/bin/python"
data="${UNICODEC_DATA:-$root/data/embedded}"
output="${UNICODEC_OUTPUT:-$root/results/embedded}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
start=$(date +%s)
"$python" -m unicodec.data.corpus --output "$data"
"$python" recipes/LibriTTS/train.py hparams/unicodec_cpu.yaml \
  --data_folder "$data" --output_folder "$output" "$@"
echo "[main] finished in $(( $(date +%s) - start )) s"
echo "[main] training log   $output/train_log.txt"
echo "[main] samples        $output/samples"
echo "[main] test metrics   $output/test_metrics.json"
echo "[main] model          $output/model  (load with foreign_class, see README)"
echo "[main] pitch, voice and Codec 2 side by side (a few minutes):"
echo "       $python benchmarks/fidelity.py --model unicodec=$output/model --data test=$output/test.json --output $output/fidelity"
