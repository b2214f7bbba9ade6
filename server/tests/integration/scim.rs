//! Provisioning with SCIM 2.0: a provider's token adds, matches, suspends and removes the
//! members of one organization and manages its groups. Driven with hand-built requests, with
//! the request shapes Okta and Entra ID send (recorded from their documentation), and with an
//! independent SCIM client from PyPI (`end2end/scim/client_flow.py`, scim2-client).

use crate::common;

use common::{Resp, TestApp};
use serde_json::{json, Value};

on_both_databases!(
    a_provider_provisions_matches_and_removes_people,
    suspending_ends_sessions_and_keys_at_once_on_every_replica,
    groups_follow_the_provider_and_are_read_only_here,
    seats_are_counted_under_the_lock,
    okta_and_entra_request_shapes_work_as_recorded,
    tokens_are_the_owners_and_shown_once,
    an_independent_scim_client_drives_the_service,
);

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An Owner's organization with corp.example verified and a SCIM token named `Okta`:
/// (owner, org id, token).
async fn provisioned_org(app: &TestApp) -> (reqwest::Client, i64, String) {
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    app.verify_domain(&owner, org_id, "corp.example").await;
    let token = new_token(app, &owner, org_id, "Okta").await;
    (owner, org_id, token)
}

async fn new_token(app: &TestApp, owner: &reqwest::Client, org_id: i64, name: &str) -> String {
    let made = app
        .call(
            owner,
            "org/provisioning/token",
            &[("org_id", &org_id.to_string()), ("name", name)],
        )
        .await
        .expect_status(200)
        .json();
    made["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {made}"))
        .to_string()
}

async fn scim(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> Resp {
    let mut headers = vec![("authorization".to_string(), format!("Bearer {token}"))];
    if body.is_some() {
        headers.push(("content-type".into(), "application/scim+json".into()));
    }
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    app.api_raw(method, &format!("/scim/v2{path}"), &headers, &body)
        .await
}

/// Asserts a SCIM error: its status (also as the body's string), and its scimType.
#[track_caller]
fn expect_scim_error(resp: Resp, status: u16, scim_type: Option<&str>) -> Value {
    let resp = resp.expect_status(status);
    let body = resp.json();
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "\nrequest: {}\nbody: {}",
        resp.request, resp.body
    );
    assert_eq!(body["status"], status.to_string(), "{}", resp.body);
    assert_eq!(
        body["scimType"].as_str(),
        scim_type,
        "\nrequest: {}\nbody: {}",
        resp.request,
        resp.body
    );
    body
}

fn user_body(email: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": email,
        "externalId": external_id,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true,
    })
}

async fn create_user(app: &TestApp, token: &str, email: &str, external_id: &str) -> Value {
    scim(
        app,
        token,
        "POST",
        "/Users",
        Some(user_body(email, external_id)),
    )
    .await
    .expect_status(201)
    .json()
}

fn id_of(resource: &Value) -> String {
    resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {resource}"))
        .to_string()
}

async fn list(app: &TestApp, token: &str, path_and_query: &str) -> Value {
    scim(app, token, "GET", path_and_query, None)
        .await
        .expect_status(200)
        .json()
}

fn filtered(filter: &str) -> String {
    format!(
        "/Users?filter={}",
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    )
}

