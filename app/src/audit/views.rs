use super::api::audit_log;
use super::model::AuditFilter;
use crate::auth::model::SessionInfo;
use crate::guard::SignedIn;
use crate::members::views::urlencode;
use crate::policy::{allows, Action};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// **Audit log** (Owner, Admin): the organization's events, newest first, with filters.
#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit log"/>
        <SignedIn page=|info: SessionInfo| match info.current_org.clone() {
            Some(org) if allows(org.role, Action::ViewAuditLog) => view! { <AuditLog org_id=org.id/> }.into_any(),
            _ => view! { <h1>"Audit log"</h1><p class="card empty" role="alert">"Only Owners and Admins see the audit log."</p> }.into_any(),
        }/>
    }
}

#[component]
fn AuditLog(org_id: i64) -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        query.with(|q| AuditFilter {
            actor: q.get("actor").unwrap_or_default(),
            action: q.get("action").unwrap_or_default(),
            from: q.get("from").unwrap_or_default(),
            to: q.get("to").unwrap_or_default(),
        })
    };
    let events = Resource::new(
        move || (filter(), query.with(|q| q.get("before"))),
        move |(f, before)| audit_log(org_id, Some(f), before),
    );
    let initial = filter();
    // The whole filtered log as a file, streamed by the server (`audit::export`).
    let download = move |format: &str| {
        let f = filter();
        format!(
            "/audit/export?org_id={org_id}&format={format}&actor={}&action={}&from={}&to={}",
            urlencode(&f.actor),
            urlencode(&f.action),
            urlencode(&f.from),
            urlencode(&f.to)
        )
    };
    view! {
        <h1>"Audit log"</h1>
        <form method="get" action="/audit" class="filters" role="search">
            <div class="field"><label for="f-actor">"Actor email"</label><input id="f-actor" name="actor" type="search" value=initial.actor.clone()/></div>
            <div class="field"><label for="f-action">"Action"</label><input id="f-action" name="action" type="search" placeholder="member." value=initial.action.clone()/></div>
            <div class="field"><label for="f-from">"From"</label><input id="f-from" name="from" type="date" value=initial.from.clone()/></div>
            <div class="field"><label for="f-to">"To"</label><input id="f-to" name="to" type="date" value=initial.to.clone()/></div>
            <button type="submit" class="button secondary">"Filter"</button>
        </form>
        <p class="downloads">
            <a href=move || download("csv") download="" rel="external" class="button secondary small">"Download CSV"</a>
            " "
            <a href=move || download("jsonl") download="" rel="external" class="button secondary small">"Download JSON Lines"</a>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(page) => {
                        let empty = page.events.is_empty();
                        let rows = page.events.into_iter().map(|e| view! {
                            <tr><td>{e.when}</td><td>{e.actor}</td><td class="mono">{e.action}</td><td>{e.target}</td><td>{e.ip}</td></tr>
                        }).collect_view();
                        let next = page.next_cursor.map(|c| {
                            let f = filter();
                            let href = format!("/audit?actor={}&action={}&from={}&to={}&before={}",
                                urlencode(&f.actor), urlencode(&f.action), urlencode(&f.from), urlencode(&f.to), c);
                            view! { <A href=href attr:class="button secondary">"Older events"</A> }
                        });
                        view! {
                            <table class="table">
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Actor"</th><th scope="col">"Action"</th><th scope="col">"Target"</th><th scope="col">"IP"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                            {empty.then(|| view! { <p class="muted">"No events match."</p> })}
                            <div class="pager">{next}</div>
                        }.into_any()
                    }
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
