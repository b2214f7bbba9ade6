//! **Step-up**: a signed-in session proves what an organization (or a change to the account)
//! asks of it and its sign-in did not: Gatehouse's own second factor, or a touch of a security
//! key or passkey. Done in place, without signing in again; the method joins the session's.

pub mod api;
pub mod views;
