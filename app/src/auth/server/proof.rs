//! How a session was proven: the methods of its sign-in (and of any step-up or Confirm access
//! since), stored with the session, and what each organization's policy asks of them. Names
//! follow RFC 8176's `amr` values where one fits.
//!
//! Every policy reads the session, not only what the person has enrolled: a phishing proxy
//! that captured a password and an app code has no security key behind it, and a provider's
//! multi-factor authentication speaks for its own organization only.

use crate::auth::model::StepUp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `pwd`: the account's password.
    Password,
    /// `otp`: a code from an authenticator app.
    App,
    /// `rec`: a recovery code.
    RecoveryCode,
    /// `hwk`: a security key or passkey (WebAuthn).
    SecurityKey,
    /// `sso`: the identity provider of the session's `sso_org_id`.
    Sso,
    /// `sso_mfa`: that provider's multi-factor authentication, which that organization chose
    /// to count as the second step. It counts there only.
    SsoMfa,
    /// `mfa`: a Gatehouse second factor of a kind not recorded (sessions signed in before
    /// methods were recorded).
    Unrecorded,
}

impl Method {
    const ALL: [Self; 7] = [
        Self::Password,
        Self::App,
        Self::RecoveryCode,
        Self::SecurityKey,
        Self::Sso,
        Self::SsoMfa,
        Self::Unrecorded,
    ];

    pub fn token(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::App => "otp",
            Self::RecoveryCode => "rec",
            Self::SecurityKey => "hwk",
            Self::Sso => "sso",
            Self::SsoMfa => "sso_mfa",
            Self::Unrecorded => "mfa",
        }
    }

    fn parse(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.token() == token)
    }

    /// Gatehouse's own second factors (not a provider's).
    fn is_gatehouse_factor(self) -> bool {
        matches!(
            self,
            Self::App | Self::RecoveryCode | Self::SecurityKey | Self::Unrecorded
        )
    }
}

/// The methods that proved a session, and the organization whose provider it came through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proof {
    methods: Vec<Method>,
    sso_org_id: Option<i64>,
}

impl Proof {
    pub fn new(methods: &[Method], sso_org_id: Option<i64>) -> Self {
        let mut proof = Self {
            methods: Vec::new(),
            sso_org_id,
        };
        for m in methods {
            proof = proof.with(*m);
        }
        proof
    }

    /// As stored in `sessions.methods` (unknown tokens are ignored: they prove nothing).
    pub fn parse(stored: &str, sso_org_id: Option<i64>) -> Self {
        let methods: Vec<Method> = stored
            .split_whitespace()
            .filter_map(Method::parse)
            .collect();
        Self::new(&methods, sso_org_id)
    }

    pub fn stored(&self) -> String {
        self.methods
            .iter()
            .map(|m| m.token())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn with(mut self, method: Method) -> Self {
        if !self.methods.contains(&method) {
            self.methods.push(method);
        }
        self
    }

    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    pub fn sso_org_id(&self) -> Option<i64> {
        self.sso_org_id
    }

    fn has(&self, method: Method) -> bool {
        self.methods.contains(&method)
    }

    /// The session came through `org_id`'s identity provider.
    pub fn via_provider_of(&self, org_id: i64) -> bool {
        self.sso_org_id == Some(org_id) && self.has(Method::Sso)
    }

    /// One of Gatehouse's own second factors proved the session.
    pub fn has_gatehouse_factor(&self) -> bool {
        self.methods.iter().any(|m| m.is_gatehouse_factor())
    }

    /// A second factor that counts in `org_id`: Gatehouse's own, or the provider's MFA of
    /// `org_id` itself.
    pub fn second_factor_in(&self, org_id: i64) -> bool {
        self.has_gatehouse_factor() || (self.via_provider_of(org_id) && self.has(Method::SsoMfa))
    }

    pub fn has_security_key(&self) -> bool {
        self.has(Method::SecurityKey)
    }

    /// What Profile → Sessions says: "Password and authenticator app", "Single sign-on
    /// (Corp), with its multi-factor authentication".
    pub fn describe(&self, sso_org_name: Option<&str>) -> String {
        let mut parts: Vec<String> = Vec::new();
        for m in &self.methods {
            let words = match m {
                Method::Password => "password".to_string(),
                Method::App => "authenticator app".to_string(),
                Method::RecoveryCode => "recovery code".to_string(),
                Method::SecurityKey => "security key or passkey".to_string(),
                Method::Sso => match sso_org_name {
                    Some(name) => format!("single sign-on ({name})"),
                    None => "single sign-on".to_string(),
                },
                Method::SsoMfa => "the provider's multi-factor authentication".to_string(),
                Method::Unrecorded => "a second factor".to_string(),
            };
            parts.push(words);
        }
        let text = match parts.len() {
            0 => "not recorded".to_string(),
            1 => parts.remove(0),
            _ => {
                let last = parts.pop().unwrap_or_default();
                format!("{} and {last}", parts.join(", "))
            }
        };
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
            None => text,
        }
    }
}

