#!/usr/bin/env bash
# Build the partnerdb Lambda layer zip, reproducibly, and verify it.
#
#   ./build_layer.sh [--arch x86_64|arm64] [--python 3.11|3.12|3.13] [--slim] [--out DIR]
#
# The entry point the design and layer/Makefile name; the build itself is release/build_layer.sh
# (its --help says what the zip holds and which variables it reads).
set -euo pipefail
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/release/build_layer.sh" "$@"
