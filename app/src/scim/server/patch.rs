//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON, in the shapes real providers send:
//! Entra ID's capitalized `"Replace"`, operations without a path whose value is an object of
//! attributes (some of them dotted paths), and member removal by `members[value eq "…"]` or
//! by a `members` path with the members to remove as its value. The patched document is then
//! read as a replace, so PATCH and PUT share every rule.

use super::error::ScimError;
use super::filter::{attr_name, parse_path, Filter, PatchPath};
use super::resource::PATCH_SCHEMA;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: Kind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// The canonical spelling of the attributes Gatehouse keeps, for attributes a PATCH adds.
fn canonical(lower: &str) -> String {
    match lower {
        "username" => "userName",
        "externalid" => "externalId",
        "displayname" => "displayName",
        "givenname" => "givenName",
        "familyname" => "familyName",
        other => other,
    }
    .to_string()
}

fn bad_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidPath", detail)
}

pub fn parse_operations(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)));
    if !schemas_ok {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            format!("A PATCH names the schema {PATCH_SCHEMA}."),
        ));
    }
    let operations = super::filter::get_ci(body, "operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "Operations must be a list."))?;
    if operations.is_empty() || operations.len() > 1000 {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "A PATCH has from 1 to 1,000 operations.",
        ));
    }
    operations
        .iter()
        .map(|op| {
            let kind = match super::filter::get_ci(op, "op").and_then(Value::as_str) {
                Some(k) if k.eq_ignore_ascii_case("add") => Kind::Add,
                Some(k) if k.eq_ignore_ascii_case("replace") => Kind::Replace,
                Some(k) if k.eq_ignore_ascii_case("remove") => Kind::Remove,
                other => {
                    return Err(ScimError::bad_request(
                        "invalidSyntax",
                        format!("op must be add, replace or remove, not {other:?}."),
                    ))
                }
            };
            let path = match super::filter::get_ci(op, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(parse_path(p).map_err(|e| bad_path(e.0))?),
                Some(_) => return Err(bad_path("path must be a string.")),
            };
            let value = super::filter::get_ci(op, "value").cloned();
            if kind != Kind::Remove && value.is_none() {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    "add and replace need a value.",
                ));
            }
            if kind == Kind::Remove && path.is_none() {
                return Err(ScimError::bad_request("noTarget", "remove needs a path."));
            }
            Ok(Operation { kind, path, value })
        })
        .collect()
}

/// The key of `object` that names `attr` (any case), if there is one.
fn key_of(object: &Map<String, Value>, attr: &str) -> Option<String> {
    object.keys().find(|k| attr_name(k) == attr).cloned()
}

fn identity(value: &Value) -> Option<&Value> {
    super::filter::get_ci(value, "value")
}

pub fn apply(doc: &mut Value, operations: &[Operation]) -> Result<(), ScimError> {
    for operation in operations {
        match &operation.path {
            Some(path) => apply_at(doc, operation.kind, path, operation.value.as_ref())?,
            None => {
                let Some(Value::Object(attributes)) = &operation.value else {
                    return Err(ScimError::bad_request(
                        "invalidValue",
                        "An operation without a path needs an object of attributes as its value.",
                    ));
                };
                for (key, value) in attributes {
                    let path = parse_path(key).map_err(|e| bad_path(e.0))?;
                    apply_at(doc, operation.kind, &path, Some(value))?;
                }
            }
        }
    }
    Ok(())
}

fn apply_at(
    doc: &mut Value,
    kind: Kind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Value::Object(object) = doc else {
        return Err(bad_path("The resource is not an object."));
    };
    let key = key_of(object, &path.attr).unwrap_or_else(|| canonical(&path.attr));
    match (&path.filter, &path.sub) {
        (None, None) => {
            match kind {
                Kind::Remove => match (object.get_mut(&key), value) {
                    // Entra ID: {"op":"Remove","path":"members","value":[{"value":"7"}]}.
                    (Some(Value::Array(items)), Some(Value::Array(gone))) => {
                        items.retain(|item| {
                            !gone
                                .iter()
                                .any(|g| identity(g).is_some() && identity(g) == identity(item))
                        });
                    }
                    _ => {
                        object.remove(&key);
                    }
                },
                Kind::Add => match (object.get_mut(&key), value) {
                    (Some(Value::Array(items)), Some(added)) => {
                        let added: Vec<Value> = match added {
                            Value::Array(list) => list.clone(),
                            one => vec![one.clone()],
                        };
                        for item in added {
                            let duplicate = identity(&item).is_some()
                                && items.iter().any(|i| identity(i) == identity(&item));
                            if !duplicate {
                                items.push(item);
                            }
                        }
                    }
                    (Some(Value::Object(existing)), Some(Value::Object(added))) => {
                        for (k, v) in added {
                            let inner =
                                key_of(existing, &attr_name(k)).unwrap_or_else(|| k.clone());
                            existing.insert(inner, v.clone());
                        }
                    }
                    (_, Some(v)) => {
                        object.insert(key, v.clone());
                    }
                    (_, None) => {}
                },
                Kind::Replace => {
                    if let Some(v) = value {
                        match (object.get_mut(&key), v) {
                            (Some(Value::Object(existing)), Value::Object(replaced)) => {
                                for (k, v) in replaced {
                                    let inner = key_of(existing, &attr_name(k))
                                        .unwrap_or_else(|| k.clone());
                                    existing.insert(inner, v.clone());
                                }
                            }
                            _ => {
                                object.insert(key, v.clone());
                            }
                        }
                    }
                }
            }
        }
        (None, Some(sub)) => {
            let entry = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner) = entry else {
                return Err(bad_path(format!(
                    "{} has no sub-attribute {sub}.",
                    path.attr
                )));
            };
            let sub_key = key_of(inner, sub).unwrap_or_else(|| canonical(sub));
            match (kind, value) {
                (Kind::Remove, _) => {
                    inner.remove(&sub_key);
                }
                (_, Some(v)) => {
                    inner.insert(sub_key, v.clone());
                }
                (_, None) => {}
            }
        }
        (Some(filter), sub) => {
            let items = match object.get_mut(&key) {
                Some(Value::Array(items)) => items,
                // Nothing to remove is already removed: providers retry removals.
                _ if kind == Kind::Remove => return Ok(()),
                _ => {
                    return Err(ScimError::bad_request(
                        "noTarget",
                        format!("{} has no values that match the filter.", path.attr),
                    ))
                }
            };
            apply_filtered(items, filter, sub.as_deref(), kind, value, &path.attr)?;
        }
    }
    Ok(())
}

