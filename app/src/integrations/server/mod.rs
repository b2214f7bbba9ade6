//! Integration settings and the outbox of group events.

pub mod delivery;

use super::model::{DeliveryRow, FailingGroup, IntegrationsView, Kind, DELIVERIES_SHOWN};
use crate::auth::server::Actor;
use crate::domain::Email;
use crate::error::AppError;
use crate::state::AppState;

/// One integration's settings from a form, parsed. `secret: None` keeps the stored secret.
#[derive(Debug, Clone)]
pub struct IntegrationInput {
    pub kind: Kind,
    pub enabled: bool,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub recipients: Option<String>,
}

fn parse_url(raw: &str, field: &str) -> Result<String, AppError> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| {
        AppError::invalid(
            field,
            "Enter a full URL, like https://example.com/hooks/gatehouse.",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::invalid(
            field,
            "The URL must start with https:// (or http://).",
        ));
    }
    Ok(url.to_string())
}

impl IntegrationInput {
    /// Parses one integration's fields; a switched-on integration needs its settings.
    pub fn parse(
        kind: Kind,
        enabled: bool,
        url: Option<&str>,
        secret: Option<&str>,
        recipients: Option<&str>,
    ) -> Result<Self, AppError> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let (url_field, secret_field, recipients_field) = match kind {
            Kind::Webhook => ("webhook_url", "webhook_secret", ""),
            Kind::Slack => ("slack_url", "", ""),
            Kind::Email => ("", "", "email_recipients"),
        };
        let url = given(url).map(|u| parse_url(&u, url_field)).transpose()?;
        if kind == Kind::Slack {
            let is_slack = url
                .as_deref()
                .and_then(|u| reqwest::Url::parse(u).ok())
                .is_none_or(|u| crate::outbound::is_slack_webhook(&u));
            if !is_slack {
                return Err(AppError::invalid(
                    url_field,
                    "Use the incoming webhook URL Slack gives you: https://hooks.slack.com/services/…",
                ));
            }
        }
        let secret = given(secret);
        if let Some(s) = &secret {
            if s.len() < 16 {
                return Err(AppError::invalid(
                    secret_field,
                    "Use a signing secret of at least 16 characters.",
                ));
            }
        }
        let recipients = given(recipients)
            .map(|list| {
                let parsed = list
                    .split([',', '\n', ';'])
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(|e| Email::parse(e).map(|e| e.as_str().to_string()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        AppError::invalid(
                            recipients_field,
                            "Separate email addresses with commas; one of them is not valid.",
                        )
                    })?;
                if parsed.len() > 20 {
                    return Err(AppError::invalid(
                        recipients_field,
                        "At most 20 recipients.",
                    ));
                }
                Ok(parsed.join(", "))
            })
            .transpose()?;
        if enabled {
            match kind {
                Kind::Webhook if url.is_none() => {
                    return Err(AppError::invalid(
                        url_field,
                        "Enter the webhook's URL to turn it on.",
                    ))
                }
                Kind::Slack if url.is_none() => {
                    return Err(AppError::invalid(
                        url_field,
                        "Enter the Slack incoming webhook URL to turn it on.",
                    ))
                }
                Kind::Email if recipients.is_none() => {
                    return Err(AppError::invalid(
                        recipients_field,
                        "Enter at least one email address to turn it on.",
                    ))
                }
                _ => {}
            }
        }
        Ok(Self {
            kind,
            enabled,
            url,
            secret,
            recipients,
        })
    }
}

/// Checks that the integrations' URLs point outside private networks (see
/// [`crate::outbound`]). Call it before a transaction: it may look names up.
pub async fn check_destinations(
    state: &AppState,
    inputs: &[IntegrationInput],
) -> Result<(), AppError> {
    for input in inputs {
        let (Some(url), field) = (
            input.url.as_deref(),
            match input.kind {
                Kind::Webhook => "webhook_url",
                Kind::Slack => "slack_url",
                Kind::Email => continue,
            },
        ) else {
            continue;
        };
        let url = reqwest::Url::parse(url).map_err(|_| {
            AppError::invalid(
                field,
                "Enter a full URL, like https://example.com/hooks/gatehouse.",
            )
        })?;
        crate::outbound::check_field(&state.outbound.policy, &url, field).await?;
    }
    Ok(())
}

