//! The audit log's hash chain: proof that no event was changed, removed or reordered.
//!
//! Each organization's events form one chain (the events without an organization, chain 0):
//! an event's `seq` is its place and `hash = SHA-256(previous hash || canonical encoding)`,
//! the first event's previous hash being 64 zeros. The canonical encoding is the compact JSON
//! array `[seq, org_id, actor_user_id, action, target, ip, details, created_at]` with the
//! stored details text, so a few lines of Python check an export
//! (`scripts/verify-audit-export.py`). An event is chained in its own transaction, under the
//! lock of its chain's row in `audit_chains`, so writers on several replicas make one chain.
//! Each hour maintenance writes an `audit.checkpoint` event per chain that grew: the head so
//! far signed with the server key, which an attacker with the database but not the key cannot
//! make again after rewriting the events before it; the stored head shows a cut tail.

use crate::error::AppError;
use sha2::{Digest, Sha256};

/// The previous hash of a chain's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The action of a checkpoint event.
pub const CHECKPOINT: &str = "audit.checkpoint";
/// How often a chain that grew gets a checkpoint.
pub const CHECKPOINT_EVERY_SECS: i64 = 3600;
const CHECKPOINT_PURPOSE: &str = "audit-checkpoint";

/// The fields of an event that its hash covers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Chained {
    pub id: i64,
    pub org_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub ip: Option<String>,
    pub details: String,
    pub created_at: i64,
    pub seq: Option<i64>,
    pub hash: Option<String>,
}

impl Chained {
    /// The canonical encoding of the event at place `seq`.
    pub fn canonical(&self, seq: i64) -> String {
        serde_json::json!([
            seq,
            self.org_id,
            self.actor_user_id,
            self.action,
            self.target,
            self.ip,
            self.details,
            self.created_at
        ])
        .to_string()
    }
}

