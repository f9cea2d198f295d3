#!/usr/bin/env bash
# Create (or refresh) the local virtual environment .venv with UniCodec and its extras.
# Re-running is cheap: nothing is installed when setup.cfg and the constraints are unchanged.
#
# Works from a cold pip cache on a fresh Linux machine (PIP_NO_CACHE_DIR=1 is fine):
#   1. pip, wheel and a setuptools that still ships pkg_resources (webrtcvad and pyworld,
#      used by the optional judges, import it; setuptools 81 removed it);
#   2. the core package with the corpus, teachers, plots and test extras;
#   3. the build requirements of the judges that compile (numpy, Cython), then each optional
#      judge of the `judges` extra on its own: one that fails to install is reported in one
#      line and skipped; the core install and the tests work without it.
# UNICODEC_VENV chooses another folder for the environment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${UNICODEC_VENV:-$root/.venv}"
stamp="$venv/.install-stamp"
want="$(cat setup.cfg tools/constraints-cpu.txt tools/install.sh | sha1sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
start=$(date +%s)
echo "[install] creating $venv (about a minute)"
python3 -m venv "$venv"
py="$venv/bin/python"
pip=("$py" -m pip install -q --disable-pip-version-check -c tools/constraints-cpu.txt)
"${pip[@]}" --upgrade "pip>=23" "setuptools>=64,<81" wheel
# the editable install builds with the venv's setuptools (pinned above), not a downloaded one
"${pip[@]}" --no-build-isolation -e ".[corpus,teachers,plots,test]"
"$py" tools/fix_torchaudio.py
# optional judges, one requirement at a time (names and versions from setup.cfg)
"${pip[@]}" "numpy" "cython>=3"
mapfile -t judges < <("$py" - <<'EOF'
import configparser
config = configparser.ConfigParser()
config.read("setup.cfg")
for line in config["options.extras_require"]["judges"].splitlines():
    if line.strip() and not line.strip().startswith("#"):
        print(line.strip())
EOF
)
skipped=0
for requirement in "${judges[@]}"; do
  log="$(mktemp)"
  if ! "${pip[@]}" --no-build-isolation "$requirement" >"$log" 2>&1; then
    reason="$(grep -E "ERROR|Error|error:" "$log" | grep -v "^ *note" | tail -n 1 | cut -c1-160 || true)"
    echo "[install] skipped optional judge '$requirement' (${reason:-pip failed}); the tests that need it are skipped"
    skipped=$((skipped + 1))
  fi
  rm -f "$log"
done
"$py" -c "import unicodec, speechbrain, torch, torchaudio" \
  || { echo "[install] the core install does not import; see the messages above"; exit 1; }
echo "$want" > "$stamp"
echo "[install] done in $(( $(date +%s) - start )) s (${#judges[@]} optional judges, $skipped skipped)"
