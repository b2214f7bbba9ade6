//! The **Audit log streaming** panel of Organization settings (Owner).

use super::api::{audit_streams, AddAuditStream, RemoveAuditStream};
use super::model::{StreamKind, StreamView};
use crate::auth::confirm_access::ConfirmAccessPrompt;
use crate::forms::{asks_confirmation, field_error, general_error, Field};
use crate::words::counted;
use leptos::prelude::*;

#[component]
pub fn AuditStreamsPanel(org_id: i64) -> impl IntoView {
    let add = ServerAction::<AddAuditStream>::new();
    let remove = ServerAction::<RemoveAuditStream>::new();
    let streams = Resource::new(
        move || (add.version().get(), remove.version().get()),
        move |_| audit_streams(org_id),
    );
    let kind = RwSignal::new(StreamKind::JsonLines);
    let asked = Signal::derive(move || {
        asks_confirmation(add.value())
            .get()
            .or(asks_confirmation(remove.value()).get())
    });
    view! {
        <section class="card" id="audit-streaming" aria-labelledby="audit-streaming-title">
            <h2 id="audit-streaming-title">"Audit log streaming"</h2>
            <p class="muted">
                "Every audit event of this organization, in order and at least once, to your SIEM: signed JSON Lines batches, or Splunk's HTTP Event Collector. "
                "A receiver that is down is retried with backoff; nothing is skipped, and a retried event keeps its id."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match streams.await {
                        Ok(view) if view.streams.is_empty() => view! { <p class="muted" data-testid="streams-empty">"No streams."</p> }.into_any(),
                        Ok(view) => {
                            let rows = view.streams.into_iter().map(|s| view! { <StreamRow org_id stream=s remove/> }).collect_view();
                            view! {
                                <table class="table" aria-label="Audit streams" data-testid="audit-streams">
                                    <thead><tr>
                                        <th scope="col">"Format"</th>
                                        <th scope="col">"Receiver"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <p class="form-error" role="alert">{move || general_error(remove.value(), &[]).get()}</p>
            <ActionForm action=add>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <fieldset class="field">
                    <legend>"Format"</legend>
                    {StreamKind::ALL.into_iter().map(|k| view! {
                        <label class="radio">
                            <input type="radio" name="kind" value=k.as_str() prop:checked=move || kind.get() == k
                                on:change=move |_| kind.set(k)/>
                            " " {k.label()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <Field label="Receiver URL" name="url" id="stream-url" kind="url" autocomplete="off" error=field_error(add.value(), "url")/>
                {move || {
                    let label = kind.get().secret_label();
                    view! { <Field label name="secret" id="stream-secret" kind="password" autocomplete="new-password" error=field_error(add.value(), "secret")/> }
                }}
                <p class="form-error" role="alert">{move || general_error(add.value(), &["url", "secret"]).get()}</p>
                <button type="submit" class="button" disabled=move || add.pending().get()>"Add stream"</button>
            </ActionForm>
            <ConfirmAccessPrompt asked id="streams-confirm"/>
        </section>
    }
}

#[component]
fn StreamRow(
    org_id: i64,
    stream: StreamView,
    remove: ServerAction<RemoveAuditStream>,
) -> impl IntoView {
    let status = match (&stream.last_error, &stream.next_attempt) {
        (Some(error), Some(next)) => format!(
            "Failing: {error} Next attempt {next}. {} waiting.",
            counted(stream.lag, "event", "events")
        ),
        _ if stream.lag == 0 => match &stream.last_success {
            Some(at) => format!("Up to date (last sent {at})."),
            None => "Up to date.".to_string(),
        },
        _ => format!("{} to send.", counted(stream.lag, "event", "events")),
    };
    view! {
        <tr>
            <td>{stream.kind.label()}</td>
            <td class="small"><code>{stream.url.clone()}</code></td>
            <td class="small" data-testid="stream-status">{status}</td>
            <td class="actions">
                <ActionForm action=remove attr:class="inline">
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="stream_id" value=stream.id.to_string()/>
                    <button type="submit" class="button danger small">"Remove"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
