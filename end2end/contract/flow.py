"""A script an integrator would write, with a client generated from Gatehouse's OpenAPI document
(openapi-python-client; scripts/contract.sh generates it): list members, create a group, queue
a scan, claim and finish it as a runner, and find it all in the audit log. Each step prints the
call, and a failure prints the status and the body."""

import os
import sys
import uuid

from gatehouse_client import AuthenticatedClient
from gatehouse_client.api.audit import list_events
from gatehouse_client.api.groups import create_group, get_group
from gatehouse_client.api.me import me
from gatehouse_client.api.members import list_members
from gatehouse_client.api.scans import claim_scan, create_scan, finish_scan, get_scan
from gatehouse_client.models import (
    AuditEventList,
    FinishedStatus,
    Group,
    Me,
    MemberList,
    NewGroupBody,
    NewScan,
    Scan,
    ScanResult,
)

client = AuthenticatedClient(
    base_url=os.environ["GATEHOUSE_URL"], token=os.environ["GATEHOUSE_KEY"]
)


def expect(step, response, status, model):
    print(f"  {step}: {response.status_code}")
    if response.status_code != status or not isinstance(response.parsed, model):
        print(f"FAILED {step}: expected {status} {model.__name__}, got {response.status_code}")
        print(f"body: {response.content.decode(errors='replace')}")
        sys.exit(1)
    return response.parsed


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}")
        sys.exit(1)


owner = expect("GET /me", me.sync_detailed(client=client), 200, Me)
members = expect(
    "GET /members", list_members.sync_detailed(client=client, limit=50), 200, MemberList
)
check(
    any(m.user_id == owner.user_id for m in members.members),
    f"the key's owner is not among the members: {members}",
)

name = f"Red Team {uuid.uuid4().hex[:8]}"
new_group = NewGroupBody(
    name=name,
    description="made by a generated client",
    scans_limit=2,
    member_ids=[owner.user_id],
)
# With an Idempotency-Key, a retry (say, after a timeout) gets the first answer back.
idempotency_key = str(uuid.uuid4())
group = expect(
    "POST /groups",
    create_group.sync_detailed(client=client, body=new_group, idempotency_key=idempotency_key),
    201,
    Group,
)
check(group.name == name and group.scans_limit == 2, f"group as created: {group}")
retried = expect(
    "POST /groups (retried with the same Idempotency-Key)",
    create_group.sync_detailed(client=client, body=new_group, idempotency_key=idempotency_key),
    201,
    Group,
)
check(retried.id == group.id, f"the retry made another group: {retried} after {group}")
again = expect("GET /groups/{id}", get_group.sync_detailed(group.id, client=client), 200, Group)
check(
    [m.user_id for m in again.members] == [owner.user_id], f"group members: {again.members}"
)

queued = expect(
    "POST /scans",
    create_scan.sync_detailed(
        client=client, body=NewScan(group_id=group.id, target="https://app.example.com")
    ),
    201,
    Scan,
)
check(queued.status == "queued", f"a new scan is queued: {queued}")

# The runner's side: claim the oldest queued scan (ours: this organization has no other), finish.
claimed = expect("POST /scans/claim", claim_scan.sync_detailed(client=client), 200, Scan)
check(claimed.id == queued.id and claimed.status == "running", f"claimed: {claimed}")
finished = expect(
    "POST /scans/{id}/finish",
    finish_scan.sync_detailed(
        claimed.id,
        client=client,
        body=ScanResult(status=FinishedStatus.FINISHED, result="0 findings"),
    ),
    200,
    Scan,
)
check(finished.status == "finished" and finished.result == "0 findings", f"{finished}")
read = expect("GET /scans/{id}", get_scan.sync_detailed(queued.id, client=client), 200, Scan)
check(read.status == "finished", f"the scan as read back: {read}")

log = expect(
    "GET /audit-events",
    list_events.sync_detailed(client=client, limit=200),
    200,
    AuditEventList,
)
actions = [e.action for e in log.events]
for action in ("group.created", "scan.created"):
    check(action in actions, f"{action} is not in the audit log: {actions}")
print("generated client flow: passed")
