//! A real OpenID Provider for the tests: `end2end/oidc/provider.mjs` (the `oidc-provider`
//! package) in its own Node.js process, configured by the test, and the browser's side of a
//! round trip through it.

use super::{Resp, TestApp};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

pub const CLIENT_ID: &str = "gatehouse";
pub const CLIENT_SECRET: &str = "provider-client-secret";

pub struct Provider {
    pub issuer: String,
    config: Value,
    child: tokio::process::Child,
}

fn script() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    let installed = root.join("node_modules/oidc-provider/package.json");
    assert!(
        installed.exists(),
        "the test identity provider needs Node.js and `npm ci` in end2end/ \
         (scripts/setup.sh --e2e does both); {} is missing",
        installed.display()
    );
    root.join("oidc/provider.mjs")
}

impl Provider {
    /// Starts a provider that knows Gatehouse (`app`'s redirect URI) and these accounts.
    /// Each connection has its own redirect URI (`/sso/callback/<org>`): the provider knows
    /// those of the first organizations of a fresh database, and the shared callback of
    /// earlier versions.
    pub async fn start(app: &TestApp, accounts: Value, faults: Value) -> Self {
        let base = app.state.base_url();
        let mut redirect_uris: Vec<String> = (1..=30)
            .map(|org| format!("{base}/sso/callback/{org}"))
            .collect();
        redirect_uris.push(format!("{base}/sso/callback"));
        let config = json!({
            "port": 0,
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
            }],
            "accounts": accounts,
            "faults": faults,
        });
        Self::spawn(config).await
    }

    async fn spawn(config: Value) -> Self {
        let mut child = tokio::process::Command::new("node")
            .arg(script())
            .env("OIDC_CONFIG", config.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the test identity provider (node): {e}"));
        let stdout = child.stdout.take().expect("provider stdout");
        let mut stdout = tokio::io::BufReader::new(stdout);
        let mut line = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stdout.read_line(&mut line),
        )
        .await
        .expect("the test identity provider did not start within 20 s")
        .expect("provider output");
        // Whatever else it prints is read and dropped: a closed pipe would stop it.
        tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut stdout, &mut sink).await;
        });
        let ready: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("provider said {line:?}: {e}"));
        let issuer = ready["issuer"].as_str().expect("issuer").to_string();
        Self {
            issuer,
            config,
            child,
        }
    }

    /// Stops the provider and starts it again on the same address with a new signing key (a
    /// key rotation, as far as Gatehouse can tell).
    pub async fn rotate_keys(&mut self) {
        let port: u16 = self
            .issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("issuer port");
        let _ = self.child.kill().await;
        let mut config = self.config.clone();
        config["port"] = json!(port);
        let again = Self::spawn(config).await;
        assert_eq!(
            again.issuer, self.issuer,
            "the provider came back elsewhere"
        );
        *self = again;
    }
}

fn location(resp: &reqwest::Response, base: &str) -> String {
    let raw = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location from {} ({})", resp.url(), resp.status()))
        .to_string();
    url::Url::parse(base)
        .and_then(|b| b.join(&raw))
        .map(|u| u.to_string())
        .unwrap_or(raw)
}

/// The address a [`continue_page`](app::sso::routes) moves on to.
pub fn continue_url(body: &str) -> Option<String> {
    let start = body.find("content=\"0;url=")? + "content=\"0;url=".len();
    let rest = &body[start..];
    let end = rest.find('"')?;
    Some(rest[..end].replace("&amp;", "&"))
}

/// Starts a round trip the way Gatehouse's own pages do: `start` is `/sso/start?email=…`
/// (or `org=`, `next=`) or `/sso/test?org=…`, sent as the form's POST. Answers the
/// provider's authorization URL the answer moves on to.
pub async fn begin(app: &TestApp, client: &reqwest::Client, start: &str) -> String {
    let (path, query) = start.split_once('?').unwrap_or((start, ""));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let resp = Resp::from(
        format!("POST {path} {form:?}"),
        client.post(app.url(path)).form(&form).send().await,
    )
    .await;
    match continue_url(&resp.body) {
        Some(url) if resp.status == 200 => url,
        _ => panic!(
            "\nrequest: {}\nexpected the page that moves on to the provider, got {} {:?}\nbody: {}\n",
            resp.request,
            resp.status,
            resp.header("location"),
            resp.body
        ),
    }
}

/// The browser's way from `start` (see [`begin`]) through the provider's sign-in page as
/// `login`, up to the redirect back to Gatehouse. Answers the callback URL, on the address the
/// test client uses (the provider sends people to the served name, `localhost`).
pub async fn through_provider(
    app: &TestApp,
    client: &reqwest::Client,
    start: &str,
    login: &str,
) -> String {
    let mut url = begin(app, client, start).await;
    for _ in 0..10 {
        let resp = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        if !resp.status().is_redirection() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            if status.is_success() && body.contains("/login\"") {
                // The provider's own sign-in page.
                let action = url.split('?').next().unwrap_or(&url).to_string() + "/login";
                let posted = client
                    .post(&action)
                    .form(&[("login", login)])
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("POST {action}: {e}"));
                assert!(
                    posted.status().is_redirection(),
                    "POST {action} as {login}: {}",
                    posted.status()
                );
                url = location(&posted, &action);
                continue;
            }
            panic!(
                "GET {url}: {status}, expected a redirect or the provider's sign-in page\n{body}"
            );
        }
        let next = location(&resp, &url);
        if next.contains("/sso/callback") {
            let served = app.state.base_url();
            return next.replace(&served, &format!("http://{}", app.addr));
        }
        if !next.starts_with("http") || next.contains("sso_error") || next.contains("/settings") {
            panic!("GET {url} ended at {next} before reaching the provider's callback");
        }
        url = next;
    }
    panic!("more than 10 redirects from {start}");
}

/// The browser arriving back at Gatehouse.
pub async fn arrive(client: &reqwest::Client, callback: &str) -> Resp {
    Resp::from(format!("GET {callback}"), client.get(callback).send().await).await
}

/// Organization settings → Single sign-on → Connect (or Save), as the Owner `owner`: the
/// provider at `issuer` for `domains`; `provider_mfa` "on" counts its MFA.
pub async fn connect(
    app: &TestApp,
    owner: &reqwest::Client,
    org_id: i64,
    issuer: &str,
    secret: &str,
    domains: &str,
    provider_mfa: &str,
) -> Resp {
    let org = org_id.to_string();
    let mut form = vec![
        ("org_id", org.as_str()),
        ("issuer", issuer),
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
        ("allowed_domains", domains),
        ("default_role", "user"),
    ];
    if !provider_mfa.is_empty() {
        form.push(("provider_mfa", provider_mfa));
    }
    app.call(owner, "org/sso/save", &form).await
}

/// A person arriving in a new browser through `start` and the provider's page as `login`:
/// answers the browser and Gatehouse's answer to the callback.
pub async fn arrive_through(app: &TestApp, start: &str, login: &str) -> (reqwest::Client, Resp) {
    let browser = app.new_client();
    let callback = through_provider(app, &browser, start, login).await;
    let resp = arrive(&browser, &callback).await;
    (browser, resp)
}
