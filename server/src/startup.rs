use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::cross_site::{self, AllowedOrigin};
use crate::deadline::{self, Deadline};
use crate::telemetry::{loggable_path, redact};
use crate::{assets, health, page_gate, server_fn_errors};
use app::db::Db;
use app::state::{AppState, Clock, SystemClock};
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use http::{header, HeaderName, HeaderValue, StatusCode};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] app::db::DbError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Mail(#[from] app::mail::MailConfigError),
    #[error("secret key: {0}")]
    Key(#[from] app::crypto::KeyError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("chaining the audit log: {0}")]
    Audit(String),
    #[error("runner: {0}")]
    Runner(#[from] crate::runner::RunnerError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
}

impl StartError {
    /// Whether the command was used wrongly (exit code 2) rather than failing while working.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Config(_)
                | Self::Backup(crate::backup::BackupError::Usage(_))
                | Self::Admin(crate::admin::AdminError::Usage(_))
        )
    }
}

/// State of the axum router: the app's state plus what Leptos needs.
#[derive(Clone)]
pub struct ServerState {
    pub app: AppState,
    pub leptos: LeptosOptions,
}

impl FromRef<ServerState> for AppState {
    fn from_ref(s: &ServerState) -> Self {
        s.app.clone()
    }
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(s: &ServerState) -> Self {
        s.leptos.clone()
    }
}

pub async fn run(cli: Cli) -> Result<(), StartError> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let db = Db::connect(&config.database_url()).await?;
            db.migrate().await?;
            println!("Migrations applied to {}", redact(&config.database_url()));
            Ok(())
        }
        Command::Serve => {
            let app = Application::build(config.clone(), Arc::new(SystemClock)).await?;
            if !assets::has_site() {
                tracing::warn!("this build has no embedded site (wasm/CSS): pages render but do not hydrate; build with scripts/build-release.sh");
            }
            println!(
                "Gatehouse is running at {}/  (listening on {}, database: {})",
                app.state.base_url(),
                app.addr,
                redact(&config.database_url())
            );
            app.serve_until_stopped().await
        }
        Command::Runner(args) => Ok(crate::runner::run(args).await?),
        Command::Backup(args) => Ok(crate::backup::run(&config, &args).await?),
        Command::Admin(command) => Ok(crate::admin::run(&config, &command).await?),
    }
}

/// A running Gatehouse: bound, migrated, ready to serve. Tests build one on port 0.
pub struct Application {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `--metrics-addr` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    delivery_poll: Duration,
    key_expiry_check: Duration,
    /// How long to serve after the stop signal while `/healthz` says `draining`.
    drain: Duration,
    database_url: String,
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    router: Router,
}

impl Application {
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let db = Db::connect_with(
            &config.database_url(),
            Duration::from_secs(config.db_timeout.max(1)),
        )
        .await?;
        db.migrate().await?;
        // Events an older version wrote (before the chain, or beside it in a rolling upgrade).
        let chained = app::audit::chain::seal_all(&db, clock.now())
            .await
            .map_err(|e| StartError::Audit(e.to_string()))?;
        if chained > 0 {
            tracing::info!(
                events = chained,
                "chained audit events written by an older version"
            );
        }
        let mailer = config
            .smtp_url
            .as_deref()
            .map(|url| app::mail::Mailer::new(url, &config.smtp_from))
            .transpose()?;
        let secret_key =
            app::crypto::SecretKey::load_or_create(config.secret_key.as_deref(), &config.data_dir)?;
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| StartError::Bind(config.addr, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(config.addr, e))?;
        let settings = config.settings(addr).map_err(StartError::Config)?;
        let state = AppState::new(db, settings, clock, secret_key).with_mailer(mailer);
        let metrics_listener = match config.metrics_addr {
            Some(at) => {
                crate::metrics::handle();
                Some(
                    tokio::net::TcpListener::bind(at)
                        .await
                        .map_err(|e| StartError::Bind(at, e))?,
                )
            }
            None => None,
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let router = router(state.clone());
        Ok(Self {
            addr,
            metrics_addr,
            metrics_listener,
            state,
            delivery_poll: Duration::from_millis(config.delivery_poll_ms.max(10)),
            key_expiry_check: Duration::from_secs(config.key_expiry_check_secs.max(1)),
            drain: Duration::from_secs(config.drain_seconds),
            database_url: config.database_url(),
            listener,
            router,
        })
    }

