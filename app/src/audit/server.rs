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

/// Writes one audit event. Every change an admin makes, and every sign-in, goes through here.
pub async fn record(state: &AppState, event: Event) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_events (org_id, actor_user_id, action, target, ip, details, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.org_id)
    .bind(event.actor_user_id)
    .bind(event.action)
    .bind(&event.target)
    .bind(&event.ip)
    .bind(event.details.to_string())
    .bind(state.now())
    .execute(&state.db.pool)
    .await?;
    Ok(())
}
