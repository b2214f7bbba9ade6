//! The Scans page: the scans of the user's groups (Owners and Admins: all), filters,
//! **New scan**, **Cancel**. It refreshes itself every few seconds, so a queued scan is seen
//! to start when a runner claims it.

use super::api::{get_group_scans, get_scan, list_scans, scan_groups, CancelScan, StartScan};
use super::model::{short_time, ScanGroup, ScanRow, ScanStatus, ScansPage};
use crate::auth::model::SessionInfo;
use crate::forms::{field_error, general_error, Field};
use crate::guard::SignedIn;
use crate::policy::{allows, Action};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::time::Duration;

const REFRESH: Duration = Duration::from_secs(4);

#[component]
pub fn ScansPage() -> impl IntoView {
    view! {
        <Title text="Scans"/>
        <SignedIn page=|info: SessionInfo| match info.current_org.clone() {
            Some(org) if allows(org.role, Action::Scans { member_of_group: true }) => view! { <Scans org_id=org.id/> }.into_any(),
            Some(_) => view! {
                <h1>"Scans"</h1>
                <p class="card empty" role="alert">"Your role does not include scans."</p>
            }.into_any(),
            None => view! { <p class="card empty">"You are not a member of any organization."</p> }.into_any(),
        }/>
    }
}

