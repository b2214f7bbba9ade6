use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Structured logs to stderr; `RUST_LOG` overrides the default level. In JSON, each line is
/// one object: the event's fields, and the request span's (method, path, request id).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// A request path as it may appear in logs: an invitation link's token is a credential (it
/// signs someone up into an organization), so it never reaches a log file.
pub fn loggable_path(path: &str) -> String {
    match path.strip_prefix("/invite/") {
        Some(rest) if !rest.is_empty() => "/invite/[redacted]".to_string(),
        _ => path.to_string(),
    }
}

/// The database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn invitation_tokens_are_redacted() {
        let token = "ab".repeat(32);
        assert_eq!(
            super::loggable_path(&format!("/invite/{token}")),
            "/invite/[redacted]"
        );
        assert_eq!(super::loggable_path("/members"), "/members");
        assert_eq!(super::loggable_path("/invite/"), "/invite/");
    }
}
