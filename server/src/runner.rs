//! `gatehouse runner --simulate`: a small reference scan runner. It claims scans over the REST
//! API with an API key (scope `scans:write`), sends heartbeats, and finishes each after a
//! random delay, so a demo shows the queue moving. A real scanner implements the same four
//! calls: claim, heartbeat, finish (and reads 409 on a heartbeat as "stop: cancelled").

use clap::Args;
use rand::Rng;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct RunnerArgs {
    /// Gatehouse's address, e.g. http://127.0.0.1:3000
    #[arg(long, env = "GATEHOUSE_API_URL")]
    pub api_url: String,
    /// An API key with the scans:write scope.
    #[arg(long, env = "GATEHOUSE_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// Pretend to scan: finish each claimed scan after a random delay.
    #[arg(long)]
    pub simulate: bool,
    /// How many scans this runner works on at once.
    #[arg(long, default_value_t = 4)]
    pub runners: usize,
    /// Shortest simulated scan (ms).
    #[arg(long, default_value_t = 2000)]
    pub min_ms: u64,
    /// Longest simulated scan (ms).
    #[arg(long, default_value_t = 8000)]
    pub max_ms: u64,
    /// How long to wait before claiming again when nothing is runnable (ms).
    #[arg(long, default_value_t = 1000)]
    pub idle_ms: u64,
    /// Exit once nothing is runnable, printing claims per second (for benchmarks).
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Stop claiming after this many seconds (for benchmarks; 0: never).
    #[arg(long, default_value_t = 0)]
    pub for_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(
        "only --simulate is built in; a real scanner calls the runner API itself (see docs/api.md)"
    )]
    NotSimulating,
    #[error("the API refused the key ({0}): it needs the scans:write scope")]
    Refused(String),
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
}

struct Runner {
    http: reqwest::Client,
    base: String,
    key: String,
    args: RunnerArgs,
    claimed: AtomicU64,
    /// How long each claim that handed out a scan took, for the closing figures.
    claim_times: std::sync::Mutex<Vec<Duration>>,
    started: Instant,
}

enum Claim {
    Scan(i64, String),
    Nothing,
    Wait(Duration),
}

impl Runner {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn claim(&self) -> Result<Claim, RunnerError> {
        let sent = Instant::now();
        let resp = self
            .http
            .post(self.url("/scans/claim"))
            .bearer_auth(&self.key)
            .send()
            .await?;
        match resp.status().as_u16() {
            200 => {
                if let Ok(mut times) = self.claim_times.lock() {
                    times.push(sent.elapsed());
                }
                let scan: Value = resp.json().await?;
                let id = scan["id"].as_i64().unwrap_or_default();
                let target = scan["target"].as_str().unwrap_or_default().to_string();
                Ok(Claim::Scan(id, target))
            }
            204 => Ok(Claim::Nothing),
            429 => {
                let secs = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Ok(Claim::Wait(Duration::from_secs(secs)))
            }
            401 | 403 => Err(RunnerError::Refused(resp.text().await.unwrap_or_default())),
            status => {
                tracing::warn!(status, "claim failed");
                Ok(Claim::Wait(Duration::from_millis(self.args.idle_ms)))
            }
        }
    }

    /// Works on one scan: heartbeats while "scanning", then reports the result. Stops early
    /// when Gatehouse answers 409 (cancelled, or handed to another runner).
    async fn run_scan(&self, id: i64, target: &str) -> Result<(), RunnerError> {
        let (min, max) = (self.args.min_ms, self.args.max_ms.max(self.args.min_ms));
        let total = Duration::from_millis(rand::thread_rng().gen_range(min..=max));
        let started = Instant::now();
        tracing::info!(scan = id, target, ms = total.as_millis() as u64, "scanning");
        while started.elapsed() < total {
            let step = (total - started.elapsed()).min(Duration::from_secs(10));
            tokio::time::sleep(step).await;
            if started.elapsed() >= total {
                break;
            }
            let beat = self
                .http
                .post(self.url(&format!("/scans/{id}/heartbeat")))
                .bearer_auth(&self.key)
                .send()
                .await?;
            if beat.status().as_u16() == 409 {
                tracing::info!(scan = id, "stopped: the scan is no longer ours");
                return Ok(());
            }
        }
        let finished = self
            .http
            .post(self.url(&format!("/scans/{id}/finish")))
            .bearer_auth(&self.key)
            .json(&serde_json::json!({
                "status": "finished",
                "result": format!("Simulated scan of {target}: no findings."),
            }))
            .send()
            .await?;
        if !finished.status().is_success() {
            tracing::warn!(
                scan = id,
                status = finished.status().as_u16(),
                "finish refused"
            );
        }
        Ok(())
    }

    async fn work(self: Arc<Self>) -> Result<(), RunnerError> {
        loop {
            let until = self.args.for_secs;
            if until > 0 && self.started.elapsed() >= Duration::from_secs(until) {
                return Ok(());
            }
            match self.claim().await {
                Ok(Claim::Scan(id, target)) => {
                    self.claimed.fetch_add(1, Ordering::Relaxed);
                    if let Err(err) = self.run_scan(id, &target).await {
                        tracing::warn!(scan = id, error = %err, "scan interrupted");
                    }
                }
                Ok(Claim::Nothing) if self.args.exit_when_idle => return Ok(()),
                Ok(Claim::Nothing) => {
                    tokio::time::sleep(Duration::from_millis(self.args.idle_ms)).await
                }
                Ok(Claim::Wait(wait)) => tokio::time::sleep(wait).await,
                Err(RunnerError::Client(err)) => {
                    tracing::warn!(error = %err, "Gatehouse unreachable; retrying");
                    tokio::time::sleep(Duration::from_millis(self.args.idle_ms)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

pub async fn run(args: RunnerArgs) -> Result<(), RunnerError> {
    if !args.simulate {
        return Err(RunnerError::NotSimulating);
    }
    let runner = Arc::new(Runner {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        base: args.api_url.trim_end_matches('/').to_string(),
        key: args.api_key.trim().to_string(),
        args: args.clone(),
        claimed: AtomicU64::new(0),
        claim_times: std::sync::Mutex::new(Vec::new()),
        started: Instant::now(),
    });
    println!(
        "Simulated runner: {} at once, against {}",
        args.runners.max(1),
        runner.base
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..args.runners.max(1))
        .map(|_| tokio::spawn(runner.clone().work()))
        .collect();
    let mut outcome = Ok(());
    for worker in workers {
        match worker.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => outcome = Err(err),
            Err(err) => tracing::error!(error = %err, "runner task failed"),
        }
    }
    let claimed = runner.claimed.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let mut times = runner
        .claim_times
        .lock()
        .map(|t| t.clone())
        .unwrap_or_default();
    times.sort_unstable();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "claimed and finished {claimed} scans in {secs:.2} s: {:.0} scans/s; claim p50 {:.1} ms, p99 {:.1} ms",
        claimed as f64 / secs.max(1e-9),
        at(0.50),
        at(0.99)
    );
    outcome
}
