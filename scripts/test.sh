#!/usr/bin/env bash
# Runs every test: formatting and lints, the native tests (unit and integration, on SQLite and,
# when GATEHOUSE_TEST_POSTGRES_URL is set, on PostgreSQL too), the release build, and the
# API contract (the OpenAPI document validated, schemathesis, a generated client's flow) and the
# browser tests (Playwright in Debian's chromium) against that release binary.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
log=$(mktemp)
step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
fail() { printf '\n\033[1;31mFAILED: %s\033[0m\n' "$*"; extra_failed=1; summary; exit 1; }
extra_failed=0
summary() {
  # One closing line over every runner: cargo test's "test result" lines and Playwright's.
  local passed failed
  passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
  failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
  passed=$((passed + $(grep -E '^\s+[0-9]+ passed \(' "$log" | awk '{s+=$1} END {print s+0}')))
  failed=$((failed + extra_failed + $(grep -E '^\s+[0-9]+ failed$' "$log" | awk '{s+=$1} END {print s+0}')))
  echo
  echo "$passed passed, $failed failed"
}

step "Installing what is missing"
scripts/setup.sh --e2e || fail "setup could not install the build tools"

if [ -n "${GATEHOUSE_TEST_POSTGRES_URL:-}" ] && command -v psql >/dev/null; then
  step "Dropping test databases left by earlier runs"
  for db in $(psql "$GATEHOUSE_TEST_POSTGRES_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'gatehouse_test_%'" 2>/dev/null); do
    psql "$GATEHOUSE_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  done
fi

step "cargo fmt --check"
cargo fmt --all -- --check || fail "cargo fmt: run cargo fmt --all"

step "cargo clippy (server side, and the wasm side)"
cargo clippy -p app -p server --all-targets --features app/ssr -- -D warnings || fail "clippy (ssr)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings || fail "clippy (hydrate)"

step "Native tests (SQLite${GATEHOUSE_TEST_POSTGRES_URL:+ and PostgreSQL})"
[ -n "${GATEHOUSE_TEST_POSTGRES_URL:-}" ] || echo "GATEHOUSE_TEST_POSTGRES_URL is not set: the PostgreSQL variants are skipped."
cargo test -p app --features ssr 2>&1 | tee -a "$log"; [ "${PIPESTATUS[0]}" = 0 ] || fail "app unit tests"
cargo test -p server --no-fail-fast 2>&1 | tee -a "$log"; [ "${PIPESTATUS[0]}" = 0 ] || fail "server tests"

step "Release build (wasm + server with the site embedded)"
scripts/build-release.sh || fail "release build"

step "API contract (openapi-spec-validator, schemathesis, a generated client)"
scripts/contract.sh 2>&1 | tee -a "$log"; [ "${PIPESTATUS[0]}" = 0 ] || fail "API contract"

step "Browser tests (Playwright)"
if [ ! -x "${GATEHOUSE_CHROMIUM:-/usr/bin/chromium}" ]; then
  fail "no Chromium at ${GATEHOUSE_CHROMIUM:-/usr/bin/chromium}: install your distribution's chromium or set GATEHOUSE_CHROMIUM"
fi
(cd end2end && npx playwright test) 2>&1 | tee -a "$log"; [ "${PIPESTATUS[0]}" = 0 ] || fail "browser tests"

summary
