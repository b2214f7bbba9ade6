//! Single sign-on with OpenID Connect: an Owner connects the organization's identity
//! provider (Organization settings → Single sign-on), people whose email domain it speaks for
//! sign in through it (accounts made just in time, existing ones linked once their owner signs
//! in with their password), and the organization can require it.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod oidc;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod server;