async fn a_provider_provisions_matches_and_removes_people(app: TestApp) {
    let (owner, org_id, token) = provisioned_org(&app).await;

    // Discovery tells what is supported.
    let config = list(&app, &token, "/ServiceProviderConfig").await;
    assert_eq!(config["patch"]["supported"], true, "{config}");
    assert_eq!(config["bulk"]["supported"], false, "{config}");
    let types = list(&app, &token, "/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2, "{types}");
    let schemas = list(&app, &token, "/Schemas").await;
    assert_eq!(schemas["Resources"][0]["id"], USER, "{schemas}");
    list(&app, &token, &format!("/Schemas/{USER}")).await;

    // Without a token, or with a wrong one: 401, with the SCIM error's shape.
    expect_scim_error(
        app.api_raw("GET", "/scim/v2/Users", &[], "").await,
        401,
        None,
    );
    expect_scim_error(
        scim(
            &app,
            "gths_0000000000000000000000000000000000000000",
            "GET",
            "/Users",
            None,
        )
        .await,
        401,
        None,
    );

    // A new person: an account without a password, a member with the default role.
    let ada = create_user(&app, &token, "ada@corp.example", "00u-ada").await;
    let ada_id = id_of(&ada);
    assert_eq!(ada["userName"], "ada@corp.example", "{ada}");
    assert_eq!(ada["active"], true, "{ada}");
    assert_eq!(ada["roles"][0]["value"], "user", "{ada}");
    assert_eq!(ada["externalId"], "00u-ada", "{ada}");
    assert!(
        ada["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("/scim/v2/Users/{ada_id}"))),
        "{ada}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email_normalized = 'ada@corp.example' AND password_hash = '!sso'")
            .await,
        1
    );

    // The same userName again, in any case, or the same externalId: uniqueness; nothing made.
    expect_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(user_body("ADA@corp.example", "other")),
        )
        .await,
        409,
        Some("uniqueness"),
    );
    expect_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(user_body("eve@corp.example", "00u-ada")),
        )
        .await,
        409,
        Some("uniqueness"),
    );
    // Outside the verified domains, not an email, no userName, Owner: refused, nothing made.
    expect_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(user_body("mallory@elsewhere.example", "m")),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    expect_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(user_body("not an email", "n")),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    expect_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({"schemas": [USER]})),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    let mut owner_body = user_body("boss@corp.example", "b");
    owner_body["roles"] = json!([{"value": "owner", "primary": true}]);
    expect_scim_error(
        scim(&app, &token, "POST", "/Users", Some(owner_body)).await,
        403,
        None,
    );
    expect_scim_error(
        app.api_raw(
            "POST",
            "/scim/v2/Users",
            &[("authorization", &format!("Bearer {token}"))],
            "{not json",
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email_normalized LIKE '%@elsewhere.example' OR email_normalized IN ('eve@corp.example', 'boss@corp.example')").await,
        0
    );

    // An existing account with a verified email becomes a member, with the mapped role.
    let bob = app.new_client();
    app.sign_up(&bob, "Bob", "bob@corp.example", "Bob's own")
        .await
        .expect_status(200);
    let mut bob_body = user_body("bob@corp.example", "00u-bob");
    bob_body["roles"] = json!([{"value": "Team Leader", "primary": true}]);
    let bob_user = scim(&app, &token, "POST", "/Users", Some(bob_body))
        .await
        .expect_status(201)
        .json();
    assert_eq!(bob_user["roles"][0]["value"], "team_leader", "{bob_user}");
    let session = app.session(&bob).await;
    assert!(
        session["orgs"].as_array().is_some_and(|orgs| orgs
            .iter()
            .any(|o| o["id"] == org_id && o["role"] == "team_leader")),
        "{session}"
    );

    // Filters: each attribute providers match on, and/or, pagination.
    for (filter, expected) in [
        ("userName eq \"ada@corp.example\"", vec!["ada@corp.example"]),
        ("userName eq \"ADA@CORP.EXAMPLE\"", vec!["ada@corp.example"]),
        ("externalId eq \"00u-bob\"", vec!["bob@corp.example"]),
        (
            "emails.value eq \"bob@corp.example\"",
            vec!["bob@corp.example"],
        ),
        (
            "emails[value eq \"ada@corp.example\"]",
            vec!["ada@corp.example"],
        ),
        (&format!("id eq \"{ada_id}\""), vec!["ada@corp.example"]),
        ("displayName eq \"Bob\"", vec!["bob@corp.example"]),
        (
            "userName eq \"ada@corp.example\" or externalId eq \"00u-bob\"",
            vec!["ada@corp.example", "bob@corp.example"],
        ),
        (
            "userName eq \"ada@corp.example\" and active eq false",
            vec![],
        ),
        ("userName eq \"nobody@corp.example\"", vec![]),
        ("userName sw \"owner\"", vec!["owner@corp.example"]),
    ] {
        let found = list(&app, &token, &filtered(filter)).await;
        let names: Vec<&str> = found["Resources"]
            .as_array()
            .map(|r| r.iter().filter_map(|u| u["userName"].as_str()).collect())
            .unwrap_or_default();
        let mut names = names;
        names.sort();
        assert_eq!(names, expected, "{filter}: {found}");
        assert_eq!(found["totalResults"], expected.len(), "{filter}: {found}");
    }
    for bad in [
        "userName",
        "userName eq",
        "userName zz \"a\"",
        "(userName eq \"a\"",
    ] {
        expect_scim_error(
            scim(&app, &token, "GET", &filtered(bad), None).await,
            400,
            Some("invalidFilter"),
        );
    }
    let page = list(&app, &token, "/Users?startIndex=2&count=1").await;
    assert_eq!(page["totalResults"], 3, "{page}");
    assert_eq!(page["itemsPerPage"], 1, "{page}");
    assert_eq!(page["startIndex"], 2, "{page}");
    let only = list(&app, &token, "/Users?attributes=userName&count=1").await;
    let first = &only["Resources"][0];
    assert!(
        first["userName"].is_string() && first["name"].is_null(),
        "{only}"
    );

    // PUT replaces the provider's attributes; userName cannot change.
    let mut replaced = user_body("ada@corp.example", "00u-ada2");
    replaced["displayName"] = json!("Countess Ada");
    let ada = scim(
        &app,
        &token,
        "PUT",
        &format!("/Users/{ada_id}"),
        Some(replaced),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(ada["displayName"], "Countess Ada", "{ada}");
    assert_eq!(ada["externalId"], "00u-ada2", "{ada}");
    expect_scim_error(
        scim(
            &app,
            &token,
            "PUT",
            &format!("/Users/{ada_id}"),
            Some(user_body("ada2@corp.example", "00u-ada2")),
        )
        .await,
        400,
        Some("mutability"),
    );

    // The Owner is listed but not the provider's to change.
    let owner_id = app.user_id(&owner).await;
    let patch_owner = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    expect_scim_error(
        scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{owner_id}"),
            Some(patch_owner),
        )
        .await,
        403,
        None,
    );
    expect_scim_error(
        scim(&app, &token, "DELETE", &format!("/Users/{owner_id}"), None).await,
        403,
        None,
    );

    // Another organization's member, or its token here: not found.
    let (other_owner, other_org) = app.new_org("owner@other.example", "Other").await;
    let other_id = app.user_id(&other_owner).await;
    expect_scim_error(
        scim(&app, &token, "GET", &format!("/Users/{other_id}"), None).await,
        404,
        None,
    );
    app.verify_domain(&other_owner, other_org, "other.example")
        .await;
    let other_token = new_token(&app, &other_owner, other_org, "Entra").await;
    expect_scim_error(
        scim(&app, &other_token, "GET", &format!("/Users/{ada_id}"), None).await,
        404,
        None,
    );
    expect_scim_error(
        scim(
            &app,
            &other_token,
            "DELETE",
            &format!("/Users/{ada_id}"),
            None,
        )
        .await,
        404,
        None,
    );

    // DELETE removes the membership; the account stays (it may belong elsewhere).
    let bob_id = id_of(&bob_user);
    scim(&app, &token, "DELETE", &format!("/Users/{bob_id}"), None)
        .await
        .expect_status(204);
    expect_scim_error(
        scim(&app, &token, "GET", &format!("/Users/{bob_id}"), None).await,
        404,
        None,
    );
    let session = app.session(&bob).await;
    assert!(
        session["orgs"]
            .as_array()
            .is_some_and(|orgs| orgs.iter().all(|o| o["id"] != org_id)),
        "{session}"
    );

    // Every change is in the audit log, by "SCIM (Okta)".
    let log = app
        .call(&owner, "audit/list", &[("org_id", &org_id.to_string())])
        .await
        .expect_status(200)
        .json();
    let text = log.to_string();
    for action in [
        "member.provisioned",
        "member.provisioning_updated",
        "member.deprovisioned",
    ] {
        assert!(text.contains(action), "{action} missing from {log}");
    }
    assert!(text.contains("SCIM (Okta)"), "{log}");
    // The refused requests are kept for the panel.
    let panel = app
        .call(
            &owner,
            "org/provisioning",
            &[("org_id", &org_id.to_string())],
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(panel["provisioned_users"], 1, "{panel}");
    assert_eq!(panel["recent"][0]["email"], "ada@corp.example", "{panel}");
    assert!(
        panel["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{panel}"
    );
}

async fn suspending_ends_sessions_and_keys_at_once_on_every_replica(app: TestApp) {
    let (owner, org_id, token) = provisioned_org(&app).await;
    let other = app.replica().await;
    // Bob has a session, a key for this organization and a group here.
    let bob = app.new_client();
    app.sign_up(&bob, "Bob", "bob@corp.example", "Bob's own")
        .await
        .expect_status(200);
    let bob_user = create_user(&app, &token, "bob@corp.example", "00u-bob").await;
    let bob_id = id_of(&bob_user);
    let key = app.create_key(&bob, org_id, "org:read", "30").await;
    let group = scim(
        &app,
        &token,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": bob_id}]})),
    )
    .await
    .expect_status(201)
    .json();
    for replica in [&app, &other] {
        replica
            .api("GET", "/api/v1/me", Some(&key), None)
            .await
            .expect_status(200);
    }

    // Entra ID suspends with the string "False".
    let suspend = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let suspended = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{bob_id}"),
        Some(suspend),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(suspended["active"], false, "{suspended}");
    // The very next request of the key, here and on the other replica, is refused.
    for replica in [&app, &other] {
        replica
            .api("GET", "/api/v1/me", Some(&key), None)
            .await
            .expect_error(401, "api_key_invalid", None);
        let session = replica.session(&bob).await;
        assert!(
            session["orgs"]
                .as_array()
                .is_some_and(|orgs| orgs.iter().all(|o| o["id"] != org_id)),
            "suspended, yet the session still reaches the organization: {session}"
        );
    }
    // The members list no longer counts him; SCIM still knows him, inactive.
    let members = app
        .call(&owner, "members/list", &[("org_id", &org_id.to_string())])
        .await
        .expect_status(200)
        .json();
    assert!(
        !members["members"].to_string().contains("bob@corp.example"),
        "{members}"
    );
    assert_eq!(
        members["suspended"][0]["email"], "bob@corp.example",
        "{members}"
    );
    let found = list(&app, &token, &filtered("userName eq \"bob@corp.example\"")).await;
    assert_eq!(found["Resources"][0]["active"], false, "{found}");

    // Restored: the key works again, and he is back in his group.
    let restore =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{bob_id}"),
        Some(restore),
    )
    .await
    .expect_status(200);
    for replica in [&app, &other] {
        replica
            .api("GET", "/api/v1/me", Some(&key), None)
            .await
            .expect_status(200);
    }
    let group = list(&app, &token, &format!("/Groups/{}", id_of(&group))).await;
    assert_eq!(group["members"][0]["value"], bob_id, "{group}");

    // Deleted: the key is revoked for good.
    scim(&app, &token, "DELETE", &format!("/Users/{bob_id}"), None)
        .await
        .expect_status(204);
    other
        .api("GET", "/api/v1/me", Some(&key), None)
        .await
        .expect_status(401);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE org_id = {org_id} AND revoked_at IS NULL AND user_id = {bob_id}"
        ))
        .await,
        0
    );
    let log = app
        .call(&owner, "audit/list", &[("org_id", &org_id.to_string())])
        .await
        .expect_status(200)
        .json()
        .to_string();
    for action in [
        "member.suspended",
        "member.restored",
        "member.deprovisioned",
    ] {
        assert!(log.contains(action), "{action} missing from {log}");
    }
}

