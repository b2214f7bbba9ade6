//! Outgoing email over SMTP (lettre), when `--smtp-url` is configured.

use crate::error::AppError;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("invalid --smtp-url: {0}")]
    Url(String),
    #[error("invalid --smtp-from address: {0}")]
    From(String),
}

impl Mailer {
    /// `smtp://host:port` (plain, for a local relay), `smtp://...?tls=required` (STARTTLS) or
    /// `smtps://host` (TLS), with optional `user:password@`.
    pub fn new(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        let from = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailConfigError::From(e.to_string()))?;
        Ok(Self { transport, from })
    }

    pub async fn send(
        &self,
        to_name: &str,
        to_email: &str,
        subject: &str,
        body: String,
    ) -> Result<(), AppError> {
        let to = Mailbox::new(
            Some(to_name.to_string()),
            to_email.parse().map_err(|_| {
                AppError::invalid("email", "That email address cannot receive mail.")
            })?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body)
            .map_err(|e| {
                tracing::error!(error = %e, "building an email failed");
                AppError::Internal
            })?;
        self.transport.send(message).await.map_err(|e| {
            tracing::error!(error = %e, "sending an email failed");
            AppError::Internal
        })?;
        Ok(())
    }
}
