//! Extractors of the REST API: the key's caller, JSON bodies and queries that refuse unknown
//! fields, path ids (a malformed id finds nothing: 404). Each rejects with an [`AppError`],
//! so every failure is problem+json with a stable code.

use crate::api_keys::server::{authenticate, KeyActor};
use crate::auth::server::RequestMeta;
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Request bodies of the API are small; anything larger is refused with 413.
/// A scan result of 10,000 characters, each escaped as a surrogate pair (`\ud83d\ude00`, 12
/// bytes), fits; nothing else the API takes comes close.
pub const BODY_LIMIT: usize = 128 * 1024;
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

impl FromRequestParts<AppState> for KeyActor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .map(|v| v.to_str().map_err(|_| AppError::ApiKeyInvalid))
            .transpose()?;
        // The same client IP and User-Agent (already cut to length) a session would keep.
        let meta = RequestMeta::from_parts(parts, state.settings.trust_proxy_hops);
        authenticate(state, header, meta.ip, meta.user_agent.as_deref()).await
    }
}

/// A JSON body. Its type's `#[serde(deny_unknown_fields)]` turns a misspelt field into a 422.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::BadRequest {
                    message: rejection.body_text(),
                }
            }
        })?;
        // Every body of the API is an object; serde would also read a struct from an array.
        if bytes.trim_ascii_start().first() == Some(&b'[') {
            return Err(AppError::invalid("body", "The body must be a JSON object."));
        }
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|err| match err.classify() {
                serde_json::error::Category::Data => AppError::invalid("body", err.to_string()),
                _ => AppError::BadRequest {
                    message: format!("The body is not valid JSON: {err}"),
                },
            })
    }
}

/// A query string; unknown parameters are refused (422) when the type denies them.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|rejection| AppError::invalid("query", rejection.body_text()))
    }
}

/// Path parameters: an id that does not parse names nothing, so 404.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| AppError::NotFound)
    }
}

/// `limit`: 1–200, default 50.
pub fn page_limit(limit: Option<i64>) -> Result<i64, AppError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::invalid(
            "limit",
            format!("limit must be a whole number from 1 to {MAX_LIMIT}."),
        )),
    }
}

/// An integer field of a JSON body. JSON Schema counts `3.0` as the integer 3 (and clients in
/// languages without integers send it so); serde's `i64` would refuse it.
pub fn whole_number<'de, D>(deserializer: D) -> Result<i64, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{Error, Unexpected};
    match serde_json::Number::deserialize(deserializer)? {
        n if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
        n => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            _ => Err(D::Error::invalid_type(
                Unexpected::Other("a number that is not a whole number"),
                &"a whole number",
            )),
        },
    }
}

/// [`whole_number`] for an optional field (`null` or absent: `None`).
pub fn whole_number_opt<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Option::<Whole>::deserialize(deserializer)?.map(|w| w.0))
}

/// [`whole_number`] for each item of a list.
pub fn whole_numbers<'de, D>(deserializer: D) -> Result<Vec<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Vec::<Whole>::deserialize(deserializer)?
        .into_iter()
        .map(|w| w.0)
        .collect())
}

/// The error for a `cursor` a list did not give out (or that names a row no longer there).
pub fn bad_cursor() -> AppError {
    AppError::invalid("cursor", "That cursor is not one this list gave out.")
}
