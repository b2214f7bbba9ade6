//! A deadline on the whole response, body included. A handler or a render that stalls must
//! never hold a connection until a load balancer or the browser gives up: when the headers are
//! not ready in time the answer is 503 `deadline_exceeded`; when the body stalls after the
//! headers went out, the body ends with an error (the client sees a cut response, not a
//! complete-looking one). Either way one error line says which request, where, and how far
//! it got.

use crate::telemetry::loggable_path;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The longest any response may take, headers and body.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Duration);

/// What the logs need to identify a request that ran out of time.
struct RequestLabel {
    id: String,
    method: String,
    path: String,
    started: Instant,
}

pub async fn enforce(State(deadline): State<Deadline>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let label = Arc::new(RequestLabel {
        id: req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        method: req.method().to_string(),
        path: loggable_path(req.uri().path()),
        started,
    });
    let until = started + deadline.0;
    let response = match tokio::time::timeout_at(until, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(
                request_id = %label.id,
                method = %label.method,
                path = %label.path,
                phase = "headers",
                bytes_sent = 0,
                deadline_ms = deadline.0.as_millis() as u64,
                "response deadline exceeded: answered 503"
            );
            return deadline_exceeded();
        }
    };
    let (parts, body) = response.into_parts();
    let rolling = parts
        .extensions
        .get::<app::rest::RollingDeadline>()
        .map(|_| deadline.0);
    let body = DeadlineBody {
        inner: body,
        sleep: Box::pin(tokio::time::sleep_until(until)),
        rolling,
        sent: 0,
        label,
    };
    Response::from_parts(parts, Body::new(body))
}

fn deadline_exceeded() -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "code": "deadline_exceeded",
        "detail": "The server could not answer in time. Please try again.",
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::RETRY_AFTER, "1"),
        ],
        body.to_string(),
    )
        .into_response()
}

#[derive(Debug, thiserror::Error)]
#[error("the response body did not finish before the deadline")]
struct BodyDeadlineExceeded;

/// The response body, cut off with an error at the deadline.
struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<Sleep>>,
    /// For long downloads: each chunk moves the deadline this far ahead (a stall still ends it).
    rolling: Option<Duration>,
    sent: u64,
    label: Arc<RequestLabel>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
                if let Some(rolling) = this.rolling {
                    this.sleep.as_mut().reset(Instant::now() + rolling);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let label = &this.label;
                    tracing::error!(
                        request_id = %label.id,
                        method = %label.method,
                        path = %label.path,
                        phase = "body",
                        bytes_sent = this.sent,
                        elapsed_ms = label.started.elapsed().as_millis() as u64,
                        "response deadline exceeded: body cut off"
                    );
                    Poll::Ready(Some(Err(axum::Error::new(BodyDeadlineExceeded))))
                }
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;

    fn app(deadline: Duration) -> Router {
        Router::new()
            .route("/fast", get(|| async { "done" }))
            .route(
                "/slow-headers",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "never"
                }),
            )
            .route(
                "/slow-body",
                get(|| async {
                    let first = futures::stream::once(async {
                        Ok::<_, std::io::Error>(Bytes::from_static(b"<html>partial"))
                    });
                    Body::from_stream(futures::StreamExt::chain(first, futures::stream::pending()))
                }),
            )
            .route("/long-download", get(|| async { long_download(true) }))
            .route(
                "/slow-body-rolling",
                get(|| async {
                    let first = futures::stream::once(async {
                        Ok::<_, std::io::Error>(Bytes::from_static(b"partial"))
                    });
                    let mut response = Body::from_stream(futures::StreamExt::chain(
                        first,
                        futures::stream::pending(),
                    ))
                    .into_response();
                    response.extensions_mut().insert(app::rest::RollingDeadline);
                    response
                }),
            )
            .route("/long-page", get(|| async { long_download(false) }))
            .layer(axum::middleware::from_fn_with_state(
                Deadline(deadline),
                enforce,
            ))
    }

    /// Ten chunks, 500 ms apart (5 s in all).
    fn long_download(rolling: bool) -> Response {
        let chunks = futures::stream::unfold(0, |n| async move {
            if n == 10 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from_static(b"chunk\n")),
                n + 1,
            ))
        });
        let mut response = Body::from_stream(chunks).into_response();
        if rolling {
            response.extensions_mut().insert(app::rest::RollingDeadline);
        }
        response
    }

    async fn call(app: Router, path: &str) -> (StatusCode, Result<Bytes, String>) {
        use tower::ServiceExt;
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| e.to_string());
        (status, body)
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_download_that_progresses_finishes_past_the_deadline() {
        let started = Instant::now();
        let (status, body) = call(app(Duration::from_secs(2)), "/long-download").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.map(|b| b.len()), Ok(60), "all ten chunks");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        // The same body without the marker is cut at the deadline.
        let (_, body) = call(app(Duration::from_secs(2)), "/long-page").await;
        assert!(body.is_err(), "{body:?}");
        // And a download that stalls is still cut, a deadline after its last chunk.
        let started = Instant::now();
        let (_, body) = call(app(Duration::from_secs(2)), "/slow-body-rolling").await;
        assert!(body.is_err(), "{body:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn fast_responses_pass_untouched() {
        let (status, body) = call(app(Duration::from_secs(1)), "/fast").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.as_deref(), Ok(&b"done"[..]));
    }

    #[tokio::test(start_paused = true)]
    async fn stalled_headers_answer_503_at_the_deadline() {
        let started = Instant::now();
        let (status, body) = call(app(Duration::from_secs(2)), "/slow-headers").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let body = body.expect("a whole problem document");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["code"], "deadline_exceeded", "{problem}");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_cut_off_with_an_error_at_the_deadline() {
        let started = Instant::now();
        let (status, body) = call(app(Duration::from_secs(2)), "/slow-body").await;
        assert_eq!(status, StatusCode::OK, "the headers went out in time");
        let err = body.expect_err("the body must end with an error, not look complete");
        assert!(err.contains("deadline"), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }
}
