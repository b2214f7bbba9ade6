//! The integration tests: the real app on port 0 with a fresh database, one module per
//! capability. One test binary, so the app is linked once for all of them; run one module
//! with `cargo test -p server --test integration -- <module>::`.

#[macro_use]
mod common;

mod admin;
mod api;
mod audit_chain;
mod audit_export;
mod audit_streams;
mod auth;
mod disk_full;
mod domains;
mod doors;
mod groups;
mod http;
mod idempotency;
mod key_expiry;
mod members;
mod metrics;
mod outage;
mod overview;
mod passkeys;
mod policy_impact;
mod process;
mod reliability;
mod replicas;
mod rolling;
mod scans;
mod scim;
mod search;
mod security;
mod sessions;
mod sso;
mod sso_trust;
mod stall;
mod two_factor;
mod upgrade;
