//! The one error type of Gatehouse. It crosses the wire (server functions return it), so it is
//! plain data; server-side causes (database, hashing) are logged where they are converted and
//! reach the user only as `Internal`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AppError {
    /// Input that does not parse; `field` names the form field the message belongs next to.
    #[error("{message}")]
    #[serde(rename = "invalid_input")]
    Invalid { field: String, message: String },
    /// The request conflicts with what exists (an email already registered, ...).
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// Sign-in failed. One message for unknown email and wrong password: no user enumeration.
    #[error("Email or password is incorrect.")]
    InvalidCredentials,
    #[error("Please sign in.")]
    Unauthenticated,
    /// The instance operator disabled this account (`gatehouse admin disable-user`).
    #[error("This account is disabled. Ask the administrator of this Gatehouse to enable it.")]
    AccountDisabled,
    #[error("You are not allowed to do that.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    /// The organization requires two-factor authentication and this member has not set it up
    /// (or the action itself needs the actor to have it on).
    /// `security_keys_only`: the organization accepts security keys and passkeys only.
    #[error("{}", two_factor_required_message(.security_keys_only))]
    TwoFactorRequired {
        #[serde(default)]
        security_keys_only: bool,
    },
    /// The organization requires single sign-on and this session did not come through its
    /// identity provider. The browser is sent to `/sso/start?org=<org_id>`.
    #[error("This organization requires single sign-on. Sign in through its identity provider to continue.")]
    SsoRequired { org_id: i64 },
    /// Five wrong second-factor codes in a row: checks for the account pause until `until`.
    #[error("Too many wrong codes. Two-factor checks for this account are locked until {until}.")]
    SecondFactorLocked {
        until: String,
        retry_after_secs: u64,
    },
    /// The session is signed in but was not proven enough for this: Gatehouse's own second
    /// factor (`org_id`'s policy, or a change to the account itself when `org_id` is null), or
    /// with `security_key`, a touch of a security key or passkey. Asked in place (step-up).
    #[error("{}", step_up_message(.security_key))]
    StepUpRequired {
        #[serde(default)]
        org_id: Option<i64>,
        #[serde(default)]
        security_key: bool,
    },
    /// A sensitive action, and the session last proved its owner too long ago.
    #[error("Confirm it is you: enter your password again to continue.")]
    ReauthenticationRequired,
    /// REST: no `Authorization: Bearer` key.
    #[error("Send an API key: Authorization: Bearer gth_…")]
    ApiKeyMissing,
    /// REST: a key that is malformed, fails its checksum, is unknown, or whose owner is no
    /// longer a member of its organization.
    #[error("This API key is not valid.")]
    ApiKeyInvalid,
    #[error("This API key has expired.")]
    ApiKeyExpired,
    #[error("This API key has been revoked.")]
    ApiKeyRevoked,
    /// REST: the key lacks the scope the endpoint needs.
    #[error("This API key does not have the {scope} scope.")]
    InsufficientScope { scope: String },
    /// REST: a body or query that is not well-formed (JSON syntax, a header).
    #[error("{message}")]
    BadRequest { message: String },
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("Send the body as application/json.")]
    UnsupportedMediaType,
    #[error("This method is not allowed here.")]
    MethodNotAllowed,
    #[error("This request did not come from Gatehouse's own pages.")]
    #[serde(rename = "cross_site_request")]
    CrossSite,
    /// REST: the `Idempotency-Key` was used before for another request (method, path, body).
    #[error("This Idempotency-Key was used for another request. Use a new key for a new request.")]
    IdempotencyKeyReused,
    /// REST: the first request with this `Idempotency-Key` is still running.
    #[error("A request with this Idempotency-Key is still running. Try again in a moment.")]
    IdempotencyKeyInUse,
    /// The database does not answer (stopped, restarting, unreachable): nothing was changed
    /// by this request; try again after `retry_after_secs`.
    #[error(
        "Gatehouse cannot reach its database right now. Try again in {retry_after_secs} seconds."
    )]
    DatabaseUnavailable { retry_after_secs: u64 },
    /// The database's disk is full: nothing was changed; writes resume once space is freed.
    #[error("Gatehouse's storage is full, so nothing can be saved right now. Try again later; the operator has been told.")]
    StorageFull { retry_after_secs: u64 },
    /// The server is at capacity for this kind of work (password hashing): try again soon.
    #[error("The server is busy. Try again in {retry_after_secs} seconds.")]
    Busy { retry_after_secs: u64 },
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// Transport-level failures of a server function call (network, decoding).
    #[error("Could not reach the server: {message}")]
    Transport { message: String },
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The stable machine-readable code, as in problem+json responses.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_input",
            Self::Conflict { .. } => "conflict",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::AccountDisabled => "account_disabled",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::TwoFactorRequired { .. } => "two_factor_required",
            Self::SsoRequired { .. } => "sso_required",
            Self::StepUpRequired { .. } => "step_up_required",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::SecondFactorLocked { .. } => "second_factor_locked",
            Self::ApiKeyMissing => "api_key_missing",
            Self::ApiKeyInvalid => "api_key_invalid",
            Self::ApiKeyExpired => "api_key_expired",
            Self::ApiKeyRevoked => "api_key_revoked",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::BadRequest { .. } => "bad_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::CrossSite => "cross_site_request",
            Self::Busy { .. } => "busy",
            Self::DatabaseUnavailable { .. } => "database_unavailable",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInUse => "idempotency_key_in_use",
            Self::StorageFull { .. } => "storage_full",
            Self::Internal => "internal",
            Self::Transport { .. } => "transport",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid { .. } | Self::IdempotencyKeyReused => 422,
            Self::Conflict { .. } | Self::IdempotencyKeyInUse => 409,
            Self::InvalidCredentials
            | Self::Unauthenticated
            | Self::ApiKeyMissing
            | Self::ApiKeyInvalid
            | Self::ApiKeyExpired
            | Self::ApiKeyRevoked => 401,
            Self::Forbidden
            | Self::AccountDisabled
            | Self::CrossSite
            | Self::TwoFactorRequired { .. }
            | Self::SsoRequired { .. }
            | Self::StepUpRequired { .. }
            | Self::ReauthenticationRequired
            | Self::InsufficientScope { .. } => 403,
            Self::BadRequest { .. } => 400,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::NotFound => 404,
            Self::RateLimited { .. } | Self::SecondFactorLocked { .. } => 429,
            Self::Busy { .. } | Self::DatabaseUnavailable { .. } | Self::StorageFull { .. } => 503,
            Self::Internal | Self::Transport { .. } => 500,
        }
    }

    /// The message to show next to `field`, if this error belongs to it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            Self::Invalid { field: f, message } | Self::Conflict { field: f, message }
                if f == field =>
            {
                Some(message.clone())
            }
            _ => None,
        }
    }
}

