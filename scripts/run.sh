#!/usr/bin/env bash
# Builds Gatehouse (release, site embedded) and runs it on SQLite with the default settings:
# the database is ./data/gatehouse.db; the URL to open is printed. Extra arguments go to
# `gatehouse` (e.g. scripts/run.sh --addr 0.0.0.0:3000; see target/release/gatehouse --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-release.sh
exec target/release/gatehouse "$@"
