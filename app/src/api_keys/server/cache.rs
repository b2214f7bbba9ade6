//! What an API key's check reads, kept in the process on PostgreSQL, and forgotten when
//! PostgreSQL says it changed.
//!
//! On PostgreSQL the one query of a key-authenticated request costs more in the protocol
//! than in the database (about 140 µs of CPU between sqlx and the server), so each process
//! keeps the rows it has read. What keeps them true:
//!
//! - Triggers (migration `0018_key_cache_notify.sql`) send `NOTIFY gatehouse_key_auth` from
//!   every transaction that changes a key, its owner, the owner's membership or the
//!   organization, whatever code path makes the change. PostgreSQL delivers it at commit,
//!   to every process at once; each process forgets the rows it names.
//! - A request that changes something (any method but GET, HEAD and OPTIONS) does not answer
//!   before this process's listener has received a notification it sent after the change
//!   ([`KeyCache::settle`]): notifications arrive in commit order, so the change has been
//!   applied here, and PostgreSQL has already handed it to every other process.
//! - Rows read while a notification is being applied are not kept ([`KeyCache::insert`]
//!   compares an epoch), so a read that raced a change cannot outlive it.
//! - The cache is used only while the listening connection is up. When it drops, everything
//!   is forgotten and each request reads the database until the connection is back. A
//!   connection that hangs without closing is found by a ping through it every
//!   [`HEARTBEAT`] that must come back within [`SETTLE_TIMEOUT`].
//!
//! Expiry, the 2FA grace period and the per-key budget are still decided on every request
//! from the cached row and the clock. SQLite has no notifications and needs no cache: its
//! read is a few microseconds on the request's own thread (`crate::db::read`).

use crate::db::{Backend, Db};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "gatehouse_key_auth";
/// Shown in `pg_stat_activity`, so an operator (or a test) can find the listening connection.
pub const APPLICATION_NAME: &str = "gatehouse-key-cache";
/// How often an idle listener proves it still receives.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a notification may take to come back before the listener counts as broken.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);
/// Past this many keys the cache starts over (about 1 KB each).
const CAPACITY: usize = 50_000;

/// A key's row as the check reads it.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: i64,
    pub user_id: i64,
    pub org_id: i64,
    pub key_hash: String,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub role: String,
    pub name: String,
    pub email: String,
    pub disabled_at: Option<i64>,
    pub standing: crate::two_factor::server::policy::StandingRow,
}

/// A key's row and when it was last marked used (written at most once a minute).
#[derive(Debug)]
pub struct CachedKey {
    pub record: KeyRecord,
    pub last_used_at: AtomicI64,
}

impl CachedKey {
    pub fn new(record: KeyRecord, last_used_at: Option<i64>) -> Self {
        Self {
            record,
            last_used_at: AtomicI64::new(last_used_at.unwrap_or(i64::MIN)),
        }
    }

    pub fn last_used_at(&self) -> Option<i64> {
        Some(self.last_used_at.load(Ordering::Relaxed)).filter(|t| *t != i64::MIN)
    }
}

pub struct KeyCache {
    /// Only on PostgreSQL.
    enabled: bool,
    /// Tells this process's own `settle` pings from other processes'.
    instance: u64,
    live: AtomicBool,
    /// Moves whenever rows are forgotten; a row read before a move is not kept.
    epoch: AtomicU64,
    entries: RwLock<HashMap<String, Arc<CachedKey>>>,
    waiters: Mutex<HashMap<u64, oneshot::Sender<()>>>,
    next_ping: AtomicU64,
    /// Asks the listener to drop its connection and connect again.
    reconnect: Notify,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("enabled", &self.enabled)
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    pub fn new(backend: Backend) -> Self {
        Self {
            enabled: backend == Backend::Postgres,
            instance: rand::random(),
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            entries: RwLock::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            next_ping: AtomicU64::new(0),
            reconnect: Notify::new(),
        }
    }

