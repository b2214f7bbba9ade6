//! The real `gatehouse` binary as an operator runs it: a backup taken while it serves holds
//! every acknowledged write, SIGTERM drains (503 `draining` on /healthz) and exits 0, and
//! `kill -9` in the middle of a burst of writes loses nothing that was acknowledged.

use crate::common;

use common::{Backend, TempDir, TestApp, PASSWORD};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_gatehouse");

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

/// A `gatehouse` process that is killed when the test ends, passed or failed.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// `gatehouse serve` on a free port; returns the process and its base URL.
fn serve(data_dir: &Path, extra: &[&str]) -> (Server, String) {
    let mut child = Server(
        Command::new(BINARY)
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--delivery-poll-ms", "50", "--outbound-allow", "127.0.0.1"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gatehouse starts"),
    );
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    let addr = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("gatehouse printed no address: {seen:?}");
        }
        if let Some(addr) = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
        {
            break addr.to_string();
        }
        seen.push_str(&line);
    };
    // Keep reading, so the process never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, format!("http://{addr}"))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(common::CLIENT_TIMEOUT)
        .build()
        .expect("client")
}

async fn call(
    client: &reqwest::Client,
    base: &str,
    function: &str,
    form: &[(&str, &str)],
) -> Value {
    let resp = client
        .post(format!("{base}/api/{function}"))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /api/{function}: {e}"));
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "POST /api/{function} {form:?}: {status} {body}"
    );
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// A signed-up Owner, their organization and an API key with `scopes`.
async fn owner_with_key(base: &str, scopes: &str) -> (reqwest::Client, i64, String) {
    let owner = client();
    call(
        &owner,
        base,
        "sign_up",
        &[
            ("name", "Owner"),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
            ("organization", "Acme"),
        ],
    )
    .await;
    let session = call(&owner, base, "session", &[]).await;
    let org = session["current_org"]["id"].as_i64().expect("org id");
    let key = call(
        &owner,
        base,
        "api_keys/create",
        &[
            ("name", "writer"),
            ("org_id", &org.to_string()),
            ("scopes", scopes),
            ("expiry", "30"),
        ],
    )
    .await;
    (owner, org, key["key"].as_str().expect("key").to_string())
}

async fn wait_for_exit(child: &mut Server, within: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("process status") {
            return status;
        }
        assert!(
            started.elapsed() < within,
            "gatehouse did not exit within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (id, name) of the groups a burst of writes got acknowledged.
type Acked = Arc<Mutex<Vec<(i64, String)>>>;

/// Group ids that a burst of `POST /api/v1/groups` got acknowledged (201), until `stop`.
fn writers(
    base: &str,
    key: &str,
    count: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Acked, Vec<tokio::task::JoinHandle<()>>) {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let tasks = (0..count)
        .map(|w| {
            let (base, key, acked, stop) = (
                base.to_string(),
                key.to_string(),
                acked.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let http = client();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let name = format!("w{w}-{n}");
                    let sent = http
                        .post(format!("{base}/api/v1/groups"))
                        .bearer_auth(&key)
                        .json(&json!({"name": name, "scans_limit": 1}))
                        .send()
                        .await;
                    let Ok(resp) = sent else { break };
                    if resp.status().as_u16() != 201 {
                        continue;
                    }
                    let Ok(body) = resp.json::<Value>().await else {
                        break;
                    };
                    if let (Some(id), Ok(mut list)) = (body["id"].as_i64(), acked.lock()) {
                        list.push((id, name));
                    }
                }
            })
        })
        .collect();
    (acked, tasks)
}

