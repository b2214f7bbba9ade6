//! **Confirm access** ("sudo mode") on the server. Above the session and the second factors,
//! which it asks.

use super::proof::Method;
use super::{check_password, rate_limit, Session};
use crate::error::AppError;
use crate::state::AppState;

/// **Confirm access**: the password again, and a second factor when 2FA is on. Counted
/// against the account like sign-in attempts, before the password is checked.
pub async fn confirm_access(
    state: &AppState,
    session: &Session,
    password: &str,
    code: Option<&str>,
) -> Result<(), AppError> {
    let limits = &state.settings.rate_limits;
    let bucket = format!("signin-account:{}", session.email.to_lowercase());
    rate_limit::hit(state, &bucket, limits.account_failures, limits.window).await?;
    check_password(state, session.user_id, password).await?;
    // A code when there is an app to read one from; with security keys or passkeys only, the
    // password confirms access (as GitHub's sudo mode allows).
    let mut proof = session.proof.clone().with(Method::Password);
    if crate::two_factor::server::has_app(state, session.user_id).await? {
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                AppError::invalid("code", "Enter a code from your authenticator app.")
            })?;
        let factor = crate::two_factor::server::verify(state, session.user_id, code, true).await?;
        proof = proof.with(factor);
    }
    rate_limit::reset(state, &bucket).await?;
    sqlx::query("UPDATE sessions SET authenticated_at = $1, methods = $2 WHERE id_hash = $3")
        .bind(state.now())
        .bind(proof.stored())
        .bind(&session.id_hash)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}
