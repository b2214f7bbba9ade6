//! Verified domains on the server: adding one (with a fresh token), **Verify** (the TXT
//! look-up, and the take-over of a domain another organization had verified), removing one,
//! and the question every trust decision asks: which organization speaks for this domain?

use super::dns::LookupError;
use super::model::{record_name, record_value, DomainEntry, DomainStatus, DomainsView};
use crate::audit;
use crate::auth::server::Actor;
use crate::dates::date_time;
use crate::domain::DomainName;
use crate::error::AppError;
use crate::policy::{authorize, Action};
use crate::state::AppState;
use rand::RngCore;

/// More than any organization needs; keeps the panel and its look-ups bounded.
pub const MAX_DOMAINS: i64 = 50;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    domain: String,
    token: String,
    verified_at: Option<i64>,
    checked_at: Option<i64>,
    check_error: Option<String>,
    lost_at: Option<i64>,
    sso_allowed: i64,
}

const SELECT: &str = "SELECT d.id, d.domain, d.token, d.verified_at, d.checked_at, d.check_error,
        d.lost_at,
        CASE WHEN s.domain IS NULL THEN 0 ELSE 1 END AS sso_allowed
     FROM org_domains d
     LEFT JOIN sso_domains s ON s.org_id = d.org_id AND s.domain = d.domain";

fn entry(org_id: i64, row: Row) -> DomainEntry {
    let status = match (row.verified_at, row.lost_at) {
        (Some(at), _) => DomainStatus::Verified {
            since: date_time(at),
        },
        (None, Some(at)) => DomainStatus::TakenOver { at: date_time(at) },
        (None, None) => DomainStatus::Pending,
    };
    DomainEntry {
        id: row.id,
        record_name: record_name(org_id, &row.domain),
        record_value: record_value(&row.token),
        domain: row.domain,
        status,
        checked: row.checked_at.map(date_time),
        check_error: row.check_error,
        sso_allowed: row.sso_allowed == 1,
    }
}

pub async fn view(state: &AppState, actor: &Actor) -> Result<DomainsView, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} WHERE d.org_id = $1 ORDER BY d.domain"))
        .bind(actor.org_id)
        .fetch_all(&state.db.pool)
        .await?;
    Ok(DomainsView {
        org_id: actor.org_id,
        domains: rows.into_iter().map(|r| entry(actor.org_id, r)).collect(),
    })
}

