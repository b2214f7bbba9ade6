//! New user form, pending invitations, and the page an invitation link opens.

use super::api::{
    invitation, pending_invitations, AcceptAsNewUser, AcceptInvitation, Invite, ResendInvitation,
    RevokeInvitation,
};
use super::model::{InvitationState, InviteOutcome};
use crate::domain::Role;
use crate::forms::{field_error, general_error, Field};
use crate::policy::{allows, Action};
use crate::session_context::{refresh_session_when, AuthActions};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// **New user** → Name, Email, Role → **Invite**.
#[component]
pub fn InviteForm<F>(org_id: i64, role: Role, on_sent: F) -> impl IntoView
where
    F: Fn() + Send + Sync + Copy + 'static,
{
    let invite = ServerAction::<Invite>::new();
    const FIELDS: &[&str] = &["name", "email", "role"];
    let general = general_error(invite.value(), FIELDS);
    Effect::new(move |_| {
        if matches!(invite.value().get(), Some(Ok(_))) {
            on_sent();
        }
    });
    let roles = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Owner || allows(role, Action::ManageOwners))
        .map(|r| {
            view! {
                <label class="role-choice">
                    <input type="radio" name="role" value=r.as_str() checked=r == Role::User/>
                    <span><strong>{r.label()}</strong>" — "{r.meaning()}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="invite-title">
            <h2 id="invite-title">"New user"</h2>
            <ActionForm action=invite>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field label="Name" name="name" autocomplete="off" error=field_error(invite.value(), "name")/>
                <Field label="Email" name="email" kind="email" autocomplete="off" error=field_error(invite.value(), "email")/>
                <fieldset class="field">
                    <legend>"Role"</legend>
                    {roles}
                    <p class="field-error" aria-live="polite">{move || field_error(invite.value(), "role").get()}</p>
                </fieldset>
                <p class="form-error" role="alert">{move || general.get()}</p>
                <button type="submit" class="button" disabled=move || invite.pending().get()>
                    {move || if invite.pending().get() { "Inviting…" } else { "Invite" }}
                </button>
            </ActionForm>
            {move || invite.value().get().and_then(|r| r.ok()).map(|outcome| view! { <InviteSent outcome/> })}
        </section>
    }
}

#[component]
fn InviteSent(outcome: InviteOutcome) -> impl IntoView {
    match outcome.link {
        Some(link) => {
            let copy_link = link.clone();
            let copied = RwSignal::new(false);
            let why = if outcome.email_failed {
                ". The email could not be sent: send them this link yourself (it works once, for 7 days)."
            } else {
                ". Email is not set up on this server: send them this link (it works once, for 7 days)."
            };
            view! {
                <div class="notice" role="status">
                    <p>"Invitation created for " <strong>{outcome.email}</strong>{why}</p>
                    <div class="copy-row">
                        <input type="text" readonly=true value=link aria-label="Invitation link" class="mono"/>
                        <button type="button" class="button secondary" on:click=move |_| {
                            let _ = window().navigator().clipboard().write_text(&copy_link);
                            copied.set(true);
                        }>{move || if copied.get() { "Copied" } else { "Copy link" }}</button>
                    </div>
                </div>
            }
            .into_any()
        }
        None => view! {
            <p class="notice" role="status">"Invitation emailed to " <strong>{outcome.email}</strong> "."</p>
        }
        .into_any(),
    }
}

#[component]
pub fn PendingInvitations(org_id: i64, version: RwSignal<usize>) -> impl IntoView {
    let resend = ServerAction::<ResendInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let pending = Resource::new(
        move || {
            (
                version.get(),
                resend.version().get(),
                revoke.version().get(),
            )
        },
        move |_| pending_invitations(org_id),
    );
    let error = general_error(revoke.value(), &[]);
    view! {
        <section class="card" aria-labelledby="pending-title">
            <h2 id="pending-title">"Pending invitations"</h2>
            <p class="form-error" role="alert">{move || error.get()}</p>
            {move || resend.value().get().and_then(|r| r.ok()).map(|outcome| view! { <InviteSent outcome/> })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match pending.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No pending invitations."</p> }.into_any(),
                        Ok(list) => {
                            let rows = list.into_iter().map(|inv| {
                                let id = inv.id.to_string();
                                let id2 = id.clone();
                                let resend_label = format!("Resend invitation to {}", inv.email);
                                let revoke_label = format!("Revoke invitation to {}", inv.email);
                                view! {
                                    <tr>
                                        <td>{inv.name}</td>
                                        <td>{inv.email}</td>
                                        <td>{inv.role.label()}</td>
                                        <td>{if inv.expired { format!("expired {}", inv.expires) } else { inv.expires }}</td>
                                        <td class="actions">
                                            <ActionForm action=resend attr:class="inline">
                                                <input type="hidden" name="org_id" value=org_id.to_string()/>
                                                <input type="hidden" name="id" value=id2/>
                                                <button type="submit" class="button small secondary" aria-label=resend_label>"Resend"</button>
                                            </ActionForm>
                                            <ActionForm action=revoke attr:class="inline">
                                                <input type="hidden" name="org_id" value=org_id.to_string()/>
                                                <input type="hidden" name="id" value=id/>
                                                <button type="submit" class="button small danger" aria-label=revoke_label>"Revoke"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <table class="table">
                                    <thead><tr>
                                        <th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th>
                                        <th scope="col">"Expires"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// `/invite/:token`: what the invitation is, and the way to accept it.
#[component]
pub fn AcceptPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token")).unwrap_or_default();
    let auth = expect_context::<AuthActions>();
    let accept_new = ServerAction::<AcceptAsNewUser>::new();
    let accept = ServerAction::<AcceptInvitation>::new();
    refresh_session_when(move || {
        matches!(accept_new.value().get(), Some(Ok(())))
            || matches!(accept.value().get(), Some(Ok(())))
    });
    let view_of = Resource::new(
        move || (token(), auth.sign_out.version().get()),
        |(t, _)| invitation(t),
    );
    const FIELDS: &[&str] = &["name", "password"];
    let new_error = general_error(accept_new.value(), FIELDS);
    let accept_error = general_error(accept.value(), &[]);
    view! {
        <Title text="Invitation"/>
        <section class="card narrow">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let inv = match view_of.await {
                        Ok(inv) => inv,
                        Err(_) => return view! {
                            <h1>"Invitation not found"</h1>
                            <p class="muted">"This link is not valid. Ask for a new invitation."</p>
                        }.into_any(),
                    };
                    let heading = format!("Join {}", inv.org_name);
                    let role_line = format!("You are invited as {}: {}", inv.role.label(), inv.role.meaning());
                    match (inv.state, inv.signed_in_as.clone(), inv.account_exists) {
                        (InvitationState::Accepted, _, _) => view! {
                            <h1>{heading}</h1><p role="alert">"This invitation was accepted already. Each link works once."</p>
                            <A href="/signin">"Sign in"</A>
                        }.into_any(),
                        (InvitationState::Revoked, _, _) => view! {
                            <h1>{heading}</h1><p role="alert">"This invitation was revoked. Ask an admin of the organization for a new one."</p>
                        }.into_any(),
                        (InvitationState::Expired, _, _) => view! {
                            <h1>{heading}</h1><p role="alert">"This invitation has expired (links last 7 days). Ask an admin to resend it."</p>
                        }.into_any(),
                        (InvitationState::Pending, Some(me), _) => view! {
                            <h1>{heading}</h1>
                            <p>{role_line}</p>
                            <p class="muted">"Signed in as " {me}"."</p>
                            <ActionForm action=accept>
                                <input type="hidden" name="token" value=token()/>
                                <p class="form-error" role="alert">{move || accept_error.get()}</p>
                                <button type="submit" class="button">"Accept invitation"</button>
                            </ActionForm>
                        }.into_any(),
                        (InvitationState::Pending, None, true) => {
                            let next = format!("/signin?next=/invite/{}", token());
                            view! {
                                <h1>{heading}</h1>
                                <p>{role_line}</p>
                                <p>"You have a Gatehouse account as " <strong>{inv.email.clone()}</strong> ": sign in to accept."</p>
                                <A href=next attr:class="button">"Sign in to accept"</A>
                            }.into_any()
                        }
                        (InvitationState::Pending, None, false) => view! {
                            <h1>{heading}</h1>
                            <p>{role_line}</p>
                            <ActionForm action=accept_new>
                                <input type="hidden" name="token" value=token()/>
                                <Field label="Email" name="email" kind="email" value=inv.email.clone() readonly=true required=false error=Signal::derive(|| None::<String>)/>
                                <Field label="Name" name="name" autocomplete="name" value=inv.name.clone() error=field_error(accept_new.value(), "name")/>
                                <Field label="Password" name="password" kind="password" autocomplete="new-password" error=field_error(accept_new.value(), "password")/>
                                <p class="hint">"At least 8 characters. A long passphrase is best."</p>
                                <p class="form-error" role="alert">{move || new_error.get()}</p>
                                <button type="submit" class="button" disabled=move || accept_new.pending().get()>"Accept invitation"</button>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
