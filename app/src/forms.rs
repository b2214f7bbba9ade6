//! Pieces every form uses: a labelled field with its error underneath, the error of an
//! action split into "belongs to field X" and "general", and keyboard focus for confirmations.

use crate::error::AppError;
use leptos::html::ElementType;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;

/// A labelled input with its error message underneath (and linked for screen readers).
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional, into)] value: String,
    #[prop(optional)] readonly: bool,
    #[prop(default = true)] required: bool,
    /// The input's id when one page has two fields of the same name.
    #[prop(optional, into)]
    id: String,
    #[prop(optional)] inputmode: &'static str,
    #[prop(into)] error: Signal<Option<String>>,
    /// For a form that moves keyboard focus to this field.
    #[prop(optional)]
    node_ref: Option<NodeRef<leptos::html::Input>>,
) -> impl IntoView {
    let node_ref = node_ref.unwrap_or_default();
    let id = if id.is_empty() {
        format!("field-{name}")
    } else {
        id
    };
    let inputmode = (!inputmode.is_empty()).then_some(inputmode);
    let error_id = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                node_ref=node_ref
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                inputmode=inputmode
                value=value
                readonly=readonly
                required=required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=error_id.clone()
            />
            <p class="field-error" id=error_id aria-live="polite">{move || error.get()}</p>
        </div>
    }
}

pub type ActionValue<T> = Option<Result<T, AppError>>;

/// The message for `field` from the latest result of an action.
pub fn field_error<T, V>(value: V, field: &'static str) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = ActionValue<T>> + Send + Sync + 'static,
{
    Signal::derive(move || {
        value
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.for_field(field))
    })
}

/// The message that belongs to no field (or to a field the form does not show).
pub fn general_error<T, V>(
    value: V,
    shown_fields: &'static [&'static str],
) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = ActionValue<T>> + Send + Sync + 'static,
{
    Signal::derive(move || {
        value.get().and_then(|r| r.err()).and_then(|e| match &e {
            AppError::Invalid { field, message } | AppError::Conflict { field, message } => {
                (!shown_fields.contains(&field.as_str())).then(|| message.clone())
            }
            other => Some(other.to_string()),
        })
    })
}

/// What a sensitive action asked of the person before it goes ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Confirm access: the session proved its owner too long ago.
    Password,
    /// Step up: the session was not proven with a second factor that counts for this.
    StepUp { security_key: bool },
}

/// Whether the latest result of an action asks the person to confirm it is them (a sensitive
/// action in a session that proved its owner too long ago, or not with the factor it needs).
pub fn asks_confirmation<T, V>(value: V) -> Signal<Option<Ask>>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = ActionValue<T>> + Send + Sync + 'static,
{
    Signal::derive(move || match value.get() {
        Some(Err(AppError::ReauthenticationRequired)) => Some(Ask::Password),
        Some(Err(AppError::StepUpRequired { security_key, .. })) => {
            Some(Ask::StepUp { security_key })
        }
        _ => None,
    })
}

/// Moves keyboard focus to `target` whenever it appears: a confirmation or prompt that opens
/// takes the focus, so a keyboard user is not left at the button that opened it.
pub fn focus_when_shown<E>(target: NodeRef<E>)
where
    E: ElementType,
    E::Output: JsCast + Clone + 'static,
{
    Effect::new(move |_| {
        if let Some(element) = target.get() {
            let _ = element.unchecked_ref::<web_sys::HtmlElement>().focus();
        }
    });
}

/// Gives keyboard focus back to `target` (the button that opened a confirmation) when it
/// appears again after [`FocusReturn::request`], that is, when the confirmation was cancelled.
#[derive(Clone, Copy)]
pub struct FocusReturn(RwSignal<bool>);

impl FocusReturn {
    pub fn new<E>(target: NodeRef<E>) -> Self
    where
        E: ElementType,
        E::Output: JsCast + Clone + 'static,
    {
        let wanted = RwSignal::new(false);
        Effect::new(move |_| {
            if let Some(element) = target.get() {
                if wanted.get_untracked() {
                    wanted.set(false);
                    let _ = element.unchecked_ref::<web_sys::HtmlElement>().focus();
                }
            }
        });
        Self(wanted)
    }

    pub fn request(self) {
        self.0.set(true);
    }
}
