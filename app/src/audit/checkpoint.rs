//! Checkpoints: every hour, each chain that grew gets an event that signs its head with the
//! server key, so a rewrite of the whole chain (and its hashes) is still found. Above both the
//! chain (which seals events) and the log (which records them): it records a sealed event.

use super::chain::{lock, signature, CHECKPOINT, CHECKPOINT_EVERY_SECS};
use super::server::{record_at, Event};
use crate::error::AppError;
use crate::state::AppState;

/// Writes a checkpoint into each chain that grew since its last one and whose last one is
/// an hour old. Returns how many were written.
pub async fn checkpoint(state: &AppState) -> Result<u64, AppError> {
    let now = state.now();
    let due: Vec<(i64,)> = sqlx::query_as(
        "SELECT org_key FROM audit_chains
         WHERE seq > checkpoint_seq AND checkpoint_at <= $1
           AND (org_key = 0 OR EXISTS (SELECT 1 FROM organizations o WHERE o.id = org_key))",
    )
    .bind(now - CHECKPOINT_EVERY_SECS)
    .fetch_all(&state.db.pool)
    .await?;
    let mut written = 0;
    for (key,) in due {
        let mut tx = state.db.begin().await?;
        let (seq, head) = lock(&mut tx, key, now).await?;
        let org_id = (key != 0).then_some(key);
        let event = Event::new(CHECKPOINT, format!("seq {seq}")).details(serde_json::json!({
            "seq": seq,
            "head": head,
            "signature": signature(&state.secret_key, key, seq, &head),
        }));
        let event = match org_id {
            Some(org) => event.org(org),
            None => event,
        };
        record_at(&mut tx, now, event).await?;
        sqlx::query(
            "UPDATE audit_chains SET checkpoint_seq = seq, checkpoint_at = $1 WHERE org_key = $2",
        )
        .bind(now)
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        written += 1;
    }
    Ok(written)
}
