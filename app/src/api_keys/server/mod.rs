//! Creating, listing and revoking keys, and authenticating REST requests with them.

pub mod cache;
pub mod expiry;
pub mod limiter;
pub mod secret;
pub mod settle;

use super::model::{ApiKeyRow, ApiKeysView, CreatedKey, Expiry, KeyOrgChoice, Scope, ScopeSet};
use crate::auth::server::{Actor, Session};
use crate::dates::{date_time, iso_date};
use crate::error::AppError;
use crate::orgs::store::{membership, role_of};
use crate::policy::scope_usable;
use crate::state::AppState;
use crate::two_factor::model::Compliance;
use crate::two_factor::server::standing::{trial_denies, StandingRow, STANDING_COLUMNS};
use cache::{CachedKey, KeyRecord};
pub use secret::ApiKeySecret;
use subtle::ConstantTimeEq;

/// Live keys one user may hold: a runaway script cannot fill the table.
pub const MAX_ACTIVE_KEYS: i64 = 100;
const NAME_MAX: usize = 100;
/// `last_used_at` is written at most this often per key.
const LAST_USED_PRECISION_SECS: i64 = 60;

/// A REST request's caller: the key's owner acting in the key's organization with their
/// current role, limited to the key's scopes.
#[derive(Debug, Clone)]
pub struct KeyActor {
    pub key_id: i64,
    pub scopes: ScopeSet,
    pub actor: Actor,
}

impl KeyActor {
    /// The actor, if the key has `scope`; the role is checked by the service it calls.
    pub fn require(&self, scope: Scope) -> Result<&Actor, AppError> {
        if self.scopes.contains(scope) {
            Ok(&self.actor)
        } else {
            Err(AppError::InsufficientScope {
                scope: scope.as_str().to_string(),
            })
        }
    }
}

fn parse_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(AppError::invalid(
            "name",
            "Give the key a name, e.g. \"CI deploy\".",
        ));
    }
    if name.chars().count() > NAME_MAX {
        return Err(AppError::invalid(
            "name",
            format!("A key's name is at most {NAME_MAX} characters."),
        ));
    }
    Ok(name.to_string())
}

