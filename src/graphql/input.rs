//! Text from outside, checked where it comes in: no GraphQL string argument or
//! variable may carry a NUL character (PostgreSQL refuses it in `text`, which
//! would surface as INTERNAL half-way through a request). The error names the
//! innermost field or argument that holds it.

use async_graphql::{
    Value as ConstValue, Variables,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use async_graphql_value::Value;

/// The name of the first argument, variable or input field holding a NUL.
pub fn field_with_nul(document: &ExecutableDocument, variables: &Variables) -> Option<String> {
    for (name, value) in variables.iter() {
        if let Some(found) = in_const(name.as_str(), value) {
            return Some(found);
        }
    }
    let operations = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node);
    let fragments = document
        .fragments
        .values()
        .map(|fragment| &fragment.node.selection_set.node);
    operations.chain(fragments).find_map(in_selection_set)
}

fn in_selection_set(set: &SelectionSet) -> Option<String> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => field
            .node
            .arguments
            .iter()
            .find_map(|(name, value)| in_value(name.node.as_str(), &value.node))
            .or_else(|| in_selection_set(&field.node.selection_set.node)),
        Selection::InlineFragment(inline) => in_selection_set(&inline.node.selection_set.node),
        // Fragment definitions are walked once each by the caller.
        Selection::FragmentSpread(_) => None,
    })
}

/// A variable's value.
fn in_const(field: &str, value: &ConstValue) -> Option<String> {
    match value {
        ConstValue::String(text) if text.contains('\0') => Some(field.to_string()),
        ConstValue::List(items) => items.iter().find_map(|item| in_const(field, item)),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(name, value)| in_const(name.as_str(), value)),
        _ => None,
    }
}

/// An argument written in the document (variables are checked on their own).
fn in_value(field: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(text) if text.contains('\0') => Some(field.to_string()),
        Value::List(items) => items.iter().find_map(|item| in_value(field, item)),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(name, value)| in_value(name.as_str(), value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_found_with_their_field() {
        let document = async_graphql::parser::parse_query(
            "mutation { placeOrder(input: { link: \"a\\u0000b\", quantity: 1 }) { id } }",
        )
        .unwrap();
        assert_eq!(
            field_with_nul(&document, &Variables::default()).as_deref(),
            Some("link")
        );
        let document = async_graphql::parser::parse_query(
            "query($q: String) { services(search: $q) { totalCount } }",
        )
        .unwrap();
        let variables = Variables::from_json(serde_json::json!({ "q": "x\u{0}" }));
        assert_eq!(field_with_nul(&document, &variables).as_deref(), Some("q"));
        let clean = Variables::from_json(serde_json::json!({ "q": "x" }));
        assert_eq!(field_with_nul(&document, &clean), None);
    }
}
