#!/usr/bin/env bash
# The main job on the embedded default: install into .venv if needed, then run it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/install.sh"
cd "$root"
exec "${UNICODEC_VENV:-$root/.venv}/bin/python" tools/demo.py "$@"
