//! The **Verified domains** panel of Organization settings (Owner).

use super::api::{get_domains, AddDomain, RemoveDomain, VerifyDomain};
use super::model::{DomainEntry, DomainStatus};
use crate::auth::confirm_access::ConfirmAccessPrompt;
use crate::forms::{asks_confirmation, field_error, general_error, Field};
use leptos::prelude::*;

#[component]
pub fn DomainsPanel(org_id: i64) -> impl IntoView {
    let add = ServerAction::<AddDomain>::new();
    let verify = ServerAction::<VerifyDomain>::new();
    let remove = ServerAction::<RemoveDomain>::new();
    let domains = Resource::new(
        move || {
            (
                add.version().get(),
                verify.version().get(),
                remove.version().get(),
            )
        },
        move |_| get_domains(org_id),
    );
    let asked = Signal::derive(move || {
        asks_confirmation(add.value())
            .get()
            .or(asks_confirmation(verify.value()).get())
            .or(asks_confirmation(remove.value()).get())
    });
    view! {
        <section class="card" id="domains" aria-labelledby="domains-title">
            <h2 id="domains-title">"Verified domains"</h2>
            <p class="muted">
                "An organization speaks for an email domain once it proves that it controls the domain's DNS. "
                "Only verified domains send people to your identity provider and have accounts made for them on their first single sign-on. "
                "Add a domain, publish the TXT record Gatehouse shows at your DNS host, then choose Verify."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match domains.await {
                        Ok(view) if view.domains.is_empty() => view! {
                            <p class="muted" data-testid="domains-empty">"No domains yet."</p>
                        }.into_any(),
                        Ok(view) => {
                            let rows = view
                                .domains
                                .into_iter()
                                .map(|d| view! { <DomainRow org_id domain=d verify remove/> })
                                .collect_view();
                            view! {
                                <table class="table" aria-label="Verified domains" data-testid="domains">
                                    <thead><tr>
                                        <th scope="col">"Domain"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"TXT record to publish"</th>
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
            <p class="form-error" role="alert">{move || general_error(verify.value(), &[]).get()}</p>
            <p class="form-error" role="alert">{move || general_error(remove.value(), &[]).get()}</p>
            <ActionForm action=add attr:class="inline-form">
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field label="Domain" name="domain" id="domain-new" autocomplete="off" error=field_error(add.value(), "domain")/>
                <p class="form-error" role="alert">{move || general_error(add.value(), &["domain"]).get()}</p>
                <button type="submit" class="button" disabled=move || add.pending().get()>"Add domain"</button>
            </ActionForm>
            <ConfirmAccessPrompt asked id="domains-confirm"/>
        </section>
    }
}

#[component]
fn DomainRow(
    org_id: i64,
    domain: DomainEntry,
    verify: ServerAction<VerifyDomain>,
    remove: ServerAction<RemoveDomain>,
) -> impl IntoView {
    let (status, class) = match &domain.status {
        DomainStatus::Pending => ("Not verified".to_string(), "badge"),
        DomainStatus::Verified { since } => (format!("Verified since {since}"), "badge ok"),
        DomainStatus::TakenOver { at } => (
            format!("Taken over by another organization on {at}: verify again"),
            "badge warn",
        ),
    };
    let verified = matches!(domain.status, DomainStatus::Verified { .. });
    let sso_note = (domain.sso_allowed && !verified)
        .then_some("Single sign-on does not route this domain until it is verified.");
    let id = domain.id.to_string();
    let name = domain.domain.clone();
    let verify_label = format!("Verify {name}");
    view! {
        <tr data-domain=name.clone()>
            <td>{name.clone()}</td>
            <td>
                <span class=class data-testid="domain-status">{status}</span>
                {domain.check_error.clone().map(|why| view! { <p class="field-error" data-testid="domain-check-error">{why}</p> })}
                {sso_note.map(|n| view! { <p class="muted">{n}</p> })}
            </td>
            <td>
                <dl class="facts">
                    <dt>"Name"</dt><dd><code data-testid="domain-record-name">{domain.record_name.clone()}</code></dd>
                    <dt>"Value"</dt><dd><code data-testid="domain-record-value">{domain.record_value.clone()}</code></dd>
                </dl>
            </td>
            <td class="actions">
                {(!verified).then(|| {
                    let id = id.clone();
                    view! {
                        <ActionForm action=verify>
                            <input type="hidden" name="org_id" value=org_id.to_string()/>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="button small" aria-label=verify_label>"Verify"</button>
                        </ActionForm>
                    }
                })}
                <ActionForm action=remove>
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class="button small danger" aria-label=format!("Remove {}", domain.domain)>"Remove"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
