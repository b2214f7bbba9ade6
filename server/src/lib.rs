//! The Gatehouse server: configuration, the axum router around the Leptos app, and start-up.

pub mod admin;
pub mod assets;
pub mod backup;
pub mod cli;
pub mod config;
pub mod cross_site;
pub mod deadline;
pub mod health;
pub mod metrics;
pub mod page_gate;
pub mod runner;
pub mod server_fn_errors;
pub mod startup;
pub mod telemetry;

pub use startup::{run, Application};
