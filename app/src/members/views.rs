//! The Members page: the table with search and pages, role changes and removal, the
//! New user form and the pending invitations.

use super::api::{list_members, ChangeRole, LeaveOrg, RemoveMember, ResetMemberTwoFactor};
use super::model::{MemberRow, MembersPage as Page, Viewer};
use crate::auth::model::SessionInfo;
use crate::domain::Role;
use crate::forms::general_error;
use crate::guard::SignedIn;
use crate::invitations::views::{InviteForm, PendingInvitations};
use crate::policy::{allows, Action};
use crate::session_context::refresh_session_when;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// Mutations of the page; the members list refetches after each.
#[derive(Clone, Copy)]
struct MemberActions {
    change_role: ServerAction<ChangeRole>,
    remove: ServerAction<RemoveMember>,
    reset_two_factor: ServerAction<ResetMemberTwoFactor>,
}

#[component]
pub fn MembersPage() -> impl IntoView {
    view! {
        <Title text="Members"/>
        <SignedIn page=|info: SessionInfo| match info.current_org.clone() {
            Some(org) if allows(org.role, Action::ViewMembers) => view! { <Members org_id=org.id role=org.role/> }.into_any(),
            Some(_) => view! {
                <h1>"Members"</h1>
                <p class="card empty" role="alert">"Your role does not include seeing the members of this organization."</p>
            }.into_any(),
            None => view! { <p class="card empty">"You are not a member of any organization."</p> }.into_any(),
        }/>
    }
}

