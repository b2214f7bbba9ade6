//! The scan queue. A claim hands out the oldest queued scan of a group whose running scans
//! are fewer than its concurrent scans limit. Claims of one group are serialized by a lock
//! on the group's row (a no-op UPDATE: the row lock on PostgreSQL, the write lock on SQLite),
//! taken before the running scans are counted, so the limit holds under any concurrency and
//! across server processes.

use super::model::{
    GroupScanUsage, GroupScans, ScanGroup, ScanRow, ScanStatus, ScansPage, Waiting,
};
use crate::api_keys::server::KeyActor;
use crate::auth::server::Actor;
use crate::db::Backend;
use crate::domain::Role;
use crate::error::AppError;
use crate::policy::{allows, Action};
use crate::state::AppState;
use std::time::Duration;

pub const PAGE_SIZE: i64 = 50;
const TARGET_MAX: usize = 2048;
const RESULT_MAX: usize = 10_000;
/// A claim that loses its candidate to another runner looks again, this many times.
const CLAIM_TRIES: usize = 5;
/// Queued scans looked at per claim try: their groups are the ones a claim tries to lock.
const CLAIM_CANDIDATES: i64 = 8;
/// Groups offered in the page's pickers.
const GROUPS_OFFERED: i64 = 500;

/// Owners and Admins see every group's scans; others only their groups'.
fn sees_all(role: Role) -> i64 {
    i64::from(allows(
        role,
        Action::Scans {
            member_of_group: false,
        },
    ))
}

/// Billing Managers have nothing to do with scans: 403 rather than an empty list.
fn may_use_scans(role: Role) -> Result<(), AppError> {
    crate::policy::authorize(
        role,
        Action::Scans {
            member_of_group: true,
        },
    )
}

/// The scans an actor sees: their organization's, all of them for roles that see every group
/// (`$2` = 1), else those of groups the user (`$3`) belongs to. Bound by [`for_actor`].
const VISIBLE: &str = "s.org_id = $1 AND ($2 = 1 OR EXISTS (SELECT 1 FROM group_members gm
            WHERE gm.group_id = s.group_id AND gm.user_id = $3))";

/// `sql` (which uses [`VISIBLE`]) with the actor bound as `$1`–`$3`.
fn for_actor<'q, O>(
    sql: &'q str,
    actor: &Actor,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_as(sql)
        .bind(actor.org_id)
        .bind(sees_all(actor.role))
        .bind(actor.user_id)
}

/// A scan with its group and author; for a queued scan also its group's running count and its
/// place in the group's queue (ranges of the (group_id, status, id) index). The place is
/// counted up to `PLACES_COUNTED + 1` (the LIMIT below): a page of 50 scans at the end of a
/// 100,000-scan backlog counted 5 million index entries (0.3 s on SQLite, 1.2 s on PostgreSQL).
const SELECT: &str = "SELECT s.id, s.group_id, g.name AS group_name, s.target, s.status,
        u.name AS by_name, u.email AS by_email, s.created_at, s.started_at, s.finished_at,
        s.attempts, s.result, s.heartbeat_at, g.scans_limit,
        CASE WHEN s.status = 'queued' THEN (SELECT COUNT(*) FROM scans r
            WHERE r.group_id = s.group_id AND r.status = 'running') END AS running_in_group,
        CASE WHEN s.status = 'queued' THEN (SELECT COUNT(*) FROM (SELECT 1 FROM scans q
            WHERE q.group_id = s.group_id AND q.status = 'queued' AND q.id <= s.id
            LIMIT 1001) ahead) END AS place
    FROM scans s JOIN groups g ON g.id = s.group_id LEFT JOIN users u ON u.id = s.created_by";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    group_id: i64,
    group_name: String,
    target: String,
    status: String,
    by_name: Option<String>,
    by_email: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    attempts: i64,
    result: Option<String>,
    heartbeat_at: Option<i64>,
    scans_limit: i64,
    running_in_group: Option<i64>,
    place: Option<i64>,
}

impl Row {
    fn into_scan(self) -> Result<ScanRow, AppError> {
        Ok(ScanRow {
            id: self.id,
            group_id: self.group_id,
            group_name: self.group_name,
            target: self.target,
            status: ScanStatus::parse(&self.status).map_err(|_| {
                tracing::error!(status = %self.status, "unknown scan status in the database");
                AppError::Internal
            })?,
            started_by: match (self.by_name, self.by_email) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                _ => "—".to_string(),
            },
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            attempts: self.attempts,
            result: self.result,
            heartbeat_at: self.heartbeat_at,
            waiting: match (self.running_in_group, self.place) {
                (Some(running), Some(place)) => Some(Waiting {
                    running,
                    limit: self.scans_limit,
                    place,
                }),
                _ => None,
            },
        })
    }
}

