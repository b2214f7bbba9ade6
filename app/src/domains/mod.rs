//! **Verified domains** (Organization settings, Owner): an organization proves that it
//! controls an email domain by publishing a DNS TXT record Gatehouse gives it. Only a verified
//! domain routes sign-ins to the organization's identity provider and has accounts made on
//! first sign-in: an organization never speaks for people whose domain it does not control.
//! A domain is verified for one organization at a time; another one that proves control of it
//! takes it over (both are audited, and the previous organization's Owners are told).

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod dns;
#[cfg(feature = "ssr")]
pub mod server;