/// The hash of an event whose canonical encoding is `canonical`, after `previous`.
pub fn link(previous: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    // A previous hash that is not hex (a row edited by hand) still hashes, to a mismatch.
    hasher.update(hex::decode(previous).unwrap_or_else(|_| previous.as_bytes().to_vec()));
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// A chain's key in `audit_chains`: the organization, or 0 for events without one.
pub fn key_of(org_id: Option<i64>) -> i64 {
    org_id.unwrap_or(0)
}

const COLUMNS: &str =
    "id, org_id, actor_user_id, action, target, ip, details, created_at, seq, hash";

/// Locks chain `key` for the rest of the transaction (creating it empty at `now`, its first
/// checkpoint an hour later) and returns its head.
pub(super) async fn lock(
    conn: &mut sqlx::AnyConnection,
    key: i64,
    now: i64,
) -> Result<(i64, String), AppError> {
    Ok(sqlx::query_as(
        "INSERT INTO audit_chains (org_key, seq, head, checkpoint_at) VALUES ($1, 0, $2, $3)
         ON CONFLICT (org_key) DO UPDATE SET seq = audit_chains.seq
         RETURNING seq, head",
    )
    .bind(key)
    .bind(GENESIS)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

/// Chains the events of `org_id` that are not chained yet (the transaction's own, and any an
/// older version wrote), in id order. Call inside the transaction that wrote them.
pub async fn seal(
    conn: &mut sqlx::AnyConnection,
    org_id: Option<i64>,
    now: i64,
) -> Result<(), AppError> {
    seal_up_to(conn, org_id, now, i64::MAX).await.map(|_| ())
}

/// [`seal`] for at most `limit` events (the oldest); returns how many it chained.
async fn seal_up_to(
    conn: &mut sqlx::AnyConnection,
    org_id: Option<i64>,
    now: i64,
    limit: i64,
) -> Result<usize, AppError> {
    let key = key_of(org_id);
    let (mut seq, mut head) = lock(conn, key, now).await?;
    let pending: Vec<Chained> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_events
         WHERE seq IS NULL AND (org_id = $1 OR ($1 IS NULL AND org_id IS NULL))
         ORDER BY id LIMIT $2"
    ))
    .bind(org_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if pending.is_empty() {
        return Ok(0);
    }
    for event in &pending {
        seq += 1;
        head = link(&head, &event.canonical(seq));
        sqlx::query("UPDATE audit_events SET seq = $1, hash = $2 WHERE id = $3")
            .bind(seq)
            .bind(&head)
            .bind(event.id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE audit_chains SET seq = $1, head = $2 WHERE org_key = $3")
        .bind(seq)
        .bind(&head)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(pending.len())
}

/// Chains every event not chained yet (those an older version wrote): run at start, a
/// thousand events per transaction so no lock is held long and memory stays flat. Returns
/// how many events it chained.
pub async fn seal_all(db: &crate::db::Db, now: i64) -> Result<u64, AppError> {
    const BATCH: i64 = 1000;
    let chains: Vec<(Option<i64>,)> =
        sqlx::query_as("SELECT DISTINCT org_id FROM audit_events WHERE seq IS NULL")
            .fetch_all(&db.pool)
            .await?;
    let mut chained = 0;
    for (org_id,) in &chains {
        loop {
            let mut tx = db.begin().await?;
            let done = seal_up_to(&mut tx, *org_id, now, BATCH).await?;
            tx.commit().await?;
            chained += done as u64;
            if (done as i64) < BATCH {
                break;
            }
        }
    }
    Ok(chained)
}

/// The signature of a checkpoint: chain `key` had head `head` at place `seq`.
pub fn signature(secret: &crate::crypto::SecretKey, key: i64, seq: i64, head: &str) -> String {
    secret.keyed_hash(CHECKPOINT_PURPOSE, &format!("{key}:{seq}:{head}"))
}

/// What a walk of one chain found: the first break, or that it is whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The organization, or `None` for the events without one.
    pub org_id: Option<i64>,
    pub events: i64,
    pub checkpoints: i64,
    /// Events not chained yet (written by an older version, or with SQL, since the last write).
    pub unchained: i64,
    /// The first break found, in words; `None` when the chain is whole.
    pub broken: Option<String>,
}

/// Walks chain `org_id` from its first event and names the first event that was changed,
/// removed or reordered, a checkpoint that does not hold, or a cut tail. `secret` checks the
/// checkpoints' signatures.
pub async fn verify(
    pool: &sqlx::AnyPool,
    secret: &crate::crypto::SecretKey,
    org_id: Option<i64>,
) -> Result<ChainReport, AppError> {
    const BATCH: i64 = 1000;
    let key = key_of(org_id);
    let mut report = ChainReport {
        org_id,
        events: 0,
        checkpoints: 0,
        unchained: 0,
        broken: None,
    };
    let (unchained,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_events
         WHERE seq IS NULL AND (org_id = $1 OR ($1 IS NULL AND org_id IS NULL))",
    )
    .bind(org_id)
    .fetch_one(pool)
    .await?;
    report.unchained = unchained;
    let mut previous = GENESIS.to_string();
    let mut expected = 1;
    'walk: loop {
        let batch: Vec<Chained> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM audit_events
             WHERE seq >= $1 AND (org_id = $2 OR ($2 IS NULL AND org_id IS NULL))
             ORDER BY seq LIMIT $3"
        ))
        .bind(expected)
        .bind(org_id)
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        let done = (batch.len() as i64) < BATCH;
        for event in batch {
            let seq = event.seq.unwrap_or_default();
            if seq != expected {
                report.broken = Some(if expected == 1 {
                    format!(
                        "the first {} events were removed: the chain starts at event {} (seq {seq})",
                        seq - 1,
                        event.id
                    )
                } else {
                    format!(
                        "events were removed before event {} (seq {seq}): seq {expected} to {} are missing",
                        event.id,
                        seq - 1
                    )
                });
                break 'walk;
            }
            let hash = link(&previous, &event.canonical(seq));
            if Some(&hash) != event.hash.as_ref() {
                report.broken = Some(format!(
                    "event {} (seq {seq}, {}) was changed, or moved from another place",
                    event.id, event.action
                ));
                break 'walk;
            }
            if event.action == CHECKPOINT {
                report.checkpoints += 1;
                if let Some(problem) = check_checkpoint(pool, secret, key, &event).await? {
                    report.broken = Some(problem);
                    break 'walk;
                }
            }
            report.events += 1;
            previous = hash;
            expected += 1;
        }
        if done {
            break;
        }
    }
    if report.broken.is_none() {
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, head FROM audit_chains WHERE org_key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?;
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS.to_string()));
        if head_seq > report.events {
            report.broken = Some(format!(
                "the last {} events were removed: the chain's head is at seq {head_seq}, the log ends at seq {}",
                head_seq - report.events,
                report.events
            ));
        } else if head_seq < report.events || head_hash != previous {
            report.broken = Some(format!(
                "the chain's head (seq {head_seq}) does not match the log (seq {}): it was rewritten",
                report.events
            ));
        }
    }
    Ok(report)
}

