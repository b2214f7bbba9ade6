//! The Groups page (list, search, **New group**) and a group's page (settings, members,
//! integrations, delete).

use super::api::{
    get_group, list_groups, member_suggestions, AddGroupMember, CreateGroup, DeleteGroup,
    RemoveGroupMember, UpdateGroup,
};
use super::model::{GroupDetail, GroupMember, GroupsPage as Page};
use crate::auth::model::SessionInfo;
use crate::forms::{field_error, general_error, Field};
use crate::guard::SignedIn;
use crate::integrations::views::{IntegrationFields, IntegrationsPanel};
use crate::policy::{allows, Action};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

#[component]
pub fn GroupsPage() -> impl IntoView {
    view! {
        <Title text="Groups"/>
        <SignedIn page=|info: SessionInfo| match info.current_org.clone() {
            Some(org) if allows(org.role, Action::ViewMembers) => view! { <Groups org_id=org.id/> }.into_any(),
            Some(_) => view! {
                <h1>"Groups"</h1>
                <p class="card empty" role="alert">"Your role does not include seeing the groups of this organization."</p>
            }.into_any(),
            None => view! { <p class="card empty">"You are not a member of any organization."</p> }.into_any(),
        }/>
    }
}

#[component]
fn Groups(org_id: i64) -> impl IntoView {
    let query = use_query_map();
    let groups = Resource::new(
        move || query.with(|q| (q.get("q"), q.get("after"))),
        move |(q, after)| list_groups(org_id, q, after),
    );
    let show_new = RwSignal::new(false);
    let search = query.with_untracked(|q| q.get("q")).unwrap_or_default();
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let search = search.clone();
                Suspend::new(async move {
                match groups.await {
                    Ok(page) => {
                        let can_create = page.can_create;
                        let max = page.max_scans_limit;
                        view! {
                            <div class="page-head">
                                <h1>"Groups"</h1>
                                {can_create.then(|| view! {
                                    <button type="button" class="button" aria-expanded=move || show_new.get().to_string()
                                        on:click=move |_| show_new.update(|v| *v = !*v)>"New group"</button>
                                })}
                            </div>
                            {move || show_new.get().then(|| view! { <NewGroupForm org_id max/> })}
                            <form method="get" action="/groups" class="search" role="search">
                                <label for="group-search">"Search groups"</label>
                                <input id="group-search" type="search" name="q" value=search.clone() placeholder="Name"/>
                                <button type="submit" class="button secondary">"Search"</button>
                            </form>
                            <GroupsTable page/>
                        }.into_any()
                    }
                    Err(err) => view! { <h1>"Groups"</h1><p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}}
        </Transition>
    }
}

#[component]
fn GroupsTable(page: Page) -> impl IntoView {
    if page.groups.is_empty() {
        return view! { <div class="card empty"><p>"No groups yet."</p></div> }.into_any();
    }
    let rows = page
        .groups
        .into_iter()
        .map(|g| {
            let on = if g.integrations_on.is_empty() {
                "—".to_string()
            } else {
                g.integrations_on.join(", ")
            };
            view! {
                <tr>
                    <td><A href=format!("/groups/{}", g.id)>{g.name}</A></td>
                    <td class="muted">{g.description}</td>
                    <td>{g.member_count}</td>
                    <td>{g.scans_limit}</td>
                    <td>{on}</td>
                </tr>
            }
        })
        .collect_view();
    let next = page.next_cursor.map(|c| {
        view! { <p class="pager"><A href=format!("/groups?after={c}")>"Next page"</A></p> }
    });
    view! {
        <table class="table">
            <thead><tr>
                <th scope="col">"Name"</th>
                <th scope="col">"Description"</th>
                <th scope="col">"Members"</th>
                <th scope="col">"Concurrent scans limit"</th>
                <th scope="col">"Integrations"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {next}
    }
    .into_any()
}

/// A type-ahead over the organization's members: never a 100,000-entry dropdown. The
/// suggestions come from an action, not a resource: no Suspense boundary nested in the
/// group page's (nested boundaries made hydration fail intermittently).
#[component]
fn MemberPicker(org_id: i64, label: &'static str, on_pick: Callback<GroupMember>) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let search = leptos::prelude::Action::new(move |q: &String| {
        let q = q.trim().to_string();
        async move {
            if q.is_empty() {
                Ok(Vec::new())
            } else {
                member_suggestions(org_id, q).await
            }
        }
    });
    let found = move || {
        search
            .value()
            .get()
            .and_then(|r| r.ok())
            .unwrap_or_default()
    };
    view! {
        <div class="field picker">
            <label for="member-picker">{label}</label>
            <input id="member-picker" type="search" autocomplete="off" placeholder="Type a name or email"
                prop:value=move || typed.get()
                on:input=move |ev| {
                    let q = event_target_value(&ev);
                    typed.set(q.clone());
                    search.dispatch(q);
                }/>
            <ul class="suggestions" role="listbox" aria-label="Matching members">
                {move || (!typed.get().trim().is_empty()).then(|| found().into_iter().map(|m| {
                    let text = format!("{} <{}>", m.name, m.email);
                    view! {
                        <li><button type="button" class="link" role="option" aria-selected="false" on:click=move |_| {
                            on_pick.run(m.clone());
                            typed.set(String::new());
                            search.dispatch(String::new());
                        }>{text}</button></li>
                    }
                }).collect_view())}
            </ul>
        </div>
    }
}

