//! What the Single sign-on panel shows and sends.

use crate::domain::{DomainName, Role};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// The Owner's view of the organization's connection. The client secret is never sent back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SsoSettings {
    pub org_id: i64,
    /// Register this at the provider as the redirect (callback) URI.
    pub redirect_uri: String,
    pub connection: Option<SsoConnection>,
    /// Why Test connection cannot work from the address the panel was opened at.
    #[serde(default)]
    pub opened_elsewhere: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SsoConnection {
    pub issuer: String,
    pub client_id: String,
    pub allowed_domains: Vec<String>,
    /// Allowed domains this organization has not verified (or lost): they route nobody and
    /// make no accounts until verified.
    #[serde(default)]
    pub unverified_domains: Vec<String>,
    pub default_role: Role,
    pub provider_mfa: bool,
    pub required: bool,
    /// When the last Test connection succeeded (words), if the last test succeeded.
    pub tested: Option<String>,
    /// Why the last Test connection failed.
    pub test_error: Option<String>,
}

/// The email domains a provider speaks for: lower-case host names, at least one, at most 20.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailDomains(Vec<String>);

impl EmailDomains {
    pub const MAX: usize = 20;

    /// Parses a list separated by commas, spaces or new lines (`example.com, example.org`).
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let invalid = |msg: String| AppError::invalid("allowed_domains", msg);
        let mut domains: Vec<String> = Vec::new();
        for item in raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|d| !d.trim().is_empty())
        {
            let domain = DomainName::parse_for(item, "allowed_domains")?
                .as_str()
                .to_string();
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        if domains.is_empty() {
            return Err(invalid(
                "Enter the email domains this provider speaks for, like example.com.".into(),
            ));
        }
        if domains.len() > Self::MAX {
            return Err(invalid(format!("At most {} domains.", Self::MAX)));
        }
        Ok(Self(domains))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// The role given to people who arrive through SSO for the first time: any but Owner.
pub fn parse_default_role(raw: &str) -> Result<Role, AppError> {
    let role = Role::parse(raw).map_err(|_| AppError::invalid("default_role", "Choose a role."))?;
    if role == Role::Owner {
        return Err(AppError::invalid(
            "default_role",
            "People who arrive through single sign-on cannot become Owners; choose another role.",
        ));
    }
    Ok(role)
}

/// What `/signin?sso_error=<code>` says.
pub fn sign_in_error_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "no_provider" => "No organization uses single sign-on for this email address. Sign in with your password.",
        "expired" => "This single sign-on attempt has expired or was used already. Try again.",
        "provider" => "The identity provider did not sign you in.",
        "failed" => "Single sign-on failed: the identity provider's answer was refused. Ask your organization's Owner to run Test connection.",
        "domain" => "Your email address is not in a domain this organization allows for single sign-on.",
        "disabled" => "This account is disabled. Ask the administrator of this Gatehouse to enable it.",
        "not_member" => "You are no longer a member of this organization. Ask its admins for an invitation.",
        "seats" => "All seats of this organization's plan are taken. Ask its Owner to add seats.",
        "rate_limited" => "Too many single sign-on attempts from your address. Try again in a few minutes.",
        "link" => "An account with your email exists. Sign in with its password; Gatehouse then asks whether to link it to single sign-on.",
        "mixed_up" => "Single sign-on was refused: the answer did not come from this organization's identity provider. Start again from Gatehouse's sign-in page.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_parse_and_bad_ones_are_named() {
        let d = EmailDomains::parse("Example.com, @corp.example.org\nexample.com").expect("ok");
        assert_eq!(d.as_slice(), ["example.com", "corp.example.org"]);
        for bad in ["", "localhost", "exa mple", "-a.com", "a..com", "xn--é.com"] {
            assert!(EmailDomains::parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse_default_role("owner").is_err());
        assert_eq!(parse_default_role("user").expect("role"), Role::User);
    }
}
