#!/usr/bin/env bash
# Prints the reliability figures the README quotes: how long an organization's webhook event
# takes while another organization's backlog waits on a receiver that never answers, and what
# a kill -9 in the middle of a burst of acknowledged writes loses. Both come from the tests
# that check them (real server, real receivers, the real binary for kill -9); set
# GATEHOUSE_TEST_POSTGRES_URL to include PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
for _ in 1 2 3; do
  cargo test -q -p server --test reliability --test process -- \
    --nocapture a_dead_receiver kill_9 2>&1 | grep -o 'figure:.*' || true
done