#[component]
fn NewGroupForm(org_id: i64, max: i64) -> impl IntoView {
    let create = ServerAction::<CreateGroup>::new();
    let picked = RwSignal::new(Vec::<GroupMember>::new());
    let pick = Callback::new(move |m: GroupMember| {
        picked.update(|list| {
            if !list.iter().any(|p| p.user_id == m.user_id) {
                list.push(m);
            }
        })
    });
    const FIELDS: &[&str] = &[
        "name",
        "description",
        "scans_limit",
        "members",
        "webhook_url",
        "webhook_secret",
        "slack_url",
        "email_recipients",
    ];
    view! {
        <section class="card" aria-labelledby="new-group-title">
            <h2 id="new-group-title">"New group"</h2>
            <ActionForm action=create>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field label="Name" name="name" error=field_error(create.value(), "name")/>
                <Field label="Description" name="description" required=false error=field_error(create.value(), "description")/>
                <Field label="Concurrent scans limit" name="scans_limit" kind="number" value="1" error=field_error(create.value(), "scans_limit")/>
                <p class="hint">{format!("How many of the group's scans may run at once (1–{max} on this plan).")}</p>
                <fieldset>
                    <legend>"Integrations"</legend>
                    <IntegrationFields action_value=create.value()/>
                </fieldset>
                <fieldset>
                    <legend>"Members"</legend>
                    <input type="hidden" name="member_ids" prop:value=move || picked.with(|l| l.iter().map(|m| m.user_id.to_string()).collect::<Vec<_>>().join(","))/>
                    <ul class="chips" aria-label="Chosen members">
                        {move || picked.get().into_iter().map(|m| {
                            let id = m.user_id;
                            let remove_label = format!("Remove {}", m.name);
                            view! {
                                <li class="chip">{m.name.clone()}
                                    <button type="button" class="link" aria-label=remove_label
                                        on:click=move |_| picked.update(|l| l.retain(|p| p.user_id != id))>"×"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <MemberPicker org_id label="Add members" on_pick=pick/>
                    <p class="field-error">{move || field_error(create.value(), "members").get()}</p>
                </fieldset>
                <p class="form-error" role="alert">{move || general_error(create.value(), FIELDS).get()}</p>
                <button type="submit" class="button" disabled=move || create.pending().get()>"Create"</button>
            </ActionForm>
        </section>
    }
}

/// A group's page: settings, members and integrations; `children` (the group's scans, from
/// the page that composes it) go below them.
#[component]
pub fn Group(
    org_id: i64,
    group_id: i64,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let update = ServerAction::<UpdateGroup>::new();
    let add = ServerAction::<AddGroupMember>::new();
    let remove = ServerAction::<RemoveGroupMember>::new();
    // Refetch only after a change that happened: a refused Save keeps the form as typed,
    // with its error next to the field.
    let changes = RwSignal::new(0u32);
    for value in [update.value(), add.value(), remove.value()] {
        Effect::new(move |_| {
            if matches!(value.get(), Some(Ok(()))) {
                changes.update(|n| *n += 1);
            }
        });
    }
    let group = Resource::new(move || changes.get(), move |_| get_group(org_id, group_id));
    view! {
        <div class="group-page">
        <p><A href="/groups">"← Groups"</A></p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match group.await {
                    Ok(g) => view! { <GroupView org_id group=g update add remove/> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        // A sibling of the group's boundary rather than nested in it: Suspense boundaries
        // nested in streamed ones made hydration fail intermittently. (CSS puts the delete
        // panel, rendered with the group, last.)
        <IntegrationsPanel org_id group_id/>
        {children.map(|c| c())}
        </div>
    }
}

#[component]
fn GroupView(
    org_id: i64,
    group: GroupDetail,
    update: ServerAction<UpdateGroup>,
    add: ServerAction<AddGroupMember>,
    remove: ServerAction<RemoveGroupMember>,
) -> impl IntoView {
    let group_id = group.id;
    let can_edit = group.can_edit;
    // A provisioned group's members follow the identity provider.
    let members_editable = can_edit && !group.provisioned;
    let provisioned = group.provisioned;
    let title = group.name.clone();
    let settings = if can_edit {
        view! {
            <ActionForm action=update>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <input type="hidden" name="group_id" value=group_id.to_string()/>
                <Field label="Name" name="name" value=group.name.clone() error=field_error(update.value(), "name")/>
                <Field label="Description" name="description" value=group.description.clone() required=false error=field_error(update.value(), "description")/>
                <Field label="Concurrent scans limit" name="scans_limit" kind="number" value=group.scans_limit.to_string() error=field_error(update.value(), "scans_limit")/>
                <p class="hint">{format!("1–{} on this plan.", group.max_scans_limit)}</p>
                <p class="form-error" role="alert">{move || general_error(update.value(), &["name", "description", "scans_limit"]).get()}</p>
                <button type="submit" class="button">"Save"</button>
                {move || matches!(update.value().get(), Some(Ok(()))).then(|| view! { <span class="muted" role="status">" Saved."</span> })}
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <dl class="facts">
                <dt>"Description"</dt><dd>{group.description.clone()}</dd>
                <dt>"Concurrent scans limit"</dt><dd>{group.scans_limit}</dd>
            </dl>
        }
        .into_any()
    };
    let pick = Callback::new(move |m: GroupMember| {
        add.dispatch(AddGroupMember {
            org_id,
            group_id,
            user_id: m.user_id,
        });
    });
    let members = group
        .members
        .iter()
        .map(|m| {
            let user_id = m.user_id;
            let label = format!("Remove {} from the group", m.name);
            view! {
                <tr>
                    <td>{m.name.clone()}</td>
                    <td>{m.email.clone()}</td>
                    {members_editable.then(|| view! {
                        <td><button type="button" class="button small danger" aria-label=label
                            on:click=move |_| { remove.dispatch(RemoveGroupMember { org_id, group_id, user_id }); }>"Remove"</button></td>
                    })}
                </tr>
            }
        })
        .collect_view();
    let shown = group.members.len() as i64;
    let count = group.member_count;
    view! {
        <h1>{title}</h1>
        {provisioned.then(|| view! {
            <p class="notice" data-testid="group-provisioned">"Managed by provisioning: this group's name and members follow your identity provider. Its scans limit and integrations are edited here."</p>
        })}
        <section class="card" aria-labelledby="group-settings">
            <h2 id="group-settings">"Settings"</h2>
            {settings}
        </section>
        <section class="card" aria-labelledby="group-members">
            <h2 id="group-members">{format!("Members ({count})")}</h2>
            <p class="form-error" role="alert">{move || general_error(add.value(), &[]).get().or_else(|| general_error(remove.value(), &[]).get())}</p>
            {(shown > 0).then(|| view! {
                <table class="table"><tbody>{members}</tbody></table>
            })}
            {(count > shown).then(|| view! { <p class="muted">{format!("Showing the first {shown} of {count}.")}</p> })}
            {members_editable.then(|| view! { <MemberPicker org_id label="Add a member" on_pick=pick/> })}
        </section>
        {group.can_delete.then(|| view! { <DeleteGroupPanel org_id group_id/> })}
    }
}

#[component]
fn DeleteGroupPanel(org_id: i64, group_id: i64) -> impl IntoView {
    let delete = ServerAction::<DeleteGroup>::new();
    view! {
        <section class="card danger-zone" aria-labelledby="delete-group">
            <h2 id="delete-group">"Delete group"</h2>
            <p class="muted">"Deletes the group, its integrations and deliveries. Its members stay in the organization."</p>
            <ActionForm action=delete>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <input type="hidden" name="group_id" value=group_id.to_string()/>
                <Field label="Type the group's name to confirm" name="confirm" autocomplete="off" error=field_error(delete.value(), "confirm")/>
                <p class="form-error" role="alert">{move || general_error(delete.value(), &["confirm"]).get()}</p>
                <button type="submit" class="button danger">"Delete group"</button>
            </ActionForm>
        </section>
    }
}
