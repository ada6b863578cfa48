//! The API v2 wire format from the provider's side: request fields, the answer
//! shapes, status labels, and the error texts clients match on (the common
//! "API v2" of Perfect Panel-style panels, as JustAnotherPanel and Peakerr
//! document it; `providers/api_v2.rs` speaks the client side). Logical errors are `{"error": "..."}` with HTTP
//! 200; only a rate limit is a 429.

use std::collections::HashMap;

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

pub use crate::domain::orders::labels::{order_label, refill_label, rupiah};
use crate::{db::enums::ServiceType, domain::orders::guard::ACTIVE_LINK_MESSAGE, error::AppError};

/// The request's fields, query and body merged.
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// A field's text, trimmed; absent or empty is `None`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A whole-number field; present but not a number is an incorrect request.
    pub fn number(&self, name: &str) -> Result<Option<i64>, ApiV2Error> {
        self.text(name)
            .map(|v| v.parse::<i64>().map_err(|_| ApiV2Error::IncorrectRequest))
            .transpose()
    }

    /// A text field as sent (multi-line fields keep their lines).
    pub fn raw(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }
}

/// Ids per bulk call, as every API v2 panel allows.
pub const MAX_IDS: usize = 100;

/// Ids as sent, each with its value when it is a valid id.
pub type IdList = Vec<(String, Option<i64>)>;

/// A comma-separated id list: each entry parsed, or kept as the text it was so the
/// answer can name it. More than [`MAX_IDS`] is an incorrect request.
pub fn id_list(text: &str) -> Result<IdList, ApiV2Error> {
    let ids: IdList = text
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| (id.to_string(), id.parse::<i64>().ok().filter(|n| *n > 0)))
        .collect();
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(ApiV2Error::IncorrectRequest);
    }
    Ok(ids)
}

/// The API v2 type label of a service type ("Custom Comments", ...).
pub fn type_label(service_type: ServiceType) -> &'static str {
    match service_type {
        ServiceType::Default => "Default",
        ServiceType::Package => "Package",
        ServiceType::CustomComments => "Custom Comments",
        ServiceType::CustomCommentsPackage => "Custom Comments Package",
        ServiceType::Mentions => "Mentions",
        ServiceType::MentionsWithHashtags => "Mentions with Hashtags",
        ServiceType::MentionsCustomList => "Mentions Custom List",
        ServiceType::MentionsHashtag => "Mentions Hashtag",
        ServiceType::MentionsUserFollowers => "Mentions User Followers",
        ServiceType::MentionsMediaLikers => "Mentions Media Likers",
        ServiceType::CommentLikes => "Comment Likes",
        ServiceType::CommentReplies => "Comment Replies",
        ServiceType::Poll => "Poll",
        ServiceType::InvitesFromGroups => "Invites from Groups",
        ServiceType::Subscriptions => "Subscriptions",
    }
}

/// Why a call failed, as the wire says it.
#[derive(Debug)]
pub enum ApiV2Error {
    InvalidKey,
    Banned,
    IncorrectRequest,
    IncorrectService,
    IncorrectOrder,
    RefillNotFound,
    NotEnoughFunds,
    QuantityBelow(i64),
    QuantityAbove(i64),
    BadLink,
    RateLimited(u64),
    /// Any other refusal, in the domain's own words (a conflict, a validation).
    App(AppError),
}

impl From<AppError> for ApiV2Error {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound("order") => ApiV2Error::IncorrectOrder,
            AppError::InsufficientBalance { .. } => ApiV2Error::NotEnoughFunds,
            // The same-link guard speaks in its own words, which tools match on.
            AppError::Validation {
                ref field,
                ref message,
            } if field == "link" && message != ACTIVE_LINK_MESSAGE => ApiV2Error::BadLink,
            AppError::Validation { ref field, .. } if field == "serviceId" => {
                ApiV2Error::IncorrectService
            }
            other => ApiV2Error::App(other),
        }
    }
}

impl ApiV2Error {
    /// The text of `{"error": ...}`.
    pub fn text(&self) -> String {
        match self {
            ApiV2Error::InvalidKey => "Invalid API key".into(),
            ApiV2Error::Banned => "Your account is suspended".into(),
            ApiV2Error::IncorrectRequest => "Incorrect request".into(),
            ApiV2Error::IncorrectService => "Incorrect service ID".into(),
            ApiV2Error::IncorrectOrder => "Incorrect order ID".into(),
            ApiV2Error::RefillNotFound => "Refill not found".into(),
            ApiV2Error::NotEnoughFunds => "Not enough funds on balance".into(),
            ApiV2Error::QuantityBelow(min) => format!("Quantity less than minimal {min}"),
            ApiV2Error::QuantityAbove(max) => format!("Quantity more than maximum {max}"),
            ApiV2Error::BadLink => "Bad link".into(),
            ApiV2Error::RateLimited(_) => "Too many requests".into(),
            ApiV2Error::App(error) => {
                let public = error.public();
                if public.status.is_server_error() {
                    "Internal error, try again later".into()
                } else {
                    public.message
                }
            }
        }
    }

    /// `{"error": ...}` inside a bulk answer.
    pub fn as_value(&self) -> Value {
        json!({ "error": self.text() })
    }
}

pub fn ok_answer(answer: Value) -> Response {
    Json(answer).into_response()
}

/// `{"error": ...}`: HTTP 200 for logical errors (clients read the text), 429 with
/// `Retry-After` for a rate limit, 500 when we failed.
pub fn error_answer(error: ApiV2Error) -> Response {
    let body = Json(error.as_value());
    match &error {
        ApiV2Error::RateLimited(retry_after) => (
            http::StatusCode::TOO_MANY_REQUESTS,
            [(http::header::RETRY_AFTER, retry_after.to_string())],
            body,
        )
            .into_response(),
        ApiV2Error::App(app) if app.public().status.is_server_error() => {
            tracing::error!(error = %app, "api v2 call failed");
            (http::StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
        }
        _ => body.into_response(),
    }
}