/// A scan target: an http(s) URL with a host.
pub fn parse_target(raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    if raw.len() > TARGET_MAX {
        return Err(AppError::invalid(
            "target",
            format!("A target is at most {TARGET_MAX} characters."),
        ));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| {
        AppError::invalid("target", "Enter a full URL, like https://app.example.com.")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::invalid(
            "target",
            "The target must start with https:// (or http://) and name a host.",
        ));
    }
    Ok(url.to_string())
}

pub fn decode_cursor(raw: &str) -> Result<i64, AppError> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| AppError::invalid("cursor", "That cursor is not one this list gave out."))
}

/// A page of the scans `actor` may see, newest first, filtered by group and status.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    group_id: Option<i64>,
    status: Option<ScanStatus>,
    before: Option<i64>,
    limit: i64,
) -> Result<ScansPage, AppError> {
    may_use_scans(actor.role)?;
    let sql = format!(
        "{SELECT} WHERE {VISIBLE} AND ($4 IS NULL OR s.group_id = $4) AND ($5 IS NULL OR s.status = $5)
           AND s.id < $6 ORDER BY s.id DESC LIMIT $7"
    );
    let rows: Vec<Row> = for_actor(&sql, actor)
        .bind(group_id)
        .bind(status.map(ScanStatus::as_str))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(&state.db.pool)
        .await?;
    let has_more = rows.len() as i64 > limit;
    let scans = rows
        .into_iter()
        .take(limit as usize)
        .map(Row::into_scan)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = has_more
        .then(|| scans.last().map(|s| s.id.to_string()))
        .flatten();
    Ok(ScansPage { scans, next_cursor })
}

/// The groups whose scans `actor` may start: every group for Owners and Admins, else theirs.
pub async fn groups(state: &AppState, actor: &Actor) -> Result<Vec<ScanGroup>, AppError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT g.id, g.name FROM groups g
         WHERE g.org_id = $1 AND ($2 = 1 OR EXISTS (SELECT 1 FROM group_members gm
             WHERE gm.group_id = g.id AND gm.user_id = $3))
         ORDER BY g.name_key, g.id LIMIT $4",
    )
    .bind(actor.org_id)
    .bind(sees_all(actor.role))
    .bind(actor.user_id)
    .bind(GROUPS_OFFERED)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| ScanGroup { id, name })
        .collect())
}

/// The name and limit of a group whose scans `actor` may see and start; another
/// organization's group, or one whose scans this member may not see, is not found (as reading
/// its scans would be).
async fn visible_group(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
) -> Result<(String, i64), AppError> {
    may_use_scans(actor.role)?;
    let group: Option<(String, i64)> =
        sqlx::query_as("SELECT name, scans_limit FROM groups WHERE id = $1 AND org_id = $2")
            .bind(group_id)
            .bind(actor.org_id)
            .fetch_optional(&state.db.pool)
            .await?;
    let member_of_group =
        crate::groups::access::is_member_of(state, group_id, actor.user_id).await?;
    match group {
        Some(group) if allows(actor.role, Action::Scans { member_of_group }) => Ok(group),
        _ => Err(AppError::NotFound),
    }
}

/// One scan; 404 when it is in another organization or in a group the actor is not in.
pub async fn get(state: &AppState, actor: &Actor, scan_id: i64) -> Result<ScanRow, AppError> {
    get_on(&state.db.pool, actor, scan_id).await
}

/// [`get`] on a given connection (a change reads its answer before it commits).
async fn get_on<'e, E>(db: E, actor: &Actor, scan_id: i64) -> Result<ScanRow, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    may_use_scans(actor.role)?;
    let sql = format!("{SELECT} WHERE {VISIBLE} AND s.id = $4");
    let row: Option<Row> = for_actor(&sql, actor)
        .bind(scan_id)
        .fetch_optional(db)
        .await?;
    row.ok_or(AppError::NotFound)?.into_scan()
}

