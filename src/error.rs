//! The one error type of the application.
//!
//! Domain code returns [`AppError`]; the GraphQL layer turns it into an error with a
//! machine-readable `extensions.code`, the HTTP layer into a status code. Internal
//! errors keep their detail for the server log only: a client sees `INTERNAL` and
//! the request id, never SQL or a secret.

use std::fmt;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("insufficient balance: {needed} rupiah needed, {available} available")]
    InsufficientBalance { needed: i64, available: i64 },
    #[error("{0}")]
    OutOfStock(String),
    #[error("too many requests, retry later")]
    RateLimited,
    #[error("{0}")]
    GatewayUnavailable(String),
    #[error("{0}")]
    ProviderError(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl fmt::Display) -> Self {
        AppError::Validation {
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub fn unauthenticated() -> Self {
        AppError::Unauthenticated("authentication required".into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict(message.into())
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(error.into())
    }

    /// The stable code clients switch on (`extensions.code` in GraphQL).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Validation { .. } => "VALIDATION",
            AppError::Conflict(_) => "CONFLICT",
            AppError::InsufficientBalance { .. } => "INSUFFICIENT_BALANCE",
            AppError::OutOfStock(_) => "OUT_OF_STOCK",
            AppError::RateLimited => "RATE_LIMITED",
            AppError::GatewayUnavailable(_) => "GATEWAY_UNAVAILABLE",
            AppError::ProviderError(_) => "PROVIDER_ERROR",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status for plain HTTP endpoints (webhooks, health, reseller API).
    pub fn http_status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            AppError::Unauthenticated(_) => S::UNAUTHORIZED,
            AppError::Forbidden(_) => S::FORBIDDEN,
            AppError::NotFound(_) => S::NOT_FOUND,
            AppError::Validation { .. } => S::BAD_REQUEST,
            AppError::Conflict(_) => S::CONFLICT,
            AppError::InsufficientBalance { .. } | AppError::OutOfStock(_) => {
                S::UNPROCESSABLE_ENTITY
            }
            AppError::RateLimited => S::TOO_MANY_REQUESTS,
            AppError::GatewayUnavailable(_) | AppError::ProviderError(_) => S::BAD_GATEWAY,
            AppError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<crate::db::PoolError> for AppError {
    fn from(error: crate::db::PoolError) -> Self {
        AppError::Internal(anyhow::anyhow!("database pool: {error}"))
    }
}

/// True when a diesel error is a violation of the named unique constraint or index.
pub fn is_unique_violation(error: &diesel::result::Error, constraint: &str) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(error, Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some(constraint))
}
