//! A policy's impact before it applies: who and which API keys "Require two-factor
//! authentication" (either level) or "Require single sign-on" would block, and when. The
//! Owner's panels show it in their confirmation step; scripts read it from
//! `GET /api/v1/org/policies/preview`.
//!
//! **Report only** (`trials`): a policy tried for some days refuses nothing and counts what
//! it would have refused.
//!
//! Below the policies it previews: it reads their columns, the policies' panels use it.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod trials;
