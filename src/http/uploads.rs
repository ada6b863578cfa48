//! Multipart GraphQL requests (file uploads), checked before async-graphql's parser
//! sees them: that parser opens a temporary file for every file part before any
//! limit applies, so a body of thousands of empty parts would exhaust the process's
//! descriptors. Here the body (already bounded by `MAX_BODY_BYTES`, in memory) is
//! walked once with `multer` without opening anything: at most `UPLOAD_MAX_FILES`
//! file parts of at most `UPLOAD_MAX_BYTES` each, and only for an operation whose
//! every root field takes an upload ([`UPLOAD_FIELDS`]). The caller checks first that
//! the request is signed in.

use async_graphql::{
    http::MultipartOptions,
    parser::types::{OperationType, Selection},
};
use axum::body::Bytes;

/// Root fields that take an `Upload` argument: the only ones a multipart request
/// may select.
pub const UPLOAD_FIELDS: &[&str] = &[
    "placeMassOrder",
    "adminImportBankStatement",
    "attachDepositProof",
    "__typename",
];

/// The limits `async_graphql::http::receive_body` applies too.
#[derive(Clone, Copy, Debug)]
pub struct UploadLimits {
    pub max_files: usize,
    pub max_file_bytes: usize,
}

impl UploadLimits {
    pub fn options(self) -> MultipartOptions {
        MultipartOptions::default()
            .max_num_files(self.max_files)
            .max_file_size(self.max_file_bytes)
    }
}

/// Why a multipart body is refused (all answered 4xx).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    TooManyFiles,
    FileTooLarge,
    NotAnUploadOperation,
    Malformed,
}

impl Refused {
    pub fn status(&self) -> http::StatusCode {
        match self {
            Refused::TooManyFiles | Refused::FileTooLarge => http::StatusCode::PAYLOAD_TOO_LARGE,
            Refused::NotAnUploadOperation | Refused::Malformed => http::StatusCode::BAD_REQUEST,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Refused::TooManyFiles => "the request carries more files than allowed",
            Refused::FileTooLarge => "an uploaded file is larger than allowed",
            Refused::NotAnUploadOperation => "only an operation that takes a file may upload one",
            Refused::Malformed => {
                "the upload does not follow the GraphQL multipart request specification"
            }
        }
    }
}

/// Whether the request is a multipart body (an upload).
pub fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/")
    })
}

/// Walks the parts of `body` without storing any: counts file parts and their
/// sizes, and checks that the `operations` part selects only upload fields.
pub async fn precheck(
    content_type: &str,
    body: &Bytes,
    limits: UploadLimits,
) -> Result<(), Refused> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| Refused::Malformed)?;
    let stream =
        futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(body.clone())));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut files, mut operations) = (0usize, None);
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| Refused::Malformed)?
    {
        match field.name() {
            Some("operations") => {
                operations = Some(field.bytes().await.map_err(|_| Refused::Malformed)?);
            }
            Some("map") => {}
            _ => {
                files += 1;
                if files > limits.max_files {
                    return Err(Refused::TooManyFiles);
                }
                let mut size = 0usize;
                while let Some(chunk) = field.chunk().await.map_err(|_| Refused::Malformed)? {
                    size += chunk.len();
                    if size > limits.max_file_bytes {
                        return Err(Refused::FileTooLarge);
                    }
                }
            }
        }
    }
    let operations = operations.ok_or(Refused::Malformed)?;
    let request: serde_json::Value =
        serde_json::from_slice(&operations).map_err(|_| Refused::Malformed)?;
    let query = request
        .get("query")
        .and_then(|q| q.as_str())
        .ok_or(Refused::Malformed)?;
    if selects_only_upload_fields(query) {
        Ok(())
    } else {
        Err(Refused::NotAnUploadOperation)
    }
}

/// Every operation of `query` is a mutation selecting only [`UPLOAD_FIELDS`], as
/// plain fields (no fragments at the root).
fn selects_only_upload_fields(query: &str) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    document.operations.iter().all(|(_, operation)| {
        operation.node.ty == OperationType::Mutation
            && operation
                .node
                .selection_set
                .node
                .items
                .iter()
                .all(|item| match &item.node {
                    Selection::Field(field) => {
                        UPLOAD_FIELDS.contains(&field.node.name.node.as_str())
                    }
                    _ => false,
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A multipart body (boundary `B`) of `files` empty file parts for `query`.
    fn body(files: usize, query: &str) -> Bytes {
        let part = |name: &str, filename: &str, content: &str| {
            format!(
                "--B\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{content}\r\n"
            )
        };
        let operations = serde_json::json!({ "query": query, "variables": { "file": null } });
        let mut body = part("operations", "", &operations.to_string()) + &part("map", "", "{}");
        for i in 0..files {
            body += &part(&i.to_string(), "; filename=\"f\"", "");
        }
        Bytes::from(body + "--B--\r\n")
    }

    const LIMITS: UploadLimits = UploadLimits {
        max_files: 1,
        max_file_bytes: 10,
    };
    const MASS: &str =
        "mutation($file: Upload) { placeMassOrder(input: { file: $file }) { placedCount } }";

    #[tokio::test]
    async fn parts_are_counted_before_anything_is_opened() {
        let ct = "multipart/form-data; boundary=B";
        assert_eq!(precheck(ct, &body(1, MASS), LIMITS).await, Ok(()));
        assert_eq!(
            precheck(ct, &body(30_000, MASS), LIMITS).await,
            Err(Refused::TooManyFiles)
        );
        assert_eq!(
            precheck(ct, &body(1, "{ me { id } }"), LIMITS).await,
            Err(Refused::NotAnUploadOperation)
        );
        assert_eq!(
            precheck(ct, &body(1, "mutation { signOut }"), LIMITS).await,
            Err(Refused::NotAnUploadOperation)
        );
        assert_eq!(
            precheck("multipart/form-data", &body(1, MASS), LIMITS).await,
            Err(Refused::Malformed)
        );
    }
}