fn step_up_message(security_key: &bool) -> &'static str {
    if *security_key {
        "This organization accepts security keys and passkeys only: confirm it is you with a touch of yours to continue."
    } else {
        "Confirm it is you with your second factor to continue: this session was not signed in with one that counts here."
    }
}

fn two_factor_required_message(security_keys_only: &bool) -> &'static str {
    if *security_keys_only {
        "This organization requires a security key or passkey. Add one in your profile to continue."
    } else {
        "This organization requires two-factor authentication. Turn it on in your profile to continue."
    }
}

#[cfg(test)]
mod tests {
    use super::AppError;

    /// The `code` on the wire is the stable code of `code()`, for every variant.
    #[test]
    fn wire_code_is_the_stable_code() {
        let all = [
            AppError::invalid("f", "m"),
            AppError::conflict("f", "m"),
            AppError::InvalidCredentials,
            AppError::Unauthenticated,
            AppError::AccountDisabled,
            AppError::Forbidden,
            AppError::NotFound,
            AppError::RateLimited {
                retry_after_secs: 3,
            },
            AppError::TwoFactorRequired {
                security_keys_only: false,
            },
            AppError::TwoFactorRequired {
                security_keys_only: true,
            },
            AppError::SsoRequired { org_id: 7 },
            AppError::StepUpRequired {
                org_id: Some(7),
                security_key: true,
            },
            AppError::StepUpRequired {
                org_id: None,
                security_key: false,
            },
            AppError::ReauthenticationRequired,
            AppError::SecondFactorLocked {
                until: "2026-01-01 00:00 UTC".into(),
                retry_after_secs: 60,
            },
            AppError::ApiKeyMissing,
            AppError::ApiKeyInvalid,
            AppError::ApiKeyExpired,
            AppError::ApiKeyRevoked,
            AppError::InsufficientScope {
                scope: "members:write".into(),
            },
            AppError::BadRequest {
                message: "m".into(),
            },
            AppError::PayloadTooLarge,
            AppError::UnsupportedMediaType,
            AppError::MethodNotAllowed,
            AppError::CrossSite,
            AppError::Busy {
                retry_after_secs: 1,
            },
            AppError::DatabaseUnavailable {
                retry_after_secs: 5,
            },
            AppError::IdempotencyKeyReused,
            AppError::IdempotencyKeyInUse,
            AppError::StorageFull {
                retry_after_secs: 60,
            },
            AppError::Internal,
            AppError::Transport {
                message: "x".into(),
            },
        ];
        for err in all {
            let json = serde_json::to_value(&err).expect("serializes");
            assert_eq!(json["code"], err.code(), "{json}");
            let back: AppError = serde_json::from_value(json).expect("deserializes");
            assert_eq!(back, err);
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::MissingArg(msg) => {
                Self::invalid("form", format!("The form was incomplete: {msg}"))
            }
            other => Self::Transport {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::AppError;
    use axum::response::{IntoResponse, Response};
    use http::{header, HeaderValue, StatusCode};

    impl AppError {
        /// The RFC 9457 problem document of this error, as the REST API answers it.
        pub fn problem(&self) -> serde_json::Value {
            let status = self.status();
            let mut body = serde_json::json!({
                "type": "about:blank",
                "title": StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Error"),
                "status": status,
                "code": self.code(),
                "detail": self.to_string(),
            });
            if let Self::Invalid { field, .. } | Self::Conflict { field, .. } = self {
                body["field"] = serde_json::Value::String(field.clone());
            }
            body
        }

        pub fn retry_after(&self) -> Option<u64> {
            match self {
                Self::RateLimited { retry_after_secs }
                | Self::Busy { retry_after_secs }
                | Self::DatabaseUnavailable { retry_after_secs }
                | Self::StorageFull { retry_after_secs }
                | Self::SecondFactorLocked {
                    retry_after_secs, ..
                } => Some(*retry_after_secs),
                _ => None,
            }
        }
    }

    /// REST handlers return `Result<_, AppError>`: errors become problem+json.
    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status =
                StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/problem+json"),
                )],
                self.problem().to_string(),
            )
                .into_response();
            if let Some(secs) = self.retry_after() {
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            if matches!(self.status(), 401) {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"gatehouse\""),
                );
            }
            response
        }
    }

    /// A database error, as the person is told: the database out of reach and a full disk
    /// are theirs to retry (503 with `Retry-After`); anything else is ours (500).
    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            match classify(&err) {
                Some(unavailable) => {
                    tracing::warn!(error = %err, code = unavailable.code(), "database error");
                    unavailable
                }
                None => {
                    tracing::error!(error = %err, "database error");
                    AppError::Internal
                }
            }
        }
    }

    /// Seconds a client is asked to wait while the database is out of reach.
    pub const DATABASE_RETRY_AFTER_SECS: u64 = 5;
    /// ...and while its disk is full.
    pub const STORAGE_RETRY_AFTER_SECS: u64 = 60;

    /// The errors that mean "the database cannot be used now" rather than "this request is
    /// wrong": no connection in time, a connection that broke, the server shutting down or
    /// starting, a full disk (SQLite's SQLITE_FULL, PostgreSQL's disk_full).
    pub fn classify(err: &sqlx::Error) -> Option<AppError> {
        let unavailable = AppError::DatabaseUnavailable {
            retry_after_secs: DATABASE_RETRY_AFTER_SECS,
        };
        let full = AppError::StorageFull {
            retry_after_secs: STORAGE_RETRY_AFTER_SECS,
        };
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Some(unavailable),
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                let message = db.message();
                if code == "13" || code == "53100" || message.contains("database or disk is full") {
                    Some(full)
                } else if code.starts_with("08") || code.starts_with("57P") || code == "53300" {
                    // Connection exceptions, admin shutdown / crash shutdown / cannot connect
                    // now, too many connections.
                    Some(unavailable)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    impl From<sqlx::migrate::MigrateError> for AppError {
        fn from(err: sqlx::migrate::MigrateError) -> Self {
            tracing::error!(error = %err, "migration error");
            AppError::Internal
        }
    }

    impl From<tokio::task::JoinError> for AppError {
        fn from(err: tokio::task::JoinError) -> Self {
            tracing::error!(error = %err, "background task failed");
            AppError::Internal
        }
    }
}