pub async fn create(
    state: &AppState,
    session: &Session,
    ip: Option<String>,
    org_id: i64,
    raw_name: &str,
    scopes: ScopeSet,
    expiry: Expiry,
) -> Result<CreatedKey, AppError> {
    let name = parse_name(raw_name)?;
    let role = membership(&state.db.pool, org_id, session.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if scopes.is_empty() {
        return Err(AppError::invalid("scopes", "Choose at least one scope."));
    }
    if let Some(scope) = scopes.iter().find(|s| !scope_usable(role, *s)) {
        return Err(AppError::invalid(
            "scopes",
            format!(
                "Your role ({}) cannot use the {} scope.",
                role.label(),
                scope.as_str()
            ),
        ));
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    // The user's row lock serializes their key creations, so the count below is the count
    // the new key joins (concurrent creations cannot all pass the limit).
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(session.user_id)
        .execute(&mut *tx)
        .await?;
    let (active,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(session.user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if active >= MAX_ACTIVE_KEYS {
        return Err(AppError::conflict(
            "name",
            format!("You have {MAX_ACTIVE_KEYS} active keys. Revoke one you no longer use first."),
        ));
    }
    let key = ApiKeySecret::generate();
    let expires_at = expiry.seconds().map(|s| now + s);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO api_keys (user_id, org_id, name, prefix, key_hash, scopes, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(session.user_id)
    .bind(org_id)
    .bind(&name)
    .bind(key.shown_prefix())
    .bind(key.hash())
    .bind(scopes.to_stored())
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        crate::audit::Event::new("api_key.created", format!("api_key:{id}"))
            .org(org_id)
            .actor(session.user_id)
            .ip(ip)
            .details(serde_json::json!({
                "name": name,
                "prefix": key.shown_prefix(),
                "scopes": scopes.to_stored(),
                "expires_at": expires_at,
            })),
    )
    .await?;
    tx.commit().await?;
    let rows = list(state, session.user_id, Some(id)).await?;
    let row = rows.into_iter().next().ok_or(AppError::Internal)?;
    Ok(CreatedKey {
        key: key.expose().to_string(),
        row,
    })
}

/// The user's keys, newest first (the 200 newest), or just key `only`.
async fn list(
    state: &AppState,
    user_id: i64,
    only: Option<i64>,
) -> Result<Vec<ApiKeyRow>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
        prefix: String,
        scopes: String,
        org_name: String,
        created_at: i64,
        last_used_at: Option<i64>,
        expires_at: Option<i64>,
        revoked_at: Option<i64>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT k.id, k.name, k.prefix, k.scopes, o.name AS org_name, k.created_at,
                k.last_used_at, k.expires_at, k.revoked_at
         FROM api_keys k JOIN organizations o ON o.id = k.org_id
         WHERE k.user_id = $1 AND ($2 IS NULL OR k.id = $2)
         ORDER BY k.created_at DESC, k.id DESC LIMIT 200",
    )
    .bind(user_id)
    .bind(only)
    .fetch_all(&state.db.pool)
    .await?;
    let now = state.now();
    Ok(rows
        .into_iter()
        .map(|r| {
            let state = if r.revoked_at.is_some() {
                "revoked"
            } else if r.expires_at.is_some_and(|e| e <= now) {
                "expired"
            } else {
                "active"
            };
            ApiKeyRow {
                id: r.id,
                name: r.name,
                prefix: r.prefix,
                scopes: ScopeSet::from_stored(&r.scopes).iter().collect(),
                org_name: r.org_name,
                created: iso_date(r.created_at),
                last_used: r.last_used_at.map(date_time),
                expires: r.expires_at.map(iso_date),
                expires_in: r
                    .expires_at
                    .filter(|_| state == "active")
                    .map(|e| crate::dates::expires_in_words(e - now)),
                state: state.to_string(),
            }
        })
        .collect())
}

/// The profile panel: the user's keys and, per organization, the scopes they may choose.
pub async fn view(state: &AppState, user_id: i64) -> Result<ApiKeysView, AppError> {
    let keys = list(state, user_id, None).await?;
    let orgs = crate::orgs::store::orgs_of_user(state, user_id)
        .await?
        .into_iter()
        .map(|o| KeyOrgChoice {
            org_id: o.id,
            org_name: o.name,
            scopes: Scope::ALL
                .into_iter()
                .filter(|s| scope_usable(o.role, *s))
                .collect(),
        })
        .collect();
    Ok(ApiKeysView { keys, orgs })
}

/// Revokes one of the user's own keys; the next request with it is refused.
pub async fn revoke(
    state: &AppState,
    user_id: i64,
    ip: Option<String>,
    key_id: i64,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let revoked: Option<(i64, String)> = sqlx::query_as(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL
         RETURNING org_id, name",
    )
    .bind(state.now())
    .bind(key_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (org_id, name) = revoked.ok_or(AppError::NotFound)?;
    crate::audit::record(
        &mut tx,
        state,
        crate::audit::Event::new("api_key.revoked", format!("api_key:{key_id}"))
            .org(org_id)
            .actor(user_id)
            .ip(ip)
            .details(serde_json::json!({ "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes a member's keys for one organization (they were removed or left), inside the
/// transaction that removes the membership: a later re-invitation does not revive them.
pub async fn revoke_member_keys(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    user_id: i64,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE org_id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(org_id)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes when, from where and with what client the key was last used: at most once a
/// minute per key (one request in this process claims the minute; the conditional update
/// keeps other replicas from writing it again), and after the answer, not before it.
fn record_use(
    state: &AppState,
    cached: &CachedKey,
    now: i64,
    ip: Option<&str>,
    agent: Option<&str>,
) {
    let previous = cached
        .last_used_at
        .load(std::sync::atomic::Ordering::Relaxed);
    if previous != i64::MIN && now - previous < LAST_USED_PRECISION_SECS {
        return;
    }
    if cached
        .last_used_at
        .compare_exchange(
            previous,
            now,
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        )
        .is_err()
    {
        return; // another request of this process claimed this minute
    }
    let agent = agent.map(str::to_string);
    let ip = ip.map(str::to_string);
    let pool = state.db.pool.clone();
    let key_id = cached.record.id;
    tokio::spawn(async move {
        let written = sqlx::query(
            "UPDATE api_keys SET last_used_at = $1, last_used_ip = $2, last_used_agent = $3
             WHERE id = $4 AND (last_used_at IS NULL OR last_used_at <= $5)",
        )
        .bind(now)
        .bind(ip)
        .bind(agent)
        .bind(key_id)
        .bind(now - LAST_USED_PRECISION_SECS)
        .execute(&pool)
        .await;
        if let Err(err) = written {
            // Bookkeeping only: the request it describes was answered.
            tracing::warn!(?err, key_id, "a key's last use was not recorded");
        }
    });
}

/// The one query of an API request. The membership join: a removed owner's key finds nothing.
static AUTHENTICATE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT k.id, k.user_id, k.org_id, k.key_hash, k.scopes, k.last_used_at, k.expires_at,
                k.revoked_at, m.role, u.name, u.email, u.disabled_at, {STANDING_COLUMNS},
                o.two_factor_trial, o.two_factor_trial_until
         FROM api_keys k
         JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id
         JOIN organizations o ON o.id = k.org_id
         JOIN users u ON u.id = k.user_id
         WHERE k.key_hash = $1"
    )
});

/// Authenticates a REST request from its `Authorization` header value: the shape and
/// checksum first (no database work for a typo), then one indexed lookup that also reads
/// the owner's current role and 2FA standing. `agent` is the User-Agent as
/// [`RequestMeta`](crate::auth::server::RequestMeta) keeps it (already cut to length).
pub async fn authenticate(
    state: &AppState,
    authorization: Option<&str>,
    ip: Option<String>,
    agent: Option<&str>,
) -> Result<KeyActor, AppError> {
    let raw = authorization.ok_or(AppError::ApiKeyMissing)?;
    let token = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or(AppError::ApiKeyInvalid)?;
    let key = ApiKeySecret::parse(token)?;
    let hash = key.hash();
    let cached = match state.key_cache.get(hash.as_str()) {
        Some(cached) => cached,
        None => {
            let epoch = state.key_cache.epoch();
            let found = state
                .db
                .read_one(&AUTHENTICATE_SQL, &[hash.as_str().into()])
                .await?
                .ok_or(AppError::ApiKeyInvalid)?;
            let record = KeyRecord {
                id: found.i64(0)?,
                user_id: found.i64(1)?,
                org_id: found.i64(2)?,
                key_hash: found.text(3)?,
                scopes: found.text(4)?,
                expires_at: found.opt_i64(6)?,
                revoked_at: found.opt_i64(7)?,
                role: found.text(8)?,
                name: found.text(9)?,
                email: found.text(10)?,
                disabled_at: found.opt_i64(11)?,
                standing: StandingRow::from_read(&found, 12)?,
                trial: (found.i64(18)?, found.opt_i64(19)?),
            };
            let cached = std::sync::Arc::new(CachedKey::new(record, found.opt_i64(5)?));
            state.key_cache.insert(hash.as_str(), cached.clone(), epoch);
            cached
        }
    };
    let row = &cached.record;
    if !bool::from(row.key_hash.as_bytes().ct_eq(hash.as_bytes())) {
        return Err(AppError::ApiKeyInvalid);
    }
    let now = state.now();
    if row.revoked_at.is_some() {
        return Err(AppError::ApiKeyRevoked);
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::ApiKeyExpired);
    }
    if row.disabled_at.is_some() {
        return Err(AppError::AccountDisabled);
    }
    if row.standing.compliance(now) == Compliance::Blocked {
        return Err(AppError::TwoFactorRequired {
            security_keys_only: row.standing.security_keys_only(),
        });
    }
    state.api_limiter.check(row.id)?;
    if let Some(policy) = trial_denies(row.trial.0, row.trial.1, &row.standing, now) {
        crate::report_only::note(
            state,
            crate::report_only::Denial {
                org_id: row.org_id,
                policy,
                user_id: row.user_id,
                key_id: row.id,
                ip: ip.clone(),
                agent: agent.map(str::to_string),
            },
        );
    }
    record_use(state, &cached, now, ip.as_deref(), agent);
    Ok(KeyActor {
        key_id: row.id,
        scopes: ScopeSet::from_stored(&row.scopes),
        actor: Actor {
            user_id: row.user_id,
            name: row.name.clone(),
            email: row.email.clone(),
            org_id: row.org_id,
            role: role_of(&row.role)?,
            ip,
            authenticated_at: 0,
        },
    })
}
