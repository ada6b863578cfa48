//! What a GraphQL request may cost, and the engine's side of the error boundary:
//!
//! - before the engine looks at the document, the number of fields the document selects once its
//!   fragments are expanded, counted with memoisation: `fragment F0 { ...F1 ...F1 }`
//!   chains double at each level, and the engine's own validation would expand them
//!   all (2^30 fields: minutes of CPU) before any limit applied;
//! - the depth and complexity limits, checked on the figures the validation
//!   computes (never on its message text, which an upgrade may change);
//! - a time budget for queries: past it their work is cancelled (mutations run to
//!   their end, see `http::run_to_end`; subscriptions live as long as their socket);
//! - a code on every error the engine raises itself (syntax, unknown fields, bad
//!   argument types), so a client can always switch on `extensions.code`.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest,
        NextRequest, NextResolve, NextSubscribe, NextValidation, ResolveInfo,
    },
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};
use futures_util::{StreamExt, stream::BoxStream};

use super::error::GraphqlError;
use crate::error::AppError;

/// Installed on the schema with the configured limits.
#[derive(Clone, Copy)]
pub struct QueryLimits {
    pub max_depth: usize,
    /// Also the most fields a document may select once its fragments are expanded.
    pub max_complexity: usize,
    pub query_timeout: Duration,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            limits: *self,
            read_only: AtomicBool::new(false),
        })
    }
}

/// One per request.
struct QueryLimitsExtension {
    limits: QueryLimits,
    /// The document holds queries only: its work may be cancelled at the budget.
    read_only: AtomicBool,
}

/// Fields `document` selects with every fragment spread expanded, computed in
/// linear time (each fragment is counted once, then reused); saturates instead of
/// overflowing. A fragment cycle counts as nothing here: validation refuses it.
pub fn expanded_fields(document: &ExecutableDocument) -> u64 {
    weighed_fields(document, |_| 1)
}

/// The sum of `weight(field name)` over every field `document` selects with its
/// fragments expanded, by the same memoised walk as [`expanded_fields`] (the
/// introspection budget counts `__schema` and `__type` with it).
pub fn weighed_fields(document: &ExecutableDocument, weight: impl Fn(&str) -> u64) -> u64 {
    fn count<'d>(
        set: &'d SelectionSet,
        document: &'d ExecutableDocument,
        weight: &dyn Fn(&str) -> u64,
        memo: &mut HashMap<&'d str, u64>,
        visiting: &mut HashSet<&'d str>,
    ) -> u64 {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    weight(field.node.name.node.as_str()).saturating_add(count(
                        &field.node.selection_set.node,
                        document,
                        weight,
                        memo,
                        visiting,
                    ))
                }
                Selection::InlineFragment(inline) => count(
                    &inline.node.selection_set.node,
                    document,
                    weight,
                    memo,
                    visiting,
                ),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(known) = memo.get(name) {
                        return *known;
                    }
                    if !visiting.insert(name) {
                        return 0;
                    }
                    let fields = document.fragments.get(name).map_or(0, |fragment| {
                        count(
                            &fragment.node.selection_set.node,
                            document,
                            weight,
                            memo,
                            visiting,
                        )
                    });
                    visiting.remove(name);
                    memo.insert(name, fields);
                    fields
                }
            })
            .fold(0, u64::saturating_add)
    }
    let (mut memo, mut visiting) = (HashMap::new(), HashSet::new());
    document
        .operations
        .iter()
        .map(|(_, operation)| {
            let set = &operation.node.selection_set.node;
            count(set, document, &weight, &mut memo, &mut visiting)
        })
        .fold(0, u64::saturating_add)
}

impl QueryLimitsExtension {
    /// What is checked on the parsed document before the engine sees it: the
    /// expanded size and the text of every argument; notes whether it only reads.
    fn check_document(
        &self,
        document: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<(), AppError> {
        let most = self.limits.max_complexity as u64;
        if expanded_fields(document) > most {
            return Err(AppError::QueryTooComplex(format!(
                "the query selects more than {most} fields once its fragments are expanded"
            )));
        }
        if let Some(field) = super::input::field_with_nul(document, variables) {
            return Err(AppError::validation(
                field,
                "text must not contain NUL characters",
            ));
        }
        let read_only = document
            .operations
            .iter()
            .all(|(_, operation)| operation.node.ty == OperationType::Query);
        self.read_only.store(read_only, Ordering::Relaxed);
        Ok(())
    }

    fn check(&self, result: &ValidationResult) -> Result<(), AppError> {
        let limits = &self.limits;
        if result.depth > limits.max_depth {
            return Err(AppError::QueryTooComplex(format!(
                "the query is nested {} levels deep; at most {} are allowed",
                result.depth, limits.max_depth
            )));
        }
        if result.complexity > limits.max_complexity {
            return Err(AppError::QueryTooComplex(format!(
                "the query's complexity is {}; at most {} is allowed (ask for fewer rows or fields)",
                result.complexity, limits.max_complexity
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

    /// Parses the document before the engine does: the engine's own checks right
    /// after parsing (recursion depth, directives) follow every fragment spread
    /// without memoisation, so a fan-out must be refused before them.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // A document that does not parse is left to the engine, which reports it.
        let variables = std::mem::take(&mut request.variables);
        let checked = request
            .parsed_query()
            .map(|document| self.check_document(document, &variables));
        request.variables = variables;
        if let Ok(checked) = checked {
            checked.map_err(|error| GraphqlError::from(error).into_server_error())?;
        }
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if !self.read_only.load(Ordering::Relaxed) {
            return next.run(ctx, operation_name).await;
        }
        let budget = self.limits.query_timeout;
        match tokio::time::timeout(budget, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => Response::from_errors(vec![
                GraphqlError::from(AppError::QueryTooComplex(format!(
                    "the query ran longer than {} ms and was stopped",
                    budget.as_millis()
                )))
                .into_server_error(),
            ]),
        }
    }

    /// Counts each root field resolved, by its schema name (never a client's alias
    /// or operation name, which are unbounded) and outcome, for `/metrics`.
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        if info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        let field = info.name.to_string();
        let result = next.run(ctx, info).await;
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(error) => error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .map_or_else(
                    || "error".to_string(),
                    |c| c.to_string().trim_matches('"').to_string(),
                ),
        };
        metrics::counter!(crate::metrics::GRAPHQL_FIELDS, "field" => field, "outcome" => outcome)
            .increment(1);
        result
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        self.check(&result)
            .map_err(|error| vec![GraphqlError::from(error).into_server_error()])?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(query: &str) -> u64 {
        expanded_fields(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn fragments_are_counted_expanded_without_expanding_them() {
        assert_eq!(fields("{ a b { c } }"), 3);
        assert_eq!(
            fields("{ ...F ...F } fragment F on Q { a b }"),
            4,
            "a fragment counts each time it is spread"
        );
        let mut doubling = String::from("{ ...F0 }\n");
        for i in 0..62 {
            doubling += &format!("fragment F{i} on Q {{ ...F{n} ...F{n} }}\n", n = i + 1);
        }
        doubling += "fragment F62 on Q { a }";
        assert_eq!(
            fields(&doubling),
            1u64 << 62,
            "2^62 fields, counted at once"
        );
        doubling = doubling.replace("fragment F62 on Q { a }", "fragment F62 on Q { a b c d }");
        assert_eq!(
            fields(&doubling),
            u64::MAX,
            "saturates instead of overflowing"
        );
        assert_eq!(
            fields("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A x }"),
            1,
            "a cycle is left to validation"
        );
    }
}
