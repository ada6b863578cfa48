//! The shape of a rule that reads the parsed document once, may refuse it, and
//! then acts on the answer (no mutations over the WebSocket, the cache coherence
//! after an admin's mutation, the cache hint of an answer): a [`DocumentRule`]
//! says what it reads and what it does, and [`DocumentRules`] runs them all.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    Response, ServerResult, extensions::ExtensionContext, parser::types::ExecutableDocument,
};

pub trait DocumentRule: Send + Sync + 'static {
    /// What the rule needs to know of the document; an error refuses it.
    fn read(&self, ctx: &ExtensionContext<'_>, document: &ExecutableDocument)
    -> ServerResult<bool>;
    /// Runs once the operation has executed (every write committed or rolled
    /// back), with what `read` found.
    fn after(&self, _ctx: &ExtensionContext<'_>, _found: bool, _response: &mut Response) {}
}

/// The rules, read in this order; the first refusal refuses the document. The
/// schema's extension (`extension.rs`) runs them, one flag per rule and request
/// rather than a look at every field.
pub struct DocumentRules(Vec<Arc<dyn DocumentRule>>);

impl DocumentRules {
    pub fn new(rules: Vec<Arc<dyn DocumentRule>>) -> DocumentRules {
        DocumentRules(rules)
    }

    /// A flag per rule for one request, all down.
    pub fn flags(&self) -> Vec<AtomicBool> {
        self.0.iter().map(|_| AtomicBool::new(false)).collect()
    }

    /// Reads the parsed document with every rule, keeping what each found in `found`.
    pub fn read(
        &self,
        ctx: &ExtensionContext<'_>,
        document: &ExecutableDocument,
        found: &[AtomicBool],
    ) -> ServerResult<()> {
        for (rule, found) in self.0.iter().zip(found) {
            found.store(rule.read(ctx, document)?, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs every rule's `after` on the operation's answer.
    pub fn after(&self, ctx: &ExtensionContext<'_>, found: &[AtomicBool], response: &mut Response) {
        for (rule, found) in self.0.iter().zip(found) {
            rule.after(ctx, found.load(Ordering::Relaxed), response);
        }
    }
}
