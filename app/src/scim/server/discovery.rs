//! What the service supports, as RFC 7643 §5–7 and RFC 7644 §4 describe it: providers read
//! these to decide what to send, so they say only what is true.

use super::resource::{GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA};
use super::MAX_RESULTS;
use serde_json::{json, Value};

const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [CONFIG_SCHEMA],
        "documentationUri": format!("{}/docs/provisioning", base.trim_end_matches("/scim/v2")),
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The organization's SCIM token from Organization settings → Provisioning.",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

fn resource_type(base: &str, name: &str, endpoint: &str, schema: &str, description: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        resource_type(
            base,
            "User",
            "/Users",
            USER_SCHEMA,
            "A member of the organization",
        ),
        resource_type(
            base,
            "Group",
            "/Groups",
            GROUP_SCHEMA,
            "A group managed by provisioning",
        ),
    ]
}

#[allow(clippy::too_many_arguments)]
fn attribute(
    name: &str,
    kind: &str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &str,
    returned: &str,
    uniqueness: &str,
    description: &str,
) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    })
}

fn complex(
    name: &str,
    multi: bool,
    mutability: &str,
    description: &str,
    subs: Vec<Value>,
) -> Value {
    let mut value = attribute(
        name,
        "complex",
        multi,
        false,
        false,
        mutability,
        "default",
        "none",
        description,
    );
    value["subAttributes"] = Value::Array(subs);
    value
}

fn string(name: &str, mutability: &str, description: &str) -> Value {
    attribute(
        name,
        "string",
        false,
        false,
        false,
        mutability,
        "default",
        "none",
        description,
    )
}

fn user_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A member of the organization",
        "attributes": [
            attribute("userName", "string", false, true, false, "immutable", "default", "server",
                      "The member's email address, in one of the organization's verified domains"),
            complex("name", false, "readWrite", "The member's name", vec![
                string("formatted", "readWrite", "The full name"),
                string("givenName", "readWrite", "Given name"),
                string("familyName", "readWrite", "Family name"),
            ]),
            string("displayName", "readWrite", "The name shown in Gatehouse"),
            complex("emails", true, "readOnly", "The member's email (userName)", vec![
                string("value", "readOnly", "The address"),
                string("type", "readOnly", "Always work"),
                attribute("primary", "boolean", false, false, false, "readOnly", "default", "none", "Always true"),
            ]),
            attribute("active", "boolean", false, false, false, "readWrite", "default", "none",
                      "false suspends the membership: sessions and API keys stop at once"),
            complex("roles", true, "readWrite", "The member's role: admin, team_leader, billing_manager or user (never owner)", vec![
                string("value", "readWrite", "The role"),
                string("display", "readOnly", "The role's name"),
                attribute("primary", "boolean", false, false, false, "readWrite", "default", "none", "The role used"),
            ]),
            complex("groups", true, "readOnly", "Groups the member is in", vec![
                string("value", "readOnly", "The group's id"),
                string("display", "readOnly", "The group's name"),
                attribute("$ref", "reference", false, false, true, "readOnly", "default", "none", "The group's URI"),
            ]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    })
}

fn group_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A group managed by provisioning",
        "attributes": [
            attribute("displayName", "string", false, true, false, "readWrite", "default", "server",
                      "The group's name, unique in the organization regardless of case"),
            complex("members", true, "readWrite", "The group's members", vec![
                string("value", "immutable", "The member's User id"),
                string("display", "readOnly", "The member's name"),
                string("type", "immutable", "Always User: groups hold people"),
                attribute("$ref", "reference", false, false, true, "immutable", "default", "none", "The member's URI"),
            ]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    })
}

pub fn schemas(base: &str) -> Vec<Value> {
    vec![user_schema(base), group_schema(base)]
}

pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