async fn groups_follow_the_provider_and_are_read_only_here(app: TestApp) {
    let (owner, org_id, token) = provisioned_org(&app).await;
    let ada = id_of(&create_user(&app, &token, "ada@corp.example", "1").await);
    let bob = id_of(&create_user(&app, &token, "bob@corp.example", "2").await);
    let group = scim(
        &app,
        &token,
        "POST",
        "/Groups",
        Some(
            json!({"schemas": [GROUP], "displayName": "Engineering", "externalId": "g-1",
                    "members": [{"value": ada}]}),
        ),
    )
    .await
    .expect_status(201)
    .json();
    let group_id = id_of(&group);
    assert_eq!(
        group["members"].as_array().map(Vec::len),
        Some(1),
        "{group}"
    );
    expect_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "engineering"})),
        )
        .await,
        409,
        Some("uniqueness"),
    );
    expect_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": "999999"}]}),
            ),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM groups WHERE name = 'Ops'")
            .await,
        0
    );

    // Okta's add and remove, Entra's remove by value.
    let patch = |ops: Value| json!({"schemas": [PATCH], "Operations": ops});
    let path = format!("/Groups/{group_id}");
    let after = scim(
        &app,
        &token,
        "PATCH",
        &path,
        Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": bob, "display": "bob@corp.example"}]}]))),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(
        after["members"].as_array().map(Vec::len),
        Some(2),
        "{after}"
    );
    let after = scim(
        &app,
        &token,
        "PATCH",
        &path,
        Some(patch(
            json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]),
        )),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(after["members"][0]["value"], bob, "{after}");
    let after = scim(
        &app,
        &token,
        "PATCH",
        &path,
        Some(patch(
            json!([{"op": "Remove", "path": "members", "value": [{"value": bob}]},
                           {"op": "Replace", "path": "displayName", "value": "Platform"}]),
        )),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(after["displayName"], "Platform", "{after}");
    assert_eq!(after["members"], json!([]), "{after}");

    // Filters and excludedAttributes, as Entra ID asks.
    let found = list(
        &app,
        &token,
        "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22platform%22",
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert!(found["Resources"][0]["members"].is_null(), "{found}");
    let found = list(&app, &token, "/Groups?filter=externalId%20eq%20%22g-1%22").await;
    assert_eq!(found["Resources"][0]["id"], group_id.as_str(), "{found}");

    // In Gatehouse: name and members are read-only; the scans limit stays editable.
    let org = org_id.to_string();
    let update = |name: &'static str| {
        [
            ("org_id", org.clone()),
            ("group_id", group_id.clone()),
            ("name", name.to_string()),
            ("scans_limit", "3".to_string()),
        ]
    };
    let renamed = update("Renamed here");
    let pairs: Vec<(&str, &str)> = renamed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call(&owner, "groups/update", &pairs)
        .await
        .expect_error(409, "conflict", Some("name"));
    let kept = update("Platform");
    let pairs: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call(&owner, "groups/update", &pairs)
        .await
        .expect_status(200);
    app.call(
        &owner,
        "groups/members/add",
        &[("org_id", &org), ("group_id", &group_id), ("user_id", &ada)],
    )
    .await
    .expect_error(409, "conflict", Some("members"));
    // A group made in Gatehouse is not the provider's: not listed, not changeable.
    let own = app.new_group(&owner, org_id, "Hand made", "1", &[]).await;
    let listed = list(&app, &token, "/Groups").await;
    assert_eq!(listed["totalResults"], 1, "{listed}");
    expect_scim_error(
        scim(&app, &token, "DELETE", &format!("/Groups/{own}"), None).await,
        403,
        None,
    );

    scim(&app, &token, "DELETE", &path, None)
        .await
        .expect_status(204);
    expect_scim_error(scim(&app, &token, "GET", &path, None).await, 404, None);
}

