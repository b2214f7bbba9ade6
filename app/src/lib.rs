//! Gatehouse's application: typed models, server functions and components, shared by the
//! server (feature `ssr`) and the browser (feature `hydrate`). Server-only code is gated
//! once per module.

pub mod api_keys;
pub mod audit;
pub mod audit_streams;
pub mod auth;
pub mod billing;
pub mod domain;
pub mod domains;
pub mod error;
pub mod forms;
pub mod groups;
pub mod guard;
pub mod integrations;
pub mod invitations;
pub mod layout;
pub mod members;
pub mod orgs;
pub mod overview;
pub mod pages;
pub mod policy;
pub mod policy_impact;
pub mod routes;
pub mod scans;
pub mod scim;
pub mod session_context;
pub mod sessions;
pub mod sso;
pub mod two_factor;
pub mod words;

#[cfg(test)]
mod architecture_tests;

#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod dates;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod maintenance;
#[cfg(feature = "ssr")]
pub mod operator;
#[cfg(feature = "ssr")]
pub mod outbound;
#[cfg(feature = "ssr")]
pub mod report_only;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;
use leptos_router::Lazy;

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only from our origin or inline with this
/// response's nonce (Leptos puts it on its hydration and streaming scripts), the wasm
/// compiled from our origin (`wasm-unsafe-eval`), styles and images from our origin, no
/// plugins, no `<base>`, forms posting only to us, and no framing (clickjacking).
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    layout::provide_session();

    #[cfg(feature = "ssr")]
    if let Some(manifest) = SPLIT_MANIFEST.get() {
        provide_context(manifest.clone());
    }

    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=|page: String| if page.is_empty() { "Gatehouse".to_string() } else { format!("{page} · Gatehouse") }/>
        <Router>
            // One parent route renders the shell: the session is awaited once there, for the
            // top bar and the page (see layout::WithSession).
            <Routes fallback=|| view! { <layout::WithSession><pages::NotFound/></layout::WithSession> }>
                <ParentRoute path=path!("") view=layout::AppLayout>
                    <Route path=path!("/") view={Lazy::<routes::HomeRoute>::new()}/>
                    <Route path=path!("/signin") view={Lazy::<routes::SignInRoute>::new()}/>
                    <Route path=path!("/signup") view={Lazy::<routes::SignUpRoute>::new()}/>
                    <Route path=path!("/signin/two-factor") view={Lazy::<routes::SecondStepRoute>::new()}/>
                    <Route path=path!("/members") view={Lazy::<routes::MembersRoute>::new()}/>
                    <Route path=path!("/invite/:token") view={Lazy::<routes::InvitationRoute>::new()}/>
                    <Route path=path!("/audit") view={Lazy::<routes::AuditRoute>::new()}/>
                    <Route path=path!("/groups") view={Lazy::<routes::GroupsRoute>::new()}/>
                    <Route path=path!("/groups/:id") view={Lazy::<routes::GroupRoute>::new()}/>
                    <Route path=path!("/scans") view={Lazy::<routes::ScansRoute>::new()}/>
                    <Route path=path!("/scans/:id") view={Lazy::<routes::ScanRoute>::new()}/>
                    <Route path=path!("/settings") view={Lazy::<routes::SettingsRoute>::new()}/>
                    <Route path=path!("/profile") view={Lazy::<routes::ProfileRoute>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Marks `<body data-hydrated>` once the page is interactive: with lazy routes, only after
/// the page's own code has loaded and hydrated. Browser tests (and people) wait for it:
/// clicks before that do nothing.
#[cfg(feature = "hydrate")]
pub fn mark_hydrated() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

/// Which split files each lazily loaded unit needs (`__wasm_split_manifest.json` of the
/// built site), for the preload links of a page. Leptos reads it from the site folder on
/// disk; our site is embedded in the binary, so the server hands it over at start-up.
#[cfg(feature = "ssr")]
static SPLIT_MANIFEST: std::sync::OnceLock<leptos::WasmSplitManifest> = std::sync::OnceLock::new();

/// Sets the split manifest (the JSON text of `__wasm_split_manifest.json`) and the path its
/// files are served under (`/pkg/<build>`); a build without `--split` has none, and pages then
/// carry no preload links for split files.
#[cfg(feature = "ssr")]
pub fn use_split_manifest(json: &str, pkg_path: &str) -> Result<(), serde_json::Error> {
    let preloads: std::collections::HashMap<String, Vec<String>> = serde_json::from_str(json)?;
    let _ = SPLIT_MANIFEST.set(leptos::WasmSplitManifest(
        leptos::prelude::ArcStoredValue::new((
            pkg_path.to_string(),
            preloads,
            "__wasm_split.______________________.js".to_string(),
        )),
    ));
    Ok(())
}
