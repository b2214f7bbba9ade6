//! Gatehouse's application: typed models, server functions and components, shared by the
//! server (feature `ssr`) and the browser (feature `hydrate`). Server-only code is gated
//! once per module.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod domain;
pub mod error;
pub mod forms;
pub mod groups;
pub mod integrations;
pub mod invitations;
pub mod layout;
pub mod members;
pub mod orgs;
pub mod overview;
pub mod pages;
pub mod policy;
pub mod scans;
pub mod sessions;
pub mod sso;
pub mod two_factor;
pub mod words;

#[cfg(feature = "ssr")]
pub mod crypto;
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
pub mod rest;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

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

    // Lets browser tests (and people) know the wasm has started: clicks before that do nothing.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=|page: String| if page.is_empty() { "Gatehouse".to_string() } else { format!("{page} · Gatehouse") }/>
        <Router>
            // One parent route renders the shell: the session is awaited once there, for the
            // top bar and the page (see layout::WithSession).
            <Routes fallback=|| view! { <layout::WithSession><pages::NotFound/></layout::WithSession> }>
                <ParentRoute path=path!("") view=layout::AppLayout>
                    <Route path=path!("/") view=pages::Home/>
                    <Route path=path!("/signin") view=auth::views::SignInPage/>
                    <Route path=path!("/signup") view=auth::views::SignUpPage/>
                    <Route path=path!("/signin/two-factor") view=two_factor::views::SecondStepPage/>
                    <Route path=path!("/members") view=members::views::MembersPage/>
                    <Route path=path!("/invite/:token") view=invitations::views::AcceptPage/>
                    <Route path=path!("/audit") view=audit::views::AuditPage/>
                    <Route path=path!("/groups") view=groups::views::GroupsPage/>
                    <Route path=path!("/groups/:id") view=pages::GroupPage/>
                    <Route path=path!("/scans") view=scans::views::ScansPage/>
                    <Route path=path!("/scans/:id") view=scans::views::ScanPage/>
                    <Route path=path!("/settings") view=orgs::views::SettingsPage/>
                    <Route path=path!("/profile") view=pages::ProfilePage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
