//! The preview in the policies' confirmation steps: the counts in a sentence, then who and
//! which keys, so an Owner applies a policy knowing what it breaks.

use super::api::{policy_impact, policy_trials, StartPolicyTrial, StopPolicyTrial};
use super::model::{Impact, Proposal, Trial, Trials, MAX_TRIAL_DAYS};
use crate::auth::confirm_access::ConfirmAccessPrompt;
use crate::error::AppError;
use crate::forms::{asks_confirmation, field_error, general_error};
use crate::words::counted;
use leptos::form::ActionForm;
use leptos::prelude::*;

/// Loads and shows what `policy` would block with `grace_days` (re-read when either changes).
#[component]
pub fn PolicyImpact(
    org_id: i64,
    #[prop(into)] policy: Signal<Proposal>,
    #[prop(into)] grace_days: Signal<String>,
) -> impl IntoView {
    let impact = Resource::new(
        move || (policy.get(), grace_days.get()),
        move |(policy, grace_days)| {
            policy_impact(org_id, policy.as_str().to_string(), Some(grace_days))
        },
    );
    view! {
        <div class="impact" data-testid="policy-impact">
            <Transition fallback=|| view! { <p class="muted">"Working out who this blocks…"</p> }>
                {move || Suspend::new(async move {
                    match impact.await {
                        Ok(impact) => view! { <ImpactDetails impact/> }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn ImpactDetails(impact: Impact) -> impl IntoView {
    let more_members = impact.members_count - impact.members.len() as i64;
    let more_keys = impact.keys_count - impact.keys.len() as i64;
    let members = impact
        .members
        .iter()
        .map(|m| {
            view! {
                <tr>
                    <td>{m.name.clone()}</td>
                    <td class="small">{m.email.clone()}</td>
                    <td class="small">{m.reason.words()}</td>
                    <td class="small">{(m.keys > 0).then(|| counted(m.keys, "key", "keys"))}</td>
                </tr>
            }
        })
        .collect_view();
    let keys = impact
        .keys
        .iter()
        .map(|k| {
            let last_use = match (&k.last_used_ago, &k.last_used_ip) {
                (None, _) => "never used".to_string(),
                (Some(ago), Some(ip)) => format!("last used {ago} from {ip}"),
                (Some(ago), None) => format!("last used {ago}"),
            };
            view! {
                <tr>
                    <td>{k.name.clone()} " " <code class="muted">{k.prefix.clone()}</code></td>
                    <td class="small">{k.owner_email.clone()}</td>
                    <td class="small">{k.scopes.join(" ")}</td>
                    <td class="small">{last_use}
                        {k.last_used_agent.clone().map(|a| view! { <br/><span class="muted">{a}</span> })}</td>
                </tr>
            }
        })
        .collect_view();
    let has_members = !impact.members.is_empty();
    let has_keys = !impact.keys.is_empty();
    view! {
        <p data-testid="impact-summary"><strong>{impact.summary()}</strong></p>
        {has_members.then(|| view! {
            <table class="table impact-members" aria-label="Members it blocks">
                <thead><tr><th scope="col">"Member"</th><th scope="col">"Email"</th><th scope="col">"Why"</th><th scope="col">"Keys"</th></tr></thead>
                <tbody>{members}</tbody>
            </table>
            {(more_members > 0).then(|| view! { <p class="muted">{format!("and {} more.", counted(more_members, "member", "members"))}</p> })}
        })}
        {has_keys.then(|| view! {
            <table class="table impact-keys" aria-label="API keys it refuses">
                <thead><tr><th scope="col">"API key"</th><th scope="col">"Owner"</th><th scope="col">"Scopes"</th><th scope="col">"Last use"</th></tr></thead>
                <tbody>{keys}</tbody>
            </table>
            {(more_keys > 0).then(|| view! { <p class="muted">{format!("and {} more.", counted(more_keys, "key", "keys"))}</p> })}
        })}
    }
}

/// The organization's report-only trials, read once for the settings page (both panels show
/// them) and again after any panel starts or stops one. Each family has its own actions, so
/// each panel shows only its own errors and Confirm access prompt.
///
/// Made by the page body, not inside a `Suspend`: created after an `.await`, a resource was
/// numbered differently on the server and in the browser, which found no data for it and
/// hydrated the fallback over the server's content (a hydration panic on reloading
/// Organization settings during a trial).
#[derive(Clone, Copy)]
pub struct ReportOnlyTrials {
    loaded: Resource<Result<Trials, AppError>>,
    two_factor: TrialActions,
    sso: TrialActions,
}

#[derive(Clone, Copy)]
struct TrialActions {
    start: ServerAction<StartPolicyTrial>,
    stop: ServerAction<StopPolicyTrial>,
}

impl TrialActions {
    fn new() -> Self {
        Self {
            start: ServerAction::new(),
            stop: ServerAction::new(),
        }
    }
}

impl ReportOnlyTrials {
    pub fn new(org_id: i64) -> Self {
        let (two_factor, sso) = (TrialActions::new(), TrialActions::new());
        let loaded = Resource::new(
            move || {
                (
                    two_factor.start.version().get(),
                    two_factor.stop.version().get(),
                    sso.start.version().get(),
                    sso.stop.version().get(),
                )
            },
            move |_| policy_trials(org_id),
        );
        Self {
            loaded,
            two_factor,
            sso,
        }
    }

    fn actions(&self, family: Proposal) -> TrialActions {
        match family {
            Proposal::Sso => self.sso,
            Proposal::TwoFactor | Proposal::SecurityKeys => self.two_factor,
        }
    }
}

/// **Report only** for the policies of `family` (both 2FA levels are one family): the trial
/// running or last run, with who it would have refused, and Stop; and, while `offer` names
/// a policy (the Owner is about to apply it), the form that tries it instead.
#[component]
pub fn ReportOnly(
    org_id: i64,
    family: Proposal,
    trials: ReportOnlyTrials,
    #[prop(into)] offer: Signal<Option<Proposal>>,
) -> impl IntoView {
    let TrialActions { start, stop } = trials.actions(family);
    let loaded = trials.loaded;
    let days = RwSignal::new("7".to_string());
    view! {
        <div class="report-only" data-testid=format!("report-only-{}", family.as_str())>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Ok(trials) => trials.of(family).cloned().map(|trial| view! { <TrialStatus org_id trial stop/> }.into_any()),
                        Err(err) => Some(view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any()),
                    }
                })}
            </Transition>
            {move || offer.get().map(|policy| view! {
                <ActionForm action=start attr:class="report-only-start">
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="policy" value=policy.as_str()/>
                    <p class="hint">"Or try it first: in report-only mode nothing is refused, and each request it would refuse is counted here."</p>
                    <div class="field">
                        <label for=format!("trial-days-{}", family.as_str())>"Report only for (days, 1–30)"</label>
                        <input id=format!("trial-days-{}", family.as_str()) name="days" type="number" min="1" max=MAX_TRIAL_DAYS.to_string()
                            prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
                        {move || field_error(start.value(), "days").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    </div>
                    <p class="form-error" role="alert">{move || general_error(start.value(), &["days"]).get()}</p>
                    <button type="submit" class="button secondary">"Report only"</button>
                </ActionForm>
            })}
            <ConfirmAccessPrompt asked=Signal::derive(move || asks_confirmation(start.value()).get().or(asks_confirmation(stop.value()).get()))
                id=if family == Proposal::Sso { "report-only-confirm-sso" } else { "report-only-confirm-two-factor" }/>
        </div>
    }
}

#[component]
fn TrialStatus(org_id: i64, trial: Trial, stop: ServerAction<StopPolicyTrial>) -> impl IntoView {
    let heading = if trial.running {
        format!(
            "Report only: {}, until {}.",
            trial.policy.title(),
            trial.until_text
        )
    } else {
        format!(
            "Report only ended: {}, {} to {}.",
            trial.policy.title(),
            trial.since_text,
            trial.until_text
        )
    };
    let counts = format!(
        "{} would have been refused, of {}.",
        counted(trial.requests, "request", "requests"),
        counted(trial.members, "member", "members")
    );
    let rows = trial
        .entries
        .iter()
        .map(|w| {
            view! {
                <tr>
                    <td>{w.name.clone()} <br/><span class="muted small">{w.email.clone()}</span></td>
                    <td class="small">{w.key_name.clone().map(|k| format!("API key “{k}”")).unwrap_or_else(|| "signed in".to_string())}</td>
                    <td class="small">{w.requests}</td>
                    <td class="small">{last_use(&w.last_text, w.ip.as_deref())}
                        {w.agent.clone().map(|a| view! { <br/><span class="muted">{a}</span> })}</td>
                </tr>
            }
        })
        .collect_view();
    let policy = trial.policy;
    view! {
        <div class="notice" data-testid="trial-status">
            <p><strong>{heading}</strong></p>
            <p data-testid="trial-counts">{counts}</p>
            {(!trial.entries.is_empty()).then(|| view! {
                <table class="table trial" aria-label="Requests it would have refused">
                    <thead><tr><th scope="col">"Member"</th><th scope="col">"By"</th><th scope="col">"Requests"</th><th scope="col">"Last"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            })}
            {trial.running.then(|| view! {
                <ActionForm action=stop attr:class="inline">
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="policy" value=policy.as_str()/>
                    <p class="form-error" role="alert">{move || general_error(stop.value(), &[]).get()}</p>
                    <button type="submit" class="button secondary small">"Stop report only"</button>
                </ActionForm>
            })}
        </div>
    }
}

/// "3 min ago from 203.0.113.7" as one text node: dynamic text nodes side by side are a
/// known hydration hazard (leptos-rs/leptos#3398).
fn last_use(ago: &str, ip: Option<&str>) -> String {
    match ip {
        Some(ip) => format!("{ago} from {ip}"),
        None => ago.to_string(),
    }
}
