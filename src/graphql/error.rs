//! How errors reach GraphQL clients: `message` plus `extensions.code` (and
//! `extensions.field` for VALIDATION), from [`AppError::public`], the boundary every
//! transport shares. Errors the engine raises itself get their code in `limits`.

use async_graphql::ErrorExtensions;

use crate::error::AppError;

/// The error type resolvers return. It deliberately has no `Display`, so nothing can
/// turn a raw error into a client message by accident.
#[derive(Clone, Debug)]
pub struct GraphqlError(async_graphql::Error);

pub type GraphqlResult<T> = Result<T, GraphqlError>;

impl From<AppError> for GraphqlError {
    fn from(error: AppError) -> Self {
        let public = error.public();
        GraphqlError(
            async_graphql::Error::new(public.message).extend_with(|_, ext| {
                ext.set("code", public.code);
                if let Some(field) = public.field {
                    ext.set("field", field);
                }
            }),
        )
    }
}

impl GraphqlError {
    /// The error as the engine reports it, for answers built outside a resolver.
    pub fn into_server_error(self) -> async_graphql::ServerError {
        self.0.into_server_error(async_graphql::Pos::default())
    }

    /// Adds an extension beside `code` (e.g. `alternatives` for GATEWAY_UNAVAILABLE).
    pub fn with_extension(self, key: &str, value: impl Into<async_graphql::Value>) -> Self {
        let value = value.into();
        GraphqlError(self.0.extend_with(|_, ext| ext.set(key, value)))
    }
}

impl From<diesel::result::Error> for GraphqlError {
    fn from(error: diesel::result::Error) -> Self {
        AppError::from(error).into()
    }
}

impl From<crate::db::PoolError> for GraphqlError {
    fn from(error: crate::db::PoolError) -> Self {
        AppError::from(error).into()
    }
}

impl From<GraphqlError> for async_graphql::Error {
    fn from(error: GraphqlError) -> Self {
        error.0
    }
}
