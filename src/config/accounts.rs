//! Email and password accounts: password hashing cost, the lifetime of mailed
//! links, whether an unverified account may spend, the sign-in slow-down and the
//! sign-in history.

use std::time::Duration;

use super::parse_var;

#[derive(Clone, Debug)]
pub struct AccountsConfig {
    /// argon2id memory cost, KiB (OWASP's 19 MiB by default).
    pub password_hash_memory_kib: u32,
    /// argon2id passes over the memory.
    pub password_hash_iterations: u32,
    pub verify_link_ttl: Duration,
    pub reset_link_ttl: Duration,
    /// Whether an account must prove its email before it deposits or orders.
    pub require_verified_email: bool,
    /// Failed sign-ins in a row before the account is slowed down.
    pub failures_before_delay: i32,
    /// The longest wait the slow-down imposes (it doubles per failure up to this).
    pub max_sign_in_delay: Duration,
    /// Password sign-ins, sign-ups and reset requests per client address per minute.
    pub attempts_per_address_per_minute: u32,
    /// How long sign-in attempts are kept.
    pub sign_in_history: Duration,
    /// Whether a successful sign-in from an address the account never used is mailed to it.
    pub mail_new_sign_in_address: bool,
    /// How often attempts older than `sign_in_history` are deleted (zero: never).
    pub history_cleanup_interval: Duration,
    /// Whether staff must use two-factor sign-in: a staff session without it may
    /// only set it up (their API keys keep working).
    pub require_staff_totp: bool,
    /// The issuer an authenticator app shows beside the account.
    pub totp_issuer: String,
}

impl AccountsConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(AccountsConfig {
            password_hash_memory_kib: parse_var("PASSWORD_HASH_MEMORY_KIB", 19_456)?,
            password_hash_iterations: parse_var("PASSWORD_HASH_ITERATIONS", 2)?,
            verify_link_ttl: Duration::from_secs(
                parse_var::<u64>("VERIFY_EMAIL_LINK_HOURS", 48)? * 3600,
            ),
            reset_link_ttl: Duration::from_secs(
                parse_var::<u64>("PASSWORD_RESET_LINK_MINUTES", 60)? * 60,
            ),
            require_verified_email: parse_var("REQUIRE_VERIFIED_EMAIL", true)?,
            failures_before_delay: parse_var("SIGN_IN_FAILURES_BEFORE_DELAY", 5)?,
            max_sign_in_delay: Duration::from_secs(parse_var("SIGN_IN_MAX_DELAY_SECONDS", 900)?),
            attempts_per_address_per_minute: parse_var("SIGN_IN_ATTEMPTS_PER_IP_PER_MINUTE", 20)?,
            sign_in_history: Duration::from_secs(
                parse_var::<u64>("SIGN_IN_HISTORY_DAYS", 90)? * 86_400,
            ),
            mail_new_sign_in_address: parse_var("MAIL_NEW_SIGN_IN_ADDRESS", true)?,
            history_cleanup_interval: Duration::from_secs(parse_var(
                "SIGN_IN_HISTORY_CLEANUP_SECONDS",
                3600,
            )?),
            require_staff_totp: parse_var("REQUIRE_STAFF_TOTP", false)?,
            totp_issuer: super::var_or("TOTP_ISSUER", "booster").replace(':', " "),
        })
    }

    /// The defaults (what `from_environment` gives with nothing set).
    pub fn defaults() -> Self {
        AccountsConfig {
            password_hash_memory_kib: 19_456,
            password_hash_iterations: 2,
            verify_link_ttl: Duration::from_secs(48 * 3600),
            reset_link_ttl: Duration::from_secs(3600),
            require_verified_email: true,
            failures_before_delay: 5,
            max_sign_in_delay: Duration::from_secs(900),
            attempts_per_address_per_minute: 20,
            sign_in_history: Duration::from_secs(90 * 86_400),
            mail_new_sign_in_address: true,
            history_cleanup_interval: Duration::from_secs(3600),
            require_staff_totp: false,
            totp_issuer: "booster".into(),
        }
    }
}
