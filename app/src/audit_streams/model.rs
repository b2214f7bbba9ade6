//! What the streaming panel shows.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Batches of JSON Lines, signed with HMAC-SHA256 like webhooks.
    JsonLines,
    /// Splunk HTTP Event Collector (`Authorization: Splunk <token>`).
    SplunkHec,
}

impl StreamKind {
    pub const ALL: [StreamKind; 2] = [Self::JsonLines, Self::SplunkHec];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::JsonLines => "json_lines",
            Self::SplunkHec => "splunk_hec",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::JsonLines => "JSON Lines (signed)",
            Self::SplunkHec => "Splunk HTTP Event Collector",
        }
    }

    /// What the secret field is called for this kind.
    pub fn secret_label(self) -> &'static str {
        match self {
            Self::JsonLines => "Signing secret",
            Self::SplunkHec => "HEC token",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw.trim())
            .ok_or_else(|| AppError::invalid("kind", "Choose JSON Lines or Splunk HEC."))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamView {
    pub id: i64,
    pub kind: StreamKind,
    pub url: String,
    /// The last event (its place in the organization's chain) the receiver acknowledged.
    pub delivered_seq: i64,
    /// Events written but not yet acknowledged.
    pub lag: i64,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    /// When the next attempt is due, while the receiver is failing.
    pub next_attempt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamsView {
    pub streams: Vec<StreamView>,
}