    /// Serves requests and runs the background work (delivery worker, stale-scan sweep,
    /// pruning) until SIGTERM or Ctrl-C; dropping the future stops everything at once (tests
    /// "restart" a server that way).
    pub async fn serve_until_stopped(self) -> Result<(), StartError> {
        self.serve_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves, then shuts down gracefully: drain (for `--drain-seconds`
    /// `/healthz` answers 503 `draining` while requests are still served, each answered with
    /// `Connection: close`, so a balancer moves traffic away and no request already on its way
    /// is dropped), stop accepting connections, let the requests in flight finish (for at
    /// most [`SHUTDOWN_GRACE`]), tell the other replicas this one left, let the delivery
    /// worker finish the attempts it started, and return.
    pub async fn serve_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let token = CancellationToken::new();
        // Accepted sockets send each write at once: a streamed page goes out in several small
        // writes, and with Nagle's algorithm every page on a kept-alive connection waited
        // for the client's delayed ACK (about 40 ms).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!(error = %err, "could not set TCP_NODELAY on a connection");
            }
        });
        let server = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            let (token, state, drain) = (token.clone(), self.state.clone(), self.drain);
            async move {
                stop.await;
                state
                    .draining
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                if !drain.is_zero() {
                    tracing::info!(
                        drain_secs = drain.as_secs(),
                        "draining: /healthz answers 503 while requests are still served"
                    );
                    tokio::time::sleep(drain).await;
                }
                tracing::info!("shutting down: no new connections; finishing requests in flight");
                token.cancel();
            }
        })
        .into_future();
        let state = self.state;
        let background = tokio::spawn({
            let (state, token, poll) = (state.clone(), token.clone(), self.delivery_poll);
            let key_expiry_check = self.key_expiry_check;
            let database_url = self.database_url;
            async move {
                tokio::join!(
                    app::api_keys::server::cache::run_listener(
                        state.key_cache.clone(),
                        state.db.clone(),
                        database_url,
                        token.clone()
                    ),
                    app::integrations::server::delivery::run_worker(
                        state.clone(),
                        poll,
                        token.clone()
                    ),
                    app::audit_streams::server::run_worker(state.clone(), poll, token.clone()),
                    app::scans::server::run_reaper(
                        state.clone(),
                        Duration::from_secs(15),
                        token.clone()
                    ),
                    app::api_keys::server::expiry::run_worker(
                        state.clone(),
                        key_expiry_check,
                        token.clone()
                    ),
                    app::maintenance::run(state, Duration::from_secs(600), token),
                );
            }
        });
        if let Some(listener) = self.metrics_listener {
            let (router, token) = (crate::metrics::router(state.clone()), token.clone());
            tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(token.cancelled_owned())
                    .await;
                if let Err(err) = served {
                    tracing::error!(error = %err, "the metrics listener stopped");
                }
            });
        }
        // If the server stops for another reason, the background work stops too.
        let _stop_background = token.clone().drop_guard();
        let mut server = std::pin::pin!(server);
        tokio::select! {
            served = &mut server => served.map_err(StartError::Serve)?,
            () = token.cancelled() => {
                if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
                    tracing::warn!(
                        grace_secs = SHUTDOWN_GRACE.as_secs(),
                        "requests still running after the grace period were dropped"
                    );
                }
            }
        }
        token.cancel();
        if tokio::time::timeout(SHUTDOWN_GRACE, background)
            .await
            .is_err()
        {
            tracing::warn!("background work did not finish within the grace period");
        }
        state.db.pool.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How long a shutdown waits for requests in flight, and then for the delivery worker.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("gatehouse")
        // The wasm and its JS under this build's name (assets::build_id).
        .site_pkg_dir(assets::pkg_dir())
        .site_root("target/site")
        .env(leptos::config::Env::PROD)
        .hash_files(false)
        .build()
}

