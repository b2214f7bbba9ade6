//! A PostgreSQL server of the test's own, which the test stops and starts: the machine's
//! PostgreSQL binaries (`/usr/lib/postgresql/<version>/bin`), a fresh cluster in a temporary
//! folder, on a free port of 127.0.0.1, trust authentication. Run as the `postgres` user when
//! the tests run as root (PostgreSQL refuses to run as root).
//!
//! Only where the PostgreSQL tests are switched on (`GATEHOUSE_TEST_POSTGRES_URL`) and the
//! binaries are installed; `start` answers `None` elsewhere, and the test says it was skipped.

use super::TempDir;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct OwnPostgres {
    bin: PathBuf,
    dir: TempDir,
    pub port: u16,
    running: bool,
}

fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists() && bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_postgres(program: &std::path::Path, args: &[&str]) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args);
        command
    } else {
        let mut command = Command::new(program);
        command.args(args);
        command
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl OwnPostgres {
    pub async fn start() -> Option<Self> {
        std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let bin = binaries()?;
        let path = std::env::temp_dir().join(format!(
            "gatehouse-own-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&path).expect("the cluster's folder");
        let dir = TempDir(path);
        if is_root() {
            let chowned = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir.0)
                .status()
                .expect("chown");
            assert!(chowned.success(), "chown postgres {}", dir.0.display());
        }
        let data = dir.0.join("data");
        let data_arg = data.display().to_string();
        let initdb = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data_arg,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let mut own = Self {
            bin,
            dir,
            port: free_port(),
            running: false,
        };
        own.start_server().await;
        Some(own)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let data = self.dir.0.join("data").display().to_string();
        let log = self.dir.0.join("server.log").display().to_string();
        let mut all = vec!["-D", data.as_str(), "-l", log.as_str()];
        all.extend_from_slice(args);
        as_postgres(&self.bin.join("pg_ctl"), &all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("pg_ctl runs")
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start_server(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.0.display()
        );
        let started = self.pg_ctl(&["-w", "-o", &options, "start"]);
        assert!(
            started.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(self.dir.0.join("server.log")).unwrap_or_default()
        );
        self.running = true;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the test's PostgreSQL did not listen within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server the way an operator's restart does (fast shutdown: connections are
    /// ended, nothing committed is lost).
    pub fn stop_server(&mut self) {
        let stopped = self.pg_ctl(&["-w", "-m", "fast", "stop"]);
        assert!(
            stopped.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
        self.running = false;
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        }
    }
}
