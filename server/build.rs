// The release binary embeds the built site (wasm, JS, CSS, public/) from target/site.
// Make sure the folder exists so a plain `cargo build` (tests, clippy) compiles before the
// site has been built, and rebuild the server whenever the site changes.
fn main() {
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    let _ = std::fs::create_dir_all(site.join("pkg"));
    println!("cargo:rerun-if-changed=../target/site");
    println!("cargo:rerun-if-env-changed=LEPTOS_OUTPUT_NAME");
}
