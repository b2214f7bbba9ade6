"""A provider's whole flow against Gatehouse's SCIM service, with scim2-client (python-scim2 on
PyPI), a SCIM implementation that is not Gatehouse's: discovery, create, filter, get, replace,
PATCH (suspend, restore, group members), delete. Each response is validated by the client
against the schemas the server published.

    python client_flow.py <base URL, .../scim/v2> <token> <verified domain>

Prints each step; exits non-zero at the first thing that is not as a provider expects.
"""

import sys
import uuid

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Error, ListResponse, PatchOp, PatchOperation, SearchRequest


def step(text):
    print(f"- {text}", flush=True)


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")


def main(base, token, domain):
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    scim = SyncSCIMClient(http)
    scim.discover()
    User = scim.get_resource_model("User")
    Group = scim.get_resource_model("Group")
    check(User is not None and Group is not None, "discovery publishes User and Group")
    config = scim.provider.config
    check(config.patch.supported and not config.bulk.supported, f"config says PATCH, no bulk: {config}")
    step("discovered User and Group from /ResourceTypes and /Schemas")

    suffix = uuid.uuid4().hex[:8]
    email = f"grace.{suffix}@{domain}"
    created = scim.create(
        User(
            user_name=email,
            external_id=f"ext-{suffix}",
            display_name="Grace Hopper",
            name=User.Name(given_name="Grace", family_name="Hopper"),
            active=True,
        )
    )
    check(created.id and created.user_name == email, f"created {created}")
    check(created.active is True, f"created active: {created}")
    step(f"created {email} as User {created.id}")

    found = scim.query(User, query_parameters=SearchRequest(filter=f'userName eq "{email}"'))
    check(isinstance(found, ListResponse) and found.total_results == 1, f"filter by userName: {found}")
    check(found.resources[0].id == created.id, "the filter finds the created User")
    found = scim.query(User, query_parameters=SearchRequest(filter=f'externalId eq "ext-{suffix}"'))
    check(found.total_results == 1, f"filter by externalId: {found}")
    none = scim.query(User, query_parameters=SearchRequest(filter='userName eq "nobody@nowhere.example"'))
    check(none.total_results == 0, f"an unknown userName finds nothing: {none}")
    step("found by userName and externalId; an unknown userName finds nothing")

    fetched = scim.query(User, created.id)
    check(fetched.user_name == email, f"get by id: {fetched}")
    fetched.display_name = "Rear Admiral Grace Hopper"
    replaced = scim.replace(fetched)
    check(replaced.display_name == "Rear Admiral Grace Hopper", f"replace: {replaced}")
    step("read by id and replaced")

    suspend = PatchOp[User](
        operations=[PatchOperation[User](op=PatchOperation.Op.replace_, path="active", value=False)]
    )
    suspended = scim.modify(User, created.id, suspend)
    suspended = scim.query(User, created.id) if suspended is None else suspended
    check(suspended.active is False, f"suspended: {suspended}")
    restore = PatchOp[User](
        operations=[PatchOperation[User](op=PatchOperation.Op.replace_, path="active", value=True)]
    )
    scim.modify(User, created.id, restore)
    check(scim.query(User, created.id).active is True, "restored")
    step("suspended and restored with PATCH")

    group = scim.create(Group(display_name=f"Team {suffix}", members=[]))
    check(group.id, f"group created: {group}")
    add = PatchOp[Group](
        operations=[
            PatchOperation[Group](
                op=PatchOperation.Op.add, path="members", value=[{"value": created.id}]
            )
        ]
    )
    scim.modify(Group, group.id, add)
    got = scim.query(Group, group.id)
    check(got.members and got.members[0].value == created.id, f"member added: {got}")
    groups = scim.query(Group, query_parameters=SearchRequest(filter=f'displayName eq "Team {suffix}"'))
    check(groups.total_results == 1, f"group by displayName: {groups}")
    remove = PatchOp[Group](
        operations=[
            PatchOperation[Group](
                op=PatchOperation.Op.remove, path=f'members[value eq "{created.id}"]'
            )
        ]
    )
    scim.modify(Group, group.id, remove)
    check(not scim.query(Group, group.id).members, "member removed")
    step("group created, member added and removed")

    duplicate = scim.create(User(user_name=email), raise_scim_errors=False)
    check(isinstance(duplicate, Error) and duplicate.scim_type == "uniqueness", f"duplicate: {duplicate}")
    outside = scim.create(User(user_name=f"x.{suffix}@not-verified.example"), raise_scim_errors=False)
    check(isinstance(outside, Error) and outside.status == 400, f"unverified domain: {outside}")
    step("a duplicate and an unverified domain are SCIM errors")

    scim.delete(Group, group.id)
    scim.delete(User, created.id)
    gone = scim.query(User, created.id, raise_scim_errors=False)
    check(isinstance(gone, Error) and gone.status == 404, f"deleted User is gone: {gone}")
    step("deleted the group and the User")
    print("flow complete")


if __name__ == "__main__":
    main(*sys.argv[1:4])
