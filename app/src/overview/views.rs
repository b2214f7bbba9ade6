//! The overview's cards. Figures are links to the page that has the details.

use super::api::get_overview;
use super::model::Overview;
use crate::api_keys::model::ExpiringKey;
use crate::members::model::MemberFigures;
use crate::scans::model::{GroupScanUsage, ScanRow};
use crate::words::counted;
use leptos::prelude::*;
use leptos_router::components::A;

/// The overview of organization `org_id` for the signed-in viewer.
#[component]
pub fn OverviewCards(org_id: i64) -> impl IntoView {
    let overview = Resource::new(move || org_id, get_overview);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! { <Cards o/> }.into_any(),
                    Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Cards(o: Overview) -> impl IntoView {
    view! {
        <div class="overview" data-testid="overview">
            {o.domains_taken_over.filter(|d| !d.is_empty()).map(|lost| {
                let items = lost.into_iter().map(|(domain, at)| view! {
                    <li>{format!("{domain} is no longer verified for this organization: another organization proved control of it on {at}. Single sign-on does not route it until you verify it again.")}</li>
                }).collect_view();
                view! {
                    <section class="card wide notice warn" role="alert" data-testid="domains-taken-over">
                        <h2>"Verified domains"</h2>
                        <ul class="plain">{items}</ul>
                        <p><A href="/settings#domains">"Verified domains"</A></p>
                    </section>
                }
            })}
            {o.members.map(|m| view! { <MembersCard m/> })}
            {o.scan_usage.map(|usage| view! { <ScansCard usage recent=o.recent_scans.unwrap_or_default()/> })}
            {o.failing_integrations.map(|failing| {
                let items = failing.into_iter().map(|g| view! {
                    <li><A href=format!("/groups/{}", g.group_id)>{g.name}</A>": "{counted(g.failed, "failed delivery", "failed deliveries")}</li>
                }).collect_view();
                view! {
                    <section class="card" aria-labelledby="ov-integrations">
                        <h2 id="ov-integrations">"Integrations"</h2>
                        {if items.is_empty() {
                            view! { <p class="muted">"No failed deliveries in the last day."</p> }.into_any()
                        } else {
                            view! { <p>"Failed deliveries in the last day:"</p><ul class="plain">{items}</ul> }.into_any()
                        }}
                    </section>
                }
            })}
            {o.recent_events.map(|events| {
                let rows = events.into_iter().map(|e| view! {
                    <tr><td>{e.when}</td><td>{e.actor}</td><td class="mono">{e.action}</td><td>{e.target}</td></tr>
                }).collect_view();
                view! {
                    <section class="card wide" aria-labelledby="ov-audit">
                        <h2 id="ov-audit">"Recent activity"</h2>
                        <table class="table">
                            <thead><tr><th>"When"</th><th>"Actor"</th><th>"Action"</th><th>"Target"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                        <p><A href="/audit">"The whole audit log"</A></p>
                    </section>
                }
            })}
            <KeysCard org=o.org_keys_expiring mine=o.my_keys_expiring/>
        </div>
    }
}

#[component]
fn MembersCard(m: MemberFigures) -> impl IntoView {
    let compliance = m.with_two_factor.map(|with| {
        let without = m.members - with;
        let methods = if m.security_keys_only { ", security keys and passkeys only" } else { "" };
        let policy = match (m.two_factor_required, m.two_factor_deadline) {
            (true, Some(deadline)) => format!("Required{methods} from {deadline}; until then members without it are reminded."),
            (true, None) => format!("Required{methods}: members without it cannot use the organization."),
            (false, _) => "Not required.".to_string(),
        };
        view! {
            <p data-testid="two-factor-compliance">
                <strong>{format!("{with} of {}", counted(m.members, "member", "members"))}</strong>" use two-factor authentication. "
                {(without > 0).then(|| {
                    let href = if m.policy_visible { "/settings#security" } else { "/members" };
                    view! { <A href=href>{format!("See the {without} without it")}</A> }
                })}
            </p>
            <p class="muted">"Two-factor authentication: "{policy}</p>
        }
    });
    view! {
        <section class="card" aria-labelledby="ov-members">
            <h2 id="ov-members">"Members"</h2>
            <p class="figure"><A href="/members">{counted(m.members, "member", "members")}</A>
                " · "{counted(m.pending_invitations, "pending invitation", "pending invitations")}</p>
            {compliance}
        </section>
    }
}

#[component]
fn ScansCard(usage: Vec<GroupScanUsage>, recent: Vec<ScanRow>) -> impl IntoView {
    let busy = usage
        .is_empty()
        .then(|| view! { <p class="muted">"No scans running or queued."</p> });
    let groups = usage
        .into_iter()
        .map(|g| {
            let full = g.running >= g.limit;
            view! {
                <li>
                    <A href=format!("/groups/{}", g.group_id)>{g.name}</A>" "
                    {format!("{} of {} running, {} queued", g.running, g.limit, g.queued)}
                    {full.then(|| view! { " " <span class="badge warn">"at its limit"</span> })}
                </li>
            }
        })
        .collect_view();
    let done = (!recent.is_empty()).then(|| {
        let rows = recent.into_iter().map(|s| {
            let status = s.status.as_str();
            view! { <li><span class="mono">{s.target}</span>" · "{s.group_name}" "<span class=format!("badge {status}")>{status}</span></li> }
        }).collect_view();
        view! { <h3>"Last finished"</h3><ul class="plain">{rows}</ul> }
    });
    view! {
        <section class="card" aria-labelledby="ov-scans">
            <h2 id="ov-scans">"Scans"</h2>
            {busy}
            <ul class="plain">{groups}</ul>
            {done}
            <p><A href="/scans">"All scans"</A></p>
        </section>
    }
}

fn key_items(keys: Vec<ExpiringKey>, with_owner: bool) -> impl IntoView {
    keys.into_iter()
        .map(|k| {
            let owner = with_owner.then(|| format!(" of {}", k.owner));
            view! { <li><strong>{k.name}</strong>" "<code>{format!("{}…", k.prefix)}</code>{owner}" expires "{k.expires_in}</li> }
        })
        .collect_view()
}

#[component]
fn KeysCard(org: Option<Vec<ExpiringKey>>, mine: Vec<ExpiringKey>) -> impl IntoView {
    let org = org.map(|keys| {
        let empty = keys.is_empty();
        view! {
            <h3>"The organization's keys"</h3>
            {if empty {
                view! { <p class="muted">"None expires within 7 days."</p> }.into_any()
            } else {
                view! { <ul class="plain">{key_items(keys, true)}</ul> }.into_any()
            }}
        }
    });
    let mine_empty = mine.is_empty();
    view! {
        <section class="card" aria-labelledby="ov-keys">
            <h2 id="ov-keys">"API keys expiring within 7 days"</h2>
            {org}
            <h3>"Yours"</h3>
            {if mine_empty {
                view! { <p class="muted">"None of yours."</p> }.into_any()
            } else {
                view! { <ul class="plain">{key_items(mine, false)}</ul> }.into_any()
            }}
            <p><A href="/profile#api-keys">"Your API keys"</A></p>
        </section>
    }
}
