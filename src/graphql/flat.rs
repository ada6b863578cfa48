//! The flat resolution of a list's rows. async-graphql resolves each field of an
//! object as its own boxed future, and runs the schema's extension around it: a
//! `ResolveInfo` built with two registry lookups and a second boxed future per
//! field. A field's future is the object's whole `resolve_field` state machine
//! (it was about 2 KiB for `Order` and `Ticket`: the largest of its fields'), so on
//! a customer's page of 100 rows of eight fields that is 800 allocations and
//! copies of it, most of the page's time. A page's node is a [`Flat`] object
//! instead (and so is what each row repeats, like an order's service): its
//! selected fields are resolved one after another in one future, and counted
//! against the answer budget at once.
//!
//! Rows still resolve concurrently ([`resolve_rows`], a page's `nodes`, polls
//! them together), so a relation that waits on a DataLoader is still loaded for
//! the whole page in one batch;
//! what changes is that a row's second such relation starts when its first is
//! in. Page resolvers prefetch the relations they know clients select (an
//! order's service), which are then ready at once.
//!
//! The answer is the same value: the same keys in the same order (a response key
//! selected twice is merged as the engine merges it), the same errors at the same
//! paths. Each field still runs its own resolver with its guard; `__typename` and
//! fragments on the type or an interface it implements are honoured; a nested
//! object's fields take the engine's usual way. Only objects qualify (an
//! interface or a union picks its fields per concrete type).

use std::{borrow::Cow, pin::Pin, sync::Arc, task::Poll};

use async_graphql::{
    Context, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerError,
    ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
};
use futures_util::future::MaybeDone;

use super::budget::AnswerCount;

/// An object resolved flat: same schema type as `T`, same answer.
pub struct Flat<T>(pub T);

impl<T: ObjectType> OutputType for Flat<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    /// Boxed: this future holds `T`'s `resolve_field` future, and a field that
    /// returns a flat object (an order's service) would otherwise hold it too,
    /// making every field of its parent as large.
    fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> impl Future<Output = ServerResult<Value>> + Send {
        Box::pin(resolve_flat(&self.0, ctx))
    }
}

/// Resolves `object`'s selected fields one after another (see the module docs).
pub async fn resolve_flat<T: ObjectType>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
) -> ServerResult<Value> {
    let type_name = T::type_name();
    let mut selected = Vec::with_capacity(ctx.item.node.items.len());
    select(ctx, &ctx.item.node, &type_name, &mut selected)?;
    // `__typename` is answered without the extension, so not counted.
    let resolved = selected
        .iter()
        .filter(|field| field.node.name.node != "__typename")
        .count();
    count_values(ctx, resolved).await?;
    let mut values = IndexMap::with_capacity(selected.len());
    for field in selected {
        let field_ctx = ctx.with_field(field);
        let value = if field.node.name.node == "__typename" {
            let name = object.introspection_type_name().into_owned();
            Ok(Some(Value::String(name)))
        } else {
            object.resolve_field(&field_ctx).await
        };
        match value {
            Ok(value) => {
                let key = field.node.response_key().node.clone();
                insert_value(&mut values, key, value.unwrap_or_default());
            }
            Err(error) => ctx.add_error(error),
        }
    }
    Ok(if values.is_empty() {
        Value::Null
    } else {
        Value::Object(values)
    })
}

