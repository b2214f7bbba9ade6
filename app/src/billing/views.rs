use super::api::{get_billing, UpdateBilling};
use super::model::Plan;
use crate::forms::{field_error, general_error, Field};
use leptos::prelude::*;

/// The **Billing** panel of Organization settings.
#[component]
pub fn BillingPanel(org_id: i64) -> impl IntoView {
    let update = ServerAction::<UpdateBilling>::new();
    let current = Resource::new(move || update.version().get(), move |_| get_billing(org_id));
    const FIELDS: &[&str] = &["plan", "seats", "billing_email"];
    let general = general_error(update.value(), FIELDS);
    view! {
        <section class="card" aria-labelledby="billing-title">
            <h2 id="billing-title">"Billing"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match current.await {
                        Ok(b) => {
                            let plans = Plan::ALL.into_iter().map(|p| view! {
                                <option value=p.as_str() selected=p == b.plan>{p.label()}</option>
                            }).collect_view();
                            view! {
                                <p class="muted">{format!("{} of {} seats in use ({} members, {} pending invitations).",
                                    b.members + b.pending_invitations, b.seats, b.members, b.pending_invitations)}</p>
                                <ActionForm action=update>
                                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                                    <div class="field">
                                        <label for="field-plan">"Plan"</label>
                                        <select id="field-plan" name="plan">{plans}</select>
                                    </div>
                                    <Field label="Seats" name="seats" kind="number" value=b.seats.to_string() error=field_error(update.value(), "seats")/>
                                    <Field label="Billing email" name="billing_email" kind="email" required=false value=b.billing_email.clone() error=field_error(update.value(), "billing_email")/>
                                    <p class="form-error" role="alert">{move || general.get()}</p>
                                    {move || matches!(update.value().get(), Some(Ok(()))).then(|| view! { <p class="notice" role="status">"Billing saved."</p> })}
                                    <button type="submit" class="button" disabled=move || update.pending().get()>"Save billing"</button>
                                </ActionForm>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