fn secret_context(group_id: i64, kind: Kind) -> String {
    format!("integration:{group_id}:{}", kind.as_str())
}

/// Stores one integration. The webhook's signing secret and the Slack URL (which carries its
/// token) are encrypted; an empty secret field keeps the stored one.
/// Saves one integration of a group for `actor` (who must be allowed to edit the group), and
/// audits it.
pub async fn save_for_group(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    input: &IntegrationInput,
) -> Result<(), AppError> {
    crate::groups::access::authorize_edit(state, actor, group_id).await?;
    check_destinations(state, std::slice::from_ref(input)).await?;
    let mut tx = state.db.begin().await?;
    save(state, &mut tx, group_id, input).await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("group.integration_saved", format!("group:{group_id}"))
            .details(serde_json::json!({ "kind": input.kind.as_str(), "enabled": input.enabled })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn save(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    group_id: i64,
    input: &IntegrationInput,
) -> Result<(), AppError> {
    let context = secret_context(group_id, input.kind);
    let (url, secret) = match input.kind {
        Kind::Webhook => (
            input.url.clone(),
            input
                .secret
                .as_ref()
                .map(|s| state.secret_key.encrypt(s.as_bytes(), &context)),
        ),
        Kind::Slack => (
            None,
            input
                .url
                .as_ref()
                .map(|u| state.secret_key.encrypt(u.as_bytes(), &context)),
        ),
        Kind::Email => (None, None),
    };
    let existing: Option<(Option<String>,)> =
        sqlx::query_as("SELECT secret FROM group_integrations WHERE group_id = $1 AND kind = $2")
            .bind(group_id)
            .bind(input.kind.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let secret = secret.or_else(|| existing.clone().and_then(|e| e.0));
    if input.enabled && input.kind == Kind::Webhook && secret.is_none() {
        return Err(AppError::invalid(
            "webhook_secret",
            "Set a signing secret: receivers check the signature with it.",
        ));
    }
    let now = state.now();
    if existing.is_some() {
        sqlx::query(
            "UPDATE group_integrations SET enabled = $1, url = $2, secret = $3, recipients = $4, updated_at = $5
             WHERE group_id = $6 AND kind = $7",
        )
        .bind(i64::from(input.enabled))
        .bind(&url)
        .bind(&secret)
        .bind(&input.recipients)
        .bind(now)
        .bind(group_id)
        .bind(input.kind.as_str())
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO group_integrations (group_id, kind, enabled, url, secret, recipients, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(group_id)
        .bind(input.kind.as_str())
        .bind(i64::from(input.enabled))
        .bind(&url)
        .bind(&secret)
        .bind(&input.recipients)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// (group id, label) of the integrations that are on, for a page of groups.
pub async fn enabled_kinds(
    state: &AppState,
    group_ids: &[i64],
) -> Result<Vec<(i64, String)>, AppError> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    // A page holds at most 50 ids, all integers: safe to inline.
    let list = group_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT group_id, kind FROM group_integrations WHERE enabled = 1 AND group_id IN ({list})
         ORDER BY group_id, kind"
    ))
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(g, k)| Kind::parse(&k).map(|k| (g, k.label().to_string())))
        .collect())
}

pub struct Stored {
    pub enabled: bool,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub recipients: Option<String>,
}

/// One integration's stored settings, secrets decrypted.
pub async fn load(state: &AppState, group_id: i64, kind: Kind) -> Result<Option<Stored>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        enabled: i64,
        url: Option<String>,
        secret: Option<String>,
        recipients: Option<String>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT enabled, url, secret, recipients FROM group_integrations WHERE group_id = $1 AND kind = $2",
    )
    .bind(group_id)
    .bind(kind.as_str())
    .fetch_optional(&state.db.pool)
    .await?;
    let context = secret_context(group_id, kind);
    Ok(row.map(|row| {
        let secret = row
            .secret
            .and_then(|s| state.secret_key.decrypt(&s, &context))
            .and_then(|b| String::from_utf8(b).ok());
        Stored {
            enabled: row.enabled == 1,
            url: row.url,
            secret,
            recipients: row.recipients,
        }
    }))
}

