#!/usr/bin/env bash
# Install what the app needs into .venv (once) and start it on http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --retries 0 -r requirements.txt
exec .venv/bin/python -m streamlit run app.py "$@"
