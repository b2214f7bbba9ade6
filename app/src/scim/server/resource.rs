//! Users and Groups as SCIM resources (RFC 7643 §4): what Gatehouse answers, what it reads
//! from a request, and the `attributes` / `excludedAttributes` projection.

use super::error::ScimError;
use super::filter::{attr_name, get_ci};
use crate::domain::Role;
use serde_json::{json, Map, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

pub fn timestamp(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A member (or a suspended provisioned member) as the service reads them.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: i64,
    pub email: String,
    pub account_name: String,
    /// The membership's role; `None` while suspended.
    pub role: Option<Role>,
    pub suspended_role: Option<Role>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub groups: Vec<(i64, String)>,
}

impl UserRecord {
    pub fn active(&self) -> bool {
        self.role.is_some()
    }

    pub fn current_role(&self) -> Option<Role> {
        self.role.or(self.suspended_role)
    }

    pub fn to_json(&self, base: &str) -> Value {
        let id = self.user_id.to_string();
        let display = self
            .display_name
            .clone()
            .unwrap_or_else(|| self.account_name.clone());
        let mut name = Map::new();
        if let Some(given) = &self.given_name {
            name.insert("givenName".into(), json!(given));
        }
        if let Some(family) = &self.family_name {
            name.insert("familyName".into(), json!(family));
        }
        name.insert("formatted".into(), json!(display));
        let mut user = json!({
            "schemas": [USER_SCHEMA],
            "id": id,
            "userName": self.email,
            "name": name,
            "displayName": display,
            "emails": [{"value": self.email, "type": "work", "primary": true}],
            "active": self.active(),
            "groups": self.groups.iter().map(|(id, name)| json!({
                "value": id.to_string(),
                "display": name,
                "$ref": format!("{base}/Groups/{id}"),
            })).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "User",
                "created": timestamp(self.created_at),
                "lastModified": timestamp(self.updated_at),
                "location": format!("{base}/Users/{id}"),
            },
        });
        if let Some(role) = self.current_role() {
            user["roles"] =
                json!([{"value": role.as_str(), "display": role.label(), "primary": true}]);
        }
        if let Some(external) = &self.external_id {
            user["externalId"] = json!(external);
        }
        user
    }
}

#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub created_at: i64,
    /// `None` when the request excluded them (a large group's members are not read).
    pub members: Option<Vec<(i64, String)>>,
}

impl GroupRecord {
    pub fn to_json(&self, base: &str) -> Value {
        let id = self.id.to_string();
        let mut group = json!({
            "schemas": [GROUP_SCHEMA],
            "id": id,
            "displayName": self.name,
            "meta": {
                "resourceType": "Group",
                "created": timestamp(self.created_at),
                "lastModified": timestamp(self.created_at),
                "location": format!("{base}/Groups/{id}"),
            },
        });
        if let Some(members) = &self.members {
            group["members"] = members
                .iter()
                .map(|(id, name)| {
                    json!({
                        "value": id.to_string(),
                        "display": name,
                        "type": "User",
                        "$ref": format!("{base}/Users/{id}"),
                    })
                })
                .collect();
        }
        if let Some(external) = &self.external_id {
            group["externalId"] = json!(external);
        }
        group
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidValue", detail)
}

fn optional_string(doc: &Value, key: &str) -> Result<Option<String>, ScimError> {
    match get_ci(doc, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > 200 {
                return Err(invalid(format!("{key} has more than 200 characters.")));
            }
            Ok(Some(s.trim().to_string()))
        }
        Some(_) => Err(invalid(format!("{key} must be a string."))),
    }
}

/// `active` as a boolean, or as the strings Entra ID sends ("True", "False").
pub fn parse_active(value: Option<&Value>) -> Result<bool, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(active)) => Ok(*active),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(invalid(format!(
            "active must be true or false, not {other}."
        ))),
    }
}

/// A role the provider may give: any but Owner, by its value or its display name.
pub fn parse_role(raw: &str) -> Result<Role, ScimError> {
    let key = raw.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    match Role::parse(&key) {
        Ok(Role::Owner) => Err(ScimError::forbidden(
            "Provisioning never makes anyone an Owner: an Owner grants that role in Gatehouse.",
        )),
        Ok(role) => Ok(role),
        Err(_) => Err(invalid(format!(
            "\"{raw}\" is not a role: use admin, team_leader, billing_manager or user."
        ))),
    }
}

fn parse_roles(doc: &Value) -> Result<Option<Role>, ScimError> {
    let Some(roles) = get_ci(doc, "roles") else {
        return Ok(None);
    };
    let items: Vec<&Value> = match roles {
        Value::Null => return Ok(None),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if items.is_empty() {
        return Ok(None);
    }
    let primary = items
        .iter()
        .find(|item| get_ci(item, "primary").and_then(Value::as_bool) == Some(true))
        .or(items.first())
        .copied();
    let value = match primary {
        Some(Value::String(s)) => s.as_str(),
        Some(item) => get_ci(item, "value")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Each role needs a value."))?,
        None => return Ok(None),
    };
    parse_role(value).map(Some)
}

/// What a create or a replace of a User says.
#[derive(Debug, Clone)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub formatted: Option<String>,
    pub active: bool,
    /// `None` when the request names no role (a create gets the organization's default).
    pub role: Option<Role>,
}