/// **New scan**: queued in `group_id`, which the actor must be able to see.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    target: String,
) -> Result<ScanRow, AppError> {
    visible_group(state, actor, group_id).await?;
    let mut tx = state.db.begin().await?;
    // The group's lock (as claims take it) makes the count below the one this scan joins:
    // concurrent requests cannot all slip under the cap.
    let name: Option<(String,)> =
        sqlx::query_as("UPDATE groups SET scans_limit = scans_limit WHERE id = $1 RETURNING name")
            .bind(group_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (group_name,) = name.ok_or(AppError::NotFound)?;
    let cap = state.settings.max_queued_scans_per_group;
    let (queued,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM scans WHERE group_id = $1 AND status = 'queued'")
            .bind(group_id)
            .fetch_one(&mut *tx)
            .await?;
    if queued >= cap {
        return Err(AppError::conflict(
            "group_id",
            format!(
                "{group_name} has {queued} scans waiting, its most. Start more once some have run, or cancel some."
            ),
        ));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO scans (org_id, group_id, target, status, created_by, created_at)
         VALUES ($1, $2, $3, 'queued', $4, $5) RETURNING id",
    )
    .bind(actor.org_id)
    .bind(group_id)
    .bind(&target)
    .bind(actor.user_id)
    .bind(state.now())
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("scan.created", format!("scan:{id}"))
            .details(serde_json::json!({ "group_id": group_id, "target": target })),
    )
    .await?;
    // Read before the commit: a committed scan is never answered with an error.
    let scan = get_on(&mut *tx, actor, id).await?;
    tx.commit().await?;
    Ok(scan)
}

fn already_ended(status: ScanStatus) -> AppError {
    AppError::conflict(
        "status",
        format!(
            "This scan is {}: it can no longer be cancelled.",
            status.as_str()
        ),
    )
}

/// **Cancel**: a queued scan never starts; a running one is told to stop at its next
/// heartbeat.
pub async fn cancel(state: &AppState, actor: &Actor, scan_id: i64) -> Result<ScanRow, AppError> {
    let scan = get(state, actor, scan_id).await?;
    if !scan.status.is_open() {
        return Err(already_ended(scan.status));
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE scans SET status = 'cancelled', finished_at = $1, heartbeat_at = NULL
         WHERE id = $2 AND status = $3",
    )
    .bind(now)
    .bind(scan_id)
    .bind(scan.status.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        // A runner finished it (or claimed it) meanwhile: report what it is now.
        drop(tx);
        let now_scan = get(state, actor, scan_id).await?;
        return Err(already_ended(now_scan.status));
    }
    if scan.status == ScanStatus::Running {
        crate::integrations::server::enqueue(
            state,
            &mut tx,
            scan.group_id,
            "scan.finished",
            event_data(&scan, ScanStatus::Cancelled, None),
        )
        .await?;
    }
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("scan.cancelled", format!("scan:{scan_id}"))
            .details(serde_json::json!({ "group_id": scan.group_id, "was": scan.status.as_str() })),
    )
    .await?;
    tx.commit().await?;
    get(state, actor, scan_id).await
}

fn event_data(scan: &ScanRow, status: ScanStatus, result: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "scan_id": scan.id,
        "target": scan.target,
        "status": status.as_str(),
        "result": result,
    })
}

/// Running scans whose runner has been silent longer than the heartbeat timeout go back to
/// the queue (of one organization, or of all).
pub async fn requeue_stale(state: &AppState, org_id: Option<i64>) -> Result<u64, AppError> {
    let cutoff = state.now() - state.settings.scan_heartbeat_timeout.as_secs() as i64;
    // Usually there is nothing to do: find out with a read, so claims do not all queue for
    // SQLite's write lock just to update no rows.
    let (stale,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM scans
         WHERE status = 'running' AND heartbeat_at < $1 AND ($2 IS NULL OR org_id = $2)",
    )
    .bind(cutoff)
    .bind(org_id)
    .fetch_one(&state.db.pool)
    .await?;
    if stale == 0 {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE scans SET status = 'queued', runner_key_id = NULL, heartbeat_at = NULL, started_at = NULL
         WHERE status = 'running' AND heartbeat_at < $1 AND ($2 IS NULL OR org_id = $2)",
    )
    .bind(cutoff)
    .bind(org_id)
    .execute(&state.db.pool)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(
            scans = done.rows_affected(),
            "scans whose runner stopped heartbeating were queued again"
        );
    }
    Ok(done.rows_affected())
}

/// Sweeps stale running scans every `every`, for organizations no runner is claiming in,
/// until `stop`.
pub async fn run_reaper(
    state: AppState,
    every: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        if let Err(err) = requeue_stale(&state, None).await {
            tracing::error!(error = %err, "sweeping stale scans");
        }
    }
}

