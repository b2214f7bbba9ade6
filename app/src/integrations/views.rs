//! Integration settings in the New group form and on a group's page, **Send test event**,
//! and the deliveries list.

use super::api::{get_integrations, SaveIntegration, SendTestEvent};
use super::model::{DeliveryRow, IntegrationsView, Kind};
use crate::error::AppError;
use crate::forms::{field_error, general_error, Field};
use leptos::prelude::*;

/// The integration fields of the New group form (names as `create_group` takes them).
#[component]
pub fn IntegrationFields(
    action_value: MappedSignal<Option<Result<i64, AppError>>>,
) -> impl IntoView {
    view! {
        <label class="checkbox"><input type="checkbox" name="webhook_enabled"/>" Webhook"</label>
        <Field label="Webhook URL" name="webhook_url" kind="url" required=false error=field_error(action_value, "webhook_url")/>
        <Field label="Signing secret" name="webhook_secret" kind="password" autocomplete="new-password" required=false error=field_error(action_value, "webhook_secret")/>
        <label class="checkbox"><input type="checkbox" name="slack_enabled"/>" Slack"</label>
        <Field label="Slack incoming webhook URL" name="slack_url" kind="url" required=false error=field_error(action_value, "slack_url")/>
        <label class="checkbox"><input type="checkbox" name="email_enabled"/>" Email"</label>
        <Field label="Email recipients" name="email_recipients" required=false error=field_error(action_value, "email_recipients")/>
    }
}

#[component]
pub fn IntegrationsPanel(org_id: i64, group_id: i64) -> impl IntoView {
    let save = ServerAction::<SaveIntegration>::new();
    let test = ServerAction::<SendTestEvent>::new();
    let view_res = Resource::new(
        move || (save.version().get(), test.version().get()),
        move |_| get_integrations(org_id, group_id),
    );
    let test_result = move || {
        test.value().get().map(|r| match r {
            Ok(d) => view! { <p class="notice" role="status" data-testid="test-result">{describe(&d)}</p> }.into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match view_res.await {
                    Ok(v) => Some(view! {
                        <section class="card" aria-labelledby="integrations-title">
                            <h2 id="integrations-title">"Integrations"</h2>
                            {test_result}
                            <IntegrationForms org_id group_id v save test/>
                        </section>
                    }.into_any()),
                    // The group's own boundary says what is wrong (not found, not allowed).
                    Err(_) => None,
                }
            })}
        </Transition>
    }
}

fn describe(d: &DeliveryRow) -> String {
    let timing = d
        .latency_ms
        .map(|ms| format!(" in {ms} ms"))
        .unwrap_or_default();
    match (&d.status[..], d.response_status, &d.error) {
        ("delivered", Some(code), _) => format!(
            "{} test event delivered: the receiver answered {code}{timing}.",
            d.kind.label()
        ),
        ("delivered", None, _) => format!("{} test event delivered{timing}.", d.kind.label()),
        (_, _, Some(error)) => format!("{} test event failed: {error}", d.kind.label()),
        (status, _, None) => format!("{} test event: {status}.", d.kind.label()),
    }
}

#[component]
fn IntegrationForms(
    org_id: i64,
    group_id: i64,
    v: IntegrationsView,
    save: ServerAction<SaveIntegration>,
    test: ServerAction<SendTestEvent>,
) -> impl IntoView {
    let editable = v.can_edit;
    let section = move |kind: Kind, on: bool, fields: AnyView| {
        let test_button = (editable && on).then(|| {
            view! {
                <button type="button" class="button secondary" disabled=move || test.pending().get()
                    on:click=move |_| { test.dispatch(SendTestEvent { org_id, group_id, kind: kind.as_str().to_string() }); }>
                    {format!("Send test event ({})", kind.label())}
                </button>
            }
        });
        view! {
            <div class="integration">
                <h3>{kind.label()} " " {if on { view! { <span class="badge ok">"On"</span> }.into_any() } else { view! { <span class="badge off">"Off"</span> }.into_any() }}</h3>
                {editable.then(|| view! {
                    <ActionForm action=save>
                        <input type="hidden" name="org_id" value=org_id.to_string()/>
                        <input type="hidden" name="group_id" value=group_id.to_string()/>
                        <input type="hidden" name="kind" value=kind.as_str()/>
                        <label class="checkbox"><input type="checkbox" name="enabled" checked=on/>{format!(" {} on", kind.label())}</label>
                        {fields}
                        <div class="row">
                            <button type="submit" class="button">{format!("Save {}", kind.label().to_lowercase())}</button>
                            {test_button}
                        </div>
                    </ActionForm>
                })}
            </div>
        }
    };
    let err = move |field: &'static str| field_error(save.value(), field);
    let webhook_fields = view! {
        <Field label="Webhook URL" name="url" id="webhook-url" kind="url" required=false value=v.webhook_url.clone() error=err("url")/>
        <Field label="Signing secret" name="secret" id="webhook-secret" kind="password" autocomplete="new-password" required=false error=err("webhook_secret")/>
        <p class="hint">{if v.webhook_secret_set { "A secret is set; leave empty to keep it." } else { "At least 16 characters. Receivers check X-Gatehouse-Signature with it." }}</p>
    }
    .into_any();
    let slack_fields = view! {
        <Field label="Slack incoming webhook URL" name="url" id="slack-url" kind="url" required=false error=err("slack_url")/>
        <p class="hint">{match &v.slack_hint { Some(h) => format!("A URL ending {h} is set; leave empty to keep it."), None => "From Slack: Apps → Incoming Webhooks.".to_string() }}</p>
    }
    .into_any();
    let email_fields = view! {
        <Field label="Email recipients" name="recipients" id="email-recipients" required=false value=v.email_recipients.clone() error=err("email_recipients")/>
    }
    .into_any();
    let deliveries = v.deliveries.clone();
    view! {
        <p class="form-error" role="alert">{move || general_error(save.value(), &["url", "webhook_url", "webhook_secret", "slack_url", "email_recipients"]).get()}</p>
        {section(Kind::Webhook, v.webhook_enabled, webhook_fields)}
        {section(Kind::Slack, v.slack_enabled, slack_fields)}
        {section(Kind::Email, v.email_enabled, email_fields)}
        <h3>"Deliveries"</h3>
        {if deliveries.is_empty() {
            view! { <p class="muted">"No deliveries yet."</p> }.into_any()
        } else {
            view! {
                <table class="table" data-testid="deliveries">
                    <thead><tr>
                        <th scope="col">"When"</th><th scope="col">"Integration"</th><th scope="col">"Event"</th>
                        <th scope="col">"Status"</th><th scope="col">"Attempts"</th><th scope="col">"Answer"</th>
                    </tr></thead>
                    <tbody>
                        {deliveries.into_iter().map(|d| view! {
                            <tr>
                                <td>{d.created.clone()}</td>
                                <td>{d.kind.label()}</td>
                                <td>{d.event.clone()}</td>
                                <td>{d.status.clone()}</td>
                                <td>{d.attempts}</td>
                                <td>{d.error.clone().unwrap_or_else(|| d.response_status.map(|s| s.to_string()).unwrap_or_default())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}