impl UserInput {
    pub fn parse(doc: &Value) -> Result<Self, ScimError> {
        if !doc.is_object() {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                "The request body must be a JSON object.",
            ));
        }
        let user_name = optional_string(doc, "username")?
            .ok_or_else(|| invalid("userName is required: the member's email address."))?;
        let name = get_ci(doc, "name").cloned().unwrap_or(Value::Null);
        Ok(Self {
            user_name,
            external_id: optional_string(doc, "externalid")?,
            display_name: optional_string(doc, "displayname")?,
            given_name: optional_string(&name, "givenname")?,
            family_name: optional_string(&name, "familyname")?,
            formatted: optional_string(&name, "formatted")?,
            active: parse_active(get_ci(doc, "active"))?,
            role: parse_roles(doc)?,
        })
    }

    /// The name an account made by provisioning gets.
    pub fn person_name(&self) -> Option<String> {
        self.display_name
            .clone()
            .or_else(|| self.formatted.clone())
            .or_else(|| {
                let joined = [self.given_name.as_deref(), self.family_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.is_empty()).then_some(joined)
            })
    }
}

#[derive(Debug, Clone)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// `None` when the request has no `members` (a replace keeps them).
    pub members: Option<Vec<i64>>,
}

impl GroupInput {
    pub fn parse(doc: &Value) -> Result<Self, ScimError> {
        if !doc.is_object() {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                "The request body must be a JSON object.",
            ));
        }
        let display_name = optional_string(doc, "displayname")?
            .ok_or_else(|| invalid("displayName is required."))?;
        let members = match get_ci(doc, "members") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    let value = get_ci(item, "value")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid("Each member needs a value: the User's id."))?;
                    let id = value.parse::<i64>().map_err(|_| {
                        invalid(format!(
                            "\"{value}\" is not the id of a User of this organization."
                        ))
                    })?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Some(ids)
            }
            Some(_) => return Err(invalid("members must be a list.")),
        };
        Ok(Self {
            display_name,
            external_id: optional_string(doc, "externalid")?,
            members,
        })
    }
}

/// The comma-separated attribute names of `attributes` / `excludedAttributes`.
pub fn attribute_list(raw: Option<&str>) -> Vec<String> {
    raw.map(|raw| {
        raw.split(',')
            .map(|a| attr_name(a.trim()))
            .filter(|a| !a.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Keeps what `attributes` asks for (plus `id` and `schemas`, always returned) and drops
/// what `excludedAttributes` names.
pub fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(map) = resource else {
        return resource;
    };
    let always = |key: &str| matches!(key, "id" | "schemas");
    let mut out = Map::new();
    for (key, value) in map {
        let name = attr_name(&key);
        if always(&name) {
            out.insert(key, value);
            continue;
        }
        if !attributes.is_empty() {
            let whole = attributes.contains(&name);
            let subs: Vec<&str> = attributes
                .iter()
                .filter_map(|a| a.strip_prefix(&format!("{name}.")))
                .collect();
            if whole {
                out.insert(key, value);
            } else if !subs.is_empty() {
                if let Value::Object(inner) = value {
                    let kept: Map<String, Value> = inner
                        .into_iter()
                        .filter(|(k, _)| subs.contains(&attr_name(k).as_str()))
                        .collect();
                    out.insert(key, Value::Object(kept));
                }
            }
            continue;
        }
        if excluded.contains(&name) {
            continue;
        }
        out.insert(key, value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_reads_the_strings_entra_sends() {
        assert!(!parse_active(Some(&json!("False"))).expect("parses"));
        assert!(parse_active(Some(&json!("true"))).expect("parses"));
        assert!(parse_active(None).expect("absent is active"));
        assert!(parse_active(Some(&json!(0))).is_err());
    }

    #[test]
    fn roles_map_to_gatehouse_roles_but_never_owner() {
        assert_eq!(parse_role("Team Leader").ok(), Some(Role::TeamLeader));
        assert_eq!(parse_role("admin").ok(), Some(Role::Admin));
        assert_eq!(parse_role("owner").err().map(|e| e.status), Some(403));
        assert_eq!(
            parse_role("root").err().and_then(|e| e.scim_type),
            Some("invalidValue")
        );
    }

    #[test]
    fn projection_keeps_id_and_what_is_asked() {
        let user = json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a@b.co",
                          "name": {"givenName": "A", "familyName": "B"}, "active": true});
        let only = project(
            user.clone(),
            &attribute_list(Some("userName,name.givenName")),
            &[],
        );
        assert_eq!(
            only,
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a@b.co",
                   "name": {"givenName": "A"}})
        );
        let without = project(user, &[], &attribute_list(Some("name,active")));
        assert_eq!(
            without,
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a@b.co"})
        );
    }
}
