//! The schema's one extension. Every extension on an async-graphql schema is a
//! boxed step in the resolution of every field and list item of every answer
//! (four of them took a customer's 100-row page a third of its time), so the
//! request policies share one, each in its own module saying what it does at
//! each step: the remembered documents (`documents.rs`), the limits
//! (`limits.rs`), the answer budget (`budget.rs`), the WebSocket's credential and
//! subscription places (`socket.rs`) and the document rules (`document_rule.rs`),
//! applied in that order.

use std::sync::{Arc, Mutex, atomic::AtomicBool};

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextRequest, NextResolve, NextSubscribe, NextValidation, ResolveInfo,
    },
    parser::types::ExecutableDocument,
};
use futures_util::{StreamExt, stream::BoxStream};

use super::{
    budget::{AnswerBudget, AnswerCount},
    document_rule::DocumentRules,
    documents::{Documents, RequestDocument},
    limits::{self, QueryLimits},
    socket::SocketPolicy,
};

/// Installed on the schema: the policies, shared by every request.
pub struct Policies {
    pub documents: Documents,
    pub limits: QueryLimits,
    pub budget: AnswerBudget,
    pub socket: SocketPolicy,
    pub rules: DocumentRules,
}

/// The extension the schema installs: one per request, over the shared policies.
pub struct PolicyExtension(Arc<Policies>);

impl PolicyExtension {
    pub fn new(policies: Policies) -> PolicyExtension {
        PolicyExtension(Arc::new(policies))
    }
}

impl ExtensionFactory for PolicyExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestPolicies {
            answer: self.0.budget.start(),
            read_only: AtomicBool::new(false),
            found: self.0.rules.flags(),
            document: Mutex::new(None),
            policies: self.0.clone(),
        })
    }
}

/// One request under the policies: what its document turned out to be, and
/// the values its answer has taken so far.
struct RequestPolicies {
    policies: Arc<Policies>,
    /// The document holds queries only: its work may be cancelled at the time budget.
    read_only: AtomicBool,
    /// Also in the request's data, for the flat objects (`flat.rs`).
    answer: Arc<AnswerCount>,
    /// What each document rule found.
    found: Vec<AtomicBool>,
    /// The request's document, between the request's preparation and its
    /// validation.
    document: Mutex<Option<RequestDocument>>,
}

impl RequestPolicies {
    fn document(&self) -> std::sync::MutexGuard<'_, Option<RequestDocument>> {
        self.document.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl Extension for RequestPolicies {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        limits::with_code(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let slot = match self.policies.socket.subscription_slot(ctx) {
            Ok(slot) => slot,
            Err(refused) => {
                let refused = Response::from_errors(vec![refused]);
                return futures_util::stream::once(async move { refused }).boxed();
            }
        };
        next.run(ctx, stream)
            .map(move |response| {
                // Held for as long as the subscription runs.
                let _ = &slot;
                limits::with_code(response)
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let policies = &self.policies;
        *self.document() = Some(policies.documents.prepare(&mut request));
        if let Some(read_only) = policies.limits.check_request(&mut request)? {
            self.read_only
                .store(read_only, std::sync::atomic::Ordering::Relaxed);
        }
        policies.budget.check_request(&mut request)?;
        request.data.insert(self.answer.clone());
        let request = policies.socket.prepare(ctx, request).await?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.policies.rules.read(ctx, &document, &self.found)?;
        if let Some(request) = &mut *self.document() {
            request.parsed(&document);
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let limits = &self.policies.limits;
        let request = self.document().take();
        if let Some(result) = request.as_ref().and_then(RequestDocument::validation) {
            limits.check_validated(&result)?;
            return Ok(result);
        }
        let result = next.run(ctx).await?;
        limits.check_validated(&result)?;
        if let Some(request) = request {
            self.policies.documents.validated(request, result);
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let run = async {
            let mut response = next.run(ctx, operation_name).await;
            self.policies.rules.after(ctx, &self.found, &mut response);
            response
        };
        let read_only = self.read_only.load(std::sync::atomic::Ordering::Relaxed);
        self.policies
            .limits
            .within_time(read_only, self.answer.bounded(run))
            .await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let root_field = info.path_node.parent.is_none().then_some(info.name);
        let result = match self.answer.count().await {
            Ok(()) => next.run(ctx, info).await,
            Err(refused) => Err(refused),
        };
        if let Some(name) = root_field {
            limits::count_root_field(name, &result);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use serde_json::json;

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        #[graphql(complexity = "count.max(0) as usize")]
        async fn numbers(&self, count: i32) -> Vec<i32> {
            (0..count).collect()
        }
    }

    fn schema() -> (
        Schema<Query, EmptyMutation, EmptySubscription>,
        Arc<Policies>,
    ) {
        let extension = PolicyExtension::new(Policies {
            documents: Documents::default(),
            limits: QueryLimits {
                max_depth: 5,
                max_complexity: 100,
                query_timeout: std::time::Duration::from_secs(5),
            },
            budget: AnswerBudget { max_values: 0 },
            socket: SocketPolicy::default(),
            rules: DocumentRules::new(vec![]),
        });
        let policies = extension.0.clone();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(extension)
            .finish();
        (schema, policies)
    }

    async fn run(
        schema: &Schema<Query, EmptyMutation, EmptySubscription>,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        let request = Request::new(query).variables(Variables::from_json(variables));
        serde_json::to_value(schema.execute(request).await).unwrap()
    }

    /// A remembered document answers as a new one would, for every set of
    /// variables: values of the wrong type and a page over the complexity limit
    /// are refused the second time as the first.
    #[tokio::test]
    async fn a_remembered_document_is_still_validated_for_its_variables() {
        let (schema, policies) = schema();
        let query = "query Numbers($count: Int!) { numbers(count: $count) }";
        let three = run(&schema, query, json!({ "count": 3 })).await;
        assert_eq!(three["data"]["numbers"], json!([0, 1, 2]));
        assert_eq!(policies.documents.size(), (1, query.len()));

        for _ in 0..2 {
            let too_many = run(&schema, query, json!({ "count": 500 })).await;
            assert_eq!(too_many["data"], serde_json::Value::Null);
            let message = too_many["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("complexity is 500"), "{too_many}");
            let wrong = run(&schema, query, json!({ "count": "three" })).await;
            assert_eq!(wrong["data"], serde_json::Value::Null, "{wrong}");
            assert!(wrong["errors"][0]["message"].is_string(), "{wrong}");
            assert_eq!(
                run(&schema, query, json!({ "count": 3 })).await,
                three,
                "reused"
            );
            assert_eq!(
                run(&schema, query, json!({ "count": 4 })).await["data"]["numbers"],
                json!([0, 1, 2, 3])
            );
        }
        let known = policies.documents.get(query).unwrap();
        let four = Variables::from_json(json!({ "count": 4 }));
        assert_eq!(known.validation(None, &four).unwrap().complexity, 4);
        assert!(
            known
                .validation(None, &Variables::from_json(json!({ "count": 500 })))
                .is_none(),
            "a refused validation is not remembered"
        );
    }

    /// Text the engine or the limits refused takes no place.
    #[tokio::test]
    async fn refused_documents_are_not_remembered() {
        let (schema, policies) = schema();
        for query in [
            "{ numbers(count: 1000) }",
            "{ unknown }",
            "{ numbers(count: 1) ",
        ] {
            let answer = run(&schema, query, json!({})).await;
            assert!(
                answer["errors"][0]["message"].is_string(),
                "{query}: {answer}"
            );
        }
        assert_eq!(policies.documents.size(), (0, 0));
    }
}
