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
//!   before this process's listener has received a ping it sent after the change, and every
//!   other replica has answered that ping ([`KeyCache::settle`]). Notifications arrive in
//!   commit order and a replica answers a ping only after applying what came before it, so by
//!   then the change holds on every replica. Replicas know each other from these pings and
//!   their heartbeats; one that does not answer within [`SETTLE_TIMEOUT`] is not waited for
//!   again until it is heard from.
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
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
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
/// A replica not heard from for this long (three heartbeats) is no longer waited for.
const PEER_TTL: Duration = Duration::from_secs(15);

/// A `settle` in progress: it ends when this process has heard its own ping and every other
/// replica has answered it.
struct Waiter {
    heard: bool,
    unanswered: HashSet<u64>,
    done: Option<oneshot::Sender<()>>,
}

impl Waiter {
    fn finish_if_done(&mut self) {
        if self.heard && self.unanswered.is_empty() {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }
}

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
    pub standing: crate::two_factor::server::standing::StandingRow,
    /// The organization's report-only 2FA trial: its level and end (0, `None`: none).
    pub trial: (i64, Option<i64>),
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
    /// Tells this process's own `settle` pings from other processes'. A new one each time
    /// the listener connects again after saying goodbye, so that others can forget a
    /// departed instance for good.
    instance: AtomicU64,
    live: AtomicBool,
    /// Moves whenever rows are forgotten; a row read before a move is not kept.
    epoch: AtomicU64,
    entries: RwLock<HashMap<String, Arc<CachedKey>>>,
    waiters: Mutex<HashMap<u64, Waiter>>,
    next_ping: AtomicU64,
    /// The other replicas on this database, by instance, and when each was last heard from.
    peers: Mutex<HashMap<u64, Instant>>,
    /// Instances that said goodbye. A message of theirs that was on its way when they left
    /// (an answer, a heartbeat) must not make them a peer again: every change would then wait
    /// out the timeout for a replica that no longer answers.
    departed: Mutex<HashSet<u64>>,
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
            instance: AtomicU64::new(rand::random()),
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            entries: RwLock::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            next_ping: AtomicU64::new(0),
            peers: Mutex::new(HashMap::new()),
            departed: Mutex::new(HashSet::new()),
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

    /// Applies a notification. Pings (`s:<from>:<n>`) of other replicas are answered
    /// (`a:<to>:<n>:<from>`) once everything before them has been applied; the returned
    /// payload is that answer, for the caller to send.
    fn received(&self, payload: &str) -> Option<String> {
        let mut parts = payload.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("s"), Some(from), Some(n), None) => {
                let (from, n) = (from.parse::<u64>().ok()?, n.parse::<u64>().ok()?);
                if from == self.instance() {
                    self.with_waiter(n, |w| w.heard = true);
                    None
                } else {
                    self.heard_from(from);
                    Some(format!("a:{from}:{n}:{}", self.instance()))
                }
            }
            // A process that changes things but serves nothing (`gatehouse admin`): answered,
            // never waited for.
            (Some("w"), Some(from), Some(n), None) => {
                let (from, n) = (from.parse::<u64>().ok()?, n.parse::<u64>().ok()?);
                Some(format!("a:{from}:{n}:{}", self.instance()))
            }
            (Some("a"), Some(to), Some(n), Some(from)) => {
                let (to, n, from) = (
                    to.parse::<u64>().ok()?,
                    n.parse::<u64>().ok()?,
                    from.parse::<u64>().ok()?,
                );
                self.heard_from(from);
                if to == self.instance() {
                    self.with_waiter(n, |w| {
                        w.unanswered.remove(&from);
                    });
                }
                None
            }
            (Some("bye"), Some(from), None, None) => {
                let Ok(from) = from.parse::<u64>() else {
                    return None;
                };
                if let Ok(mut peers) = self.peers.lock() {
                    peers.remove(&from);
                }
                if let Ok(mut departed) = self.departed.lock() {
                    // Bounded: a long-lived process forgets the oldest departures wholesale.
                    if departed.len() > 10_000 {
                        departed.clear();
                    }
                    departed.insert(from);
                }
                // A replica that left answers nothing more: the changes waiting for its answer
                // stop waiting now, not after the timeout.
                if let Ok(mut waiters) = self.waiters.lock() {
                    for waiter in waiters.values_mut() {
                        waiter.unanswered.remove(&from);
                        waiter.finish_if_done();
                    }
                }
                None
            }
            _ => {
                self.forget(payload);
                None
            }
        }
    }

    fn instance(&self) -> u64 {
        self.instance.load(Ordering::SeqCst)
    }

    fn heard_from(&self, instance: u64) {
        // Its own answers to others come back to this process too.
        if instance == self.instance() {
            return;
        }
        if self
            .departed
            .lock()
            .is_ok_and(|departed| departed.contains(&instance))
        {
            return;
        }
        if let Ok(mut peers) = self.peers.lock() {
            peers.insert(instance, Instant::now());
        }
    }

    fn with_waiter(&self, n: u64, change: impl FnOnce(&mut Waiter)) {
        if let Ok(mut waiters) = self.waiters.lock() {
            if let Some(waiter) = waiters.get_mut(&n) {
                change(waiter);
                waiter.finish_if_done();
            }
        }
    }

    async fn notify(db: &Db, payload: String) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&db.pool)
            .await
            .map(|_| ())
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
        let peers: HashSet<u64> = self
            .peers
            .lock()
            .map(|mut peers| {
                peers.retain(|_, seen| seen.elapsed() < PEER_TTL);
                peers.keys().copied().collect()
            })
            .unwrap_or_default();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.insert(
                n,
                Waiter {
                    heard: false,
                    unanswered: peers,
                    done: Some(tx),
                },
            );
        }
        let sent = Self::notify(db, format!("s:{}:{n}", self.instance())).await;
        let arrived = match sent {
            Ok(()) => matches!(tokio::time::timeout(SETTLE_TIMEOUT, rx).await, Ok(Ok(()))),
            Err(err) => {
                tracing::warn!(error = %err, "could not send the key cache's ping");
                false
            }
        };
        let waiter = self.waiters.lock().ok().and_then(|mut w| w.remove(&n));
        if arrived {
            return;
        }
        let (heard, silent) = waiter
            .map(|w| (w.heard, w.unanswered))
            .unwrap_or((false, HashSet::new()));
        if !silent.is_empty() {
            // Not waited for again until heard from (its heartbeat, within 5 s).
            tracing::warn!(replicas = ?silent, "replicas did not answer the key cache's ping in time");
            if let Ok(mut peers) = self.peers.lock() {
                peers.retain(|instance, _| !silent.contains(instance));
            }
        }
        if !heard && self.is_live() {
            tracing::warn!("the key cache's listener did not hear its own ping; reconnecting");
            self.set_live(false);
            self.reconnect.notify_one();
        }
    }
}

