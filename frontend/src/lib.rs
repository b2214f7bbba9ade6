//! The browser entry point: hydrates the server-rendered page. Everything else lives in `app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pages are lazily loaded routes: hydration waits for the page's code, and only then is
    // the page marked interactive (Leptos's `hydrate_lazy` does not say when it is done).
    wasm_bindgen_futures::spawn_local(async {
        let mounted =
            leptos::mount::hydrate_from_async(leptos::tachys::dom::body(), app::App).await;
        mounted.forget();
        app::mark_hydrated();
    });
}
