use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Webhook,
    Slack,
    Email,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Webhook, Kind::Slack, Kind::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Slack => "slack",
            Kind::Email => "email",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Webhook => "Webhook",
            Kind::Slack => "Slack",
            Kind::Email => "Email",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw.trim())
    }
}

/// A group's integrations as its page shows them: secrets never come back in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationsView {
    pub webhook_enabled: bool,
    pub webhook_url: String,
    pub webhook_secret_set: bool,
    pub slack_enabled: bool,
    /// The end of the Slack URL, to recognise it (the URL is a secret).
    pub slack_hint: Option<String>,
    pub email_enabled: bool,
    pub email_recipients: String,
    pub can_edit: bool,
    pub deliveries: Vec<DeliveryRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub kind: Kind,
    pub event: String,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub latency_ms: Option<i64>,
    pub error: Option<String>,
    pub created: String,
}

/// How many deliveries a group page lists.
pub const DELIVERIES_SHOWN: i64 = 20;

/// A group whose integrations failed to deliver recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingGroup {
    pub group_id: i64,
    pub name: String,
    pub failed: i64,
}
