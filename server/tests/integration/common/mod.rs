//! Test helpers: the real Gatehouse on port 0 with a fresh database, and a client that speaks
//! the domain. Every failed expectation prints the request, the status and the body.
#![allow(dead_code)]

pub mod dns;
pub mod oidc;
pub mod own_postgres;
pub mod receiver;
pub mod smtp;
pub mod two_factor;
pub mod webauthn;

use app::state::ManualClock;
use gatehouse::config::Config;
use gatehouse::Application;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub state: app::state::AppState,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// The DNS server Gatehouse's look-ups go to (`--dns-server`).
    pub dns: Arc<dns::DnsServer>,
    config: Config,
    server: tokio::task::JoinHandle<Result<(), gatehouse::startup::StartError>>,
    /// Asks the server to stop as SIGTERM does (see [`TestApp::sigterm`]).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _data_dir: TempDir,
}

/// A folder removed when the test ends.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh PostgreSQL database on the server of `GATEHOUSE_TEST_POSTGRES_URL`.
pub async fn fresh_postgres_database() -> Option<String> {
    let base = std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = unique_name("gatehouse_test");
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to GATEHOUSE_TEST_POSTGRES_URL={base}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let (prefix, _) = base.rsplit_once('/').unwrap_or((&base, ""));
    Some(format!("{prefix}/{name}"))
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts Gatehouse with the default configuration, changed by `configure`. Returns `None`
    /// for PostgreSQL when no test server is configured.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<Self> {
        let data_dir = std::env::temp_dir().join(unique_name("gatehouse-test"));
        let dns = Arc::new(dns::DnsServer::start().await);
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_database().await?),
        };
        let mut config = Config {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            data_dir: data_dir.clone(),
            database_url,
            // Deliveries are picked up quickly; retries still wait on the injected clock.
            delivery_poll_ms: 50,
            // A stalled response ends (and is logged by the server) before the test client's
            // own timeout fails the test.
            request_deadline: 15,
            // Webhook receivers in the tests listen on loopback, which is refused by default
            // (tests/security.rs checks that default).
            outbound_allow: "127.0.0.1".into(),
            // Tests sign up many people from one address.
            signup_ip_limit: 10_000,
            // Verified domains are looked up in the test's own DNS server.
            dns_server: dns.addr.to_string(),
            ..Config::default()
        };
        configure(&mut config);
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let app = Application::build(config.clone(), clock.clone())
            .await
            .unwrap_or_else(|e| panic!("Gatehouse failed to start on {backend:?}: {e}"));
        let addr = app.addr;
        let metrics_addr = app.metrics_addr;
        let state = app.state.clone();
        let (stop, server) = serve(app);
        Some(Self {
            addr,
            metrics_addr,
            state,
            clock,
            client: new_client(),
            backend,
            dns,
            config,
            server,
            stop,
            _data_dir: TempDir(data_dir),
        })
    }

    /// Stops this server (requests, delivery worker) and starts a new one on the same data
    /// directory and database, as a restart or deploy would.
    pub async fn restart(self) -> Self {
        let config = self.config.clone();
        self.restart_with(config).await
    }

    /// A restart with a changed configuration (same data directory and database).
    pub async fn restart_with(mut self, config: Config) -> Self {
        self.config = config;
        self.server.abort();
        let _ = (&mut self.server).await;
        let app = Application::build(self.config.clone(), self.clock.clone())
            .await
            .unwrap_or_else(|e| panic!("Gatehouse failed to restart: {e}"));
        self.addr = app.addr;
        self.state = app.state.clone();
        let (stop, server) = serve(app);
        self.stop = stop;
        self.server = server;
        self
    }

    /// A second replica of this one: another server on the same database, data directory,
    /// server key and per-key request budget.
    pub async fn replica(&self) -> TestApp {
        let shared = self.config().clone();
        TestApp::spawn_with(self.backend, move |c| {
            c.database_url = shared.database_url.clone();
            c.data_dir = shared.data_dir.clone();
            c.secret_key = shared.secret_key.clone();
            c.api_rate_limit = shared.api_rate_limit;
        })
        .await
        .expect("second replica")
    }

    /// The server's clock, in Unix seconds.
    pub fn now(&self) -> i64 {
        use app::state::Clock;
        self.clock.now()
    }

    /// Waits (up to 10 s) for the key cache's listener to be up or down.
    pub async fn cache_live(&self, live: bool) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.state.key_cache.is_live() != live {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the key cache's listener did not become {} within 10 s",
                if live { "live" } else { "down" }
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The configuration this server runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Another browser: its own cookie jar.
    pub fn new_client(&self) -> reqwest::Client {
        new_client()
    }

    pub async fn get(
        &self,
        client: &reqwest::Client,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = client.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Resp::from(format!("GET {path} {headers:?}"), req.send().await).await
    }

    /// Calls a server function the way an `ActionForm` does: a form-encoded POST.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        function: &str,
        form: &[(&str, &str)],
    ) -> Resp {
        self.call_with(client, function, form, &[]).await
    }

    pub async fn call_with(
        &self,
        client: &reqwest::Client,
        function: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = client
            .post(self.url(&format!("/api/{function}")))
            .form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let shown: Vec<_> = form
            .iter()
            .map(|(k, v)| {
                if *k == "password" {
                    (*k, "***")
                } else {
                    (*k, *v)
                }
            })
            .collect();
        Resp::from(
            format!("POST /api/{function} {shown:?} {headers:?}"),
            req.send().await,
        )
        .await
    }

    pub async fn sign_up(
        &self,
        client: &reqwest::Client,
        name: &str,
        email: &str,
        org: &str,
    ) -> Resp {
        self.call(
            client,
            "sign_up",
            &[
                ("name", name),
                ("email", email),
                ("password", PASSWORD),
                ("organization", org),
            ],
        )
        .await
    }

    pub async fn sign_in(&self, client: &reqwest::Client, email: &str, password: &str) -> Resp {
        self.call(
            client,
            "sign_in",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// The session as the app sees it (`null` when signed out).
    pub async fn session(&self, client: &reqwest::Client) -> Value {
        self.call(client, "session", &[])
            .await
            .expect_status(200)
            .json()
    }

    /// The id of the organization the client's session is in.
    pub async fn org_id(&self, client: &reqwest::Client) -> i64 {
        let session = self.session(client).await;
        session["current_org"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no current org in session: {session}"))
    }

    pub async fn user_id(&self, client: &reqwest::Client) -> i64 {
        let session = self.session(client).await;
        session["user_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no user in session: {session}"))
    }

    /// A new organization owned by a new user; returns (client, org id).
    pub async fn new_org(&self, owner_email: &str, org: &str) -> (reqwest::Client, i64) {
        let client = self.new_client();
        self.sign_up(&client, "Owner", owner_email, org)
            .await
            .expect_status(200);
        let org_id = self.org_id(&client).await;
        (client, org_id)
    }

    pub async fn invite(
        &self,
        client: &reqwest::Client,
        org_id: i64,
        name: &str,
        email: &str,
        role: &str,
    ) -> Resp {
        let org = org_id.to_string();
        self.call(
            client,
            "invitations/create",
            &[
                ("org_id", &org),
                ("name", name),
                ("email", email),
                ("role", role),
            ],
        )
        .await
    }

    /// Invites `email` with `role` and accepts as a new user in a new browser; returns that
    /// browser (signed in) and the new user's id.
    pub async fn add_member(
        &self,
        inviter: &reqwest::Client,
        org_id: i64,
        email: &str,
        role: &str,
    ) -> (reqwest::Client, i64) {
        let invited = self
            .invite(inviter, org_id, "Member", email, role)
            .await
            .expect_status(200);
        let token = token_of(&invited.json()["link"]);
        let client = self.new_client();
        self.call(
            &client,
            "invitations/accept_new",
            &[
                ("token", &token),
                ("name", "Member"),
                ("password", PASSWORD),
            ],
        )
        .await
        .expect_status(200);
        let user_id = self.user_id(&client).await;
        (client, user_id)
    }

    /// Invites the person signed in as `client` (already an account, `email`) with `role`,
    /// and accepts as them.
    pub async fn add_existing_member(
        &self,
        inviter: &reqwest::Client,
        org_id: i64,
        client: &reqwest::Client,
        email: &str,
        role: &str,
    ) {
        let invited = self
            .invite(inviter, org_id, "Member", email, role)
            .await
            .expect_status(200);
        let token = token_of(&invited.json()["link"]);
        self.call(client, "invitations/accept", &[("token", &token)])
            .await
            .expect_status(200);
    }

    /// Verified domains → Add domain, as the Owner `client`: answers the entry (with the
    /// record to publish).
    pub async fn add_domain(&self, client: &reqwest::Client, org_id: i64, domain: &str) -> Value {
        self.call(
            client,
            "org/domains/add",
            &[("org_id", &org_id.to_string()), ("domain", domain)],
        )
        .await
        .expect_status(200)
        .json()
    }

    /// Verify, as the Owner `client`: answers the entry after the look-up.
    pub async fn check_domain(&self, client: &reqwest::Client, org_id: i64, id: i64) -> Value {
        self.call(
            client,
            "org/domains/verify",
            &[("org_id", &org_id.to_string()), ("id", &id.to_string())],
        )
        .await
        .expect_status(200)
        .json()
    }

    /// Adds `domain`, publishes its TXT record in the test DNS server and verifies it, as an
    /// Owner would; asserts it is verified.
    pub async fn verify_domain(&self, client: &reqwest::Client, org_id: i64, domain: &str) {
        let entry = self.add_domain(client, org_id, domain).await;
        let (name, value) = (
            entry["record_name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            entry["record_value"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        self.dns.set_txt(&name, &[&value]).await;
        let id = entry["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id in {entry}"));
        let checked = self.check_domain(client, org_id, id).await;
        assert_eq!(
            checked["status"]["state"], "verified",
            "{domain} for org {org_id}: {checked}"
        );
    }

    /// Billing → plan and seats (no billing email), as the Owner `client`.
    pub async fn set_plan(&self, client: &reqwest::Client, org_id: i64, plan: &str, seats: &str) {
        let org = org_id.to_string();
        self.call(
            client,
            "billing/update",
            &[
                ("org_id", &org),
                ("plan", plan),
                ("seats", seats),
                ("billing_email", ""),
            ],
        )
        .await
        .expect_status(200);
    }

    /// **New group** as `client`: name, concurrent scans limit, and `extra` form fields.
    pub async fn group_form(
        &self,
        client: &reqwest::Client,
        org_id: i64,
        name: &str,
        limit: &str,
        extra: &[(&str, &str)],
    ) -> Resp {
        let org = org_id.to_string();
        let mut form = vec![
            ("org_id", org.as_str()),
            ("name", name),
            ("scans_limit", limit),
        ];
        form.extend_from_slice(extra);
        self.call(client, "groups/create", &form).await
    }

    /// A group made on the New group form; returns its id.
    pub async fn new_group(
        &self,
        client: &reqwest::Client,
        org_id: i64,
        name: &str,
        limit: &str,
        extra: &[(&str, &str)],
    ) -> i64 {
        let resp = self
            .group_form(client, org_id, name, limit, extra)
            .await
            .expect_status(200);
        resp.json()
            .as_i64()
            .unwrap_or_else(|| panic!("no group id in {}", resp.body))
    }

    /// Creates an API key on the profile page's server function; returns the whole key.
    pub async fn create_key(
        &self,
        client: &reqwest::Client,
        org_id: i64,
        scopes: &str,
        expiry: &str,
    ) -> String {
        let org = org_id.to_string();
        let created = self
            .call(
                client,
                "api_keys/create",
                &[
                    ("name", "test key"),
                    ("org_id", &org),
                    ("scopes", scopes),
                    ("expiry", expiry),
                ],
            )
            .await
            .expect_status(200)
            .json();
        created["key"]
            .as_str()
            .unwrap_or_else(|| panic!("no key in {created}"))
            .to_string()
    }

    /// A REST call: `method path` with `Authorization: Bearer key` and a JSON body.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method.clone(), self.url(path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = &body {
            req = req.json(body);
        }
        let shown_key = key.map(|k| format!("{}…", &k[..k.len().min(10)]));
        Resp::from(
            format!("{method} {path} key={shown_key:?} body={body:?}"),
            req.send().await,
        )
        .await
    }

    /// `GET path` with the key and a User-Agent, as a script would send it.
    pub async fn api_get_as(&self, key: &str, agent: &str, path: &str) -> Resp {
        let bearer = format!("Bearer {key}");
        self.api_raw(
            "GET",
            path,
            &[("authorization", &bearer), ("user-agent", agent)],
            "",
        )
        .await
    }

    /// A REST call with raw headers and body, for malformed requests.
    pub async fn api_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method.clone(), self.url(path))
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let shown: String = body.chars().take(200).collect();
        Resp::from(
            format!("{method} {path} {headers:?} body={shown:?}"),
            req.send().await,
        )
        .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        n
    }
}

