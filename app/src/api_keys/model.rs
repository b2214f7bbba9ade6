use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// What a key may be used for. A request needs the scope AND a role that allows the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "org:read")]
    OrgRead,
    #[serde(rename = "members:read")]
    MembersRead,
    #[serde(rename = "members:write")]
    MembersWrite,
    #[serde(rename = "groups:read")]
    GroupsRead,
    #[serde(rename = "groups:write")]
    GroupsWrite,
    #[serde(rename = "scans:read")]
    ScansRead,
    #[serde(rename = "scans:write")]
    ScansWrite,
    #[serde(rename = "billing:read")]
    BillingRead,
    #[serde(rename = "billing:write")]
    BillingWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::OrgRead,
        Scope::MembersRead,
        Scope::MembersWrite,
        Scope::GroupsRead,
        Scope::GroupsWrite,
        Scope::ScansRead,
        Scope::ScansWrite,
        Scope::BillingRead,
        Scope::BillingWrite,
        Scope::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrgRead => "org:read",
            Scope::MembersRead => "members:read",
            Scope::MembersWrite => "members:write",
            Scope::GroupsRead => "groups:read",
            Scope::GroupsWrite => "groups:write",
            Scope::ScansRead => "scans:read",
            Scope::ScansWrite => "scans:write",
            Scope::BillingRead => "billing:read",
            Scope::BillingWrite => "billing:write",
            Scope::AuditRead => "audit:read",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or_else(|| {
                AppError::invalid("scopes", format!("Unknown scope \"{}\".", raw.trim()))
            })
    }

    /// The resource part, as the form groups the checkboxes: "members".
    pub fn resource(self) -> &'static str {
        self.as_str().split(':').next().unwrap_or_default()
    }

    pub fn is_write(self) -> bool {
        self.as_str().ends_with(":write")
    }

    /// A bit of [`ScopeSet`].
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of scopes, as stored ("members:read groups:write") and checked (a bit mask).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSet(u16);

impl ScopeSet {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses a list of scope names; unknown names are an error, repeats are harmless.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, AppError> {
        let mut set = Self::default();
        for name in names.into_iter().filter(|n| !n.trim().is_empty()) {
            set.insert(Scope::parse(name)?);
        }
        Ok(set)
    }

    /// The stored form: names separated by spaces, in a fixed order.
    pub fn to_stored(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    /// Reads the stored form; names this version does not know are dropped (never widened).
    pub fn from_stored(stored: &str) -> Self {
        let mut set = Self::default();
        for scope in stored
            .split_whitespace()
            .filter_map(|n| Scope::parse(n).ok())
        {
            set.insert(scope);
        }
        set
    }
}

/// How long a new key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiry {
    Days(u16),
    Never,
}

impl Expiry {
    pub const CHOICES: [Expiry; 5] = [
        Expiry::Days(7),
        Expiry::Days(30),
        Expiry::Days(90),
        Expiry::Days(365),
        Expiry::Never,
    ];

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::CHOICES
            .into_iter()
            .find(|e| e.as_str() == raw.trim())
            .ok_or_else(|| {
                AppError::invalid("expiry", "Choose 7, 30, 90 or 365 days, or no expiry.")
            })
    }

    pub fn as_str(self) -> String {
        match self {
            Expiry::Days(d) => d.to_string(),
            Expiry::Never => "never".to_string(),
        }
    }

    pub fn label(self) -> String {
        match self {
            Expiry::Days(d) => format!("{d} days"),
            Expiry::Never => "No expiry".to_string(),
        }
    }

    pub fn seconds(self) -> Option<i64> {
        match self {
            Expiry::Days(d) => Some(i64::from(d) * 24 * 3600),
            Expiry::Never => None,
        }
    }
}

/// One key in the profile page's list (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to tell keys apart: "gth_a1B2c3".
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub org_name: String,
    pub created: String,
    pub last_used: Option<String>,
    pub expires: Option<String>,
    /// For an active key with an expiry: how long it has left, "in 3 days".
    pub expires_in: Option<String>,
    /// "active", "expired" or "revoked".
    pub state: String,
}

/// A key just created: the whole key, shown exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    pub row: ApiKeyRow,
}

/// An organization a new key may be for, with the scopes the user's role there can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyOrgChoice {
    pub org_id: i64,
    pub org_name: String,
    pub scopes: Vec<Scope>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeysView {
    pub keys: Vec<ApiKeyRow>,
    pub orgs: Vec<KeyOrgChoice>,
}

/// A live key that expires within the warning window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiringKey {
    pub name: String,
    pub prefix: String,
    /// Its owner, "Name <email>".
    pub owner: String,
    pub expires_in: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_round_trip_and_refuse_unknown_names() {
        let set =
            ScopeSet::parse(["groups:write", "members:read", "members:read"]).expect("parses");
        assert_eq!(set.to_stored(), "members:read groups:write");
        assert_eq!(ScopeSet::from_stored(&set.to_stored()), set);
        assert!(set.contains(Scope::GroupsWrite) && !set.contains(Scope::GroupsRead));
        assert!(ScopeSet::parse(["members:admin"]).is_err());
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
            let json = serde_json::to_string(&scope).expect("serializes");
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
    }
}
