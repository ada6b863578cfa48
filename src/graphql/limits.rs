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
    time::Duration,
};

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use super::error::GraphqlError;
use crate::error::AppError;

/// The configured limits, applied by the schema's extension (`extension.rs`).
#[derive(Clone, Copy)]
pub struct QueryLimits {
    pub max_depth: usize,
    /// Also the most fields a document may select once its fragments are expanded.
    pub max_complexity: usize,
    pub query_timeout: Duration,
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

impl QueryLimits {
    /// What is checked on the parsed document before the engine sees it: the
    /// expanded size and the text of every argument. Parses the document before
    /// the engine does: the engine's own checks right after parsing (recursion
    /// depth, directives) follow every fragment spread without memoisation, so a
    /// fan-out must be refused before them. Answers whether the document only
    /// reads (`None` when it does not parse: the engine reports that).
    pub fn check_request(&self, request: &mut Request) -> ServerResult<Option<bool>> {
        let variables = std::mem::take(&mut request.variables);
        let checked = request
            .parsed_query()
            .map(|document| self.check_document(document, &variables));
        request.variables = variables;
        match checked {
            Ok(checked) => checked
                .map(Some)
                .map_err(|error| GraphqlError::from(error).into_server_error()),
            Err(_) => Ok(None),
        }
    }

    fn check_document(
        &self,
        document: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<bool, AppError> {
        let most = self.max_complexity as u64;
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
        Ok(document
            .operations
            .iter()
            .all(|(_, operation)| operation.node.ty == OperationType::Query))
    }

    /// The depth and complexity limits, on the figures the validation computed.
    pub fn check_validated(&self, result: &ValidationResult) -> Result<(), Vec<ServerError>> {
        let refused = if result.depth > self.max_depth {
            format!(
                "the query is nested {} levels deep; at most {} are allowed",
                result.depth, self.max_depth
            )
        } else if result.complexity > self.max_complexity {
            format!(
                "the query's complexity is {}; at most {} is allowed (ask for fewer rows or fields)",
                result.complexity, self.max_complexity
            )
        } else {
            return Ok(());
        };
        Err(vec![
            GraphqlError::from(AppError::QueryTooComplex(refused)).into_server_error(),
        ])
    }

    /// Runs an operation, within the time budget when it only reads (`read_only`).
    pub async fn within_time(
        &self,
        read_only: bool,
        run: impl Future<Output = Response>,
    ) -> Response {
        if !read_only {
            return run.await;
        }
        let budget = self.query_timeout;
        match tokio::time::timeout(budget, run).await {
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
}

/// Gives an engine error without a code the code BAD_REQUEST.
pub fn with_code(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", AppError::BadRequest(String::new()).code());
        }
    }
    response
}

/// Counts a root field resolved, by its schema name (never a client's alias or
/// operation name, which are unbounded) and outcome, for `/metrics`.
pub fn count_root_field(name: &str, result: &ServerResult<Option<Value>>) {
    let outcome = match result {
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
    metrics::counter!(crate::metrics::GRAPHQL_FIELDS, "field" => name.to_string(), "outcome" => outcome)
        .increment(1);
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