type Serving = (
    Option<tokio::sync::oneshot::Sender<()>>,
    tokio::task::JoinHandle<Result<(), gatehouse::startup::StartError>>,
);

/// Serves `app` until [`TestApp::sigterm`] (or the task is dropped).
fn serve(app: Application) -> Serving {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_until(async move {
        let _ = rx.await;
    }));
    (Some(tx), server)
}

impl TestApp {
    /// What SIGTERM does to the process: drain, then stop. Answers at once.
    pub fn sigterm(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the server to have stopped (after [`TestApp::sigterm`]).
    pub async fn stopped(&mut self) -> Result<(), String> {
        match (&mut self.server).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(err) => Err(err.to_string()),
        }
    }
}

/// How long a test waits for a whole response: a stall fails the test with its request printed,
/// instead of hanging CI.
pub const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(CLIENT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// A response, with the request that produced it for failure messages.
pub struct Resp {
    pub request: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub async fn from(request: String, result: reqwest::Result<reqwest::Response>) -> Self {
        let response = result.unwrap_or_else(|e| panic!("{request}: no response: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_else(|e| {
            panic!("{request}: status {status}, but the body did not arrive whole: {e}")
        });
        Self {
            request,
            status,
            headers,
            body,
        }
    }

    #[track_caller]
    pub fn expect_status(self, expected: u16) -> Self {
        assert_eq!(
            self.status, expected,
            "\nrequest: {}\nexpected status {expected}, got {}\nbody: {}\n",
            self.request, self.status, self.body
        );
        self
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "\nrequest: {}\nstatus: {}\nbody is not JSON ({e}): {}\n",
                self.request, self.status, self.body
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The session token the response set, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("gatehouse_session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_string())
    }

    /// Asserts a redirect (3xx) to exactly `to`.
    #[track_caller]
    pub fn expect_redirect(&self, to: &str) {
        let location = self.header("location").unwrap_or_default();
        assert!(
            (300..400).contains(&self.status) && location == to,
            "\nrequest: {}\nexpected a redirect to {to}, got {} to {location:?}\nbody: {}\n",
            self.request,
            self.status,
            self.body
        );
    }

    /// Asserts the body is an `AppError` with this code (and field, when given).
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str, field: Option<&str>) -> Self {
        let me = self.expect_status(status);
        let body = me.json();
        assert_eq!(
            body["code"], code,
            "\nrequest: {}\nbody: {}\n",
            me.request, me.body
        );
        if let Some(field) = field {
            assert_eq!(
                body["field"], field,
                "\nrequest: {}\nbody: {}\n",
                me.request, me.body
            );
        }
        me
    }
}

/// Runs each named async test function against SQLite, and against PostgreSQL when
/// `GATEHOUSE_TEST_POSTGRES_URL` is set (the PostgreSQL variant says it was skipped otherwise).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await.expect("sqlite app");
                    super::$name(app).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await {
                        Some(app) => super::$name(app).await,
                        None => eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL to run this test on PostgreSQL"),
                    }
                }
            )*
        }
    };
}

/// The token at the end of an invitation link.
#[track_caller]
pub fn token_of(link: &Value) -> String {
    let link = link
        .as_str()
        .unwrap_or_else(|| panic!("no invitation link in {link}"));
    link.rsplit('/').next().unwrap_or_default().to_string()
}
