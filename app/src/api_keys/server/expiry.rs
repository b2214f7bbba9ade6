//! Warnings before a key expires: seven days and one day before, the key's owner gets an
//! in-app notice and (when SMTP is set) an email, once each. Every replica's background worker
//! runs [`warn_due`] on a schedule; the notices' primary key (key, days before) lets exactly one
//! of them claim each warning, and the rows outlive restarts.

use crate::api_keys::model::ExpiringKey;
use crate::error::AppError;
use crate::state::AppState;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const DAY: i64 = 24 * 3600;
/// Keys read per query; a pass continues until none are left.
const BATCH: i64 = 500;

/// The warnings, as days before expiry. A key's warning is due from `days` before its
/// expiry until the next, later warning is due: a worker that was down sends only the
/// latest. A key made to live no longer than `days` gets no such warning (its owner just
/// chose that expiry).
pub const WARNINGS: [i64; 2] = [7, 1];

#[derive(sqlx::FromRow)]
struct DueKey {
    id: i64,
    user_id: i64,
    name: String,
    prefix: String,
    expires_at: i64,
    org_name: String,
    user_name: String,
    email: String,
}

/// Sends every warning that is due now and not yet sent; returns how many this call sent.
pub async fn warn_due(state: &AppState) -> Result<u64, AppError> {
    let now = state.now();
    let mut sent = 0;
    for (i, days) in WARNINGS.iter().enumerate() {
        let due_from = days * DAY;
        let due_until = WARNINGS.get(i + 1).map_or(0, |later| later * DAY);
        loop {
            let keys: Vec<DueKey> = sqlx::query_as(
                "SELECT k.id, k.user_id, k.name, k.prefix, k.expires_at, o.name AS org_name,
                        u.name AS user_name, u.email
                 FROM api_keys k
                 JOIN users u ON u.id = k.user_id
                 JOIN organizations o ON o.id = k.org_id
                 WHERE k.revoked_at IS NULL AND k.expires_at > $1 AND k.expires_at <= $2
                   AND k.created_at < k.expires_at - $3 AND u.disabled_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM api_key_expiry_notices n
                                   WHERE n.key_id = k.id AND n.days_before = $4)
                 ORDER BY k.expires_at, k.id LIMIT $5",
            )
            .bind(now + due_until)
            .bind(now + due_from)
            .bind(due_from)
            .bind(*days)
            .bind(BATCH)
            .fetch_all(&state.db.pool)
            .await?;
            let found = keys.len() as i64;
            for key in keys {
                // The claim: another replica that got here first leaves nothing to insert.
                let claimed = sqlx::query(
                    "INSERT INTO api_key_expiry_notices (key_id, days_before, user_id, created_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(key.id)
                .bind(*days)
                .bind(key.user_id)
                .bind(now)
                .execute(&state.db.pool)
                .await?
                .rows_affected();
                if claimed == 1 {
                    sent += 1;
                    email(state, &key, now).await;
                }
            }
            if found < BATCH {
                break;
            }
        }
    }
    Ok(sent)
}

async fn email(state: &AppState, key: &DueKey, now: i64) {
    let Some(mailer) = &state.mailer else {
        return;
    };
    let body = format!(
        "Hello {},\n\nYour API key \"{}\" ({}…) for {} expires {}, on {}. From then on, \
         scripts that use it are refused.\n\nMake a new key on your profile page and give it \
         to those scripts: {}/profile#api-keys\n",
        key.user_name,
        key.name,
        key.prefix,
        key.org_name,
        crate::dates::expires_in_words(key.expires_at - now),
        crate::dates::date_time(key.expires_at),
        state.base_url().trim_end_matches('/'),
    );
    let subject = format!("Your API key \"{}\" expires soon", key.name);
    // A failure is logged by the mailer; the in-app notice remains.
    let _ = mailer
        .send(&key.user_name, &key.email, &subject, body)
        .await;
}

/// The user's notices are read (the banner goes until the next warning).
pub async fn dismiss(state: &AppState, user_id: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE api_key_expiry_notices SET dismissed_at = $1
         WHERE user_id = $2 AND dismissed_at IS NULL",
    )
    .bind(state.now())
    .bind(user_id)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// Runs [`warn_due`] every `every` until stopped.
pub async fn run_worker(state: AppState, every: Duration, stop: CancellationToken) {
    loop {
        if let Err(err) = warn_due(&state).await {
            tracing::error!(error = %err, "sending API key expiry warnings");
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// The organization's live keys (only `user_id`'s, when given) that expire within 7 days,
/// soonest first.
pub async fn expiring(
    state: &AppState,
    org_id: i64,
    user_id: Option<i64>,
) -> Result<Vec<ExpiringKey>, AppError> {
    let now = state.now();
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT k.name, k.prefix, u.name, u.email, k.expires_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.revoked_at IS NULL AND k.expires_at > $1 AND k.expires_at <= $2
           AND k.org_id = $3 AND ($4 IS NULL OR k.user_id = $4)
         ORDER BY k.expires_at, k.id LIMIT 20",
    )
    .bind(now)
    .bind(now + WARNINGS[0] * DAY)
    .bind(org_id)
    .bind(user_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, prefix, owner_name, email, expires_at)| ExpiringKey {
                name,
                prefix,
                owner: format!("{owner_name} <{email}>"),
                expires_in: crate::dates::expires_in_words(expires_at - now),
            },
        )
        .collect())
}
