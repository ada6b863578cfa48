//! Documents the server has already checked, remembered per query text: the
//! parsed document, and the engine's validation of it for the last few sets of
//! variables it ran with.
//!
//! A panel's clients send the same few operations over and over (a dashboard's
//! pages, a reseller's status poll, the storefront), and parsing and validating
//! a document cost a 20-row page about as much as its rows. A document is
//! remembered only once it validated, so text the engine refused never takes a
//! place. Bounded by entries and by bytes of query text, least recently used
//! first; a process that forgot a document parses it again, nothing else.
//!
//! The validation of a document depends on its variables' values (their types
//! are checked, and a page's complexity counts `first: $first`), so a
//! validation is reused only for the same operation name and equal variables.
//! Everything else the policies check per request (the expanded size, NUL in
//! arguments, the document rules) still runs on every request.

use std::sync::{Arc, Mutex};

use async_graphql::{Request, ValidationResult, Variables, parser::types::ExecutableDocument};
use lru::LruCache;

/// Documents remembered at most.
const MAX_DOCUMENTS: usize = 256;
/// Query text remembered at most, in bytes (a parsed document holds a few
/// times its text).
const MAX_TEXT_BYTES: usize = 512 * 1024;
/// A longer document is never remembered.
const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
/// Validations remembered per document (operation name and variables).
const VALIDATIONS_PER_DOCUMENT: usize = 4;

/// The process's remembered documents.
pub struct Documents {
    remembered: Mutex<Remembered>,
}

struct Remembered {
    documents: LruCache<String, Arc<Known>>,
    text_bytes: usize,
}

/// A document that parsed and validated once.
pub struct Known {
    document: ExecutableDocument,
    validations: Mutex<Vec<Validation>>,
}

/// One request's document, from the request's preparation to its validation:
/// what it needs to reuse a remembered validation or to remember a new one.
pub struct RequestDocument {
    operation_name: Option<String>,
    variables: Variables,
    seen: Seen,
}

enum Seen {
    /// Parsed and validated before.
    Known(Arc<Known>),
    /// New: its text, and once parsed a copy of the document, remembered if it
    /// validates.
    New {
        query: String,
        parsed: Option<ExecutableDocument>,
    },
}

/// One validation of a document: what it ran with, and what it found.
#[derive(Clone)]
struct Validation {
    operation_name: Option<String>,
    variables: Variables,
    result: ValidationResult,
}

impl Default for Documents {
    fn default() -> Documents {
        Documents {
            remembered: Mutex::new(Remembered {
                documents: LruCache::unbounded(),
                text_bytes: 0,
            }),
        }
    }
}

impl Documents {
    /// Gives `request` a copy of the document remembered for its text, if any
    /// (the engine then does not parse it), and notes what the request's
    /// validation needs.
    pub fn prepare(&self, request: &mut Request) -> RequestDocument {
        let seen = match self.get(&request.query) {
            Some(known) => {
                request.set_parsed_query(known.document());
                Seen::Known(known)
            }
            None => Seen::New {
                query: request.query.clone(),
                parsed: None,
            },
        };
        RequestDocument {
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
            seen,
        }
    }

    /// Remembers a request's document and its validation, which passed.
    pub fn validated(&self, request: RequestDocument, result: ValidationResult) {
        let validation = Validation {
            operation_name: request.operation_name,
            variables: request.variables,
            result,
        };
        match request.seen {
            Seen::Known(known) => known.add_validation(validation),
            Seen::New {
                query,
                parsed: Some(document),
            } => self.remember(&query, document, validation),
            Seen::New { parsed: None, .. } => {}
        }
    }

    /// The document remembered for `query`.
    pub fn get(&self, query: &str) -> Option<Arc<Known>> {
        self.lock().documents.get(query).cloned()
    }

    /// Remembers a document that validated (with `validation`); the least
    /// recently used make room.
    fn remember(&self, query: &str, document: ExecutableDocument, validation: Validation) {
        if query.len() > MAX_DOCUMENT_BYTES {
            return;
        }
        let known = Arc::new(Known {
            document,
            validations: Mutex::new(vec![validation]),
        });
        let mut remembered = self.lock();
        if let Some((replaced, _)) = remembered.documents.push(query.to_string(), known) {
            remembered.text_bytes -= replaced.len();
        }
        remembered.text_bytes += query.len();
        while remembered.text_bytes > MAX_TEXT_BYTES || remembered.documents.len() > MAX_DOCUMENTS {
            match remembered.documents.pop_lru() {
                Some((evicted, _)) => remembered.text_bytes -= evicted.len(),
                None => break,
            }
        }
    }

