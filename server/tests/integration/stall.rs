//! Regression test for an intermittent page stall (leptos-rs/leptos#4773).
//!
//! `leptos_router`'s `generate_route_list` renders the app once to find its routes and, while it
//! does, holds `leptos_server::SuppressResourceLoad`: one process-wide flag under which every
//! resource future that is first polled never resolves. Building a router per
//! `Application::build` meant that a server starting in this process (tests start one per test,
//! in parallel) could freeze a page another server was rendering at that moment: the blocking
//! session resource never resolved and the response hung until the timeout.
//!
//! Here a thread builds routers in a loop, as many parallel test start-ups would, while a
//! signed-in browser fetches pages. Every page must arrive whole and promptly.

use crate::common;

use common::{Backend, TestApp};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_never_stall_while_other_servers_start() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let (client, _org) = app.new_org("ada@example.com", "Analytical Engines").await;

    let stop = Arc::new(AtomicBool::new(false));
    let built = Arc::new(AtomicUsize::new(0));
    let builder = {
        let (stop, built, state) = (stop.clone(), built.clone(), app.state.clone());
        let runtime = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            let _entered = runtime.enter();
            while !stop.load(Ordering::Relaxed) {
                drop(gatehouse::startup::router(state.clone()));
                built.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let pages = [
        "/",
        "/members",
        "/groups",
        "/scans",
        "/settings",
        "/profile",
    ];
    let mut stalled = Vec::new();
    for i in 0..300 {
        let path = pages[i % pages.len()];
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            let resp = client.get(app.url(path)).send().await?;
            let status = resp.status().as_u16();
            let body = resp.text().await?;
            Ok::<_, reqwest::Error>((status, body))
        })
        .await;
        match outcome {
            // A streamed page sends its resources' scripts after `</html>`: the stream ending
            // within the timeout is what says the page arrived whole.
            Ok(Ok((200, body))) if body.contains("</html>") => {}
            Ok(Ok((status, body))) => stalled.push(format!(
                "GET {path} (request {i}): status {status}, body ends {:?}",
                body.chars()
                    .rev()
                    .take(120)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
            )),
            Ok(Err(err)) => stalled.push(format!("GET {path} (request {i}): {err}")),
            Err(_) => stalled.push(format!("GET {path} (request {i}): no whole page in 5 s")),
        }
        if stalled.len() >= 3 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = builder.join();
    assert!(
        built.load(Ordering::Relaxed) > 0,
        "the builder thread never built a router"
    );
    assert!(
        stalled.is_empty(),
        "pages stalled while routers were built ({} built):\n{}",
        built.load(Ordering::Relaxed),
        stalled.join("\n")
    );
}