    /// Whether cached rows are used now (the listener is connected and listening).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key_hash: &str) -> Option<Arc<CachedKey>> {
        if !self.is_live() {
            return None;
        }
        self.entries.read().ok()?.get(key_hash).cloned()
    }

    /// Read before the database, handed back to [`insert`](Self::insert).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Keeps a row read at `epoch`, unless rows were forgotten since (the read may predate
    /// the change that made them go) or the listener is down.
    pub fn insert(&self, key_hash: &str, key: Arc<CachedKey>, epoch: u64) {
        if !self.is_live() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if self.epoch.load(Ordering::SeqCst) != epoch || !self.is_live() {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key_hash.to_string(), key);
    }

    /// Forgets the rows a notification names: `k:<key id>`, `u:<user id>`, `o:<org id>`;
    /// anything else it does not understand forgets everything.
    fn forget(&self, payload: &str) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let target = payload
            .split_once(':')
            .and_then(|(kind, id)| Some((kind, id.parse::<i64>().ok()?)));
        match target {
            Some(("k", id)) => entries.retain(|_, e| e.record.id != id),
            Some(("u", id)) => entries.retain(|_, e| e.record.user_id != id),
            Some(("o", id)) => entries.retain(|_, e| e.record.org_id != id),
            _ => entries.clear(),
        }
    }

    fn set_live(&self, live: bool) {
        // Forget first: nothing read while the listener was down may be served after.
        if let Ok(mut entries) = self.entries.write() {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            entries.clear();
            self.live.store(live, Ordering::SeqCst);
        }
    }

    fn received(&self, payload: &str) {
        if let Some(ping) = payload.strip_prefix("s:") {
            let ours = ping
                .split_once(':')
                .filter(|(instance, _)| *instance == self.instance.to_string())
                .and_then(|(_, n)| n.parse::<u64>().ok());
            if let Some(n) = ours {
                let waiter = self.waiters.lock().ok().and_then(|mut w| w.remove(&n));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(());
                }
            }
        } else {
            self.forget(payload);
        }
    }

    /// Returns once this process has applied every change committed before the call: sends a
    /// notification of its own and waits for the listener to receive it (PostgreSQL delivers
    /// notifications in commit order). A listener that does not answer in time is restarted,
    /// and the cache is off until it is back.
    pub async fn settle(&self, db: &Db) {
        if !self.is_live() {
            return;
        }
        let n = self.next_ping.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.insert(n, tx);
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("s:{}:{n}", self.instance))
            .execute(&db.pool)
            .await;
        let arrived = match sent {
            Ok(_) => matches!(tokio::time::timeout(SETTLE_TIMEOUT, rx).await, Ok(Ok(()))),
            Err(err) => {
                tracing::warn!(error = %err, "could not send the key cache's ping");
                false
            }
        };
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.remove(&n);
        }
        if !arrived && self.is_live() {
            tracing::warn!("the key cache's listener did not hear its own ping; reconnecting");
            self.set_live(false);
            self.reconnect.notify_one();
        }
    }
}

/// Listens for changes while `stop` is not cancelled, connecting again (with the cache off)
/// whenever the connection is lost. Nothing to do on SQLite.
pub async fn run_listener(cache: Arc<KeyCache>, db: Db, url: String, stop: CancellationToken) {
    if !cache.enabled {
        return;
    }
    let heartbeat = {
        let (cache, db, stop) = (cache.clone(), db.clone(), stop.clone());
        async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(HEARTBEAT) => cache.settle(&db).await,
                }
            }
        }
    };
    let listen = async {
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            match listen_once(&cache, &url, &stop).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(err) => {
                    tracing::warn!(error = %err, "the key cache's listener failed; API keys are read from the database until it is back");
                }
            }
            cache.set_live(false);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    };
    tokio::join!(heartbeat, listen);
    cache.set_live(false);
}

/// One connection's life: listen, turn the cache on, apply notifications until the
/// connection ends (or is asked to end).
async fn listen_once(
    cache: &KeyCache,
    url: &str,
    stop: &CancellationToken,
) -> Result<(), sqlx::Error> {
    use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
    use std::str::FromStr as _;
    let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    cache.set_live(true);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = cache.reconnect.notified() => return Ok(()),
            received = listener.try_recv() => match received? {
                Some(notification) => cache.received(notification.payload()),
                // The connection was lost: notifications may have been missed.
                None => return Ok(()),
            },
        }
    }
}

/// Middleware: a request that may have changed something answers only once this process's
/// cache has applied the change (see [`KeyCache::settle`]), so the caller's next request,
/// here or on another replica, sees it.
pub async fn settle_after_change(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let reads_only = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if !reads_only {
        state.key_cache.settle(&state.db).await;
    }
    response
}
