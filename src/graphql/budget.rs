//! What a GraphQL answer may cost once it runs, whatever the document looked like:
//!
//! - introspection (`__schema`, `__type`) appears at most once per document, since
//!   each occurrence returns a whole schema's worth of values while counting as one
//!   field, and not at all for callers the HTTP layer marked as anonymous with
//!   introspection off (`GRAPHQL_ANONYMOUS_INTROSPECTION`);
//! - every value a query or mutation resolves (each field, each list item,
//!   introspection's included) counts against `GRAPHQL_MAX_ANSWER_VALUES`: past it
//!   the request stops with QUERY_TOO_COMPLEX, so an answer's size and the memory
//!   it takes stay bounded;
//! - resolving yields to the runtime every [`YIELD_EVERY`] values, so resolvers that
//!   never wait (introspection's) still let the query timeout in `limits.rs` fire
//!   and let other requests run on the same worker thread.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use async_graphql::{
    IntrospectionMode, Request, Response, ServerResult, parser::types::ExecutableDocument,
};
use tokio_util::sync::CancellationToken;

use super::error::GraphqlError;
use crate::error::AppError;

/// Values resolved between two yields to the runtime.
pub const YIELD_EVERY: usize = 64;

/// The configured answer budget, applied by the schema's extension (`extension.rs`).
#[derive(Clone, Copy)]
pub struct AnswerBudget {
    /// Values (fields and list items) one query or mutation may resolve; 0: no limit.
    pub max_values: usize,
}

/// How many introspection root fields (`__schema`, `__type`) `document` holds with
/// its fragments expanded (memoised, saturating).
pub fn introspection_fields(document: &ExecutableDocument) -> u64 {
    super::limits::weighed_fields(document, |name| {
        u64::from(name == "__schema" || name == "__type")
    })
}

fn too_large(max: usize) -> AppError {
    AppError::QueryTooComplex(format!(
        "the answer would hold more than {max} values; ask for fewer rows or fields"
    ))
}

impl AnswerBudget {
    /// Refuses introspection beyond once per document, or at all for callers
    /// with introspection off. A document that does not parse is left to the
    /// engine, which reports it.
    pub fn check_request(&self, request: &mut Request) -> ServerResult<()> {
        let disabled = matches!(request.introspection_mode, IntrospectionMode::Disabled);
        let Ok(document) = request.parsed_query() else {
            return Ok(());
        };
        let found = introspection_fields(document);
        let refused = if found > 0 && disabled {
            AppError::Unauthenticated("introspection needs a signed-in caller".into())
        } else if found > 1 {
            AppError::QueryTooComplex(
                "introspection (__schema, __type) may appear once per document".into(),
            )
        } else {
            return Ok(());
        };
        Err(GraphqlError::from(refused).into_server_error())
    }

    /// A fresh count for one request, shared by the schema's extension and the
    /// flat objects (`flat.rs`), which find it in the request's data.
    pub fn start(&self) -> Arc<AnswerCount> {
        Arc::new(AnswerCount {
            max_values: self.max_values,
            counting: AtomicBool::new(false),
            values: AtomicUsize::new(0),
            exceeded: CancellationToken::new(),
        })
    }
}

/// The values one request has resolved (a subscription's events are not
/// counted: they are bounded by the limits on each event's selection).
pub struct AnswerCount {
    max_values: usize,
    counting: AtomicBool,
    values: AtomicUsize,
    exceeded: CancellationToken,
}

impl AnswerCount {
    /// Runs an operation, counting its values; stops it with QUERY_TOO_COMPLEX as
    /// soon as it passes the budget.
    pub async fn bounded(&self, run: impl Future<Output = Response>) -> Response {
        self.counting.store(true, Ordering::Relaxed);
        tokio::select! {
            biased;
            _ = self.exceeded.cancelled() => Response::from_errors(vec![
                GraphqlError::from(too_large(self.max_values)).into_server_error(),
            ]),
            response = run => response,
        }
    }

    /// Counts one value about to be resolved: refuses it past the budget, and
    /// yields to the runtime every [`YIELD_EVERY`] values.
    pub async fn count(&self) -> ServerResult<()> {
        self.count_many(1).await
    }

    /// Counts `values` about to be resolved together (a flat object's fields,
    /// `flat.rs`): refuses them past the budget, and yields to the runtime when
    /// they cross a multiple of [`YIELD_EVERY`].
    pub async fn count_many(&self, values: usize) -> ServerResult<()> {
        if values == 0 || !self.counting.load(Ordering::Relaxed) {
            return Ok(());
        }
        let before = self.values.fetch_add(values, Ordering::Relaxed);
        let resolved = before + values;
        if self.max_values > 0 && resolved > self.max_values {
            self.exceeded.cancel();
            return Err(GraphqlError::from(too_large(self.max_values)).into_server_error());
        }
        if resolved / YIELD_EVERY != before / YIELD_EVERY {
            tokio::task::yield_now().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(query: &str) -> u64 {
        introspection_fields(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn introspection_is_counted_through_aliases_and_fragments() {
        assert_eq!(found("{ me { id } __typename }"), 0);
        assert_eq!(found("{ __schema { types { name } } }"), 1);
        assert_eq!(
            found("{ a: __schema { queryType { name } } b: __type(name: \"Q\") { name } }"),
            2
        );
        assert_eq!(
            found("{ ...F ...F } fragment F on Query { x: __schema { types { name } } }"),
            2
        );
        assert_eq!(
            found("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A __schema { a } }"),
            1
        );
    }
}