/// What the person has, as far as stepping up goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrolled {
    /// Any second factor (2FA is on).
    pub two_factor: bool,
    /// A security key or passkey.
    pub passkey: bool,
}

/// What `org_id` still asks of a session proven by `proof`, beyond what the person has
/// enrolled (that is the 2FA policy's compliance, decided before this):
///
/// - a person with 2FA on acts in an organization only with a session whose second factor
///   counts there (Gatehouse's own, or that organization's own provider's MFA);
/// - under "security keys and passkeys only", a person who has one uses it: a session
///   signed in with an app code or a recovery code is asked for a touch.
pub fn step_up_for(
    proof: &Proof,
    org_id: i64,
    enrolled: Enrolled,
    security_keys_only: bool,
) -> Option<StepUp> {
    if security_keys_only && enrolled.passkey && !proof.has_security_key() {
        return Some(StepUp::SecurityKey);
    }
    if enrolled.two_factor && !proof.second_factor_in(org_id) {
        return Some(StepUp::SecondFactor);
    }
    None
}

/// Whether the session proves the account itself (for sensitive changes to it): with 2FA
/// on, only a session with one of Gatehouse's own second factors does. A provider's MFA
/// speaks for its organization, not for the account, which other organizations trust too.
pub fn proves_account(proof: &Proof, enrolled: Enrolled) -> bool {
    !enrolled.two_factor || proof.has_gatehouse_factor()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Enrolled = Enrolled {
        two_factor: true,
        passkey: true,
    };
    const APP_ONLY: Enrolled = Enrolled {
        two_factor: true,
        passkey: false,
    };
    const NONE: Enrolled = Enrolled {
        two_factor: false,
        passkey: false,
    };

    #[test]
    fn stored_methods_round_trip_and_unknown_ones_prove_nothing() {
        let proof = Proof::parse("pwd otp pwd bogus", None);
        assert_eq!(proof.stored(), "pwd otp");
        assert!(proof.has_gatehouse_factor());
        assert!(!Proof::parse("pwd bogus", None).has_gatehouse_factor());
        assert_eq!(
            Proof::parse("sso sso_mfa", Some(4)).describe(Some("Corp")),
            "Single sign-on (Corp) and the provider's multi-factor authentication"
        );
        assert_eq!(
            Proof::parse("pwd hwk", None).describe(None),
            "Password and security key or passkey"
        );
    }

    #[test]
    fn security_keys_only_asks_for_a_touch_from_an_app_code_session() {
        let app = Proof::new(&[Method::Password, Method::App], None);
        assert_eq!(step_up_for(&app, 1, BOTH, true), Some(StepUp::SecurityKey));
        assert_eq!(step_up_for(&app, 1, BOTH, false), None);
        let recovery = Proof::new(&[Method::Password, Method::RecoveryCode], None);
        assert_eq!(
            step_up_for(&recovery, 1, BOTH, true),
            Some(StepUp::SecurityKey)
        );
        let key = Proof::new(&[Method::Password, Method::SecurityKey], None);
        assert_eq!(step_up_for(&key, 1, BOTH, true), None);
        // Someone without a key is the 2FA policy's business (grace period, then blocked).
        assert_eq!(step_up_for(&app, 1, APP_ONLY, true), None);
        // A session from before methods were recorded is asked for a touch too.
        let legacy = Proof::parse("pwd mfa", None);
        assert_eq!(
            step_up_for(&legacy, 1, BOTH, true),
            Some(StepUp::SecurityKey)
        );
        assert_eq!(step_up_for(&legacy, 1, BOTH, false), None);
    }

    #[test]
    fn a_providers_mfa_counts_in_its_own_organization_only() {
        let sso = Proof::new(&[Method::Sso, Method::SsoMfa], Some(7));
        assert_eq!(step_up_for(&sso, 7, APP_ONLY, false), None);
        assert_eq!(
            step_up_for(&sso, 8, APP_ONLY, false),
            Some(StepUp::SecondFactor)
        );
        assert!(!proves_account(&sso, APP_ONLY));
        // Without 2FA there is no second step to skip.
        assert_eq!(step_up_for(&sso, 8, NONE, false), None);
        assert!(proves_account(&sso, NONE));
        // With Gatehouse's own step after the provider, it counts everywhere.
        let stepped = sso.clone().with(Method::App);
        assert_eq!(step_up_for(&stepped, 8, APP_ONLY, false), None);
        assert!(proves_account(&stepped, APP_ONLY));
        // `sso_mfa` without having come through that provider proves nothing.
        let forged = Proof::new(&[Method::Password, Method::SsoMfa], Some(7));
        assert_eq!(
            step_up_for(&forged, 7, APP_ONLY, false),
            Some(StepUp::SecondFactor)
        );
        assert!(!forged.via_provider_of(7));
    }
}
