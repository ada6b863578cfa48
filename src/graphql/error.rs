//! How errors reach GraphQL clients: `message` plus `extensions.code` (and
//! `extensions.field` for VALIDATION). Internal errors are logged here, inside the
//! request's span (which carries the request id), and reach the client as INTERNAL
//! with no detail.

use async_graphql::ErrorExtensions;

use crate::error::AppError;

/// The error type resolvers return. It deliberately has no `Display`, so nothing can
/// turn a raw error into a client message by accident.
#[derive(Clone, Debug)]
pub struct ApiError(async_graphql::Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        if let AppError::Internal(source) = &error {
            tracing::error!(error = ?source, "internal error");
        }
        let code = error.code();
        let field = match &error {
            AppError::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        let message = match &error {
            AppError::Internal(_) => {
                "internal error; the server log has the details under this request's id".to_string()
            }
            other => other.to_string(),
        };
        ApiError(async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
        }))
    }
}

impl ApiError {
    /// Adds an extension beside `code` (e.g. `alternatives` for GATEWAY_UNAVAILABLE).
    pub fn with_extension(self, key: &str, value: impl Into<async_graphql::Value>) -> Self {
        let value = value.into();
        ApiError(self.0.extend_with(|_, ext| ext.set(key, value)))
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        AppError::from(error).into()
    }
}

impl From<crate::db::PoolError> for ApiError {
    fn from(error: crate::db::PoolError) -> Self {
        AppError::from(error).into()
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        error.0
    }
}

/// Errors async-graphql raises itself (parse errors, limits, bad argument types) get a
/// code too, so clients can rely on `extensions.code` being present.
pub fn code_for_engine_error(message: &str) -> &'static str {
    if message.contains("nested too deep")
        || message.contains("too complex")
        || message.contains("recursive")
    {
        "QUERY_TOO_COMPLEX"
    } else {
        "BAD_REQUEST"
    }
}
