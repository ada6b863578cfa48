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

use async_graphql::{
    CacheControl, Response, ServerResult,
    extensions::ExtensionContext,
    indexmap::IndexMap,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
    registry::{MetaField, MetaType},
};

use super::document_rule::DocumentRule;

/// Fragments nested deeper than this at the root make a document uncacheable
/// rather than followed further.
const MAX_FRAGMENT_DEPTH: usize = 8;

#[derive(Clone)]
pub struct CacheHints;

impl DocumentRule for CacheHints {
    fn read(
        &self,
        ctx: &ExtensionContext<'_>,
        document: &ExecutableDocument,
    ) -> ServerResult<bool> {
        let registry = &ctx.schema_env.registry;
        Ok(match registry.types.get(&registry.query_type) {
            Some(MetaType::Object { fields, .. }) => every_root_hinted(document, fields),
            _ => false,
        })
    }

    fn after(&self, _: &ExtensionContext<'_>, every_root_hinted: bool, response: &mut Response) {
        if !every_root_hinted {
            response.cache_control = CacheControl::default();
        }
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
