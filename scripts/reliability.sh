#!/usr/bin/env bash
# Prints the reliability figures docs/operating.md quotes: how long an organization's webhook event
# takes while another organization's backlog waits on a receiver that never answers, what a
# kill -9 in the middle of a burst of acknowledged writes loses, PostgreSQL stopped for 5 s
# and 30 s under 8 writers (requests, answers by kind, the slowest while down, the time to
# recover), a rolling restart of two replicas, the upgrades and a full disk. All come from the
# tests that check them (real server, real receivers, the real binary for kill -9, a
# PostgreSQL of the test's own); set GATEHOUSE_TEST_POSTGRES_URL to include PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
for _ in 1 2 3; do
  cargo test -q -p server --test integration -- \
    --nocapture a_dead_receiver kill_9 2>&1 | grep -o 'figure:.*' || true
done
cargo test -q -p server --test integration -- \
  --nocapture outage:: rolling:: upgrade:: disk_full:: 2>&1 | grep -o 'figure:.*' || true
