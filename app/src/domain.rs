//! Parsed domain values: once constructed they are valid, so the rest of the code never
//! re-checks them. Shared with the browser so forms could check early, but the server is
//! the authority: every server function parses its input again.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// An email address. Compared case-insensitively through [`Email::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let email = raw.trim();
        let invalid = |msg: &str| AppError::invalid("email", msg);
        if email.is_empty() {
            return Err(invalid("Enter an email address."));
        }
        if email.chars().count() > 254 {
            return Err(invalid("An email address has at most 254 characters."));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(invalid("Enter an email address like name@example.com."));
        };
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>';
        if local.is_empty()
            || domain.is_empty()
            || local.chars().count() > 64
            || email.chars().any(bad_char)
            || local.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(invalid("Enter an email address like name@example.com."));
        }
        Ok(Self(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and look-ups: emails are compared case-insensitively.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An email domain an organization can verify (`example.com`): lower-case ASCII labels of
/// letters, digits and inner hyphens, at least two of them, 253 characters at most.
/// Internationalized names are entered in their `xn--` form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DomainName(String);

impl DomainName {
    /// `field` names the form field an error belongs next to.
    pub fn parse_for(raw: &str, field: &str) -> Result<Self, AppError> {
        let item = raw.trim().trim_start_matches('@').trim_end_matches('.');
        let domain = item.to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if domain.is_empty() {
            return Err(AppError::invalid(
                field,
                "Enter a domain, like example.com.",
            ));
        }
        if domain.len() > 253 || !domain.contains('.') || !domain.split('.').all(label_ok) {
            return Err(AppError::invalid(
                field,
                format!("{item:?} is not an email domain like example.com."),
            ));
        }
        Ok(Self(domain))
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::parse_for(raw, "domain")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain of an email address, if it is one.
    pub fn of_email(email: &Email) -> Option<Self> {
        let normalized = email.normalized();
        let (_, domain) = normalized.rsplit_once('@')?;
        Self::parse(domain).ok()
    }
}

impl std::fmt::Display for DomainName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as NIST SP 800-63B asks: 8 to 128 characters, no composition rules.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let count = raw.chars().count();
        if count < Self::MIN_CHARS {
            return Err(AppError::invalid(
                "password",
                format!("Use at least {} characters.", Self::MIN_CHARS),
            ));
        }
        if count > Self::MAX_CHARS {
            return Err(AppError::invalid(
                "password",
                format!("Use at most {} characters.", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

// Never print a password, not even in debug logs.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

fn parse_label(raw: &str, field: &str, what: &str, max: usize) -> Result<String, AppError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::invalid(field, format!("Enter {what}.")));
    }
    if value.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("Use at most {max} characters."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::invalid(field, "Remove the control characters."));
    }
    Ok(value.to_string())
}

/// A person's display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        parse_label(raw, "name", "your name", 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        parse_label(raw, "organization", "the organization's name", 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name a person gives a security key or passkey ("YubiKey 5C", "MacBook Touch ID").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyName(String);

impl PasskeyName {
    pub const MAX: usize = 60;

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        parse_label(raw, "name", "a name for this key", Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_parse_and_normalize() {
        let email = Email::parse("  Ada@Example.COM ").expect("valid email");
        assert_eq!(email.as_str(), "Ada@Example.COM");
        assert_eq!(email.normalized(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@ex..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn passwords_follow_nist_lengths() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-password").ok()),
            "Some(Password(***))"
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  Ada ").map(|n| n.as_str().to_string()),
            Ok("Ada".into())
        );
        assert!(PersonName::parse("   ").is_err());
        assert!(OrgName::parse(&"x".repeat(101)).is_err());
    }
}

/// A member's role in an organization (the user guide's five roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    User,
    TeamLeader,
    BillingManager,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::User,
        Role::TeamLeader,
        Role::BillingManager,
    ];

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == raw.trim())
            .ok_or_else(|| AppError::invalid("role", "Choose one of the roles."))
    }

    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::User => "user",
            Role::TeamLeader => "team_leader",
            Role::BillingManager => "billing_manager",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::User => "User",
            Role::TeamLeader => "Team Leader",
            Role::BillingManager => "Billing Manager",
        }
    }

    /// The user guide's one-line meaning.
    pub fn meaning(self) -> &'static str {
        match self {
            Role::Owner => "Has unrestricted access to the whole organization.",
            Role::Admin => {
                "Can add, modify and delete groups and members, can make billing and plan changes."
            }
            Role::User => "Can be given access to scans.",
            Role::TeamLeader => {
                "Can manage memberships and modify settings of groups they belong to."
            }
            Role::BillingManager => "Can manage subscription and billing settings.",
        }
    }
}

#[cfg(test)]
mod role_tests {
    use super::Role;

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("root").is_err());
    }
}
