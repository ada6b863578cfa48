//! The engine's side of the error boundary: the depth and complexity limits,
//! checked on the figures async-graphql's validation computes (never on its
//! message text, which an upgrade may change), and a code on every error the
//! engine raises itself (syntax, unknown fields, bad argument types), so a client
//! can always switch on `extensions.code`.

use std::sync::Arc;

use async_graphql::{
    Response, ServerError, ValidationResult,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe, NextValidation,
    },
};
use futures_util::{StreamExt, stream::BoxStream};

use super::error::ApiError;
use crate::error::AppError;

/// Installed on the schema with the configured limits.
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
        })
    }
}

struct QueryLimitsExtension {
    max_depth: usize,
    max_complexity: usize,
}

impl QueryLimitsExtension {
    fn check(&self, result: &ValidationResult) -> Result<(), AppError> {
        if result.depth > self.max_depth {
            return Err(AppError::QueryTooComplex(format!(
                "the query is nested {} levels deep; at most {} are allowed",
                result.depth, self.max_depth
            )));
        }
        if result.complexity > self.max_complexity {
            return Err(AppError::QueryTooComplex(format!(
                "the query's complexity is {}; at most {} is allowed (ask for fewer rows or fields)",
                result.complexity, self.max_complexity
            )));
        }
        Ok(())
    }
}

/// Gives an engine error without a code the code BAD_REQUEST.
fn with_code(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", AppError::BadRequest(String::new()).code());
        }
    }
    response
}

#[async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        with_code(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(with_code).boxed()
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        self.check(&result)
            .map_err(|error| vec![ApiError::from(error).into_server_error()])?;
        Ok(result)
    }
}
