use super::model::MembersPage;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::auth::server::{authenticate, request_meta};

/// The current organization's members, 50 at a time. `after` is the previous page's cursor.
#[server(endpoint = "members")]
pub async fn list_members(after: Option<String>) -> Result<MembersPage, AppError> {
    let state = crate::state::from_context()?;
    let meta = request_meta(&state);
    let session = authenticate(&state, &meta)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let info = crate::auth::server::session_info(&state, &session).await?;
    let org = info.current_org.ok_or(AppError::NotFound)?;
    crate::policy::authorize(org.role, crate::policy::Action::ViewMembers)?;
    let after = match after.filter(|a| !a.is_empty()) {
        None => None,
        Some(cursor) => {
            let (id, name) = cursor
                .split_once(':')
                .and_then(|(id, name)| Some((id.parse::<i64>().ok()?, name.to_string())))
                .ok_or_else(|| AppError::invalid("after", "That page link is not valid."))?;
            Some((name, id))
        }
    };
    super::server::members_page(&state, org.id, after, 50).await
}
