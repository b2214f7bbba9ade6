"""Schemathesis hooks for Gatehouse's contract run (scripts/contract.sh).

Every POST takes an Idempotency-Key, and a key means "this very request": the same key with
another request is refused, 422 `idempotency_key_reused`, by design (the IETF httpapi draft).
Schemathesis draws header values from a small space and sends one key with many different
requests, as no client should; those refusals are not the API's fault. Every other failure
counts. The replay itself is tested in server/tests/idempotency.rs and by the generated
client's flow (end2end/contract/flow.py).
"""

import schemathesis


@schemathesis.hook
def filter_failure(context, failure, case, response):
    reused = response.status_code == 422 and b"idempotency_key_reused" in (response.content or b"")
    return not reused
