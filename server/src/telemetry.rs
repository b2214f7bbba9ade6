use tracing_subscriber::EnvFilter;

/// Structured logs to stderr; `RUST_LOG` overrides the default level.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A request path as it may appear in logs: an invitation link's token is a credential (it
/// signs someone up into an organization), so it never reaches a log file.
pub fn loggable_path(path: &str) -> String {
    match path.strip_prefix("/invite/") {
        Some(rest) if !rest.is_empty() => "/invite/[redacted]".to_string(),
        _ => path.to_string(),
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
