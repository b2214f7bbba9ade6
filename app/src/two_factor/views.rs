//! 2FA in the interface: the profile panel, the second step of sign-in, the Owner's policy
//! panel in Organization settings, the grace-period banner, and the page non-compliant
//! members get instead of their organization's pages.

use super::api::{
    get_two_factor_status, two_factor_policy, ConfirmTwoFactor, DisableTwoFactor, NotifyTwoFactor,
    RegenerateRecoveryCodes, SetTwoFactorPolicy, StartTwoFactor,
};
use super::fresh::{FreshRecoveryCodes, PasskeyNews};
use super::model::{
    Compliance, Enrollment, PolicyLevel, PolicyView, TwoFactorStatus, MAX_GRACE_DAYS,
};
use super::passkeys::views::{PasskeySignIn, PasskeysSection};
use crate::auth::confirm_access::ConfirmAccessPrompt;
use crate::auth::model::SessionInfo;
use crate::forms::{
    asks_confirmation, field_error, focus_when_shown, general_error, Field, FocusReturn,
};
use crate::policy_impact::{
    model::Proposal,
    views::{PolicyImpact, ReportOnly, ReportOnlyTrials},
};
use crate::session_context::AuthActions;
use crate::words::counted;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// The profile panel "Two-factor authentication".
#[component]
pub fn TwoFactorPanel() -> impl IntoView {
    let auth = expect_context::<AuthActions>();
    let fresh = expect_context::<FreshRecoveryCodes>().0;
    let start = ServerAction::<StartTwoFactor>::new();
    let confirm = ServerAction::<ConfirmTwoFactor>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let disable = ServerAction::<DisableTwoFactor>::new();
    // Turning 2FA on or off changes what the session says (banner, access to organizations).
    Effect::new(move |_| {
        if let Some(Ok(codes)) = confirm.value().get() {
            fresh.set(Some(codes.codes));
            auth.refresh_session();
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(codes)) = regenerate.value().get() {
            fresh.set(Some(codes.codes));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = disable.value().get() {
            auth.refresh_session();
        }
    });
    // Bumped by the passkeys part after each change it makes; its news ("… added.") lives
    // above the page, which adding the first one re-renders (the session changes).
    let passkeys_changed = RwSignal::new(0u32);
    let passkey_news = expect_context::<PasskeyNews>().0;
    let status = Resource::new(
        move || {
            (
                confirm.version().get(),
                regenerate.version().get(),
                disable.version().get(),
                passkeys_changed.get(),
            )
        },
        |_| get_two_factor_status(),
    );
    view! {
        <section class="card" id="two-factor" aria-labelledby="two-factor-title">
            <h2 id="two-factor-title">"Two-factor authentication"</h2>
            {move || fresh.get().map(|codes| view! { <RecoveryCodesShown codes/> })}
            {move || passkey_news.get().map(|news| view! { <p class="notice" role="status" data-testid="passkey-news">{news}</p> })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(s) => view! { <TwoFactorParts s start confirm regenerate disable passkeys_changed passkey_news/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The panel's parts for the person's current factors: the authenticator app, security keys
/// and passkeys, recovery codes.
#[component]
fn TwoFactorParts(
    s: TwoFactorStatus,
    start: ServerAction<StartTwoFactor>,
    confirm: ServerAction<ConfirmTwoFactor>,
    regenerate: ServerAction<RegenerateRecoveryCodes>,
    disable: ServerAction<DisableTwoFactor>,
    passkeys_changed: RwSignal<u32>,
    passkey_news: RwSignal<Option<String>>,
) -> impl IntoView {
    let required = (!s.required_by.is_empty()).then(|| s.required_by.join(", "));
    let summary = match (s.app, s.passkeys.len()) {
        (true, 0) => "Two-factor authentication is on. Sign-in asks for a code from your authenticator app.".to_string(),
        (true, _) => "Two-factor authentication is on. Sign-in asks for your security key or passkey, or a code from your authenticator app.".to_string(),
        (false, n) if n > 0 => "Two-factor authentication is on. Sign-in asks for your security key or passkey.".to_string(),
        _ => String::new(),
    };
    let last_factor = s.passkeys.is_empty();
    let keys_required = (s.passkeys.is_empty() && !s.keys_required_by.is_empty()).then(|| {
        format!(
            "{} requires a security key or passkey: an authenticator app is not enough. Add one below.",
            s.keys_required_by.join(", ")
        )
    });
    view! {
        {keys_required.map(|message| view! { <p class="notice warn" role="status" data-testid="keys-required">{message}</p> })}
        {if s.enabled {
            view! {
                <p><span class="badge ok">"On"</span> " " {summary}</p>
                <p class="muted" data-testid="recovery-left">{format!("{} recovery codes left.", s.recovery_codes_left)}</p>
            }.into_any()
        } else {
            view! {
                {required.clone().map(|orgs| view! {
                    <p class="notice warn" role="status">{format!("{orgs} requires two-factor authentication.")}</p>
                })}
                <p>"Protect your account with a second step after your password: a security key or passkey, or a code from an authenticator app (Google Authenticator, 1Password, Authy…)."</p>
            }.into_any()
        }}
        <h3>"Authenticator app"</h3>
        {if s.app {
            view! { <p class="muted">"Your authenticator app is set up."</p> }.into_any()
        } else {
            let label = if s.enabled { "Set up an authenticator app" } else { "Enable two-factor authentication" };
            view! {
                {move || match start.value().get() {
                    Some(Ok(enrollment)) => view! { <Enroll enrollment confirm/> }.into_any(),
                    other => view! {
                        <ActionForm action=start>
                            <p class="form-error" role="alert">{other.and_then(|r| r.err()).map(|e| e.to_string())}</p>
                            <button type="submit" class="button">{label}</button>
                        </ActionForm>
                        <ConfirmAccessPrompt asked=asks_confirmation(start.value()) id="enable-confirm"/>
                    }.into_any(),
                }}
            }.into_any()
        }}
        <PasskeysSection list=s.passkeys unavailable=s.passkeys_unavailable app=s.app changed=passkeys_changed news=passkey_news/>
        {s.enabled.then(|| view! {
            <h3>"Recovery codes"</h3>
            <ActionForm action=regenerate>
                <p class="muted">"New codes replace all the old ones."</p>
                {s.app.then(|| view! {
                    <Field label="Authentication code" name="code" id="regenerate-code" autocomplete="one-time-code" inputmode="numeric" error=field_error(regenerate.value(), "code")/>
                })}
                {(!s.app).then(|| view! { <input type="hidden" name="code" value=""/> })}
                <p class="form-error" role="alert">{move || general_error(regenerate.value(), &["code"]).get()}</p>
                <button type="submit" class="button secondary">"Regenerate recovery codes"</button>
            </ActionForm>
            <ConfirmAccessPrompt asked=asks_confirmation(regenerate.value()) id="regenerate-confirm"/>
        })}
        {s.app.then(|| view! {
            <h3>{if last_factor { "Turn off" } else { "Remove the authenticator app" }}</h3>
            {(last_factor && required.is_some()).then(|| view! {
                <p class="muted">{format!("{} requires two-factor authentication: it cannot be turned off while you are a member.", required.clone().unwrap_or_default())}</p>
            })}
            <ActionForm action=disable>
                <Field label="Password" name="password" id="disable-password" kind="password" autocomplete="current-password" error=field_error(disable.value(), "password")/>
                <Field label="Authentication code" name="code" id="disable-code" autocomplete="one-time-code" inputmode="numeric" error=field_error(disable.value(), "code")/>
                <p class="form-error" role="alert">{move || general_error(disable.value(), &["password", "code"]).get()}</p>
                <button type="submit" class="button danger">{if last_factor { "Turn off two-factor authentication" } else { "Remove the authenticator app" }}</button>
            </ActionForm>
            <ConfirmAccessPrompt asked=asks_confirmation(disable.value()) id="disable-confirm"/>
        })}
    }
}

#[component]
fn Enroll(enrollment: Enrollment, confirm: ServerAction<ConfirmTwoFactor>) -> impl IntoView {
    view! {
        <ol class="steps">
            <li>
                <p>"Scan this QR code with your authenticator app…"</p>
                <div class="qr" role="img" aria-label="QR code for your authenticator app" inner_html=enrollment.qr_svg></div>
                <p>"…or enter this key by hand:"</p>
                <p><code class="secret" data-testid="totp-secret">{enrollment.secret}</code></p>
            </li>
            <li>
                <ActionForm action=confirm>
                    <Field label="Enter the 6-digit code your app shows" name="code" id="enroll-code" autocomplete="one-time-code" inputmode="numeric" error=field_error(confirm.value(), "code")/>
                    <p class="form-error" role="alert">{move || general_error(confirm.value(), &["code"]).get()}</p>
                    <button type="submit" class="button">"Turn on"</button>
                </ActionForm>
                <ConfirmAccessPrompt asked=asks_confirmation(confirm.value()) id="turn-on-confirm"/>
            </li>
        </ol>
    }
}

/// The recovery codes, once, with copy and download.
#[component]
fn RecoveryCodesShown(codes: Vec<String>) -> impl IntoView {
    let fresh = expect_context::<FreshRecoveryCodes>().0;
    let text = codes.join("\n");
    // The codes are [a-z0-9-] only: a newline is the one character to encode.
    let download = format!("data:text/plain;charset=utf-8,{}", codes.join("%0A"));
    let copied = RwSignal::new(false);
    view! {
        <div class="notice" role="status" data-testid="recovery-codes">
            <p><strong>"Save your recovery codes now."</strong>
               " Each works once, in place of your second factor, if you lose your phone or security key. They are not shown again."</p>
            <ul class="codes mono">
                {codes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
            </ul>
            <div class="row">
                <button type="button" class="button secondary" on:click=move |_| {
                    let _ = window().navigator().clipboard().write_text(&text);
                    copied.set(true);
                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                <a class="button secondary" href=download download="gatehouse-recovery-codes.txt">"Download"</a>
                <button type="button" class="button" on:click=move |_| fresh.set(None)>"I have saved them"</button>
            </div>
        </div>
    }
}

/// The second step of sign-in.
#[component]
pub fn SecondStepPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().second_factor;
    let general = general_error(action.value(), &["code"]);
    view! {
        <Title text="Two-factor authentication"/>
        <section class="card narrow">
            <h1>"Two-factor authentication"</h1>
            <PasskeySignIn/>
            <ActionForm action=action>
                <Field label="Authentication code" name="code" autocomplete="one-time-code" inputmode="numeric" error=field_error(action.value(), "code")/>
                <p class="hint">"The 6-digit code from your authenticator app, or one of your recovery codes."</p>
                <p class="form-error" role="alert">{general}</p>
                <button type="submit" class="button" disabled=move || action.pending().get()>"Verify"</button>
            </ActionForm>
            <p class="muted"><A href="/signin">"Start again"</A></p>
        </section>
    }
}

/// The banner of the current organization's policy: the deadline during the grace period,
/// or the Owner's request (Notify).
#[component]
pub fn TwoFactorBanner(info: SessionInfo) -> impl IntoView {
    let grace = info.current_org.as_ref().and_then(|o| match &o.two_factor {
        Compliance::Grace { deadline } if o.security_keys_only => Some(format!(
            "{} requires a security key or passkey. Add one before {deadline} to keep access.",
            o.name
        )),
        Compliance::Grace { deadline } => Some(format!(
            "{} requires two-factor authentication. Turn it on before {deadline} to keep access.",
            o.name
        )),
        _ => None,
    });
    let asked = (!info.two_factor_enabled && !info.two_factor_notices.is_empty()).then(|| {
        format!(
            "{} asks you to turn on two-factor authentication.",
            info.two_factor_notices.join(", ")
        )
    });
    grace.or(asked).map(|message| {
        view! {
            <div class="banner" role="status" data-testid="two-factor-banner">
                {message} " " <A href="/profile#two-factor">"Set up two-factor authentication"</A>
            </div>
        }
    })
}

/// What a non-compliant member gets instead of an organization page, and in the browser a
/// move to their profile's 2FA setup. (The server's `page_gate` answers such pages with
/// 403: a status set while streaming could race with the headers.)
#[component]
pub fn TwoFactorRequiredPage(org_name: String, security_keys_only: bool) -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| navigate("/profile?setup=two-factor#two-factor", Default::default()));
    let (title, message, action) = if security_keys_only {
        (
            "Security key or passkey required",
            " requires a security key or passkey: an authenticator app is not enough. Add one to continue; your membership is kept.",
            "Add a security key or passkey",
        )
    } else {
        (
            "Two-factor authentication required",
            " requires two-factor authentication. Turn it on to continue; your membership is kept.",
            "Set up two-factor authentication",
        )
    };
    view! {
        <Title text=title/>
        <section class="card narrow" data-testid="two-factor-required">
            <h1>{title}</h1>
            <p>{org_name} {message}</p>
            <A href="/profile#two-factor" attr:class="button">{action}</A>
        </section>
    }
}

/// The Owner's panel: "Require two-factor authentication", the members without it, Notify.
#[component]
pub fn SecurityPanel(org_id: i64, trials: ReportOnlyTrials) -> impl IntoView {
    let notify = ServerAction::<NotifyTwoFactor>::new();
    let set = ServerAction::<SetTwoFactorPolicy>::new();
    let policy = Resource::new(
        move || (notify.version().get(), set.version().get()),
        move |_| two_factor_policy(org_id),
    );
    view! {
        <section class="card" id="security" aria-labelledby="security-title">
            <h2 id="security-title">"Security"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match policy.await {
                        Ok(p) => view! { <PolicyForm org_id policy=p notify set trials/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ConfirmAccessPrompt asked=asks_confirmation(set.value()) id="policy-confirm"/>
        </section>
    }
}

#[component]
fn PolicyForm(
    org_id: i64,
    policy: PolicyView,
    notify: ServerAction<NotifyTwoFactor>,
    set: ServerAction<SetTwoFactorPolicy>,
    trials: ReportOnlyTrials,
) -> impl IntoView {
    let wanted = RwSignal::new(policy.required);
    let grace = RwSignal::new("7".to_string());
    let methods = RwSignal::new(PolicyLevel::Any);
    let may_require_keys = policy.viewer_has_passkey;
    let confirming = RwSignal::new(false);
    // Keyboard users land on the confirmation when it opens and back on Apply when it is
    // cancelled, instead of at the top of the page.
    let confirm_button = NodeRef::<leptos::html::Button>::new();
    let apply_button = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm_button);
    let back_to_apply = FocusReturn::new(apply_button);
    let required = policy.required;
    let count = policy.without_count;
    let may_change = policy.viewer_has_two_factor;
    let what = match policy.level {
        PolicyLevel::SecurityKeys => "A security key or passkey",
        PolicyLevel::Any => "Two-factor authentication",
    };
    let status = if required {
        match &policy.deadline {
            Some(deadline) => {
                format!("{what} is required. Members without it keep access until {deadline}.")
            }
            None => format!("{what} is required of every member."),
        }
    } else {
        "Members may sign in with a password alone.".to_string()
    };
    let without_list = policy
        .without
        .iter()
        .map(|m| view! { <li>{m.name.clone()} " " <span class="muted">{m.email.clone()}</span></li> })
        .collect_view();
    let notified = policy.notified_count;
    view! {
        <p data-testid="policy-status">{status}</p>
        {(!may_change).then(|| view! {
            <p class="notice warn">"Only an Owner who has two-factor authentication on may change this. "
               <A href="/profile#two-factor">"Turn it on in your profile"</A> "."</p>
        })}
        <label class="checkbox">
            <input type="checkbox" id="require-two-factor" prop:checked=move || wanted.get() disabled=!may_change
                on:change=move |ev| { wanted.set(event_target_checked(&ev)); confirming.set(false); }/>
            " Require two-factor authentication"
        </label>
        <div class="members-without">
            <p data-testid="without-count">{format!("{} without {}{}.", counted(count, "member", "members"), if required && policy.level == PolicyLevel::SecurityKeys { "a security key or passkey" } else { "two-factor authentication" }, if notified > 0 { format!(" ({notified} notified)") } else { String::new() })}</p>
            {(count > 0).then(|| view! {
                <ul class="plain">{without_list}</ul>
                <ActionForm action=notify attr:class="inline">
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <button type="submit" class="button secondary">"Notify"</button>
                </ActionForm>
                {move || notify.value().get().map(|r| match r {
                    Ok(n) => view! { <p class="notice" role="status">{format!("Notified {}.", counted(n, "member", "members"))}</p> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            })}
        </div>
        {move || (wanted.get() && !required && !confirming.get()).then(|| view! {
            <fieldset class="field">
                <legend>"Accept"</legend>
                <label class="radio">
                    <input type="radio" name="methods-choice" id="methods-any" prop:checked=move || methods.get() == PolicyLevel::Any
                        on:change=move |_| methods.set(PolicyLevel::Any)/>
                    " Any method: an authenticator app, a security key or a passkey"
                </label>
                <label class="radio">
                    <input type="radio" name="methods-choice" id="methods-security-keys" disabled=!may_require_keys
                        prop:checked=move || methods.get() == PolicyLevel::SecurityKeys
                        on:change=move |_| methods.set(PolicyLevel::SecurityKeys)/>
                    " Security keys and passkeys only (phishing-resistant)"
                </label>
                {(!may_require_keys).then(|| view! {
                    <p class="hint">"To require security keys and passkeys, add one to your own account first."</p>
                })}
            </fieldset>
            <div class="field">
                <label for="grace-days">"Grace period (days, 0–30)"</label>
                <input id="grace-days" type="number" min="0" max=MAX_GRACE_DAYS.to_string() prop:value=move || grace.get()
                    on:input=move |ev| grace.set(event_target_value(&ev))/>
            </div>
            <button type="button" class="button" node_ref=apply_button on:click=move |_| confirming.set(true)>"Apply"</button>
        })}
        {move || (wanted.get() && !required && confirming.get()).then(|| {
            let days = grace.get();
            view! {
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-require">
                    <p id="confirm-require"><strong>{match methods.get() {
                        PolicyLevel::Any => "Require two-factor authentication?",
                        PolicyLevel::SecurityKeys => "Require security keys and passkeys? From then on an authenticator app no longer counts.",
                    }}</strong></p>
                    <PolicyImpact org_id policy=Signal::derive(move || match methods.get() {
                        PolicyLevel::Any => Proposal::TwoFactor,
                        PolicyLevel::SecurityKeys => Proposal::SecurityKeys,
                    }) grace_days=grace/>
                    <ActionForm action=set>
                        <input type="hidden" name="org_id" value=org_id.to_string()/>
                        <input type="hidden" name="require" value="on"/>
                        <input type="hidden" name="grace_days" value=days/>
                        <input type="hidden" name="methods" value=methods.get().as_str()/>
                        <p class="form-error" role="alert">{move || general_error(set.value(), &[]).get()}</p>
                        <button type="submit" class="button" node_ref=confirm_button>"Require two-factor authentication"</button>
                        " "
                        <button type="button" class="button secondary" on:click=move |_| {
                            back_to_apply.request();
                            confirming.set(false);
                        }>"Cancel"</button>
                    </ActionForm>
                </div>
            }
        })}
        {move || (!wanted.get() && required).then(|| view! {
            <ActionForm action=set>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <p class="form-error" role="alert">{move || general_error(set.value(), &[]).get()}</p>
                <button type="submit" class="button danger">"Stop requiring two-factor authentication"</button>
            </ActionForm>
        })}
        <ReportOnly org_id family=Proposal::TwoFactor trials offer=Signal::derive(move || {
            (wanted.get() && !required && confirming.get()).then(|| match methods.get() {
                PolicyLevel::Any => Proposal::TwoFactor,
                PolicyLevel::SecurityKeys => Proposal::SecurityKeys,
            })
        })/>
    }
}
