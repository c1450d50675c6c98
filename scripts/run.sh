#!/usr/bin/env bash
# Install what the app needs into .venv (once) and start it on http://127.0.0.1:8501.
# It listens on this machine only; to let a class on your network reach it, add
# `--server.address 0.0.0.0` (later options win over the ones here).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --retries 0 -r requirements.txt
exec .venv/bin/python -m streamlit run app.py --server.address 127.0.0.1 "$@"