async fn one(state: &AppState, org_id: i64, id: i64) -> Result<DomainEntry, AppError> {
    let row: Row = sqlx::query_as(&format!("{SELECT} WHERE d.id = $1 AND d.org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(entry(org_id, row))
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Adds a domain to verify; answers it with the record to publish.
pub async fn add(
    state: &AppState,
    actor: &Actor,
    domain: DomainName,
) -> Result<DomainEntry, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    crate::orgs::store::lock_org(&mut tx, actor.org_id).await?;
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM org_domains WHERE org_id = $1")
        .bind(actor.org_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_DOMAINS {
        return Err(AppError::conflict(
            "domain",
            format!("An organization has at most {MAX_DOMAINS} domains. Remove one first."),
        ));
    }
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO org_domains (org_id, domain, token, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(actor.org_id)
    .bind(domain.as_str())
    .bind(new_token())
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let (id,) = match inserted {
        Ok(row) => row,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(AppError::conflict(
                "domain",
                format!("{domain} is already on the list."),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        state,
        actor
            .event("org.domain_added", format!("domain:{domain}"))
            .details(serde_json::json!({ "domain": domain.as_str() })),
    )
    .await?;
    tx.commit().await?;
    one(state, actor.org_id, id).await
}

/// Why a Verify did not pass, in the words the panel shows.
fn failure_words(name: &str, err: &LookupError) -> String {
    match err {
        LookupError::NoRecord => format!(
            "No TXT record at {name} yet. Publish it with the value above; DNS changes can take \
             a few minutes to reach every server."
        ),
        LookupError::Failed(why) => format!(
            "The DNS look-up of {name} failed ({why}). Nothing was changed; try again in a few minutes."
        ),
    }
}

/// **Verify**: looks the record up and, when it carries this organization's value, marks the
/// domain verified, taking it over from another organization that had verified it. A check
/// that fails is recorded with its reason (shown on the panel) and changes nothing else.
pub async fn verify(state: &AppState, actor: &Actor, id: i64) -> Result<DomainEntry, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let (domain, token): (String, String) =
        sqlx::query_as("SELECT domain, token FROM org_domains WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(actor.org_id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or(AppError::NotFound)?;
    let name = record_name(actor.org_id, &domain);
    let expected = record_value(&token);
    let found = state.dns.txt(&name).await;
    let failure = match &found {
        Ok(values) if values.iter().any(|v| v.trim() == expected) => None,
        Ok(values) => {
            let shown: Vec<String> = values
                .iter()
                .take(3)
                .map(|v| format!("\"{}\"", v.chars().take(100).collect::<String>()))
                .collect();
            Some(format!(
                "The TXT record at {name} says {}, not \"{expected}\". Change it to the value above.",
                shown.join(", ")
            ))
        }
        Err(err) => Some(failure_words(&name, err)),
    };
    let now = state.now();
    if let Some(why) = failure {
        sqlx::query(
            "UPDATE org_domains SET checked_at = $1, check_error = $2 WHERE id = $3 AND org_id = $4",
        )
        .bind(now)
        .bind(&why)
        .bind(id)
        .bind(actor.org_id)
        .execute(&state.db.pool)
        .await?;
        return one(state, actor.org_id, id).await;
    }
    let previous = mark_verified(state, actor, id, &domain).await?;
    if let Some(previous_org) = previous {
        tell_previous_owners(state, previous_org, &domain).await;
    }
    one(state, actor.org_id, id).await
}

/// Marks the domain verified for the actor's organization, in one transaction with its
/// take-over from the organization that had it. Answers that organization.
async fn mark_verified(
    state: &AppState,
    actor: &Actor,
    id: i64,
    domain: &str,
) -> Result<Option<i64>, AppError> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    // Every row of this domain, locked: two organizations verifying it at once take turns,
    // and the later one takes it over from the earlier.
    sqlx::query("UPDATE org_domains SET domain = domain WHERE domain = $1")
        .bind(domain)
        .execute(&mut *tx)
        .await?;
    let already: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT verified_at FROM org_domains WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(actor.org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((verified_at,)) = already else {
        // Removed while the look-up ran.
        return Err(AppError::NotFound);
    };
    let previous: Option<(i64,)> = sqlx::query_as(
        "UPDATE org_domains SET verified_at = NULL, lost_at = $1
         WHERE domain = $2 AND org_id <> $3 AND verified_at IS NOT NULL
         RETURNING org_id",
    )
    .bind(now)
    .bind(domain)
    .bind(actor.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE org_domains SET verified_at = COALESCE(verified_at, $1), lost_at = NULL,
                checked_at = $1, check_error = NULL
         WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let previous = previous.map(|(org,)| org);
    if verified_at.is_none() {
        audit::record(
            &mut tx,
            state,
            actor
                .event("org.domain_verified", format!("domain:{domain}"))
                .details(serde_json::json!({
                    "domain": domain,
                    "taken_over_from_another_organization": previous.is_some(),
                })),
        )
        .await?;
    }
    if let Some(previous_org) = previous {
        // Who took it is not said: one organization learns nothing about another.
        audit::record(
            &mut tx,
            state,
            audit::Event::new("org.domain_lost", format!("domain:{domain}"))
                .org(previous_org)
                .details(serde_json::json!({
                    "domain": domain,
                    "reason": "another organization proved control of the domain",
                })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(previous)
}

/// Emails the Owners of the organization that lost a domain (the panel and the overview say
/// it too). Best effort: a mail failure is logged, the take-over stands.
async fn tell_previous_owners(state: &AppState, org_id: i64, domain: &str) {
    let Some(mailer) = &state.mailer else {
        return;
    };
    let owners: Result<Vec<(String, String, String)>, sqlx::Error> = sqlx::query_as(
        "SELECT u.name, u.email, o.name FROM memberships m
         JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = m.org_id
         WHERE m.org_id = $1 AND m.role = 'owner' ORDER BY u.id LIMIT 100",
    )
    .bind(org_id)
    .fetch_all(&state.db.pool)
    .await;
    let owners = match owners {
        Ok(owners) => owners,
        Err(err) => {
            tracing::error!(error = %err, org_id, "could not read the Owners to tell of a lost domain");
            return;
        }
    };
    let link = format!("{}/settings#domains", state.base_url());
    for (name, email, org_name) in owners {
        let body = format!(
            "Hello {name},\n\n{domain} is no longer a verified domain of {org_name}: another \
             organization on this Gatehouse proved that it controls the domain's DNS.\n\n\
             Single sign-on no longer routes {domain} addresses to {org_name}'s identity \
             provider, and no accounts are made for them through it. If {domain} is yours, \
             publish the TXT record shown on the Verified domains panel again and choose \
             Verify:\n\n{link}\n"
        );
        let subject = format!("{org_name}: {domain} is no longer verified");
        if let Err(err) = mailer.send(&name, &email, &subject, body).await {
            tracing::warn!(?err, org_id, "the lost-domain email was not sent");
        }
    }
}

pub async fn remove(state: &AppState, actor: &Actor, id: i64) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let mut tx = state.db.begin().await?;
    let removed: Option<(String,)> =
        sqlx::query_as("DELETE FROM org_domains WHERE id = $1 AND org_id = $2 RETURNING domain")
            .bind(id)
            .bind(actor.org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (domain,) = removed.ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        state,
        actor
            .event("org.domain_removed", format!("domain:{domain}"))
            .details(serde_json::json!({ "domain": domain })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The organization that verified `domain`, if one has.
pub async fn verified_org(state: &AppState, domain: &DomainName) -> Result<Option<i64>, AppError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT org_id FROM org_domains WHERE domain = $1 AND verified_at IS NOT NULL",
    )
    .bind(domain.as_str())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.map(|(org,)| org))
}

/// Which of `domains` the organization has verified.
pub async fn verified_among(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    domains: &[String],
) -> Result<Vec<String>, AppError> {
    let mut verified = Vec::new();
    for domain in domains {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM org_domains WHERE org_id = $1 AND domain = $2 AND verified_at IS NOT NULL",
        )
        .bind(org_id)
        .bind(domain)
        .fetch_optional(&mut *tx)
        .await?;
        if row.is_some() {
            verified.push(domain.clone());
        }
    }
    Ok(verified)
}

/// Domains another organization took over from this one and that are still listed, for the
/// overview's notice to Owners.
pub async fn taken_over(state: &AppState, org_id: i64) -> Result<Vec<(String, String)>, AppError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT domain, lost_at FROM org_domains
         WHERE org_id = $1 AND verified_at IS NULL AND lost_at IS NOT NULL ORDER BY domain LIMIT 10",
    )
    .bind(org_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(domain, at)| (domain, date_time(at)))
        .collect())
}
