#!/usr/bin/env bash
# Starts the release binary the way a user would: copied alone into an empty folder, no
# LEPTOS_* variables, a fresh SQLite database. Playwright waits for /healthz.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${GATEHOUSE_E2E_PORT:-3100}"
# One folder per port: the suite runs two servers (see playwright.config.ts).
dir="$here/.tmp/$port"
rm -rf "$dir" && mkdir -p "$dir"
cp "$here/../target/release/gatehouse" "$dir/"
cd "$dir"
# Warnings and errors only: the access log of every request would bury a failure's cause.
export RUST_LOG="${RUST_LOG:-warn}"
# The suite creates more accounts from 127.0.0.1 in a few minutes than a person would (the
# default allows 20 per address per 15 minutes); the limit itself is tested in
# server/tests/integration/security.rs.
export GATEHOUSE_SIGNUP_IP_LIMIT=1000
# Keys about to expire are looked for every second instead of every 5 minutes, so that
# key_expiry.spec.ts sees its warning at once (it ages a key in the data/ folder below).
export GATEHOUSE_KEY_EXPIRY_CHECK_SECS=1
# The test identity provider of sso.spec.ts listens on loopback, which Gatehouse refuses to
# reach by default (server/tests/integration/security.rs checks that default).
export GATEHOUSE_OUTBOUND_ALLOW=127.0.0.1
exec env -u LEPTOS_OUTPUT_NAME -u LEPTOS_SITE_ROOT -u LEPTOS_SITE_PKG_DIR -u DATABASE_URL \
  ./gatehouse --addr "127.0.0.1:$port"
