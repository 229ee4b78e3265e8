#!/usr/bin/env bash
# AWS SAM CLI from its own virtualenv (build/sam-venv, created on first use; see release/sam.py):
#   release/sam.sh build
#   release/sam.sh deploy --guided
# It never goes into .venv: aws-sam-cli pins a boto3 older than the layer's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY="$(command -v python3)"
exec "$PY" "$ROOT/release/sam.py" "$@"
