//! The one error type of the application.
//!
//! Domain code returns [`AppError`]. Every transport crosses one boundary,
//! [`AppError::public`]: it logs an internal error's detail (inside the request's
//! span, which carries the request id) and gives what a client may see: the stable
//! code, a safe message, the field of a VALIDATION error and the HTTP status.
//! GraphQL puts these in `extensions`, plain HTTP endpoints in a JSON body. A
//! client never sees SQL, a secret or Rust's own error text.

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
    /// A GraphQL document over the depth or complexity limit.
    #[error("{0}")]
    QueryTooComplex(String),
    /// A request the transport could not read (syntax, unknown fields, bad types).
    #[error("{0}")]
    BadRequest(String),
    /// A persisted query hash this process does not know: the client sends the
    /// query with it (the message is the one Apollo Client and urql look for).
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// An anonymous caller's operation outside the manifest while the allow-list
    /// is on.
    #[error("only persisted operations from the manifest are accepted from anonymous callers")]
    PersistedQueryNotInList,
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
            AppError::QueryTooComplex(_) => "QUERY_TOO_COMPLEX",
            AppError::BadRequest(_) => "BAD_REQUEST",
            AppError::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            AppError::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
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
            AppError::Validation { .. }
            | AppError::QueryTooComplex(_)
            | AppError::BadRequest(_)
            | AppError::PersistedQueryNotFound => S::BAD_REQUEST,
            AppError::PersistedQueryNotInList => S::FORBIDDEN,
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

/// What a client may see of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicError {
    pub code: &'static str,
    pub message: String,
    /// The input field at fault (VALIDATION only).
    pub field: Option<String>,
    pub status: http::StatusCode,
}

impl AppError {
    /// The one boundary every transport calls. Internal errors are logged here with
    /// their detail and answered with a fixed message; the caller's own mistakes
    /// are logged at debug level only.
    pub fn public(&self) -> PublicError {
        let message = match self {
            AppError::Internal(source) => {
                tracing::error!(error = ?source, "internal error");
                "internal error; the server log has the details under this request's id".into()
            }
            other => {
                tracing::debug!(code = other.code(), error = %other, "request refused");
                other.to_string()
            }
        };
        PublicError {
            code: self.code(),
            message,
            field: match self {
                AppError::Validation { field, .. } => Some(field.clone()),
                _ => None,
            },
            status: self.http_status(),
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
        if matches!(error, crate::db::PoolError::Timeout(_)) {
            metrics::counter!(crate::metrics::POOL_TIMEOUTS).increment(1);
        }
        AppError::Internal(anyhow::anyhow!("database pool: {error}"))
    }
}

/// True when a diesel error is a violation of the named unique constraint or index.
pub fn is_unique_violation(error: &diesel::result::Error, constraint: &str) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(error, Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some(constraint))
}