async fn seats_are_counted_under_the_lock(app: TestApp) {
    let (owner, org_id, token) = provisioned_org(&app).await;
    // Two seats: the Owner and one more.
    app.set_plan(&owner, org_id, "team", "2").await;
    let creates = (0..4).map(|i| {
        let app = &app;
        let token = &token;
        async move {
            scim(
                app,
                token,
                "POST",
                "/Users",
                Some(user_body(&format!("p{i}@corp.example"), &format!("x{i}"))),
            )
            .await
        }
    });
    let answers = futures::future::join_all(creates).await;
    let made = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        made,
        1,
        "{:?}",
        answers
            .iter()
            .map(|r| (r.status, &r.body))
            .collect::<Vec<_>>()
    );
    for refused in answers.into_iter().filter(|r| r.status != 201) {
        let body = expect_scim_error(refused, 403, None);
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("seats")),
            "{body}"
        );
    }
    // Nothing half-made: one new account, two members.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email_normalized LIKE 'p%@corp.example'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {org_id}"
        ))
        .await,
        2
    );
}

/// The requests Okta and Entra ID send, in their order, with their quirks (from their SCIM
/// documentation: Okta's "SCIM 2.0 protocol reference", Microsoft's "Tutorial: Develop and
/// plan provisioning for a SCIM endpoint").
async fn okta_and_entra_request_shapes_work_as_recorded(app: TestApp) {
    let (_owner, _org_id, token) = provisioned_org(&app).await;
    // Okta: look up by userName, create with a password it sends, deactivate, reactivate.
    let none = list(
        &app,
        &token,
        "/Users?filter=userName%20eq%20%22okta.user%40corp.example%22&startIndex=1&count=100",
    )
    .await;
    assert_eq!(none["totalResults"], 0, "{none}");
    let okta = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(json!({
            "schemas": [USER],
            "userName": "okta.user@corp.example",
            "name": {"givenName": "Okta", "familyName": "User"},
            "emails": [{"primary": true, "value": "okta.user@corp.example", "type": "work"}],
            "displayName": "Okta User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        })),
    )
    .await
    .expect_status(201)
    .json();
    let okta_id = id_of(&okta);
    let deactivate =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let after = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{okta_id}"),
        Some(deactivate),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(after["active"], false, "{after}");
    let mut put = okta.clone();
    put["active"] = json!(true);
    put["name"]["familyName"] = json!("Userson");
    let after = scim(&app, &token, "PUT", &format!("/Users/{okta_id}"), Some(put))
        .await
        .expect_status(200)
        .json();
    assert_eq!(after["active"], true, "{after}");
    assert_eq!(after["name"]["familyName"], "Userson", "{after}");
    // Okta's group push: create empty, add, rename with an id in the value.
    let group = scim(
        &app,
        &token,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})),
    )
    .await
    .expect_status(201)
    .json();
    let group_id = id_of(&group);
    scim(
        &app,
        &token,
        "PATCH",
        &format!("/Groups/{group_id}"),
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": okta_id, "display": "okta.user@corp.example"}]}]})),
    )
    .await
    .expect_status(200);
    let renamed = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Groups/{group_id}"),
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "replace", "value": {"id": group_id, "displayName": "Test SCIMv2 renamed"}}]})),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(renamed["displayName"], "Test SCIMv2 renamed", "{renamed}");
    assert_eq!(renamed["members"][0]["value"], okta_id, "{renamed}");

    // Entra ID: its probe for a random userName, a create with the enterprise extension, the
    // capitalized PATCH ops with string booleans and filtered paths.
    let probe = list(
        &app,
        &token,
        "/Users?filter=userName+eq+%22ef4b3bd6-2d4f-4ff5-9f0e-21b1a37f1c5e%22",
    )
    .await;
    assert_eq!(probe["totalResults"], 0, "{probe}");
    let entra = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(json!({
            "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@corp.example",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_ab6490ee@corp.example"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
        })),
    )
    .await
    .expect_status(201)
    .json();
    let entra_id = id_of(&entra);
    let after = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{entra_id}"),
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "Test_User_ab6490ee@corp.example"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Marketing"},
            {"op": "Add", "path": "roles", "value": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]},
            {"op": "Replace", "path": "active", "value": "False"}
        ]})),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(after["name"]["familyName"], "updatedFamilyName", "{after}");
    assert_eq!(after["active"], false, "{after}");
    assert_eq!(after["roles"][0]["value"], "admin", "{after}");
    let entra_group = scim(
        &app,
        &token,
        "POST",
        "/Groups",
        Some(
            json!({"schemas": [GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                    "displayName": "displayName", "meta": {"resourceType": "Group"}}),
        ),
    )
    .await
    .expect_status(201)
    .json();
    let found = list(
        &app,
        &token,
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22",
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let entra_group_id = id_of(&entra_group);
    scim(
        &app,
        &token,
        "PATCH",
        &format!("/Groups/{entra_group_id}"),
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "Add", "path": "members", "value": [{"value": okta_id}]},
            {"op": "Remove", "path": "members", "value": [{"value": okta_id}]}]})),
    )
    .await
    .expect_status(200);
    scim(&app, &token, "DELETE", &format!("/Users/{entra_id}"), None)
        .await
        .expect_status(204);
}