/// `POST /scans/claim`: the next runnable scan for this runner, or `None`.
pub async fn claim(state: &AppState, key: &KeyActor) -> Result<Option<ScanRow>, AppError> {
    let actor = &key.actor;
    may_use_scans(actor.role)?;
    requeue_stale(state, Some(actor.org_id)).await?;
    for _ in 0..CLAIM_TRIES {
        // Without a lock: the groups of the oldest queued scans that have a free slot. Runners
        // claiming at once start at different places in that list, so that they take
        // different groups' locks instead of all queueing for the oldest scan's group.
        let sql = format!(
            "SELECT s.group_id FROM scans s JOIN groups g ON g.id = s.group_id
             WHERE {VISIBLE} AND s.status = 'queued'
               AND (SELECT COUNT(*) FROM scans r WHERE r.group_id = s.group_id AND r.status = 'running') < g.scans_limit
             ORDER BY s.id LIMIT {CLAIM_CANDIDATES}"
        );
        let candidates: Vec<(i64,)> = for_actor(&sql, actor).fetch_all(&state.db.pool).await?;
        let mut groups: Vec<i64> = Vec::with_capacity(candidates.len());
        for (group_id,) in candidates {
            if !groups.contains(&group_id) {
                groups.push(group_id);
            }
        }
        if groups.is_empty() {
            return Ok(None);
        }
        let start = rand::random::<usize>() % groups.len();
        groups.rotate_left(start);
        let last = groups.len() - 1;
        for (i, group_id) in groups.into_iter().enumerate() {
            // The last group waits for its lock: no claim comes back empty only because
            // others held the locks.
            if let Some(scan_id) = claim_in_group(state, key, group_id, i == last).await? {
                return get(state, actor, scan_id).await.map(Some);
            }
        }
    }
    Ok(None)
}

