//! Scans governed by groups: who sees and starts them (members of the scan's group; Owners
//! and Admins all), the queue that honours each group's concurrent scans limit, and the
//! runner API that external scanners use.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
