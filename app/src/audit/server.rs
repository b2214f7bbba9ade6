use crate::error::AppError;
use crate::state::AppState;

/// One audit event; built with the small builder below and written by [`record`].
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub target: String,
    pub org_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

impl Event {
    pub fn new(action: &'static str, target: impl Into<String>) -> Self {
        Self {
            action,
            target: target.into(),
            org_id: None,
            actor_user_id: None,
            ip: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn org(mut self, org_id: i64) -> Self {
        self.org_id = Some(org_id);
        self
    }

    pub fn actor(mut self, user_id: i64) -> Self {
        self.actor_user_id = Some(user_id);
        self
    }

    pub fn actor_opt(mut self, user_id: Option<i64>) -> Self {
        self.actor_user_id = user_id;
        self
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

const INSERT: &str =
    "INSERT INTO audit_events (org_id, actor_user_id, action, target, ip, details, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Writes the audit event of a change in the change's own transaction: the change and its
/// event commit together or not at all (a change that cannot be audited does not happen).
pub async fn record(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    event: Event,
) -> Result<(), AppError> {
    record_at(tx, state.now(), event).await
}

/// [`record`] at a given time, for callers without the server's state (the admin CLI).
pub async fn record_at(
    tx: &mut sqlx::AnyConnection,
    now: i64,
    event: Event,
) -> Result<(), AppError> {
    sqlx::query(INSERT)
        .bind(event.org_id)
        .bind(event.actor_user_id)
        .bind(event.action)
        .bind(&event.target)
        .bind(&event.ip)
        .bind(event.details.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    super::chain::seal(tx, event.org_id, now).await
}

/// A user's change to their own account (2FA, password), written to the audit log of each of
/// their organizations, where their admins see it, and once without an organization; in the
/// change's transaction. The event's own organization is ignored.
pub async fn record_for_user(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    user_id: i64,
    event: Event,
) -> Result<(), AppError> {
    record_for_user_at(tx, state.now(), user_id, event).await
}

/// [`record_for_user`] at a given time.
pub async fn record_for_user_at(
    tx: &mut sqlx::AnyConnection,
    now: i64,
    user_id: i64,
    event: Event,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_events (org_id, actor_user_id, action, target, ip, details, created_at)
         SELECT org_id, $1, $2, $3, $4, $5, $6 FROM memberships WHERE user_id = $7",
    )
    .bind(event.actor_user_id)
    .bind(event.action)
    .bind(&event.target)
    .bind(&event.ip)
    .bind(event.details.to_string())
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    // Each organization's chain, in one order (ascending, then chain 0) so that two such
    // transactions never wait for each other's chains in a circle.
    let orgs: Vec<(i64,)> =
        sqlx::query_as("SELECT org_id FROM memberships WHERE user_id = $1 ORDER BY org_id")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
    for (org_id,) in orgs {
        super::chain::seal(tx, Some(org_id), now).await?;
    }
    record_at(
        tx,
        now,
        Event {
            org_id: None,
            ..event
        },
    )
    .await
}

/// Writes an event that records no change of stored data (a sign-in attempt, a lockout): it
/// is its own transaction.
pub async fn record_event(state: &AppState, event: Event) -> Result<(), AppError> {
    // A transaction all the same: the event and its place in the chain are one write.
    let mut tx = state.db.begin().await?;
    record(&mut tx, state, event).await?;
    tx.commit().await?;
    Ok(())
}