    /// Documents and bytes of query text remembered.
    pub fn size(&self) -> (usize, usize) {
        let remembered = self.lock();
        (remembered.documents.len(), remembered.text_bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RequestDocument {
    /// Keeps a copy of a new text's parsed document, to remember once it
    /// validates.
    pub fn parsed(&mut self, document: &ExecutableDocument) {
        if let Seen::New { parsed, .. } = &mut self.seen {
            *parsed = Some(document.clone());
        }
    }

    /// The validation remembered for this document, operation and variables.
    pub fn validation(&self) -> Option<ValidationResult> {
        match &self.seen {
            Seen::Known(known) => known.validation(self.operation_name.as_deref(), &self.variables),
            Seen::New { .. } => None,
        }
    }
}

impl Known {
    /// A copy of the parsed document, for the engine to take apart.
    fn document(&self) -> ExecutableDocument {
        self.document.clone()
    }

    /// The validation this document had with the same operation name and
    /// variables.
    pub fn validation(
        &self,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Option<ValidationResult> {
        self.lock()
            .iter()
            .find(|v| v.operation_name.as_deref() == operation_name && v.variables == *variables)
            .map(|v| v.result)
    }

    /// Remembers one more validation, dropping the oldest past the bound.
    fn add_validation(&self, validation: Validation) {
        let mut validations = self.lock();
        if validations.len() >= VALIDATIONS_PER_DOCUMENT {
            validations.remove(0);
        }
        validations.push(validation);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Validation>> {
        self.validations.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validation(variables: Variables) -> Validation {
        Validation {
            operation_name: None,
            variables,
            result: ValidationResult {
                cache_control: Default::default(),
                complexity: 3,
                depth: 2,
            },
        }
    }

    fn parsed(query: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(query).unwrap()
    }

    #[test]
    fn a_validation_is_reused_only_for_the_same_operation_and_variables() {
        let documents = Documents::default();
        let query = "query Page($first: Int) { services(first: $first) { nodes { id } } }";
        let first_20 = Variables::from_json(serde_json::json!({ "first": 20 }));
        documents.remember(query, parsed(query), validation(first_20.clone()));
        let known = documents.get(query).expect("remembered");
        assert_eq!(known.validation(None, &first_20).unwrap().complexity, 3);
        let first_100 = Variables::from_json(serde_json::json!({ "first": 100 }));
        assert!(known.validation(None, &first_100).is_none());
        assert!(known.validation(Some("Page"), &first_20).is_none());
        for n in 0..VALIDATIONS_PER_DOCUMENT {
            known.add_validation(validation(Variables::from_json(
                serde_json::json!({ "first": n }),
            )));
        }
        assert!(
            known.validation(None, &first_20).is_none(),
            "the oldest went"
        );
        assert!(documents.get("{ services { nodes { id } } }").is_none());
    }

    #[test]
    fn documents_are_bounded_by_count_and_text_least_recently_used_first() {
        let documents = Documents::default();
        let query = |n: usize| format!("{{ service(id: \"{n}\") {{ name }} }}");
        for n in 0..MAX_DOCUMENTS + 10 {
            let text = query(n);
            documents.remember(&text, parsed(&text), validation(Variables::default()));
            if n == MAX_DOCUMENTS - 1 {
                // Used again before the cache is full: 1 to 10 make room instead.
                assert!(documents.get(&query(0)).is_some());
            }
        }
        let (count, bytes) = documents.size();
        assert_eq!(count, MAX_DOCUMENTS);
        assert!(documents.get(&query(0)).is_some());
        assert!(documents.get(&query(1)).is_none());
        assert!(documents.get(&query(MAX_DOCUMENTS + 9)).is_some());
        assert_eq!(
            bytes,
            (0..MAX_DOCUMENTS + 10)
                .filter(|&n| documents.get(&query(n)).is_some())
                .map(|n| query(n).len())
                .sum::<usize>()
        );

        let long = format!("{{ {} }}", "__typename ".repeat(MAX_DOCUMENT_BYTES / 10));
        documents.remember(&long, parsed(&long), validation(Variables::default()));
        assert!(documents.get(&long).is_none(), "too long to remember");
        let wide = "x".repeat(MAX_DOCUMENT_BYTES - 100);
        for n in 0..MAX_TEXT_BYTES / wide.len() + 2 {
            let text = format!("{{ a{n}: __typename }} # {wide}");
            documents.remember(&text, parsed(&text), validation(Variables::default()));
        }
        assert!(documents.size().1 <= MAX_TEXT_BYTES);
    }
}