/// The app's routes, found once per process.
///
/// `generate_route_list` renders the app to find its routes, and while it does it holds
/// `leptos_server::SuppressResourceLoad`: a process-wide flag (a `static AtomicBool` in
/// leptos_server 0.8.8) under which every resource future first polled anywhere in the process
/// awaits `pending()` forever. A router built while another server in the same process renders
/// a page froze that page (its resources never resolved): integration tests start a
/// server per test in one process, and hung at random. Generating the list once, before any
/// server of this process can serve, means no render ever overlaps it. Reproduced by
/// `server/tests/integration/stall.rs`; upstream: leptos-rs/leptos#4773. Drop this once route
/// generation no longer touches process-wide state.
fn app_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

pub fn router(state: AppState) -> Router {
    assets::use_split_manifest();
    let leptos = leptos_options();
    let routes = app_routes();
    let context_state = state.clone();
    let provide_state = move || provide_context(context_state.clone());
    let server_state = ServerState {
        app: state.clone(),
        leptos: leptos.clone(),
    };
    let request_id = HeaderName::from_static("x-request-id");

    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .leptos_routes_with_context(&server_state, routes, provide_state.clone(), {
            let leptos = leptos.clone();
            move || app::shell(leptos.clone())
        })
        // Pages (and /healthz, server functions: the layer lets those pass) get their session
        // read before they render.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            app::auth::server::read_page_session,
        ))
        .fallback(fallback)
        .with_state(server_state)
        .merge(app::rest::router(state.clone()))
        .merge(app::audit::export::router(state.clone()))
        .merge(app::sso::routes::router(state.clone()))
        .merge(app::scim::rest::router(state.clone()));
    // The route layer sees axum's matched path; the outer one counts the final status.
    let metrics = state.settings.metrics;
    let router = if metrics {
        router.route_layer(axum::middleware::from_fn(crate::metrics::tag_route))
    } else {
        router
    };
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            app::api_keys::server::settle::settle_after_change,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            close_while_draining,
        ))
        .layer(axum::middleware::from_fn(server_fn_errors::map_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page_gate::page_access,
        ))
        .layer(axum::middleware::from_fn(
            app::auth::server::provide_request_auth,
        ))
        .layer(axum::middleware::from_fn_with_state(
            AllowedOrigin(Arc::new(state.settings.public_url.clone())),
            cross_site::guard,
        ))
        .layer(RequestBodyLimitLayer::new(1024 * 1024))
        // On every response. Pages set their own Content-Security-Policy with the nonce of
        // their scripts; anything else gets a policy that allows nothing to run or frame it.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let path = loggable_path(req.uri().path());
            tracing::info_span!("request", method = %req.method(), uri = %path, request_id = %id)
        })
        // One access-log line per response, at info (the benchmarks run at warn).
        .on_response(
            tower_http::trace::DefaultOnResponse::new()
                .level(tracing::Level::INFO)
                .latency_unit(tower_http::LatencyUnit::Micros),
        ))
        .layer(axum::middleware::from_fn_with_state(
            Deadline(state.settings.request_deadline),
            deadline::enforce,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));
    if metrics {
        router.layer(axum::middleware::from_fn(crate::metrics::track))
    } else {
        router
    }
}

/// While draining, every answer closes its connection: a client's next request opens a new
/// one, which the balancer sends to a replica that is not stopping.
async fn close_while_draining(
    State(state): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(req).await;
    if state.is_draining() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Embedded files first; anything else renders the app's 404 page.
async fn fallback(State(state): State<ServerState>, req: Request<Body>) -> Response {
    if let Some(response) = assets::serve(req.uri(), req.headers()) {
        return response;
    }
    let req = app::auth::server::with_page_session(&state.app, req).await;
    let app_state = state.app.clone();
    let leptos = state.leptos.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(app_state.clone()),
        move || app::shell(leptos.clone()),
    );
    let mut response = handler(req).await.into_response();
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}