pub async fn view(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
) -> Result<IntegrationsView, AppError> {
    crate::policy::authorize(actor.role, crate::policy::Action::ViewMembers)?;
    let (exists,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM groups WHERE id = $1 AND org_id = $2")
            .bind(group_id)
            .bind(actor.org_id)
            .fetch_one(&state.db.pool)
            .await?;
    if exists == 0 {
        return Err(AppError::NotFound);
    }
    let member_of_group =
        crate::groups::access::is_member_of(state, group_id, actor.user_id).await?;
    let can_edit = crate::policy::allows(
        actor.role,
        crate::policy::Action::EditGroup { member_of_group },
    );
    let webhook = load(state, group_id, Kind::Webhook).await?;
    let slack = load(state, group_id, Kind::Slack).await?;
    let email = load(state, group_id, Kind::Email).await?;
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        kind: String,
        event: String,
        status: String,
        attempts: i64,
        response_status: Option<i64>,
        latency_ms: Option<i64>,
        error: Option<String>,
        created_at: i64,
    }
    let enabled = |s: &Option<Stored>| s.as_ref().is_some_and(|s| s.enabled);
    if !can_edit {
        // Receivers' addresses, recipients and delivery errors are for those who may change
        // them: everyone else sees which integrations are on.
        return Ok(IntegrationsView {
            webhook_enabled: enabled(&webhook),
            webhook_url: String::new(),
            webhook_secret_set: false,
            slack_enabled: enabled(&slack),
            slack_hint: None,
            email_enabled: enabled(&email),
            email_recipients: String::new(),
            can_edit,
            deliveries: Vec::new(),
        });
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, event, status, attempts, response_status, latency_ms, error, created_at
         FROM deliveries WHERE group_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(group_id)
    .bind(DELIVERIES_SHOWN)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(IntegrationsView {
        webhook_enabled: webhook.as_ref().is_some_and(|w| w.enabled),
        webhook_url: webhook
            .as_ref()
            .and_then(|w| w.url.clone())
            .unwrap_or_default(),
        webhook_secret_set: webhook.as_ref().is_some_and(|w| w.secret.is_some()),
        slack_enabled: slack.as_ref().is_some_and(|s| s.enabled),
        slack_hint: slack.as_ref().and_then(|s| s.secret.as_ref()).map(|url| {
            let tail: String = url
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("…{tail}")
        }),
        email_enabled: email.as_ref().is_some_and(|e| e.enabled),
        email_recipients: email.and_then(|e| e.recipients).unwrap_or_default(),
        can_edit,
        deliveries: rows
            .into_iter()
            .filter_map(|r| {
                Some(DeliveryRow {
                    id: r.id,
                    kind: Kind::parse(&r.kind)?,
                    event: r.event,
                    status: r.status,
                    attempts: r.attempts,
                    response_status: r.response_status,
                    latency_ms: r.latency_ms,
                    error: r.error,
                    created: crate::dates::date_time(r.created_at),
                })
            })
            .collect(),
    })
}

/// Queues `event` for each enabled integration of the group, in the caller's transaction:
/// the event is delivered if and only if the change commits.
pub async fn enqueue(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    group_id: i64,
    event: &str,
    data: serde_json::Value,
) -> Result<(), AppError> {
    let now = state.now();
    let payload = serde_json::json!({
        "event": event,
        "group_id": group_id,
        "occurred_at": now,
        "data": data,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO deliveries (group_id, kind, event, payload, status, attempts, next_attempt_at, created_at, updated_at)
         SELECT group_id, kind, $2, $3, 'pending', 0, $4, $4, $4
         FROM group_integrations WHERE group_id = $1 AND enabled = 1",
    )
    .bind(group_id)
    .bind(event)
    .bind(payload)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The organization's groups whose deliveries failed since `since`, most failures first.
pub async fn failing_since(
    state: &AppState,
    org_id: i64,
    since: i64,
) -> Result<Vec<FailingGroup>, AppError> {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT g.id, g.name, COUNT(*) FROM deliveries d JOIN groups g ON g.id = d.group_id
         WHERE g.org_id = $1 AND d.status = 'failed' AND d.updated_at >= $2
         GROUP BY g.id, g.name ORDER BY COUNT(*) DESC, g.name LIMIT 20",
    )
    .bind(org_id)
    .bind(since)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(group_id, name, failed)| FailingGroup {
            group_id,
            name,
            failed,
        })
        .collect())
}
