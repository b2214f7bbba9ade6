//! A SCIM error (RFC 7644 §3.12) and how the application's errors become one.

use crate::error::AppError;
use serde_json::{json, Value};

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error (RFC 7644 §3.12): its status, `scimType` and `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            status: 403,
            scim_type: None,
            detail: detail.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self {
            status: 404,
            scim_type: None,
            detail: format!("No {what} with this id in this organization."),
        }
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self {
            status: 409,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self {
            status: 401,
            scim_type: None,
            detail: "Send this organization's SCIM token: Authorization: Bearer gths_…".into(),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        body
    }
}

impl From<AppError> for ScimError {
    fn from(err: AppError) -> Self {
        match &err {
            AppError::NotFound => Self::not_found("resource"),
            AppError::Forbidden => Self::forbidden("A provisioning token may not do that."),
            AppError::Invalid { message, .. } => Self::bad_request("invalidValue", message.clone()),
            AppError::Conflict { message, .. } => Self::uniqueness(message.clone()),
            _ => Self {
                status: err.status(),
                scim_type: None,
                detail: err.to_string(),
            },
        }
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(err: sqlx::Error) -> Self {
        AppError::from(err).into()
    }
}
