#!/usr/bin/env bash
# Create (or refresh) the local virtual environment .venv with UniCodec and its extras.
# Re-running is cheap: nothing is installed when setup.cfg and the constraints are unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${UNICODEC_VENV:-$root/.venv}"
stamp="$venv/.install-stamp"
want="$(cat setup.cfg tools/constraints-cpu.txt tools/install.sh | sha1sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[install] creating $venv (about a minute)"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=23" "setuptools>=64" wheel
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  -c tools/constraints-cpu.txt --no-build-isolation -e ".[corpus,teachers,plots,judges,test]"
"$venv/bin/python" tools/fix_torchaudio.py
echo "$want" > "$stamp"
echo "[install] done"
