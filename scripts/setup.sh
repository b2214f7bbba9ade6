#!/usr/bin/env bash
# Installs what a plain Rust machine lacks to build and test Gatehouse.
# Idempotent: every step checks first and skips what is already there.
# Prints a summary of what it could not install; exits non-zero only when the
# build itself cannot proceed (wasm target, cargo-leptos, wasm-bindgen, wasm-opt).
#   scripts/setup.sh            build tools only
#   scripts/setup.sh --e2e      also npm packages and Chromium for the browser tests
set -u
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs rustc 1.96 (see BUILD-NOTES)
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock 2>/dev/null | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}

missing=()
fatal=0
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown || { missing+=("rust target wasm32-unknown-unknown"); fatal=1; }
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 17 minutes on 2 cores, once)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" || { missing+=("cargo-leptos $CARGO_LEPTOS_VERSION"); fatal=1; }
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (must equal Cargo.lock's wasm-bindgen)"
  # --locked fails for this version: a locked dependency left the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" || { missing+=("wasm-bindgen-cli $WASM_BINDGEN_VERSION"); fatal=1; }
fi

# wasm-opt from npm's binaryen. Debian's binaryen (108) emits wasm that fails to
# hydrate in the browser, so we never use a system wasm-opt.
if [ ! -x tools/node_modules/.bin/wasm-opt ]; then
  say "installing wasm-opt (npm binaryen) into tools/"
  (cd tools && npm ci --no-audit --no-fund --loglevel=error) || { missing+=("wasm-opt (npm binaryen)"); fatal=1; }
fi

if [ "${1:-}" = "--e2e" ]; then
  # Again whenever the lock file changed since the last install.
  if ! cmp -s end2end/package-lock.json end2end/node_modules/.installed-lock.json; then
    say "installing end2end npm packages"
    { (cd end2end && npm ci --no-audit --no-fund --loglevel=error) \
        && cp end2end/package-lock.json end2end/node_modules/.installed-lock.json; } \
      || missing+=("end2end npm packages")
  fi
  # The API contract's tools (OpenAPI validator, schemathesis, a client generator), from PyPI.
  if [ ! -x tools/venv/bin/schemathesis ] || ! cmp -s end2end/contract/requirements.txt tools/venv/requirements.txt; then
    say "installing the API contract's Python tools into tools/venv"
    { python3 -m venv tools/venv \
        && tools/venv/bin/pip install -q --disable-pip-version-check -r end2end/contract/requirements.txt \
        && cp end2end/contract/requirements.txt tools/venv/requirements.txt; } \
      || missing+=("python tools for the API contract (python3 -m venv, pip install -r end2end/contract/requirements.txt)")
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      say "installing Debian's chromium"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || missing+=("chromium (apt-get install chromium failed)")
    else
      missing+=("chromium: install your distribution's chromium package, or set GATEHOUSE_CHROMIUM=/path/to/chrome")
    fi
  fi
fi

if ((${#missing[@]})); then
  say "could NOT install:"
  for m in "${missing[@]}"; do echo "  - $m"; done
fi
exit $fatal
