//! Reading and ending the signed-in user's own sessions.

use super::model::SessionEntry;
use crate::audit;
use crate::auth::server::Session;
use crate::error::AppError;
use crate::state::AppState;

/// More than anyone has; a list longer than this shows the most recently active.
const SHOWN: i64 = 100;

/// "Firefox on Linux" from a User-Agent header, by woothee's dataset.
pub fn device(user_agent: Option<&str>) -> String {
    let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
    let known = |v: &str| !v.is_empty() && v != woothee::woothee::VALUE_UNKNOWN;
    match parsed {
        Some(p) if known(p.name) && known(p.os) => format!("{} on {}", p.name, p.os),
        Some(p) if known(p.name) => p.name.to_string(),
        _ => "Unknown browser".to_string(),
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id_hash: String,
    user_agent: Option<String>,
    ip: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    methods: String,
    sso_org_id: Option<i64>,
    sso_org_name: Option<String>,
}

/// The user's live sessions (not past their absolute or idle expiry).
pub async fn list(state: &AppState, session: &Session) -> Result<Vec<SessionEntry>, AppError> {
    let now = state.now();
    let idle = state.settings.session_idle.as_secs() as i64;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id_hash, s.user_agent, s.ip, s.created_at, s.last_seen_at, s.methods,
                s.sso_org_id, o.name AS sso_org_name
         FROM sessions s LEFT JOIN organizations o ON o.id = s.sso_org_id
         WHERE s.user_id = $1 AND s.expires_at > $2 AND s.last_seen_at > $3
         ORDER BY s.last_seen_at DESC, s.created_at DESC LIMIT $4",
    )
    .bind(session.user_id)
    .bind(now)
    .bind(now - idle)
    .bind(SHOWN)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionEntry {
            current: row.id_hash == session.id_hash,
            device: device(row.user_agent.as_deref()),
            id: row.id_hash,
            ip: row.ip,
            signed_in: crate::dates::date_time(row.created_at),
            signed_in_with: crate::auth::server::proof::Proof::parse(&row.methods, row.sso_org_id)
                .describe(row.sso_org_name.as_deref()),
            last_seen: crate::dates::date_time(row.last_seen_at),
        })
        .collect())
}

/// Ends another session of the user's. The session in use is ended by Sign out instead; a
/// session that is not theirs (or is gone) is 404.
pub async fn sign_out(
    state: &AppState,
    session: &Session,
    ip: Option<String>,
    id: &str,
) -> Result<(), AppError> {
    if id == session.id_hash {
        return Err(AppError::invalid(
            "id",
            "This is the session you are using: use Sign out at the top of the page.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let ended: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "DELETE FROM sessions WHERE id_hash = $1 AND user_id = $2 RETURNING user_agent, ip",
    )
    .bind(id)
    .bind(session.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (user_agent, ended_ip) = ended.ok_or(AppError::NotFound)?;
    audit::record_for_user(
        &mut tx,
        state,
        session.user_id,
        audit::Event::new("user.session_ended", format!("user:{}", session.user_id))
            .actor(session.user_id)
            .ip(ip)
            .details(serde_json::json!({
                "device": device(user_agent.as_deref()),
                "ip": ended_ip,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session of the user's but this one; returns how many.
pub async fn sign_out_others(
    state: &AppState,
    session: &Session,
    ip: Option<String>,
) -> Result<u64, AppError> {
    let mut tx = state.db.begin().await?;
    let ended =
        crate::auth::server::store::end_other_sessions(&mut tx, session.user_id, &session.id_hash)
            .await?;
    // Like a password change: in the audit log of each of the person's organizations too.
    audit::record_for_user(
        &mut tx,
        state,
        session.user_id,
        audit::Event::new(
            "user.other_sessions_ended",
            format!("user:{}", session.user_id),
        )
        .actor(session.user_id)
        .ip(ip)
        .details(serde_json::json!({ "sessions": ended })),
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn devices_read_from_user_agents() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(device(Some(chrome)), "Chrome on Linux");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(device(Some(firefox)), "Firefox on Windows 10");
        assert_eq!(device(Some("")), "Unknown browser");
        assert_eq!(device(None), "Unknown browser");
        assert_eq!(device(Some("\u{0}garbage")), "Unknown browser");
    }
}
