//! Content and SEO, the mail outbox and the support desk's settings.

use std::time::Duration;

use anyhow::{Context, anyhow};

use super::{Secret, parse_var, var_or};

/// Content and SEO: the public address and the publishing job.
#[derive(Clone, Debug)]
pub struct ContentConfig {
    /// The public site's origin, without a trailing slash.
    pub public_base_url: String,
    /// Zero: `booster serve` does not run the scheduled-posts job.
    pub scheduled_posts_interval: Duration,
    /// At most 50,000, as the sitemap protocol allows.
    pub sitemap_urls_per_file: usize,
    pub newsletter_signups_per_ip_per_hour: u32,
}

/// The largest sitemap file the protocol allows, in URLs.
pub const SITEMAP_MAX_URLS: usize = 50_000;

impl ContentConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let config = ContentConfig {
            public_base_url: public_base_url(&var_or("PUBLIC_BASE_URL", "http://localhost:3000"))?,
            scheduled_posts_interval: Duration::from_secs(parse_var(
                "SCHEDULED_POSTS_INTERVAL_SECONDS",
                60,
            )?),
            sitemap_urls_per_file: parse_var("SITEMAP_URLS_PER_FILE", SITEMAP_MAX_URLS)?,
            newsletter_signups_per_ip_per_hour: parse_var("NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR", 5)?,
        };
        if !(1..=SITEMAP_MAX_URLS).contains(&config.sitemap_urls_per_file) {
            return Err(anyhow!(
                "SITEMAP_URLS_PER_FILE must be between 1 and {SITEMAP_MAX_URLS}"
            ));
        }
        Ok(config)
    }
}

/// An http(s) origin (a path is kept, for sites served below one), no trailing slash.
pub fn public_base_url(value: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(value.trim())
        .with_context(|| format!("PUBLIC_BASE_URL={value:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(anyhow!("PUBLIC_BASE_URL must be an http or https address"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(anyhow!("PUBLIC_BASE_URL must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Outgoing mail: the SMTP server and the outbox job's pacing. With no SMTP server
/// the outbox keeps every mail and the job sends nothing.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `SMTP_URL`, which carries the SMTP password: a [`Secret`].
    pub smtp_url: Option<Secret>,
    pub from: String,
    pub outbox_interval: Duration,
    pub retry_after: Duration,
    pub max_attempts: i32,
    pub lease: Duration,
    pub smtp_timeout: Duration,
}

impl MailConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let config = MailConfig {
            smtp_url: Secret::from_var("SMTP_URL"),
            from: var_or("MAIL_FROM", "booster <no-reply@localhost>"),
            outbox_interval: Duration::from_secs(parse_var("MAIL_OUTBOX_INTERVAL_SECONDS", 10)?),
            retry_after: Duration::from_secs(parse_var("MAIL_RETRY_SECONDS", 60)?),
            max_attempts: parse_var("MAIL_MAX_ATTEMPTS", 8)?,
            lease: Duration::from_secs(parse_var("MAIL_LEASE_SECONDS", 300)?),
            smtp_timeout: Duration::from_secs(parse_var("SMTP_TIMEOUT_SECONDS", 20)?),
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses settings the outbox cannot work with. The messages never quote
    /// `SMTP_URL`, which holds a password.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.smtp_url {
            let parsed = url::Url::parse(url.expose())
                .map_err(|_| anyhow!("SMTP_URL is not a valid URL"))?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") {
                return Err(anyhow!("SMTP_URL must start with smtp:// or smtps://"));
            }
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(anyhow!(
                "MAIL_FROM must be an address such as `Panel <no-reply@example.com>`"
            ));
        }
        if self.max_attempts < 1 {
            return Err(anyhow!("MAIL_MAX_ATTEMPTS must be at least 1"));
        }
        if self.lease <= self.smtp_timeout {
            return Err(anyhow!(
                "MAIL_LEASE_SECONDS must be longer than SMTP_TIMEOUT_SECONDS"
            ));
        }
        Ok(())
    }
}

/// The support desk.
#[derive(Clone, Debug)]
pub struct SupportConfig {
    /// Contact form messages one client address may send per hour; 0: unlimited.
    pub contact_limit_per_hour: u32,
    /// Admin alert mails are gathered into one digest per admin per interval.
    pub admin_alert_digest: std::time::Duration,
    /// Tickets one user may open per hour; 0: unlimited.
    pub tickets_per_user_per_hour: u32,
}

impl SupportConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(SupportConfig {
            contact_limit_per_hour: parse_var("CONTACT_LIMIT_PER_HOUR", 5)?,
            admin_alert_digest: std::time::Duration::from_secs(parse_var(
                "ADMIN_ALERT_DIGEST_SECONDS",
                600,
            )?),
            tickets_per_user_per_hour: parse_var("TICKETS_PER_USER_PER_HOUR", 10)?,
        })
    }
}