#[component]
fn Scans(org_id: i64) -> impl IntoView {
    let query = use_query_map();
    let start = ServerAction::<StartScan>::new();
    let cancel = ServerAction::<CancelScan>::new();
    let show_new = RwSignal::new(false);
    // Only a scan actually started changes the list: a refused Start scan keeps the form.
    let started = RwSignal::new(0u32);
    Effect::new(move |_| {
        if matches!(start.value().get(), Some(Ok(_))) {
            started.update(|n| *n += 1);
            show_new.set(false);
        }
    });
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    // The head, form and filters are rendered once; only the table follows the refreshes.
    let groups = Resource::new(|| (), move |_| scan_groups(org_id));
    let scans = Resource::new(
        move || {
            (
                query.with(|q| (q.get("group_id"), q.get("status"), q.get("before"))),
                started.get(),
                cancel.version().get(),
                tick.get(),
            )
        },
        move |((group_id, status, before), _, _, _)| list_scans(org_id, group_id, status, before),
    );
    let chosen_group = query
        .with_untracked(|q| q.get("group_id"))
        .unwrap_or_default();
    let chosen_status = query
        .with_untracked(|q| q.get("status"))
        .unwrap_or_default();
    view! {
        <Transition fallback=|| view! { <h1>"Scans"</h1> }>
            {move || {
                let chosen_group = chosen_group.clone();
                let chosen_status = chosen_status.clone();
                Suspend::new(async move {
                    match groups.await {
                        Ok(groups) => {
                            let can_start = !groups.is_empty();
                            let for_form = groups.clone();
                            view! {
                                <div class="page-head">
                                    <h1>"Scans"</h1>
                                    {can_start.then(|| view! {
                                        <button type="button" class="button" aria-expanded=move || show_new.get().to_string()
                                            on:click=move |_| show_new.update(|v| *v = !*v)>"New scan"</button>
                                    })}
                                </div>
                                {move || show_new.get().then(|| view! { <NewScanForm org_id groups=for_form.clone() start/> })}
                                <Filters groups chosen_group chosen_status/>
                            }.into_any()
                        }
                        Err(err) => view! { <h1>"Scans"</h1><p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Transition>
        {move || match start.value().get() {
            Some(Ok(scan)) => Some(view! {
                <p class="notice" role="status">{format!("Scan {} of {} is queued.", scan.id, scan.target)}</p>
            }),
            _ => None,
        }}
        <p class="form-error" role="alert">{move || general_error(cancel.value(), &[]).get()}</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match scans.await {
                    Ok(page) => view! { <ScansTable page org_id cancel/> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Filters(groups: Vec<ScanGroup>, chosen_group: String, chosen_status: String) -> impl IntoView {
    view! {
        <form method="get" action="/scans" class="search filters" role="search">
            <label for="scan-group">"Group"</label>
            <select id="scan-group" name="group_id">
                <option value="">"All groups"</option>
                {groups.into_iter().map(|g| {
                    let selected = g.id.to_string() == chosen_group;
                    view! { <option value=g.id.to_string() selected=selected>{g.name}</option> }
                }).collect_view()}
            </select>
            <label for="scan-status">"Status"</label>
            <select id="scan-status" name="status">
                <option value="">"Any status"</option>
                {ScanStatus::ALL.into_iter().map(|s| {
                    let selected = s.as_str() == chosen_status;
                    view! { <option value=s.as_str() selected=selected>{s.as_str()}</option> }
                }).collect_view()}
            </select>
            <button type="submit" class="button secondary">"Filter"</button>
        </form>
    }
}

#[component]
fn NewScanForm(
    org_id: i64,
    groups: Vec<ScanGroup>,
    start: ServerAction<StartScan>,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="new-scan-title">
            <h2 id="new-scan-title">"New scan"</h2>
            <ActionForm action=start>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field label="Target URL" name="target" kind="url" autocomplete="off" error=field_error(start.value(), "target")/>
                <div class="field">
                    <label for="new-scan-group">"Group"</label>
                    <select id="new-scan-group" name="group_id">
                        {groups.into_iter().map(|g| view! { <option value=g.id.to_string()>{g.name}</option> }).collect_view()}
                    </select>
                    <p class="field-error" aria-live="polite">{move || field_error(start.value(), "group_id").get()}</p>
                </div>
                <p class="hint">"The scan waits in the queue until the group has fewer running scans than its concurrent scans limit."</p>
                <p class="form-error" role="alert">{move || general_error(start.value(), &["target", "group_id"]).get()}</p>
                <button type="submit" class="button" disabled=move || start.pending().get()>"Start scan"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn ScansTable(page: ScansPage, org_id: i64, cancel: ServerAction<CancelScan>) -> impl IntoView {
    if page.scans.is_empty() {
        return view! { <div class="card empty"><p>"No scans yet."</p></div> }.into_any();
    }
    let rows = page
        .scans
        .into_iter()
        .map(|s| view! { <ScanLine s org_id cancel/> })
        .collect_view();
    let next = page.next_cursor.map(|c| {
        view! { <p class="pager"><A href=format!("/scans?before={c}")>"Older scans"</A></p> }
    });
    view! {
        <table class="table" aria-label="Scans">
            <thead><tr>
                <th scope="col">"Target"</th>
                <th scope="col">"Group"</th>
                <th scope="col">"Status"</th>
                <th scope="col">"Started by"</th>
                <th scope="col">"Created"</th>
                <th scope="col">"Started"</th>
                <th scope="col">"Finished"</th>
                <th scope="col"><span class="visually-hidden">"Cancel"</span></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {next}
    }
    .into_any()
}

#[component]
fn ScanLine(s: ScanRow, org_id: i64, cancel: ServerAction<CancelScan>) -> impl IntoView {
    let scan_id = s.id;
    let open = s.status.is_open();
    let label = format!("Cancel scan of {}", s.target);
    let status = s.status.as_str();
    let waiting = s.waiting.map(|w| w.describe(&s.group_name));
    view! {
        <tr>
            <td><A href=format!("/scans/{scan_id}")><code>{s.target.clone()}</code></A>{s.result.clone().map(|r| view! { <div class="muted small result-preview">{r}</div> })}</td>
            <td>{s.group_name.clone()}</td>
            <td>
                <span class=format!("badge {status}") data-testid="scan-status">{status}</span>
                {waiting.map(|w| view! { <div class="muted small" data-testid="scan-waiting">{w}</div> })}
            </td>
            <td class="small">{s.started_by}</td>
            <td class="small">{short_time(s.created_at)}</td>
            <td class="small">{s.started_at.map(short_time).unwrap_or_default()}</td>
            <td class="small">{s.finished_at.map(short_time).unwrap_or_default()}</td>
            <td>{open.then(|| view! {
                <button type="button" class="button small danger" aria-label=label
                    on:click=move |_| { cancel.dispatch(CancelScan { org_id, scan_id }); }>"Cancel"</button>
            })}</td>
        </tr>
    }
}

/// A scan's own page (`/scans/{id}`): what, where, who, its history and the runner's result;
/// it refreshes itself while the scan is queued or running.
#[component]
pub fn ScanPage() -> impl IntoView {
    view! {
        <Title text="Scan"/>
        <SignedIn page=|info: SessionInfo| match info.current_org.clone() {
            Some(org) if allows(org.role, Action::Scans { member_of_group: true }) => view! { <ScanDetail org_id=org.id/> }.into_any(),
            Some(_) => view! {
                <h1>"Scan"</h1>
                <p class="card empty" role="alert">"Your role does not include scans."</p>
            }.into_any(),
            None => view! { <p class="card empty">"You are not a member of any organization."</p> }.into_any(),
        }/>
    }
}

#[component]
fn ScanDetail(org_id: i64) -> impl IntoView {
    let params = use_params_map();
    let scan_id = move || params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok()));
    let cancel = ServerAction::<CancelScan>::new();
    // Refreshed while open; a finished scan is not asked again.
    let open = RwSignal::new(true);
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        let refresh = move || {
            if open.get_untracked() {
                tick.update(|t| *t += 1);
            }
        };
        if let Ok(handle) = set_interval_with_handle(refresh, REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    let scan = Resource::new(
        move || (scan_id(), tick.get(), cancel.version().get()),
        move |(id, _, _)| async move {
            match id {
                Some(id) => get_scan(org_id, id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    view! {
        <p class="form-error" role="alert">{move || general_error(cancel.value(), &[]).get()}</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match scan.await {
                    Ok(s) => {
                        open.set(s.status.is_open());
                        view! { <ScanFacts s org_id cancel/> }.into_any()
                    }
                    Err(crate::error::AppError::NotFound) => view! {
                        <h1>"Scan not found"</h1>
                        <p class="card empty">"There is no such scan in your groups. " <A href="/scans">"All scans"</A></p>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ScanFacts(s: ScanRow, org_id: i64, cancel: ServerAction<CancelScan>) -> impl IntoView {
    let scan_id = s.id;
    let status = s.status.as_str();
    let waiting = s.waiting.map(|w| w.describe(&s.group_name));
    let ended = s.finished_at.map(|t| {
        let word = match s.status {
            ScanStatus::Failed => "Failed",
            ScanStatus::Cancelled => "Cancelled",
            _ => "Finished",
        };
        view! { <li><strong>{word}</strong>" "{short_time(t)}</li> }
    });
    let heartbeat = (s.status == ScanStatus::Running)
        .then_some(s.heartbeat_at)
        .flatten()
        .map(|t| view! { <li><strong>"Last heartbeat"</strong>" "{short_time(t)}</li> });
    let label = format!("Cancel scan of {}", s.target);
    view! {
        <div class="page-head">
            <h1>"Scan of " <code>{s.target.clone()}</code></h1>
            {s.status.is_open().then(|| view! {
                <button type="button" class="button danger" aria-label=label
                    on:click=move |_| { cancel.dispatch(CancelScan { org_id, scan_id }); }>"Cancel"</button>
            })}
        </div>
        <p>
            <span class=format!("badge {status}") data-testid="scan-status">{status}</span>
            {waiting.map(|w| view! { " " <span class="muted" data-testid="scan-waiting">{w}</span> })}
        </p>
        <section class="card" aria-labelledby="scan-facts">
            <h2 id="scan-facts">"Details"</h2>
            <dl class="facts">
                <dt>"Group"</dt><dd><A href=format!("/groups/{}", s.group_id)>{s.group_name.clone()}</A></dd>
                <dt>"Started by"</dt><dd>{s.started_by.clone()}</dd>
                <dt>"Attempts"</dt><dd>{s.attempts}</dd>
            </dl>
            <h3>"History"</h3>
            <ol class="history" data-testid="scan-history">
                <li><strong>"Queued"</strong>" "{short_time(s.created_at)}</li>
                {s.started_at.map(|t| view! { <li><strong>"Started"</strong>" "{short_time(t)}</li> })}
                {heartbeat}
                {ended}
            </ol>
        </section>
        <section class="card" aria-labelledby="scan-result">
            <h2 id="scan-result">"Result"</h2>
            {match s.result.clone() {
                Some(result) => view! { <pre class="result" tabindex="0" data-testid="scan-result">{result}</pre> }.into_any(),
                None => view! { <p class="muted">"No result yet."</p> }.into_any(),
            }}
        </section>
    }
}

/// A group page's scans: "1 of 2 running, 3 queued" and the latest scans, refreshed with the
/// Scans page's rhythm.
#[component]
pub fn GroupScansPanel(org_id: i64, group_id: i64) -> impl IntoView {
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    let scans = Resource::new(
        move || tick.get(),
        move |_| get_group_scans(org_id, group_id),
    );
    view! {
        <section class="card" aria-labelledby="group-scans">
            <h2 id="group-scans">"Scans"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match scans.await {
                        Ok(g) => {
                            let u = g.usage;
                            let rows = g.recent.into_iter().map(|s| {
                                let status = s.status.as_str();
                                view! {
                                    <li>
                                        <A href=format!("/scans/{}", s.id)><code>{s.target}</code></A>" "
                                        <span class=format!("badge {status}")>{status}</span>" "
                                        <span class="muted small">{short_time(s.created_at)}</span>
                                    </li>
                                }
                            }).collect_view();
                            view! {
                                <p data-testid="group-scan-usage">{format!("{} of {} running, {} queued", u.running, u.limit, u.queued)}</p>
                                <ul class="plain">{rows}</ul>
                                <p><A href=format!("/scans?group_id={group_id}")>"All scans of this group"</A></p>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