#[component]
fn Members(org_id: i64, role: Role) -> impl IntoView {
    let query = use_query_map();
    let actions = MemberActions {
        change_role: ServerAction::new(),
        remove: ServerAction::new(),
        reset_two_factor: ServerAction::new(),
    };
    let invite_version = RwSignal::new(0usize);
    let members = Resource::new(
        move || {
            (
                query.with(|q| (q.get("q"), q.get("after"))),
                actions.change_role.version().get(),
                actions.remove.version().get(),
                actions.reset_two_factor.version().get(),
                invite_version.get(),
            )
        },
        move |((q, after), _, _, _, _)| list_members(org_id, q, after),
    );
    let can_invite = allows(role, Action::ManageMembers);
    let show_invite = RwSignal::new(false);
    let search = query.with_untracked(|q| q.get("q")).unwrap_or_default();
    let role_error = general_error(actions.change_role.value(), &[]);
    let remove_error = general_error(actions.remove.value(), &[]);
    let reset_error = general_error(actions.reset_two_factor.value(), &[]);
    view! {
        <div class="page-head">
            <h1>"Members"</h1>
            {can_invite.then(|| view! {
                <button type="button" class="button" aria-expanded=move || show_invite.get().to_string()
                    on:click=move |_| show_invite.update(|v| *v = !*v)>"New user"</button>
            })}
        </div>
        {move || show_invite.get().then(|| view! { <InviteForm org_id role on_sent=move || invite_version.update(|v| *v += 1)/> })}
        <form method="get" action="/members" class="search" role="search">
            <label for="member-search">"Search members"</label>
            <input id="member-search" type="search" name="q" value=search placeholder="Name or email"/>
            <button type="submit" class="button secondary">"Search"</button>
        </form>
        <p class="form-error" role="alert">{move || role_error.get().or_else(|| remove_error.get()).or_else(|| reset_error.get())}</p>
        <crate::auth::confirm_access::ConfirmAccessPrompt asked=crate::forms::asks_confirmation(actions.reset_two_factor.value()) id="reset-two-factor-confirm"/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match members.await {
                    Ok(page) => view! { <MembersTable page actions org_id/> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        {can_invite.then(|| view! { <PendingInvitations org_id version=invite_version/> })}
        <LeaveForm org_id/>
    }
}

#[component]
fn MembersTable(page: Page, actions: MemberActions, org_id: i64) -> impl IntoView {
    let viewer = page.viewer.clone();
    let manages = viewer.can_manage_members;
    let empty = page.members.is_empty();
    let suspended = (!page.suspended.is_empty()).then(|| {
        let rows = page
            .suspended
            .into_iter()
            .map(|s| view! {
                <tr>
                    <td>{s.name}</td>
                    <td>{s.email}</td>
                    <td>{s.role.label()}</td>
                    <td>{s.since}</td>
                </tr>
            })
            .collect_view();
        view! {
            <h2 id="suspended-title">"Suspended by provisioning"</h2>
            <p class="muted">"Your identity provider suspended these people: they cannot sign in to this organization or use its API keys until it restores them."</p>
            <table class="table" aria-labelledby="suspended-title" data-testid="suspended-members">
                <thead><tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role when restored"</th>
                    <th scope="col">"Suspended"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    let rows = page
        .members
        .into_iter()
        .map(|m| view! { <MemberRowView member=m viewer=viewer.clone() actions org_id/> })
        .collect_view();
    let next = page.next_cursor.map(|cursor| {
        let q = use_query_map()
            .with_untracked(|q| q.get("q"))
            .unwrap_or_default();
        let href = format!("/members?q={}&after={}", urlencode(&q), urlencode(&cursor));
        view! { <A href=href attr:class="button secondary">"Next page"</A> }
    });
    view! {
        <table class="table members">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Groups"</th>
                    <th scope="col">"2FA"</th>
                    <th scope="col">"Joined"</th>
                    {manages.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {empty.then(|| view! { <p class="muted">"No members match."</p> })}
        <div class="pager">{next}</div>
        {suspended}
    }
}

#[component]
fn MemberRowView(
    member: MemberRow,
    viewer: Viewer,
    actions: MemberActions,
    org_id: i64,
) -> impl IntoView {
    let is_self = member.user_id == viewer.user_id;
    // What the server would allow: admins manage non-Owners, Owners manage everyone, and
    // nobody changes their own role here.
    let editable = viewer.can_manage_members
        && !is_self
        && (member.role != Role::Owner || viewer.can_manage_owners);
    let name = member.name.clone();
    let role_cell = if editable {
        let options = Role::ALL
            .into_iter()
            .filter(|r| *r != Role::Owner || viewer.can_manage_owners)
            .map(|r| view! { <option value=r.as_str() selected=r == member.role>{r.label()}</option> })
            .collect_view();
        let label = format!("Role of {}", member.name);
        view! {
            <ActionForm action=actions.change_role attr:class="inline">
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <input type="hidden" name="user_id" value=member.user_id.to_string()/>
                <select name="role" aria-label=label>{options}</select>
                <button type="submit" class="button small secondary">"Save"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! { <span>{member.role.label()}{is_self.then_some(" (you)")}</span> }.into_any()
    };
    let remove = (viewer.can_manage_members).then(|| {
        editable.then(|| {
            let label = format!("Remove {name}");
            view! {
                <ActionForm action=actions.remove attr:class="inline">
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="user_id" value=member.user_id.to_string()/>
                    <button type="submit" class="button small danger" aria-label=label>"Remove"</button>
                </ActionForm>
            }
        })
    });
    // Owners reset the 2FA of a member who lost their phone and recovery codes (not their
    // own, not another Owner's: the server refuses those too).
    let reset = (viewer.can_manage_owners && !is_self && member.role != Role::Owner).then(|| {
        let label = format!("Reset two-factor authentication of {}", member.name);
        view! {
            <ActionForm action=actions.reset_two_factor attr:class="inline">
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <input type="hidden" name="user_id" value=member.user_id.to_string()/>
                <button type="submit" class="button small secondary" aria-label=label>"Reset two-factor"</button>
            </ActionForm>
        }
    });
    view! {
        <tr>
            <td>{member.name}</td>
            <td>{member.email}</td>
            <td>{role_cell}</td>
            <td class="muted">{group_list(&member.groups)}</td>
            <td>{if member.two_factor {
                view! { <span class="badge ok">"On"</span> " " {reset} }.into_any()
            } else {
                view! { <span class="badge off">"Off"</span> }.into_any()
            }}</td>
            <td>{member.joined}</td>
            {viewer.can_manage_members.then(|| view! { <td>{remove}</td> })}
        </tr>
    }
}

#[component]
fn LeaveForm(org_id: i64) -> impl IntoView {
    let leave = ServerAction::<LeaveOrg>::new();
    let error = general_error(leave.value(), &[]);
    refresh_session_when(move || matches!(leave.value().get(), Some(Ok(()))));
    view! {
        <section class="card danger-zone" aria-labelledby="leave-title">
            <h2 id="leave-title">"Leave organization"</h2>
            <p class="muted">"You lose access to this organization at once. The last Owner cannot leave."</p>
            <ActionForm action=leave>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <p class="form-error" role="alert">{move || error.get()}</p>
                <button type="submit" class="button danger">"Leave organization"</button>
            </ActionForm>
        </section>
    }
}

/// Percent-encodes a query value (cursors and searches hold names, which may hold anything).
pub fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Up to three group names, then how many more.
fn group_list(groups: &[String]) -> String {
    match groups.len() {
        0 => "—".to_string(),
        n if n <= 3 => groups.join(", "),
        n => format!("{} +{}", groups[..3].join(", "), n - 3),
    }
}