/// A list of objects resolved flat, as the `nodes` of a page (`pagination.rs`):
/// each row counted as one value, rows run together (a relation is one batch
/// for the page) in one allocation each, and a row's error reported at its
/// index, as the engine's list does.
pub async fn resolve_rows<'r, T: ObjectType + 'r>(
    ctx: &Context<'_>,
    rows: impl Iterator<Item = &'r T>,
) -> ServerResult<Value> {
    let set = ctx.with_selection_set(&ctx.item.node.selection_set);
    let rows: Vec<&T> = rows.collect();
    count_values(ctx, rows.len()).await?;
    let contexts: Vec<_> = (0..rows.len()).map(|index| set.with_index(index)).collect();
    let mut running: Vec<_> = rows
        .iter()
        .zip(&contexts)
        .map(|(row, row_ctx)| MaybeDone::Future(Box::pin(resolve_flat(*row, row_ctx))))
        .collect();
    // Polls every unfinished row on each wake-up: rows mostly finish on their
    // first poll (their relations prefetched), so this stays linear in practice.
    std::future::poll_fn(|cx| {
        let mut done = true;
        for row in running.iter_mut() {
            done &= Pin::new(row).poll(cx).is_ready();
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    let mut values = Vec::with_capacity(running.len());
    for (row, row_ctx) in running.iter_mut().zip(&contexts) {
        match Pin::new(row).take_output() {
            Some(Ok(value)) => values.push(value),
            Some(Err(error)) => return Err(row_ctx.set_error_path(error)),
            None => unreachable!("every row finished"),
        }
    }
    Ok(Value::List(values))
}

/// Counts `values` against the request's answer budget, which the schema's
/// extension leaves in the request's data (absent for a subscription's events).
async fn count_values<T>(
    ctx: &async_graphql::ContextBase<'_, T>,
    values: usize,
) -> ServerResult<()> {
    match ctx.data_opt::<Arc<AnswerCount>>() {
        Some(answer) => answer.count_many(values).await,
        None => Ok(()),
    }
}

/// The fields `set` selects on an object of type `type_name`, through its
/// fragments, in document order.
fn select<'a>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    type_name: &str,
    selected: &mut Vec<&'a Positioned<Field>>,
) -> ServerResult<()> {
    for selection in &set.items {
        let (condition, inner) = match &selection.node {
            Selection::Field(field) => {
                selected.push(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let fragment = ctx.query_env.fragments.get(name).ok_or_else(|| {
                    ServerError::new(format!(r#"Unknown fragment "{name}"."#), Some(spread.pos))
                })?;
                (
                    Some(fragment.node.type_condition.node.on.node.as_str()),
                    &fragment.node.selection_set.node,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map(|condition| condition.node.on.node.as_str()),
                &fragment.node.selection_set.node,
            ),
        };
        let applies = condition.is_none_or(|condition| {
            condition == type_name
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(type_name)
                    .is_some_and(|interfaces| interfaces.contains(condition))
        });
        if applies {
            select(ctx, inner, type_name, selected)?;
        }
    }
    Ok(())
}

/// Adds a field's value under its response key; a key selected twice (through
/// two fragments) merges its objects and lists of objects, as the engine does.
fn insert_value(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    let Some(previous) = target.get_mut(&name) else {
        target.insert(name, value);
        return;
    };
    match (previous, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                insert_value(into, key, value);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (item, value) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (item, value) {
                    for (key, value) in from {
                        insert_value(into, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{
        Context, EmptyMutation, EmptySubscription, Error, Guard, Interface, Object, Result, Schema,
    };

    use super::Flat;

    struct Thing(i32);

    struct EvenOnly;

    impl Guard for EvenOnly {
        async fn check(&self, ctx: &Context<'_>) -> Result<()> {
            match ctx.data_opt::<i32>() {
                Some(n) if n % 2 == 0 => Ok(()),
                _ => Err("odd caller".into()),
            }
        }
    }

    #[derive(Interface)]
    #[graphql(field(name = "id", ty = "i32"))]
    enum Node {
        Thing(Thing),
    }

    #[Object]
    impl Thing {
        async fn id(&self) -> i32 {
            self.0
        }
        async fn name(&self) -> String {
            format!("thing {}", self.0)
        }
        /// Fails for odd things: a nullable field's error.
        async fn maybe(&self) -> Result<Option<i32>> {
            if self.0 % 2 == 1 {
                Err(Error::new("odd"))
            } else {
                Ok(Some(self.0))
            }
        }
        /// Fails for the third thing: a non-null field's error.
        async fn strict(&self) -> Result<i32> {
            if self.0 == 3 {
                Err(Error::new("three"))
            } else {
                Ok(self.0 * 10)
            }
        }
        #[graphql(guard = "EvenOnly")]
        async fn guarded(&self) -> i32 {
            self.0
        }
        async fn child(&self) -> Thing {
            Thing(self.0 + 100)
        }
        async fn children(&self) -> Vec<Thing> {
            vec![Thing(self.0 * 2), Thing(self.0 * 3)]
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn plain(&self) -> Vec<Thing> {
            (1..=4).map(Thing).collect()
        }
        /// Named as long as `plain`, so errors' locations match.
        async fn flats(&self) -> Vec<Flat<Thing>> {
            (1..=4).map(|n| Flat(Thing(n))).collect()
        }
        async fn node(&self) -> Node {
            Node::Thing(Thing(0))
        }
        /// The same rows as a page, read through `nodes` (`resolve_rows`).
        async fn paged(&self) -> crate::graphql::pagination::Page<Thing> {
            let page = crate::db::pagination::Paginated {
                rows: (1..=4).collect(),
                total: None,
                has_previous: false,
                has_next: false,
                offset: 0,
            };
            crate::graphql::pagination::keyset_connection(page, |n| i64::from(*n), Thing)
        }
    }

    /// The same document over the engine's objects and over flat ones: the same
    /// data, and the same errors at the same paths.
    async fn same_answer(selection: &str, fragments: &str, caller: i32) {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let run = |list: &str| {
            let query = format!("{{ list: {list} {selection} }} {fragments}");
            let request = async_graphql::Request::new(query).data(caller);
            let schema = schema.clone();
            async move { serde_json::to_value(schema.execute(request).await).unwrap() }
        };
        let (plain, flat) = (run("plain").await, run("flats").await);
        // Through a page's `nodes`: the same rows, errors one step deeper.
        let query = format!("{{ list: paged {{ nodes {selection} }} }} {fragments}");
        let request = async_graphql::Request::new(query).data(caller);
        let paged = serde_json::to_value(schema.execute(request).await).unwrap();
        assert_eq!(
            paged["data"]["list"]["nodes"], plain["data"]["list"],
            "{selection}"
        );
        let paths = |answer: &serde_json::Value| {
            let mut paths: Vec<String> = answer["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let path = e["path"].as_array().unwrap();
                    let path: Vec<_> = path.iter().filter(|p| *p != "nodes").collect();
                    format!("{} {:?}", e["message"], path)
                })
                .collect();
            paths.sort();
            paths
        };
        assert_eq!(paths(&paged), paths(&plain), "{selection}");
        let sorted_errors = |answer: &serde_json::Value| {
            let mut errors: Vec<String> = answer["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e.to_string())
                .collect();
            errors.sort();
            errors
        };
        assert_eq!(plain["data"], flat["data"], "{selection}");
        assert_eq!(sorted_errors(&plain), sorted_errors(&flat), "{selection}");
        assert!(plain["data"]["list"].is_array(), "{plain}");
    }

    #[tokio::test]
    async fn a_flat_object_answers_as_the_engine_does() {
        for caller in [1, 2] {
            same_answer("{ id name __typename }", "", caller).await;
            same_answer("{ a: id b: name id }", "", caller).await;
            same_answer("{ maybe id }", "", caller).await;
            same_answer("{ id strict }", "", caller).await;
            same_answer("{ guarded id }", "", caller).await;
            same_answer("{ child { id name } children { id } }", "", caller).await;
            same_answer(
                "{ ...F ... on Thing { child { name } } ... on Node { id } ... { name } }",
                "fragment F on Thing { child { id } id }",
                caller,
            )
            .await;
            same_answer("{ children { id } children { name } }", "", caller).await;
        }
    }
}

#[cfg(test)]
mod sizes {
    use async_graphql::{ContainerType, Context};

    use crate::graphql::types::{
        catalog::Service, orders::Order, support::Ticket, wallet::LedgerEntry,
    };

    /// The size of the future `resolve_field` returns, read off its signature.
    fn future_size<'a, T, R>(_: fn(&'a T, &'a Context<'a>) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// A row's boxed future holds its type's `resolve_field` future: under a
    /// kilobyte it stays in the allocator's per-thread cache (glibc's tcache
    /// takes blocks up to 1,032 bytes) and is cheap to copy. A field that makes
    /// it larger returns its object flat or boxes its statement.
    #[test]
    fn the_rows_of_customer_pages_resolve_in_small_futures() {
        let sizes = [
            (
                "Order",
                future_size(<Order as ContainerType>::resolve_field),
            ),
            (
                "Service",
                future_size(<Service as ContainerType>::resolve_field),
            ),
            (
                "LedgerEntry",
                future_size(<LedgerEntry as ContainerType>::resolve_field),
            ),
            (
                "Ticket",
                future_size(<Ticket as ContainerType>::resolve_field),
            ),
        ];
        for (name, size) in sizes {
            assert!(size <= 768, "{name}'s resolve_field future is {size} bytes");
        }
    }
}
