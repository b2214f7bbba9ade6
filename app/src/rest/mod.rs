//! The REST API under `/api/v1` (SPEC.md "REST API"): JSON in and out, `Authorization:
//! Bearer gth_…`, problem+json errors with stable codes, cursor pagination.
//!
//! Each capability holds its own handlers (`members::rest`, `groups::rest`, …); this module
//! joins them, serves the OpenAPI document generated from their annotations, and holds the
//! shared extractors. Handlers only parse, check the key's scope and call the same services
//! the pages use, so the role checks of the policy module apply unchanged.

pub mod extract;
pub mod idempotency;
pub mod streaming;

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::{header, StatusCode};
use serde::Serialize;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub use extract::{page_limit, ApiJson, ApiPath, ApiQuery, BODY_LIMIT};
pub use streaming::RollingDeadline;

pub const BASE: &str = "/api/v1";

/// An error, as every endpoint answers it (`application/problem+json`, RFC 9457).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` says what happened.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: String,
    #[schema(example = "Forbidden")]
    pub title: String,
    #[schema(example = 403)]
    pub status: u16,
    /// Stable, for programs: `api_key_invalid`, `insufficient_scope`, `two_factor_required`,
    /// `not_found`, `invalid_input`, `conflict`, `rate_limited`, ...
    #[schema(example = "insufficient_scope")]
    pub code: String,
    /// For people.
    #[schema(example = "This API key does not have the members:write scope.")]
    pub detail: String,
    /// The input field a 422 or 409 is about.
    pub field: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse REST API",
        version = "1",
        description = "Everything an organization admin does in Gatehouse's pages, for scripts. \
            Authenticate with a personal API key from your profile page: \
            `Authorization: Bearer gth_…`. A request may do what the key's scopes and your \
            current role both allow. Lists take `limit` (1–200, default 50) and `cursor` \
            (the previous page's `next_cursor`)."
    ),
    components(schemas(Problem)),
    tags(
        (name = "me", description = "The key and its owner"),
        (name = "organization"),
        (name = "members"),
        (name = "invitations"),
        (name = "groups"),
        (name = "billing"),
        (name = "audit"),
        (name = "scans", description = "Scans, and the runner API: claim, heartbeat, finish"),
    )
)]
struct ApiDoc;

/// The documented routes of every capability.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::api_keys::rest::routes())
        .merge(crate::orgs::rest::routes())
        .merge(crate::policy_impact::rest::routes())
        .merge(crate::members::rest::routes())
        .merge(crate::invitations::rest::routes())
        .merge(crate::groups::rest::routes())
        .merge(crate::integrations::rest::routes())
        .merge(crate::billing::rest::routes())
        .merge(crate::audit::rest::routes())
        .merge(crate::scans::rest::routes())
}

fn split() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(BASE, documented())
        .split_for_parts();
    document_security_and_problems(&mut doc);
    (router, doc)
}

/// The OpenAPI 3.1 document of the API, as `/api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split().1
}

/// The API's routes, for the server to merge into its router. Every endpoint comes from
/// [`documented`], so the router serves exactly what the document lists (plus the document
/// itself and a problem+json 404 for unknown paths).
pub fn router(state: AppState) -> axum::Router {
    let (router, doc) = split();
    let json: Arc<str> = match doc.to_json() {
        Ok(json) => json.into(),
        Err(err) => {
            tracing::error!(error = %err, "serializing the OpenAPI document");
            "{}".into()
        }
    };
    router
        .route(
            &format!("{BASE}/openapi.json"),
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        json.to_string(),
                    )
                }
            }),
        )
        .route(BASE, any(unknown_route))
        .route(&format!("{BASE}/{{*rest}}"), any(unknown_route))
        .layer(axum::middleware::map_response(bare_errors_as_problems))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn unknown_route() -> AppError {
    AppError::NotFound
}

/// axum answers a wrong method with an empty 405: make it problem+json like the rest.
async fn bare_errors_as_problems(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut problem = AppError::MethodNotAllowed.into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}

/// Bearer auth on every operation, and the problem responses any operation may give.
fn document_security_and_problems(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("gth_ + 36 characters")
                .description(Some("A personal API key from the profile page."))
                .build(),
        ),
    );
    doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
        "api_key",
        Vec::<String>::new(),
    )]);
    let problems = [
        ("400", "The body is not valid JSON."),
        (
            "401",
            "No key, or a malformed, unknown, expired or revoked key.",
        ),
        (
            "403",
            "The key lacks the scope, the role does not allow it, two_factor_required, or account_disabled.",
        ),
        ("404", "Nothing with this id in the key's organization."),
        ("413", "The body is larger than 128 KiB."),
        ("415", "The body is not application/json."),
        (
            "422",
            "Invalid input: `field` names it; unknown fields are refused.",
        ),
        (
            "429",
            "The key's request budget is spent: wait Retry-After seconds.",
        ),
        (
            "503",
            "database_unavailable (the database does not answer) or storage_full: nothing was changed; wait Retry-After seconds.",
        ),
    ];
    // POSTs take an Idempotency-Key (see `idempotency`).
    let idempotency_key = utoipa::openapi::path::ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(utoipa::openapi::path::ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(
            "Any unique string (a UUID): the same request sent again with the same key within \
             24 hours gets the first answer (header `Idempotent-Replayed: true`) instead of \
             making a second change. The same key with another body is 422 \
             `idempotency_key_reused`; while the first request still runs, 409 \
             `idempotency_key_in_use`.",
        ))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
        ))
        .build();
    for item in doc.paths.paths.values_mut() {
        if let Some(post) = item.post.as_mut() {
            post.parameters
                .get_or_insert_with(Vec::new)
                .push(idempotency_key.clone());
            post.responses.responses.entry("409".to_string()).or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description("idempotency_key_in_use: the first request with this Idempotency-Key still runs.")
                        .build(),
                )
            });
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            // Every error a handler documents itself (a 409 …) is a problem document too.
            for (status, response) in op.responses.responses.iter_mut() {
                if let (true, RefOr::T(response)) = (status.starts_with('4'), response) {
                    response.content = [(
                        "application/problem+json".to_string(),
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                            .build(),
                    )]
                    .into_iter()
                    .collect();
                }
            }
            for (status, description) in problems {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/problem+json",
                                    utoipa::openapi::ContentBuilder::new()
                                        .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                            "Problem",
                                        )))
                                        .build(),
                                )
                                .build(),
                        )
                    });
            }
        }
    }
}
