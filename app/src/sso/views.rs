//! The **Single sign-on** panel of Organization settings (Owner), and the sign-in page's
//! "Sign in with single sign-on" form.

use super::api::{get_sso_settings, sso_offered, RemoveSso, SaveSsoSettings, SetSsoRequired};
use super::model::{sign_in_error_message, SsoConnection, SsoSettings};
use crate::domain::Role;
use crate::forms::{field_error, general_error, Field};
use crate::policy_impact::{
    model::Proposal,
    views::{PolicyImpact, ReportOnly, ReportOnlyTrials},
};
use leptos::prelude::*;

#[component]
pub fn SsoPanel(org_id: i64, trials: ReportOnlyTrials) -> impl IntoView {
    let save = ServerAction::<SaveSsoSettings>::new();
    let require = ServerAction::<SetSsoRequired>::new();
    let remove = ServerAction::<RemoveSso>::new();
    let settings = Resource::new(
        move || {
            (
                save.version().get(),
                require.version().get(),
                remove.version().get(),
            )
        },
        move |_| get_sso_settings(org_id),
    );
    view! {
        <section class="card" id="sso" aria-labelledby="sso-title">
            <h2 id="sso-title">"Single sign-on"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => view! { <SsoForm settings=s save require remove trials/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SsoForm(
    settings: SsoSettings,
    save: ServerAction<SaveSsoSettings>,
    require: ServerAction<SetSsoRequired>,
    remove: ServerAction<RemoveSso>,
    trials: ReportOnlyTrials,
) -> impl IntoView {
    let org_id = settings.org_id;
    let conn = settings.connection.clone();
    let (issuer, client_id, domains, role, provider_mfa) = match &conn {
        Some(c) => (
            c.issuer.clone(),
            c.client_id.clone(),
            c.allowed_domains.join(", "),
            c.default_role,
            c.provider_mfa,
        ),
        None => (
            String::new(),
            String::new(),
            String::new(),
            Role::User,
            false,
        ),
    };
    let roles = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Owner)
        .map(|r| view! { <option value=r.as_str() selected=r == role>{r.label()}</option> })
        .collect_view();
    let secret_hint = if conn.is_some() {
        "Stored encrypted and never shown. Leave empty to keep it."
    } else {
        "Stored encrypted and never shown."
    };
    view! {
        <p class="muted">
            "People whose email is in an allowed domain sign in through your identity provider "
            "(Okta, Entra ID, Google Workspace, Keycloak, Authentik: any OpenID Connect provider). "
            "Register Gatehouse there as a web application with this redirect URI and the scopes "
            <code>"openid email profile"</code>":"
        </p>
        <p><code class="redirect-uri" data-testid="sso-redirect-uri">{settings.redirect_uri.clone()}</code></p>
        {settings.opened_elsewhere.clone().map(|why| view! { <p class="notice warn" data-testid="sso-opened-elsewhere">{why}</p> })}
        {conn.clone().map(|c| {
            let testable = settings.opened_elsewhere.is_none();
            view! { <ConnectionStatus org_id conn=c testable require remove trials/> }
        })}
        <ActionForm action=save>
            <input type="hidden" name="org_id" value=org_id.to_string()/>
            <Field label="Issuer URL" name="issuer" kind="url" value=issuer error=field_error(save.value(), "issuer")/>
            <Field label="Client id" name="client_id" value=client_id autocomplete="off" error=field_error(save.value(), "client_id")/>
            <Field label="Client secret" name="client_secret" kind="password" autocomplete="new-password" required=conn.is_none() error=field_error(save.value(), "client_secret")/>
            <p class="hint">{secret_hint}</p>
            <Field label="Allowed email domains" name="allowed_domains" value=domains error=field_error(save.value(), "allowed_domains")/>
            <p class="hint">"Each must be one of this organization's verified domains (above)."</p>
            <div class="field">
                <label for="sso-default-role">"Role for people who arrive through single sign-on for the first time"</label>
                <select id="sso-default-role" name="default_role">{roles}</select>
                <p class="field-error" role="alert">{move || field_error(save.value(), "default_role").get()}</p>
            </div>
            <label class="checkbox">
                <input type="checkbox" name="provider_mfa" value="on" checked=provider_mfa/>
                " The provider's multi-factor authentication counts as the second step "
                <span class="muted">"(its amr claim says mfa, otp, hwk, swk, fpt, face, iris, sc or pop)"</span>
            </label>
            <p class="form-error" role="alert">{move || general_error(save.value(), &["issuer", "client_id", "client_secret", "allowed_domains", "default_role"]).get()}</p>
            <button type="submit" class="button">{if conn.is_some() { "Save" } else { "Connect" }}</button>
        </ActionForm>
        <crate::auth::confirm_access::ConfirmAccessPrompt asked=crate::forms::asks_confirmation(save.value()) id="sso-save-confirm"/>
        <p class="muted">
            "Removing someone at the provider does not remove them here: remove them from Members too "
            "(provisioning is not part of Gatehouse yet). API keys keep working for people who are still members."
        </p>
    }
}

#[component]
fn ConnectionStatus(
    org_id: i64,
    conn: SsoConnection,
    testable: bool,
    require: ServerAction<SetSsoRequired>,
    remove: ServerAction<RemoveSso>,
    trials: ReportOnlyTrials,
) -> impl IntoView {
    let tested = conn.tested.clone();
    let unverified = (!conn.unverified_domains.is_empty()).then(|| {
        format!(
            "Not verified: {}. Single sign-on does not route these domains or make accounts for them until this organization verifies them under Verified domains.",
            conn.unverified_domains.join(", ")
        )
    });
    let status = match (&conn.tested, &conn.test_error) {
        (_, Some(error)) => view! { <p class="error" role="status" data-testid="sso-test">"Test connection failed. " {error.clone()}</p> }.into_any(),
        (Some(at), None) => view! { <p class="ok" role="status" data-testid="sso-test">{format!("Test connection succeeded ({at}).")}</p> }.into_any(),
        (None, None) => view! { <p class="muted" data-testid="sso-test">"Not tested yet: Test connection signs you in at the provider once and checks every step."</p> }.into_any(),
    };
    let required = conn.required;
    view! {
        {status}
        {unverified.map(|why| view! { <p class="notice warn" data-testid="sso-unverified">{why}</p> })}
        <form method="post" action="/sso/test">
            <input type="hidden" name="org" value=org_id.to_string()/>
            <button type="submit" class="button secondary" disabled=!testable>"Test connection"</button>
        </form>
        {if required {
            view! {
                <ActionForm action=require>
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="required" value="false"/>
                    <p class="muted">"Single sign-on is required: members reach this organization only through the identity provider. Owners keep a password sign-in for emergencies, and it is audited."</p>
                    <p class="form-error" role="alert">{move || general_error(require.value(), &[]).get()}</p>
                    <button type="submit" class="button">"Stop requiring single sign-on"</button>
                </ActionForm>
            }.into_any()
        } else {
            view! { <RequireSso org_id require testable=tested.is_some() trials/> }.into_any()
        }}
        <ActionForm action=remove>
            <input type="hidden" name="org_id" value=org_id.to_string()/>
            <p class="form-error" role="alert">{move || general_error(remove.value(), &[]).get()}</p>
            <button type="submit" class="button danger small">"Remove single sign-on"</button>
        </ActionForm>
        <crate::auth::confirm_access::ConfirmAccessPrompt
            asked=Signal::derive(move || crate::forms::asks_confirmation(require.value()).get().or(crate::forms::asks_confirmation(remove.value()).get()))
            id="sso-status-confirm"/>
    }
}

/// **Require single sign-on**, in two steps: the button opens a confirmation that shows who
/// it would block before anything changes.
#[component]
fn RequireSso(
    org_id: i64,
    require: ServerAction<SetSsoRequired>,
    testable: bool,
    trials: ReportOnlyTrials,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    view! {
        <p class="muted">"Require single sign-on: members reach this organization only through the identity provider (Owners keep an audited password sign-in)."</p>
        {move || (!confirming.get()).then(|| view! {
            <button type="button" class="button" disabled=!testable on:click=move |_| confirming.set(true)>"Require single sign-on"</button>
        })}
        {move || confirming.get().then(|| view! {
            <div class="confirm" role="alertdialog" aria-labelledby="confirm-sso">
                <p id="confirm-sso"><strong>"Require single sign-on?"</strong></p>
                <PolicyImpact org_id policy=Proposal::Sso grace_days="0".to_string()/>
                <ActionForm action=require>
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="required" value="true"/>
                    <p class="form-error" role="alert">{move || general_error(require.value(), &[]).get()}</p>
                    <button type="submit" class="button">"Require single sign-on"</button>
                    " "
                    <button type="button" class="button secondary" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </ActionForm>
            </div>
        })}
        <ReportOnly org_id family=Proposal::Sso trials offer=Signal::derive(move || confirming.get().then_some(Proposal::Sso))/>
    }
}

/// What a page shows instead of itself when the organization requires single sign-on and
/// this session did not come through its provider (the server sends page loads there
/// directly; this is for navigation inside the browser).
#[component]
pub fn SsoRequiredPage(org_name: String, org_id: i64) -> impl IntoView {
    let href = format!("/sso/start?org={org_id}");
    view! {
        <section class="card narrow" role="alert">
            <h1>"Single sign-on required"</h1>
            <p>{format!("{org_name} requires single sign-on. Sign in through its identity provider to continue.")}</p>
            <p><a class="button" href=href rel="external">"Continue with single sign-on"</a></p>
        </section>
    }
}

/// Under the password form when some organization here uses single sign-on: an email takes
/// its owner to their organization's provider (through a domain it verified). A plain form
/// posting to Gatehouse itself, so it works before the page's code has loaded and no other
/// site can start a round trip in the visitor's browser.
#[component]
pub fn SsoSignIn(next: String, error: Option<String>) -> impl IntoView {
    let offered = Resource::new(|| (), |_| sso_offered());
    let message = error.as_deref().and_then(sign_in_error_message);
    view! {
        {message.map(|m| view! { <p class="form-error" role="alert" data-testid="sso-error">{m}</p> })}
        <Transition fallback=|| ()>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                matches!(offered.await, Ok(true)).then(move || view! {
                    <form method="post" action="/sso/start" class="sso-sign-in">
                        <h2>"Single sign-on"</h2>
                        <input type="hidden" name="next" value=next/>
                        <div class="field">
                            <label for="sso-email">"Work email"</label>
                            <input id="sso-email" name="email" type="email" autocomplete="email" required=true/>
                        </div>
                        <button type="submit" class="button secondary">"Sign in with single sign-on"</button>
                    </form>
                })
            })}}
        </Transition>
    }
}
