//! A webhook receiver running in the test: records each request and answers the given
//! statuses in turn (then 200). The status 0 hangs: no answer for 30 s (longer than any
//! client of Gatehouse waits), then 200.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

pub struct Receiver {
    pub url: String,
    pub requests: mpsc::UnboundedReceiver<(HeaderMap, String)>,
}

#[derive(Clone)]
struct ReceiverState {
    answers: Arc<Mutex<VecDeque<u16>>>,
    seen: mpsc::UnboundedSender<(HeaderMap, String)>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let _ = state.seen.send((headers, body));
    let code = state
        .answers
        .lock()
        .map(|mut a| a.pop_front().unwrap_or(200))
        .unwrap_or(200);
    if code == 0 {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return StatusCode::OK;
    }
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

pub async fn start_receiver(answers: &[u16]) -> Receiver {
    start_receiver_on(0, answers).await
}

/// A receiver on `port` (0: any free port).
pub async fn start_receiver_on(port: u16, answers: &[u16]) -> Receiver {
    let (seen, requests) = mpsc::unbounded_channel();
    let state = ReceiverState {
        answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
        seen,
    };
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        requests,
    }
}

pub async fn next_request(receiver: &mut Receiver) -> (HeaderMap, String) {
    tokio::time::timeout(Duration::from_secs(10), receiver.requests.recv())
        .await
        .ok()
        .flatten()
        .expect("the receiver got a request within 10 s")
}
