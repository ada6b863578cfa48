//! Passwords: argon2id hashes as PHC strings, the strength rule, and a bound on
//! how many hashes run at once.
//!
//! Parameters (`PASSWORD_HASH_MEMORY_KIB`, `PASSWORD_HASH_ITERATIONS`, one lane)
//! are OWASP's argon2id minimum by default: 19 MiB and 2 passes, about 30 ms on
//! one core. A stored hash made with other parameters verifies as before and is
//! replaced at its owner's next successful sign-in. Hashing runs on the blocking
//! pool, at most one per core at a time, so a burst of sign-ins queues instead of
//! starving the server's other work. Passwords are never logged: they only exist
//! in the request and in these functions' arguments.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
    password_hash::SaltString,
};
use tokio::sync::Semaphore;

use crate::{
    config::AccountsConfig,
    error::{AppError, AppResult},
};

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub matches: bool,
    /// A replacement hash with today's parameters, when the stored one used others.
    pub rehashed: Option<String>,
}

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(config: &AccountsConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            config.password_hash_memory_kib,
            config.password_hash_iterations,
            1,
            None,
        )
        .map_err(|e| anyhow::anyhow!("password hash parameters: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Passwords {
            params,
            permits: Arc::new(Semaphore::new(cores)),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let argon2 = self.argon2();
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Checks `password` against a stored PHC string (`None`: the account has no
    /// password, or there is no account; a hash is computed anyway, so the answer
    /// takes as long either way and does not tell which).
    pub async fn check(&self, password: &str, stored: Option<&str>) -> AppResult<Checked> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let argon2 = self.argon2();
        let password = password.to_string();
        let stored = stored.map(str::to_string);
        let current = self.params.clone();
        tokio::task::spawn_blocking(move || {
            let Some(parsed) = stored.as_deref().and_then(|s| PasswordHash::new(s).ok()) else {
                let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                let _ = argon2.hash_password(password.as_bytes(), &salt);
                return Ok(Checked {
                    matches: false,
                    rehashed: None,
                });
            };
            let matches = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            let outdated = Params::try_from(&parsed).map_or(true, |p| {
                p.m_cost() != current.m_cost() || p.t_cost() != current.t_cost()
            }) || parsed.algorithm != Algorithm::Argon2id.ident();
            let rehashed = if matches && outdated {
                let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                argon2
                    .hash_password(password.as_bytes(), &salt)
                    .ok()
                    .map(|h| h.to_string())
            } else {
                None
            };
            Ok(Checked { matches, rehashed })
        })
        .await
        .map_err(AppError::internal)?
    }
}

/// Refuses a password that is too short, too long, or easy to guess: zxcvbn's
/// estimate (its lists of the most common passwords, names and words, keyboard
/// runs, dates, the account's own email and name) must be at least "somewhat
/// guessable" (score 2 of 4: more than 10^6 guesses).
pub fn check_strength(field: &str, password: &str, user_inputs: &[&str]) -> AppResult<()> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(AppError::validation(
            field,
            format!("a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if estimate.score() < zxcvbn::Score::Two {
        return Err(AppError::validation(
            field,
            "this password is too easy to guess (it is, or is close to, a common password); choose another",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> Passwords {
        Passwords::new(&AccountsConfig {
            password_hash_memory_kib: 256,
            password_hash_iterations: 1,
            ..AccountsConfig::defaults()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_hash_checks_its_password_and_is_redone_when_parameters_change() {
        let passwords = fast();
        let hash = passwords
            .hash("correct horse battery staple")
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        let right = passwords
            .check("correct horse battery staple", Some(&hash))
            .await
            .unwrap();
        assert_eq!(
            right,
            Checked {
                matches: true,
                rehashed: None
            }
        );
        let wrong = passwords
            .check("correct horse battery", Some(&hash))
            .await
            .unwrap();
        assert!(!wrong.matches);
        assert!(!passwords.check("anything", None).await.unwrap().matches);

        let stronger = Passwords::new(&AccountsConfig {
            password_hash_memory_kib: 512,
            password_hash_iterations: 2,
            ..AccountsConfig::defaults()
        })
        .unwrap();
        let again = stronger
            .check("correct horse battery staple", Some(&hash))
            .await
            .unwrap();
        assert!(again.matches);
        let rehashed = again.rehashed.expect("a new hash with today's parameters");
        assert!(rehashed.starts_with("$argon2id$v=19$m=512,t=2,p=1$"));
    }

    #[test]
    fn common_and_short_passwords_are_refused() {
        for weak in [
            "password123",
            "qwertyuiop",
            "iloveyou12",
            "short",
            "1234567890",
        ] {
            assert!(check_strength("password", weak, &[]).is_err(), "{weak}");
        }
        assert!(check_strength("password", "alice@example.com1", &["alice@example.com"]).is_err());
        assert!(check_strength("password", "Tumbuh-Pesat-Akun-2026!", &[]).is_ok());
        assert!(check_strength("password", &"x".repeat(129), &[]).is_err());
    }
}