/// Under the group's lock: recount, and start its oldest queued scan if a slot is free.
async fn claim_in_group(
    state: &AppState,
    key: &KeyActor,
    group_id: i64,
    wait_for_lock: bool,
) -> Result<Option<i64>, AppError> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    // The group's lock. Unless told to wait, PostgreSQL skips a group another claim holds
    // (that claim may fill it; this one tries the next group); SQLite has one writer at a
    // time anyway.
    let lock = match (state.db.backend, wait_for_lock) {
        (Backend::Postgres, false) => {
            "SELECT scans_limit FROM groups WHERE id = $1 FOR UPDATE SKIP LOCKED"
        }
        _ => "UPDATE groups SET scans_limit = scans_limit WHERE id = $1 RETURNING scans_limit",
    };
    let limit: Option<(i64,)> = sqlx::query_as(lock)
        .bind(group_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((limit,)) = limit else {
        return Ok(None);
    };
    let (running,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM scans WHERE group_id = $1 AND status = 'running'")
            .bind(group_id)
            .fetch_one(&mut *tx)
            .await?;
    if running >= limit {
        return Ok(None);
    }
    let claimed: Option<(i64, String)> = sqlx::query_as(
        "UPDATE scans SET status = 'running', started_at = $1, heartbeat_at = $1,
                runner_key_id = $2, attempts = attempts + 1
         WHERE id = (SELECT id FROM scans WHERE group_id = $3 AND status = 'queued' ORDER BY id LIMIT 1)
           AND status = 'queued'
         RETURNING id, target",
    )
    .bind(now)
    .bind(key.key_id)
    .bind(group_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((scan_id, target)) = claimed else {
        return Ok(None);
    };
    crate::integrations::server::enqueue(
        state,
        &mut tx,
        group_id,
        "scan.started",
        serde_json::json!({ "scan_id": scan_id, "target": target, "status": "running" }),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(scan_id))
}

/// Why a runner's report was refused: the scan is not visible (404), or not running for it.
async fn not_running_for(state: &AppState, key: &KeyActor, scan_id: i64) -> AppError {
    match get(state, &key.actor, scan_id).await {
        Ok(scan) => AppError::conflict(
            "status",
            format!(
                "This scan is {} and not running for this runner: stop working on it.",
                scan.status.as_str()
            ),
        ),
        Err(err) => err,
    }
}

/// A runner's sign of life for a scan it claimed. 409 when the scan was cancelled or handed
/// to another runner meanwhile.
pub async fn heartbeat(state: &AppState, key: &KeyActor, scan_id: i64) -> Result<(), AppError> {
    may_use_scans(key.actor.role)?;
    let done = sqlx::query(
        "UPDATE scans SET heartbeat_at = $1
         WHERE id = $2 AND org_id = $3 AND status = 'running' AND runner_key_id = $4",
    )
    .bind(state.now())
    .bind(scan_id)
    .bind(key.actor.org_id)
    .bind(key.key_id)
    .execute(&state.db.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(not_running_for(state, key, scan_id).await);
    }
    Ok(())
}

/// The runner's result: `finished` or `failed`, with an optional summary.
pub async fn finish(
    state: &AppState,
    key: &KeyActor,
    scan_id: i64,
    status: ScanStatus,
    result: Option<String>,
) -> Result<ScanRow, AppError> {
    may_use_scans(key.actor.role)?;
    if !matches!(status, ScanStatus::Finished | ScanStatus::Failed) {
        return Err(AppError::invalid(
            "status",
            "A runner reports finished or failed.",
        ));
    }
    let result = result
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if result
        .as_ref()
        .is_some_and(|r| r.chars().count() > RESULT_MAX)
    {
        return Err(AppError::invalid(
            "result",
            format!("A result is at most {RESULT_MAX} characters."),
        ));
    }
    let mut tx = state.db.begin().await?;
    let done: Option<(i64, String)> = sqlx::query_as(
        "UPDATE scans SET status = $1, finished_at = $2, result = $3, heartbeat_at = NULL
         WHERE id = $4 AND org_id = $5 AND status = 'running' AND runner_key_id = $6
         RETURNING group_id, target",
    )
    .bind(status.as_str())
    .bind(state.now())
    .bind(&result)
    .bind(scan_id)
    .bind(key.actor.org_id)
    .bind(key.key_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((group_id, target)) = done else {
        drop(tx);
        return Err(not_running_for(state, key, scan_id).await);
    };
    crate::integrations::server::enqueue(
        state,
        &mut tx,
        group_id,
        "scan.finished",
        serde_json::json!({
            "scan_id": scan_id,
            "target": target,
            "status": status.as_str(),
            "result": result,
        }),
    )
    .await?;
    tx.commit().await?;
    get(state, &key.actor, scan_id).await
}

/// The groups `actor` sees that have scans running or queued, each against its concurrent
/// scans limit (the overview). One range of the (org_id, status, id) index.
pub async fn usage(state: &AppState, actor: &Actor) -> Result<Vec<GroupScanUsage>, AppError> {
    may_use_scans(actor.role)?;
    let sql = format!(
        "SELECT g.id, g.name, g.scans_limit,
                SUM(CASE WHEN s.status = 'running' THEN 1 ELSE 0 END),
                SUM(CASE WHEN s.status = 'queued' THEN 1 ELSE 0 END)
         FROM scans s JOIN groups g ON g.id = s.group_id
         WHERE {VISIBLE} AND s.status IN ('queued', 'running')
         GROUP BY g.id, g.name, g.scans_limit ORDER BY g.name, g.id LIMIT 50"
    );
    let rows: Vec<(i64, String, i64, i64, i64)> =
        for_actor(&sql, actor).fetch_all(&state.db.pool).await?;
    Ok(rows
        .into_iter()
        .map(|(group_id, name, limit, running, queued)| GroupScanUsage {
            group_id,
            name,
            running,
            queued,
            limit,
        })
        .collect())
}

/// The last scans that finished or failed, of the groups `actor` sees, newest first.
pub async fn recently_done(
    state: &AppState,
    actor: &Actor,
    limit: i64,
) -> Result<Vec<ScanRow>, AppError> {
    may_use_scans(actor.role)?;
    let sql = format!(
        "{SELECT} WHERE {VISIBLE} AND s.status IN ('finished', 'failed') ORDER BY s.id DESC LIMIT $4"
    );
    let rows: Vec<Row> = for_actor(&sql, actor)
        .bind(limit)
        .fetch_all(&state.db.pool)
        .await?;
    rows.into_iter().map(Row::into_scan).collect()
}
/// One group's running and queued scans against its limit, and its latest scans; 404 for a
/// group of another organization or one whose scans the actor may not see.
pub async fn group_scans(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    recent: i64,
) -> Result<GroupScans, AppError> {
    let (name, limit) = visible_group(state, actor, group_id).await?;
    let (running, queued): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM scans WHERE group_id = $1 AND status = 'running'),
                (SELECT COUNT(*) FROM scans WHERE group_id = $1 AND status = 'queued')",
    )
    .bind(group_id)
    .fetch_one(&state.db.pool)
    .await?;
    let recent = list(state, actor, Some(group_id), None, None, recent)
        .await?
        .scans;
    Ok(GroupScans {
        usage: GroupScanUsage {
            group_id,
            name,
            running,
            queued,
            limit,
        },
        recent,
    })
}
