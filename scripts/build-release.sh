#!/usr/bin/env bash
# Builds the self-contained release binary target/release/gatehouse:
#  1. cargo-leptos builds the wasm (profile wasm-release, split into the shell and the pages'
#     units at their #[lazy] points, wasm-bindgen, wasm-opt from npm's
#     binaryen), the CSS and public/ into target/site, precompressed (gzip + brotli);
#  2. cargo builds the server, which embeds target/site (rust-embed). The server's build
#     script watches target/site, so step 2 only re-links the server crate.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# The same values cargo-leptos gives the server build: Leptos reads them at compile time,
# and equal values mean step 2 reuses step 1's compiled dependencies.
export LEPTOS_OUTPUT_NAME=gatehouse LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend LEPTOS_BIN_DIR=server \
  LEPTOS_HASH_FILES=false LEPTOS_JS_MINIFY=true
cargo leptos build --release --precompress --split "$@"
# cargo-leptos built the server with `--cfg erase_components` (always-erase-components in
# Cargo.toml): the same flag here, or the server renders views the wasm does not expect and
# every dependency is compiled again.
RUSTFLAGS="--cfg erase_components" cargo build --release -p server --bin gatehouse
ls -l target/release/gatehouse target/site/pkg