/// For a process that changes what keys' checks read but serves no requests (`gatehouse
/// admin`): returns once every replica listening now has applied everything committed before
/// the call, or after [`SETTLE_TIMEOUT`]. Returns (replicas that answered, replicas listening).
/// On SQLite, where nothing is cached, at once.
pub async fn wait_for_replicas(db: &Db, url: &str) -> Result<(usize, usize), sqlx::Error> {
    if db.backend != Backend::Postgres {
        return Ok((0, 0));
    }
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    // Counted after listening: a replica that starts later never cached the old row.
    let (listening,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(APPLICATION_NAME)
    .fetch_one(&db.pool)
    .await?;
    let listening = usize::try_from(listening).unwrap_or(0);
    if listening == 0 {
        return Ok((0, 0));
    }
    let me: u64 = rand::random();
    KeyCache::notify(db, format!("w:{me}:0")).await?;
    let mut answered = HashSet::new();
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    while answered.len() < listening {
        let notification = match tokio::time::timeout_at(deadline, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => notification,
            Ok(Err(err)) => return Err(err),
            // Out of time, or the connection was lost: report who answered.
            Err(_) | Ok(Ok(None)) => break,
        };
        let mut parts = notification.payload().split(':');
        if let (Some("a"), Some(to), Some("0"), Some(from)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        {
            if to.parse::<u64>().ok() == Some(me) {
                answered.insert(from.to_string());
            }
        }
    }
    Ok((answered.len(), listening))
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
            match listen_once(&cache, &db, &url, &stop).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(err) => {
                    tracing::warn!(error = %err, "the key cache's listener failed; API keys are read from the database until it is back");
                }
            }
            cache.set_live(false);
            // Others stop waiting for this replica's answers until it listens again.
            let _ = KeyCache::notify(&db, format!("bye:{}", cache.instance())).await;
            cache.instance.store(rand::random(), Ordering::SeqCst);
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
    cache: &Arc<KeyCache>,
    db: &Db,
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
    // Other replicas learn of this one now rather than at its first heartbeat.
    tokio::spawn({
        let (cache, db) = (cache.clone(), db.clone());
        async move { cache.settle(&db).await }
    });
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = cache.reconnect.notified() => return Ok(()),
            received = listener.try_recv() => match received? {
                Some(notification) => {
                    if let Some(answer) = cache.received(notification.payload()) {
                        // Sent from a task of its own: the listener keeps reading meanwhile.
                        let db = db.clone();
                        tokio::spawn(async move {
                            if let Err(err) = KeyCache::notify(&db, answer).await {
                                tracing::warn!(error = %err, "could not answer another replica's ping");
                            }
                        });
                    }
                }
                // The connection was lost: notifications may have been missed.
                None => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(cache: &KeyCache, n: u64, peers: &[u64]) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        cache.waiters.lock().expect("lock").insert(
            n,
            Waiter {
                heard: false,
                unanswered: peers.iter().copied().collect(),
                done: Some(tx),
            },
        );
        rx
    }

    #[test]
    fn a_settle_ends_when_its_own_ping_is_heard_and_every_replica_answered() {
        let cache = KeyCache::new(Backend::Postgres);
        let me = cache.instance();
        let mut rx = waiting(&cache, 7, &[42]);
        // Another replica's ping is answered, and that replica is known from then on.
        assert_eq!(cache.received("s:42:3"), Some(format!("a:42:3:{me}")));
        assert!(cache.peers.lock().expect("lock").contains_key(&42));
        // This process's own answer, coming back, does not make it its own peer.
        assert_eq!(cache.received(&format!("a:42:3:{me}")), None);
        assert!(!cache.peers.lock().expect("lock").contains_key(&me));
        // Own ping heard, 42 not answered yet: still waiting.
        assert_eq!(cache.received(&format!("s:{me}:7")), None);
        assert!(rx.try_recv().is_err());
        // 42's answer to someone else's ping does not count.
        cache.received("a:99:7:42");
        assert!(rx.try_recv().is_err());
        cache.received(&format!("a:{me}:7:42"));
        assert!(rx.try_recv().is_ok());
        // A replica that leaves is not waited for.
        cache.received("bye:42");
        assert!(cache.peers.lock().expect("lock").is_empty());
        // `gatehouse admin`'s ping is answered, but it serves nothing and is never waited for.
        assert_eq!(cache.received("w:77:0"), Some(format!("a:77:0:{me}")));
        assert!(cache.peers.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_replica_that_leaves_is_not_waited_for_by_changes_already_waiting() {
        let cache = KeyCache::new(Backend::Postgres);
        let me = cache.instance();
        let mut rx = waiting(&cache, 3, &[42, 43]);
        assert_eq!(cache.received(&format!("s:{me}:3")), None);
        cache.received(&format!("a:{me}:3:43"));
        assert!(rx.try_recv().is_err(), "42 has not answered");
        // 42 shuts down (its drain is over) before answering.
        cache.received("bye:42");
        assert!(rx.try_recv().is_ok(), "the change stops waiting at once");
    }

    #[test]
    fn a_message_of_a_replica_that_left_arriving_after_its_goodbye_does_not_bring_it_back() {
        let cache = KeyCache::new(Backend::Postgres);
        let me = cache.instance();
        cache.received("s:42:1");
        assert!(cache.peers.lock().expect("lock").contains_key(&42));
        cache.received("bye:42");
        // 42's answer and heartbeat were sent as it stopped; they commit after its goodbye.
        cache.received(&format!("a:{me}:9:42"));
        cache.received("s:42:2");
        assert!(
            cache.peers.lock().expect("lock").is_empty(),
            "42 left: no change waits for it again"
        );
        // A replica that reconnects does so as a new instance, and is a peer again.
        cache.received("s:43:1");
        assert!(cache.peers.lock().expect("lock").contains_key(&43));
    }

    #[test]
    fn notifications_forget_the_keys_they_name_and_stop_stale_inserts() {
        let cache = KeyCache::new(Backend::Postgres);
        cache.live.store(true, Ordering::SeqCst);
        let key = |id: i64, user_id: i64, org_id: i64| {
            Arc::new(CachedKey::new(
                KeyRecord {
                    id,
                    user_id,
                    org_id,
                    key_hash: format!("h{id}"),
                    scopes: String::new(),
                    expires_at: None,
                    revoked_at: None,
                    role: "user".into(),
                    name: String::new(),
                    email: String::new(),
                    disabled_at: None,
                    standing: crate::two_factor::server::standing::StandingRow {
                        require_two_factor: 0,
                        two_factor_since: None,
                        two_factor_deadline: None,
                        member_since: 0,
                        two_factor_at: None,
                        passkey_at: None,
                    },
                    trial: (0, None),
                },
                None,
            ))
        };
        for (id, user, org) in [(1, 10, 100), (2, 10, 200), (3, 11, 100), (4, 12, 300)] {
            cache.insert(&format!("h{id}"), key(id, user, org), cache.epoch());
        }
        assert_eq!(cache.len(), 4);
        cache.received("k:4");
        assert!(cache.get("h4").is_none());
        cache.received("u:10");
        assert!(cache.get("h1").is_none() && cache.get("h2").is_none());
        cache.received("o:100");
        assert!(cache.is_empty());
        // A row read before a notification is not kept after it.
        let read_at = cache.epoch();
        cache.received("u:99");
        cache.insert("h5", key(5, 13, 100), read_at);
        assert!(cache.get("h5").is_none());
        // Nothing is kept or served while the listener is down.
        cache.set_live(false);
        cache.insert("h6", key(6, 13, 100), cache.epoch());
        assert!(cache.get("h6").is_none());
    }
}