async fn group_names(db_file: &Path) -> Vec<(i64, String)> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", db_file.display());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    sqlx::query_as("SELECT id, name FROM groups ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("groups")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_writes_restores_every_acknowledged_row() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.api_rate_limit = 0)
        .await
        .expect("app");
    let data_dir = app.config().data_dir.clone();
    let (owner, org) = app.new_org("owner@example.com", "Acme").await;
    let key = app.create_key(&owner, org, "groups:write", "30").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (acked, tasks) = writers(&app.url(""), &key, 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let backups = temp_dir("backup");
    let file = backups.0.join("gatehouse-backup.db");
    let before: Vec<(i64, String)> = acked.lock().expect("acked").clone();
    let output = tokio::task::spawn_blocking({
        let (file, data_dir) = (file.clone(), data_dir.clone());
        move || {
            Command::new(BINARY)
                .arg("backup")
                .arg(&file)
                .arg("--data-dir")
                .arg(&data_dir)
                .output()
                .expect("gatehouse backup runs")
        }
    })
    .await
    .expect("backup");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "backup failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("secret.key"),
        "says where the key is: {stdout}"
    );
    assert!(
        before.len() >= 5,
        "the writers got going: {} acknowledged",
        before.len()
    );
    let after = acked.lock().expect("acked").len();
    assert!(after > before.len(), "writes went on during the backup");

    // Restore: the backup and the key in a new data directory, served by a new Gatehouse.
    let restored = temp_dir("restored");
    std::fs::copy(&file, restored.0.join("gatehouse.db")).expect("copy backup");
    std::fs::copy(data_dir.join("secret.key"), restored.0.join("secret.key")).expect("copy key");
    let restored_dir: PathBuf = restored.0.clone();
    let again = TestApp::spawn_with(Backend::Sqlite, |c| c.data_dir = restored_dir)
        .await
        .expect("restored app");
    let names: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM groups")
        .fetch_all(&again.state.db.pool)
        .await
        .expect("groups");
    let missing: Vec<_> = before.iter().filter(|g| !names.contains(g)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but missing from it: {missing:?}"
    );
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&again.state.db.pool)
        .await
        .expect("integrity check");
    assert_eq!(check, "ok");
    // The restored server works: the Owner signs in.
    again
        .sign_in(&again.new_client(), "owner@example.com", PASSWORD)
        .await
        .expect_status(200);

    // Wrong use is exit code 2 and changes nothing.
    let exists = Command::new(BINARY)
        .arg("backup")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("runs");
    assert_eq!(exists.status.code(), Some(2), "{exists:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_requests_and_deliveries_in_flight_then_exits_0() {
    let data = temp_dir("sigterm");
    let (mut child, base) = serve(&data.0, &["--drain-seconds", "1"]);
    // A receiver that takes 2 s to answer.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let slow_url = format!("http://{}/hook", slow.local_addr().expect("addr"));
    tokio::spawn(async move {
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "ok"
            }),
        );
        let _ = axum::serve(slow, router).await;
    });
    let (owner, org, _) = owner_with_key(&base, "org:read").await;
    let org_s = org.to_string();
    let group = call(
        &owner,
        &base,
        "groups/create",
        &[
            ("org_id", &org_s),
            ("name", "Red Team"),
            ("scans_limit", "1"),
            ("webhook_enabled", "on"),
            ("webhook_url", &slow_url),
            ("webhook_secret", "a-signing-secret-for-tests"),
        ],
    )
    .await
    .as_i64()
    .expect("group id");
    let group_s = group.to_string();
    // A delivery for the worker (a settings change)...
    call(
        &owner,
        &base,
        "groups/update",
        &[
            ("org_id", &org_s),
            ("group_id", &group_s),
            ("name", "Red Team"),
            ("description", "changed"),
            ("scans_limit", "1"),
        ],
    )
    .await;
    // ...and a request in flight (Send test event waits for the slow receiver).
    let in_flight = tokio::spawn({
        let (owner, base, org_s, group_s) =
            (owner.clone(), base.clone(), org_s.clone(), group_s.clone());
        async move {
            call(
                &owner,
                &base,
                "integrations/test",
                &[
                    ("org_id", &org_s),
                    ("group_id", &group_s),
                    ("kind", "webhook"),
                ],
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(sent.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Draining: the health check says so, and requests are still served, each closing its
    // connection...
    let health = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("served while draining");
    assert_eq!(health.status(), 503);
    assert_eq!(
        health
            .headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close")
    );
    let body: serde_json::Value = health.json().await.expect("json");
    assert_eq!(body["status"], "draining", "{body}");
    // ...then no new connections once the drain is over...
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let refused = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new request was accepted after SIGTERM: {refused:?}"
    );
    // ...but the one in flight is answered in full,
    let test = in_flight.await.expect("the request in flight");
    assert_eq!(test["status"], "delivered", "{test}");
    let status = wait_for_exit(&mut child, Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    // and the delivery the worker had started was finished and recorded.
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", data.0.join("gatehouse.db").display());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("open the database");
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM deliveries WHERE event = 'group.settings_changed'")
            .fetch_one(&mut conn)
            .await
            .expect("the delivery");
    assert_eq!(status, "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_burst_of_writes_loses_nothing_acknowledged() {
    let data = temp_dir("kill9");
    let (mut child, base) = serve(&data.0, &["--api-rate-limit", "0"]);
    let (_owner, _org, key) = owner_with_key(&base, "groups:write").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (acked, tasks) = writers(&base, &key, 8, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("kill -9");
    let _ = child.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let acked = acked.lock().expect("acked").clone();
    assert!(
        acked.len() >= 20,
        "the burst got going: {} writes acknowledged",
        acked.len()
    );
    // Start again on the same files, as a supervisor would, and look.
    let (mut again, base) = serve(&data.0, &[]);
    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    again.kill().expect("stop");
    let _ = again.wait();
    let stored = group_names(&data.0.join("gatehouse.db")).await;
    let lost: Vec<_> = acked.iter().filter(|g| !stored.contains(g)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost after kill -9: {lost:?}",
        lost.len(),
        acked.len()
    );
    eprintln!(
        "figure: kill -9 after {} acknowledged writes from 8 writers: {} lost",
        acked.len(),
        lost.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let data_dir = temp_dir("json-logs");
    let mut child = Server(
        Command::new(BINARY)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--data-dir",
            ])
            .arg(&data_dir.0)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gatehouse starts"),
    );
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let addr = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap_or(0) > 0, "no address");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split(',').next().unwrap_or_default().to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let resp = client()
        .get(format!("http://{addr}/healthz"))
        .header("x-request-id", "req-json-logs-42")
        .send()
        .await
        .expect("healthz");
    assert_eq!(resp.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let access = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines_rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no log line with the request id; saw: {seen:#?}"));
        let parsed: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(parsed.is_object(), "{line}");
        if line.contains("req-json-logs-42") {
            break parsed;
        }
        seen.push(line);
    };
    assert_eq!(access["span"]["request_id"], "req-json-logs-42", "{access}");
    assert_eq!(access["span"]["uri"], "/healthz", "{access}");
    assert_eq!(access["status"], 200, "{access}");
    assert_eq!(access["level"], "INFO", "{access}");
    assert!(access["timestamp"].is_string(), "{access}");
}
