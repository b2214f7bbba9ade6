//! The SCIM 2.0 endpoints under `/scim/v2` (RFC 7644): `Authorization: Bearer gths_…` (the
//! organization's token decides which organization), `application/scim+json` in and out,
//! SCIM errors. Handlers parse and call the service; what a token may do is the policy's.

use super::server::{self as scim, discovery, tokens, ListQuery, ScimActor, ScimError};
use crate::auth::server::RequestMeta;
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{header, StatusCode};
use serde_json::Value;

pub const BASE: &str = "/scim/v2";
const CONTENT_TYPE: &str = "application/scim+json";
const BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema))
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route(
            "/scim/v2/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/scim/v2/Groups", get(list_groups).post(create_group))
        .route(
            "/scim/v2/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .with_state(state)
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

fn error_response(error: &ScimError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = scim_json(status, &error.to_json());
    if error.status == 401 {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"scim\""),
        );
    }
    response
}

/// A request, taken apart: the token's actor, the query, the body.
struct Call {
    actor: ScimActor,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

impl Call {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn list_query(&self) -> Result<ListQuery, ScimError> {
        ListQuery::parse(
            self.param("filter"),
            self.param("startIndex"),
            self.param("count"),
            self.param("attributes"),
            self.param("excludedAttributes"),
        )
    }

    fn body(&self) -> Result<&Value, ScimError> {
        self.body.as_ref().ok_or_else(|| {
            ScimError::bad_request("invalidSyntax", "The request needs a JSON body.")
        })
    }
}

async fn call(state: &AppState, request: Request) -> Result<Call, ScimError> {
    let (parts, body) = request.into_parts();
    let meta = RequestMeta::from_parts(&parts, state.settings.trust_proxy_hops);
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let actor = tokens::authenticate(state, authorization, meta.ip.clone()).await?;
    let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ScimError::bad_request("invalidSyntax", "The request body is larger than 1 MB.")
    })?;
    let body = if bytes.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::bad_request("invalidSyntax", format!("The body is not JSON: {e}."))
        })?)
    };
    Ok(Call {
        actor,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        body,
    })
}

/// Runs `work` for an authenticated request and answers in SCIM's terms; a refusal is kept
/// for the Provisioning panel.
async fn answer<F, Fut>(state: AppState, request: Request, success: StatusCode, work: F) -> Response
where
    F: FnOnce(AppState, Call) -> Fut,
    Fut: std::future::Future<Output = (Call, Result<Option<Value>, ScimError>)>,
{
    let call = match call(&state, request).await {
        Ok(call) => call,
        Err(error) => return error_response(&error),
    };
    let (call, outcome) = work(state.clone(), call).await;
    match outcome {
        Ok(Some(body)) => scim_json(success, &body),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => {
            if error.status >= 500 {
                tracing::error!(status = error.status, detail = %error.detail, "SCIM request failed");
            } else if let Err(e) =
                tokens::record_error(&state, call.actor.org_id, &call.method, &call.path, &error)
                    .await
            {
                tracing::warn!(error = %e, "could not keep a SCIM error for the panel");
            }
            error_response(&error)
        }
    }
}

macro_rules! handler {
    ($name:ident, $status:expr, |$state:ident, $call:ident| $body:expr) => {
        async fn $name(State(state): State<AppState>, request: Request) -> Response {
            answer(state, request, $status, |$state, $call| async move {
                let outcome = $body;
                ($call, outcome)
            })
            .await
        }
    };
    ($name:ident, $status:expr, |$state:ident, $call:ident, $id:ident| $body:expr) => {
        async fn $name(
            State(state): State<AppState>,
            Path($id): Path<String>,
            request: Request,
        ) -> Response {
            answer(state, request, $status, |$state, $call| async move {
                let outcome = $body;
                ($call, outcome)
            })
            .await
        }
    };
}

handler!(service_provider_config, StatusCode::OK, |state, call| {
    let _ = &call;
    Ok::<_, ScimError>(Some(discovery::service_provider_config(&scim::base_url(
        &state,
    ))))
});
handler!(resource_types, StatusCode::OK, |state, call| {
    let _ = &call;
    Ok::<_, ScimError>(Some(discovery::list(discovery::resource_types(
        &scim::base_url(&state),
    ))))
});
handler!(resource_type, StatusCode::OK, |state, call, id| {
    let _ = &call;
    discovery::resource_types(&scim::base_url(&state))
        .into_iter()
        .find(|t| t["id"] == Value::String(id.clone()))
        .map(Some)
        .ok_or_else(|| ScimError::not_found("ResourceType"))
});
handler!(schemas, StatusCode::OK, |state, call| {
    let _ = &call;
    Ok::<_, ScimError>(Some(discovery::list(discovery::schemas(&scim::base_url(
        &state,
    )))))
});
handler!(schema, StatusCode::OK, |state, call, id| {
    let _ = &call;
    discovery::schemas(&scim::base_url(&state))
        .into_iter()
        .find(|s| s["id"] == Value::String(id.clone()))
        .map(Some)
        .ok_or_else(|| ScimError::not_found("Schema"))
});

handler!(list_users, StatusCode::OK, |state, call| {
    match call.list_query() {
        Ok(query) => scim::list_users(&state, &call.actor, &query)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(create_user, StatusCode::CREATED, |state, call| {
    match call.body() {
        Ok(body) => scim::create_user(&state, &call.actor, body).await.map(Some),
        Err(e) => Err(e),
    }
});
handler!(get_user, StatusCode::OK, |state, call, id| {
    scim::get_user(&state, &call.actor, &id).await.map(Some)
});
handler!(replace_user, StatusCode::OK, |state, call, id| {
    match call.body() {
        Ok(body) => scim::replace_user(&state, &call.actor, &id, body)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(patch_user, StatusCode::OK, |state, call, id| {
    match call.body() {
        Ok(body) => scim::patch_user(&state, &call.actor, &id, body)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(delete_user, StatusCode::NO_CONTENT, |state, call, id| {
    scim::delete_user(&state, &call.actor, &id)
        .await
        .map(|()| None)
});

handler!(list_groups, StatusCode::OK, |state, call| {
    match call.list_query() {
        Ok(query) => scim::list_groups(&state, &call.actor, &query)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(create_group, StatusCode::CREATED, |state, call| {
    match call.body() {
        Ok(body) => scim::create_group(&state, &call.actor, body)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(get_group, StatusCode::OK, |state, call, id| {
    match call.list_query() {
        Ok(query) => scim::get_group(&state, &call.actor, &id, &query)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(replace_group, StatusCode::OK, |state, call, id| {
    match call.body() {
        Ok(body) => scim::replace_group(&state, &call.actor, &id, body)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(patch_group, StatusCode::OK, |state, call, id| {
    match call.body() {
        Ok(body) => scim::patch_group(&state, &call.actor, &id, body)
            .await
            .map(Some),
        Err(e) => Err(e),
    }
});
handler!(delete_group, StatusCode::NO_CONTENT, |state, call, id| {
    scim::delete_group(&state, &call.actor, &id)
        .await
        .map(|()| None)
});
