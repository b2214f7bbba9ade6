//! Audit log downloads: the filtered log as CSV or JSON Lines, streamed a batch of events at a
//! time (constant memory, whatever the size of the log). The page's **Download** links use
//! `GET /audit/export` with the session; the REST API answers `GET /api/v1/audit-events` with
//! `Accept: text/csv` or `application/x-ndjson` the same way.

use super::model::AuditFilter;
use super::read::{Criteria, EventRow};
use crate::error::AppError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue};
use serde::Deserialize;

/// Events read per query while streaming.
const BATCH: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// The export an `Accept` header asks for, if any: the first of its types that Gatehouse
    /// serves decides (`application/json` or `*/*` first: the JSON page).
    pub fn from_accept(accept: &str) -> Option<Self> {
        accept
            .split(',')
            .find_map(
                |part| match part.split(';').next().unwrap_or_default().trim() {
                    "text/csv" => Some(Some(Self::Csv)),
                    "application/x-ndjson" | "application/jsonl" => Some(Some(Self::JsonLines)),
                    "application/json" | "application/*" | "*/*" => Some(None),
                    _ => None,
                },
            )
            .flatten()
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::JsonLines => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }
}

/// After the event's own columns, what its place in the hash chain needs: the stored details
/// above are the text the hash covers (see `scripts/verify-audit-export.py`).
const CSV_HEADER: &str =
    "id,time,actor,actor_email,action,target,ip,details,org_id,actor_user_id,created_at,seq,hash\r\n";

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// One CSV field (RFC 4180). A value a spreadsheet would run as a formula (a name like
/// `=HYPERLINK(…)`) is prefixed with `'`, so opening the export cannot execute it.
fn csv_field(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || value.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

fn encode(format: Format, rows: &[EventRow], out: &mut String) {
    for row in rows {
        match format {
            Format::Csv => {
                let fields = [
                    row.id.to_string(),
                    rfc3339(row.created_at),
                    row.actor_label(),
                    row.email.clone().unwrap_or_default(),
                    row.action.clone(),
                    row.target.clone(),
                    row.ip.clone().unwrap_or_default(),
                    row.details.clone(),
                    row.org_id.map(|v| v.to_string()).unwrap_or_default(),
                    row.actor_user_id.map(|v| v.to_string()).unwrap_or_default(),
                    row.created_at.to_string(),
                    row.seq.map(|v| v.to_string()).unwrap_or_default(),
                    row.hash.clone().unwrap_or_default(),
                ];
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_field(out, field);
                }
                out.push_str("\r\n");
            }
            Format::JsonLines => {
                let details: serde_json::Value =
                    serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null);
                let line = serde_json::json!({
                    "id": row.id,
                    "time": rfc3339(row.created_at),
                    "actor": row.actor_label(),
                    "actor_email": row.email,
                    "action": row.action,
                    "target": row.target,
                    "ip": row.ip,
                    "details": details,
                    // The hash chain: the stored text of the details is what the hash covers.
                    "org_id": row.org_id,
                    "actor_user_id": row.actor_user_id,
                    "created_at": row.created_at,
                    "details_text": row.details,
                    "seq": row.seq,
                    "hash": row.hash,
                });
                out.push_str(&line.to_string());
                out.push('\n');
            }
        }
    }
}

/// The filtered log from the event before `before` (a cursor; `i64::MAX` for the newest)
/// down to the oldest, as a streamed download. Each chunk is one batch of
/// events read by keyset (one index range each); a database error mid-way ends the body
/// early, which the client sees as an incomplete download (and the server logs).
pub fn download(
    state: &AppState,
    criteria: Criteria,
    before: i64,
    format: Format,
    name: &str,
) -> Response {
    let pool = state.db.pool.clone();
    let start = (Some(before), true);
    let chunks = futures::stream::try_unfold(start, move |(before, first)| {
        let (pool, criteria) = (pool.clone(), criteria.clone());
        async move {
            let Some(before) = before else {
                return Ok(None);
            };
            let rows = criteria.fetch(&pool, before, BATCH).await.map_err(|e| {
                tracing::error!(error = %e, "audit export stopped");
                std::io::Error::other("audit export stopped")
            })?;
            let mut out = String::new();
            if first && format == Format::Csv {
                out.push_str(CSV_HEADER);
            }
            encode(format, &rows, &mut out);
            let next = (rows.len() as i64 == BATCH)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            Ok::<_, std::io::Error>(Some((Bytes::from(out), (next, false))))
        }
    });
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A million events take seconds; they must not be cut off at the response deadline.
    response
        .extensions_mut()
        .insert(crate::rest::streaming::RollingDeadline);
    response
}

/// The file name of an organization's export: `audit-<org id>-<date>`.
pub fn file_name(state: &AppState, org_id: i64) -> String {
    format!("audit-{org_id}-{}", crate::dates::iso_date(state.now()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    org_id: i64,
    format: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `GET /audit/export?org_id=…&format=csv|jsonl&actor=…&action=…&from=…&to=…`: the page's
/// Download links, with the session cookie.
async fn export_for_session(
    State(state): State<AppState>,
    parts: http::request::Parts,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|e| AppError::BadRequest {
        message: e.body_text(),
    })?;
    let format = match query.format.as_str() {
        "csv" => Format::Csv,
        "jsonl" => Format::JsonLines,
        _ => return Err(AppError::invalid("format", "Choose csv or jsonl.")),
    };
    let meta =
        crate::auth::server::RequestMeta::from_parts(&parts, state.settings.trust_proxy_hops);
    let actor = crate::auth::server::org_actor_of(&state, &meta, query.org_id).await?;
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        from: query.from,
        to: query.to,
    };
    let criteria = Criteria::parse(&actor, &filter)?;
    let name = file_name(&state, actor.org_id);
    Ok(download(&state, criteria, i64::MAX, format, &name))
}

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/audit/export", axum::routing::get(export_for_session))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let field = |v: &str| {
            let mut out = String::new();
            csv_field(&mut out, v);
            out
        };
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field(""), "");
    }

    #[test]
    fn accept_headers_choose_the_export() {
        assert_eq!(Format::from_accept("text/csv"), Some(Format::Csv));
        assert_eq!(
            Format::from_accept("application/x-ndjson; q=1"),
            Some(Format::JsonLines)
        );
        assert_eq!(
            Format::from_accept("text/html, text/csv;q=0.5"),
            Some(Format::Csv)
        );
        assert_eq!(Format::from_accept("application/json, text/csv"), None);
        assert_eq!(Format::from_accept("application/json"), None);
        assert_eq!(Format::from_accept("*/*"), None);
    }
}