async fn tokens_are_the_owners_and_shown_once(app: TestApp) {
    let (owner, org_id) = app.new_org("owner@corp.example", "Corp").await;
    let org = org_id.to_string();
    let (admin, _) = app
        .add_member(&owner, org_id, "admin@corp.example", "admin")
        .await;
    app.call(
        &admin,
        "org/provisioning/token",
        &[("org_id", &org), ("name", "Okta")],
    )
    .await
    .expect_error(403, "forbidden", None);
    app.call(
        &owner,
        "org/provisioning/token",
        &[("org_id", &org), ("name", " ")],
    )
    .await
    .expect_error(422, "invalid_input", Some("name"));
    let token = new_token(&app, &owner, org_id, "Okta").await;
    // Stored hashed: the secret is nowhere in the database.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM scim_tokens WHERE token_hash = '{token}' OR prefix = '{token}'"
        ))
        .await,
        0
    );
    let panel = app
        .call(&owner, "org/provisioning", &[("org_id", &org)])
        .await
        .expect_status(200)
        .json();
    assert!(!panel.to_string().contains(&token), "{panel}");
    assert_eq!(panel["tokens"][0]["name"], "Okta", "{panel}");
    scim(&app, &token, "GET", "/Users", None)
        .await
        .expect_status(200);
    let panel = app
        .call(&owner, "org/provisioning", &[("org_id", &org)])
        .await
        .expect_status(200)
        .json();
    assert!(panel["tokens"][0]["last_used"].is_string(), "{panel}");

    // Confirm access: an hour later, creating and revoking ask again.
    app.clock.advance(std::time::Duration::from_secs(3600));
    app.call(
        &owner,
        "org/provisioning/token",
        &[("org_id", &org), ("name", "Entra")],
    )
    .await
    .expect_error(403, "reauthentication_required", None);
    app.call(
        &owner,
        "auth/confirm_access",
        &[("password", common::PASSWORD)],
    )
    .await
    .expect_status(200);
    // Rotation: a second token, then the first revoked; the first is refused at once.
    let second = new_token(&app, &owner, org_id, "Okta (rotated)").await;
    let token_id = panel["tokens"][0]["id"].to_string();
    app.call(
        &owner,
        "org/provisioning/revoke",
        &[("org_id", &org), ("token_id", &token_id)],
    )
    .await
    .expect_status(200);
    expect_scim_error(scim(&app, &token, "GET", "/Users", None).await, 401, None);
    scim(&app, &second, "GET", "/Users", None)
        .await
        .expect_status(200);
    app.call(
        &owner,
        "org/provisioning/role",
        &[("org_id", &org), ("role", "owner")],
    )
    .await
    .expect_error(422, "invalid_input", Some("role"));
    app.call(
        &owner,
        "org/provisioning/role",
        &[("org_id", &org), ("role", "admin")],
    )
    .await
    .expect_status(200);
    let log = app
        .call(&owner, "audit/list", &[("org_id", &org)])
        .await
        .expect_status(200)
        .json()
        .to_string();
    for action in [
        "scim.token_created",
        "scim.token_revoked",
        "scim.default_role_changed",
    ] {
        assert!(log.contains(action), "{action} missing from {log}");
    }
}

/// scim2-client (PyPI, python-scim2), an implementation of the protocol that is not ours,
/// runs a provider's whole flow against the service.
async fn an_independent_scim_client_drives_the_service(app: TestApp) {
    let (_owner, _org_id, token) = provisioned_org(&app).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("tools/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh --e2e (it installs end2end/contract/requirements.txt)",
        python.display()
    );
    let script = root.join("end2end/scim/client_flow.py");
    let base = app.url("/scim/v2");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&base)
        .arg(&token)
        .arg("corp.example")
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", python.display(), script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SCIM client's flow failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(stdout.contains("flow complete"), "{stdout}\n{stderr}");
}
