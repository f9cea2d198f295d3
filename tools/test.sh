#!/usr/bin/env bash
# Install into .venv if needed, then run the unit tests and the doctests of every lobe.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/install.sh"
cd "$root"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"  # small tensors: threads only contend
exec "${UNICODEC_VENV:-$root/.venv}/bin/python" -m pytest -q "$@"
