//! The profile panel **Sessions**.

use super::api::{list_sessions, SignOutOtherSessions, SignOutSession};
use super::model::SessionEntry;
use crate::forms::general_error;
use crate::words::counted;
use leptos::prelude::*;

#[component]
pub fn SessionsPanel() -> impl IntoView {
    let sign_out = ServerAction::<SignOutSession>::new();
    let sign_out_others = ServerAction::<SignOutOtherSessions>::new();
    let sessions = Resource::new(
        move || (sign_out.version().get(), sign_out_others.version().get()),
        |_| list_sessions(),
    );
    view! {
        <section class="card" id="sessions" aria-labelledby="sessions-title">
            <h2 id="sessions-title">"Sessions"</h2>
            <p class="muted">"Where you are signed in. Sign out of a session you do not recognize, and change your password if you think someone else knows it: that signs out every session but this one."</p>
            <p class="form-error" role="alert">{move || general_error(sign_out.value(), &[]).get()}</p>
            <p class="form-error" role="alert">{move || general_error(sign_out_others.value(), &[]).get()}</p>
            {move || match sign_out_others.value().get() {
                Some(Ok(n)) => Some(view! {
                    <p class="notice" role="status">{format!("Signed out of {}.", counted(n as i64, "other session", "other sessions"))}</p>
                }),
                _ => None,
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => view! { <SessionsTable list sign_out sign_out_others/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SessionsTable(
    list: Vec<SessionEntry>,
    sign_out: ServerAction<SignOutSession>,
    sign_out_others: ServerAction<SignOutOtherSessions>,
) -> impl IntoView {
    let others = list.iter().filter(|s| !s.current).count();
    let rows = list
        .into_iter()
        .map(|s| {
            let label = format!("Sign out {}, last seen {}", s.device, s.last_seen);
            let id = s.id.clone();
            view! {
                <tr>
                    <td>{s.device.clone()}
                        {s.current.then(|| view! { " " <span class="badge">"This session"</span> })}</td>
                    <td>{s.ip.unwrap_or_else(|| "—".to_string())}</td>
                    <td>{s.signed_in}</td>
                    <td data-testid="session-methods">{s.signed_in_with}</td>
                    <td>{s.last_seen}</td>
                    <td>{(!s.current).then(|| view! {
                        <button type="button" class="button small secondary" aria-label=label
                            on:click=move |_| { sign_out.dispatch(SignOutSession { id: id.clone() }); }>"Sign out"</button>
                    })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table" aria-label="Sessions">
            <thead><tr>
                <th scope="col">"Browser"</th>
                <th scope="col">"Address"</th>
                <th scope="col">"Signed in"</th>
                <th scope="col">"Signed in with"</th>
                <th scope="col">"Last seen"</th>
                <th scope="col"><span class="visually-hidden">"Sign out"</span></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {(others > 0).then(|| view! {
            <ActionForm action=sign_out_others>
                <button type="submit" class="button secondary">"Sign out everywhere else"</button>
            </ActionForm>
        })}
    }
}