/// A checkpoint holds when the server key signed it and the (already verified) event at
/// its place has the head it names.
async fn check_checkpoint(
    pool: &sqlx::AnyPool,
    secret: &crate::crypto::SecretKey,
    key: i64,
    event: &Chained,
) -> Result<Option<String>, AppError> {
    let details: serde_json::Value = serde_json::from_str(&event.details).unwrap_or_default();
    let (Some(seq), Some(head), Some(signed)) = (
        details["seq"].as_i64(),
        details["head"].as_str(),
        details["signature"].as_str(),
    ) else {
        return Ok(Some(format!(
            "checkpoint event {} is not readable",
            event.id
        )));
    };
    if signature(secret, key, seq, head) != signed {
        return Ok(Some(format!(
            "checkpoint event {} is not signed with this server's key",
            event.id
        )));
    }
    let at: Option<(Option<String>,)> = if seq == 0 {
        Some((Some(GENESIS.to_string()),))
    } else {
        sqlx::query_as(
            "SELECT hash FROM audit_events
             WHERE seq = $1 AND (org_id = $2 OR ($2 IS NULL AND org_id IS NULL))",
        )
        .bind(seq)
        .bind(event.org_id)
        .fetch_optional(pool)
        .await?
    };
    let holds =
        seq < event.seq.unwrap_or_default() && at.and_then(|(hash,)| hash).as_deref() == Some(head);
    Ok((!holds).then(|| {
        format!(
            "the events up to seq {seq} were rewritten: checkpoint event {} signed another head",
            event.id
        )
    }))
}

/// The chains in the database: the organizations with events, and 0 for the rest.
pub async fn chains(pool: &sqlx::AnyPool) -> Result<Vec<Option<i64>>, AppError> {
    let keys: Vec<(i64,)> = sqlx::query_as(
        "SELECT org_key FROM audit_chains
         WHERE org_key = 0 OR EXISTS (SELECT 1 FROM organizations o WHERE o.id = org_key)
         UNION SELECT DISTINCT COALESCE(org_id, 0) FROM audit_events ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    Ok(keys
        .into_iter()
        .map(|(key,)| (key != 0).then_some(key))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Chained {
        Chained {
            id: 7,
            org_id: Some(3),
            actor_user_id: None,
            action: "group.created".into(),
            target: "Ops \"α\"\n".into(),
            ip: Some("203.0.113.7".into()),
            details: r#"{"name":"Ops"}"#.into(),
            created_at: 1_700_000_000,
            seq: None,
            hash: None,
        }
    }

    #[test]
    fn the_canonical_encoding_is_compact_json() {
        assert_eq!(
            event().canonical(1),
            r#"[1,3,null,"group.created","Ops \"α\"\n","203.0.113.7","{\"name\":\"Ops\"}",1700000000]"#
        );
    }

    #[test]
    fn each_hash_covers_the_previous_one() {
        let first = link(GENESIS, &event().canonical(1));
        assert_eq!(first.len(), 64);
        let mut raw = vec![0u8; 32];
        raw.extend_from_slice(event().canonical(1).as_bytes());
        assert_eq!(first, hex::encode(Sha256::digest(&raw)));
        assert_ne!(
            link(&first, &event().canonical(2)),
            link(GENESIS, &event().canonical(2))
        );
    }
}
