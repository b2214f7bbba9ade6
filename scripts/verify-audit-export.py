#!/usr/bin/env python3
"""Checks an organization's audit log export (JSON Lines, unfiltered) without Gatehouse.

    python3 scripts/verify-audit-export.py audit-1-2026-12-02.jsonl

Each event's hash is SHA-256(previous hash || canonical encoding), the first previous hash
64 zeros, the encoding the compact JSON array
[seq, org_id, actor_user_id, action, target, ip, details_text, created_at].
Exits 0 and prints the chain's head when every event is in place; exits 1 naming the first
event that was changed, removed or reordered. Compare the head with `gatehouse admin audit
verify` or a later export to know the newest events were not cut off.
"""
import hashlib
import json
import sys

events = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
chained = sorted((e for e in events if e["seq"] is not None), key=lambda e: e["seq"])
previous, expected = "0" * 64, 1
for e in chained:
    if e["seq"] != expected:
        sys.exit(f"events seq {expected} to {e['seq'] - 1} are missing before event {e['id']}")
    fields = [e["seq"], e["org_id"], e["actor_user_id"], e["action"], e["target"], e["ip"],
              e["details_text"], e["created_at"]]
    canonical = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(bytes.fromhex(previous) + canonical.encode("utf-8")).hexdigest()
    if digest != e["hash"]:
        sys.exit(f"event {e['id']} (seq {e['seq']}, {e['action']}) was changed or moved")
    previous, expected = digest, expected + 1
unchained = len(events) - len(chained)
print(f"intact: {len(chained)} events, head {previous}"
      + (f"; {unchained} not chained yet" if unchained else ""))