fn apply_filtered(
    items: &mut Vec<Value>,
    filter: &Filter,
    sub: Option<&str>,
    kind: Kind,
    value: Option<&Value>,
    attr: &str,
) -> Result<(), ScimError> {
    match (sub, kind) {
        (None, Kind::Remove) => items.retain(|item| !filter.matches(item)),
        (None, _) => {
            let Some(Value::Object(replacement)) = value else {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    format!("Replacing values of {attr} takes an object."),
                ));
            };
            let mut matched = false;
            for item in items.iter_mut().filter(|item| filter.matches(item)) {
                if let Value::Object(existing) = item {
                    for (k, v) in replacement {
                        existing.insert(k.clone(), v.clone());
                    }
                    matched = true;
                }
            }
            if !matched {
                return Err(ScimError::bad_request(
                    "noTarget",
                    format!("{attr} has no values that match the filter."),
                ));
            }
        }
        (Some(sub), _) => {
            let mut matched = false;
            for item in items.iter_mut().filter(|item| filter.matches(item)) {
                if let Value::Object(existing) = item {
                    let sub_key = key_of(existing, sub).unwrap_or_else(|| canonical(sub));
                    match (kind, value) {
                        (Kind::Remove, _) => {
                            existing.remove(&sub_key);
                        }
                        (_, Some(v)) => {
                            existing.insert(sub_key, v.clone());
                        }
                        (_, None) => {}
                    }
                    matched = true;
                }
            }
            if !matched && kind != Kind::Remove {
                return Err(ScimError::bad_request(
                    "noTarget",
                    format!("{attr} has no values that match the filter."),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(doc: &mut Value, body: Value) -> Result<(), ScimError> {
        let ops = parse_operations(&body)?;
        apply(doc, &ops)
    }

    fn ops(list: Value) -> Value {
        json!({"schemas": [PATCH_SCHEMA], "Operations": list})
    }

    #[test]
    fn entra_replace_without_path_and_string_booleans() {
        let mut user = json!({"userName": "a@b.co", "active": true, "name": {"givenName": "A"}});
        patch(
            &mut user,
            ops(json!([{"op": "Replace", "value": {"active": "False", "name.familyName": "B"}}])),
        )
        .expect("applies");
        assert_eq!(user["active"], json!("False"));
        assert_eq!(user["name"], json!({"givenName": "A", "familyName": "B"}));
    }

    #[test]
    fn okta_replace_with_path_and_value_object() {
        let mut user = json!({"userName": "a@b.co", "active": true});
        patch(
            &mut user,
            ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .expect("ok");
        assert_eq!(user["active"], json!(false));
        patch(
            &mut user,
            ops(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .expect("ok");
        assert_eq!(user["active"], json!(true));
    }

    #[test]
    fn members_added_and_removed_by_filter_or_by_value() {
        let mut group = json!({"displayName": "Eng", "members": [{"value": "1"}, {"value": "2"}]});
        patch(
            &mut group,
            ops(json!([
                {"op": "add", "path": "members", "value": [{"value": "3"}, {"value": "1"}]},
                {"op": "remove", "path": "members[value eq \"2\"]"},
            ])),
        )
        .expect("applies");
        assert_eq!(group["members"], json!([{"value": "1"}, {"value": "3"}]));
        patch(
            &mut group,
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "1"}]}])),
        )
        .expect("applies");
        assert_eq!(group["members"], json!([{"value": "3"}]));
        // Removing what is not there again is not an error (providers retry).
        patch(
            &mut group,
            ops(json!([{"op": "remove", "path": "members[value eq \"9\"]"}])),
        )
        .expect("idempotent");
    }

    #[test]
    fn filtered_sub_attribute_replace() {
        let mut user = json!({"emails": [{"value": "a@b.co", "type": "work"}]});
        patch(
            &mut user,
            ops(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@b.co"}])),
        )
        .expect("applies");
        assert_eq!(user["emails"][0]["value"], json!("c@b.co"));
        let err = patch(
            &mut user,
            ops(json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "x"}])),
        )
        .expect_err("no target");
        assert_eq!(err.scim_type, Some("noTarget"));
    }

    #[test]
    fn malformed_patches_are_refused() {
        let mut doc = json!({});
        for body in [
            json!({"Operations": [{"op": "add", "path": "x", "value": 1}]}),
            ops(json!([])),
            ops(json!([{"op": "move", "path": "x"}])),
            ops(json!([{"op": "remove"}])),
            ops(json!([{"op": "add", "path": "members[value eq", "value": 1}])),
            ops(json!([{"op": "add", "value": "not an object"}])),
        ] {
            assert!(patch(&mut doc, body.clone()).is_err(), "{body}");
        }
    }
}
