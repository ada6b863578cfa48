//! Which answers a CDN or a browser may keep. The public storefront reads (the
//! catalogue, categories, pages, posts, the FAQ, site settings) carry
//! `cache_control(max_age = 60)` on their root fields (a price change reaches a
//! cached page within a minute; orders are always priced anew); async-graphql merges the
//! hints of every field a document selects into the answer's hint. A field with no
//! hint does not lower that merge (its 0 means "unset"), so `{ services { … } me
//! { balance } }` would come out cacheable: this extension keeps the merged hint
//! only when every root field of the document is a query field with a public hint
//! of its own, and clears it otherwise. The HTTP layer turns a kept hint into
//! `Cache-Control: public, max-age=…` for anonymous callers only (`http::graphql`).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::indexmap::IndexMap;
use async_graphql::{
    CacheControl, Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery},
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
    registry::{MetaField, MetaType},
};

/// Fragments nested deeper than this at the root make a document uncacheable
/// rather than followed further.
const MAX_FRAGMENT_DEPTH: usize = 8;

pub struct CacheHints;

impl ExtensionFactory for CacheHints {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CacheHintsExtension::default())
    }
}

#[derive(Default)]
struct CacheHintsExtension {
    every_root_hinted: AtomicBool,
}

#[async_trait::async_trait]
impl Extension for CacheHintsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let registry = &ctx.schema_env.registry;
        let hinted = match registry.types.get(&registry.query_type) {
            Some(MetaType::Object { fields, .. }) => every_root_hinted(&document, fields),
            _ => false,
        };
        self.every_root_hinted.store(hinted, Ordering::Relaxed);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if !self.every_root_hinted.load(Ordering::Relaxed) {
            response.cache_control = CacheControl::default();
        }
        response
    }
}

/// Whether every operation of `document` is a query whose root fields all carry
/// a public hint of their own.
fn every_root_hinted(
    document: &ExecutableDocument,
    query_fields: &IndexMap<String, MetaField>,
) -> bool {
    document.operations.iter().all(|(_, operation)| {
        operation.node.ty == OperationType::Query
            && selection_hinted(
                document,
                &operation.node.selection_set.node,
                query_fields,
                0,
            )
    })
}

fn selection_hinted(
    document: &ExecutableDocument,
    selection: &SelectionSet,
    query_fields: &IndexMap<String, MetaField>,
    depth: usize,
) -> bool {
    depth <= MAX_FRAGMENT_DEPTH
        && selection.items.iter().all(|item| match &item.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                name == "__typename"
                    || query_fields.get(name).is_some_and(|meta| {
                        meta.cache_control.public && meta.cache_control.max_age > 0
                    })
            }
            Selection::InlineFragment(fragment) => selection_hinted(
                document,
                &fragment.node.selection_set.node,
                query_fields,
                depth + 1,
            ),
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|fragment| {
                    selection_hinted(
                        document,
                        &fragment.node.selection_set.node,
                        query_fields,
                        depth + 1,
                    )
                }),
        })
}
