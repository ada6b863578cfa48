//! GraphQL over HTTP as its specification (graphql-over-http) and the reference
//! audit suite (npm `graphql-http`) ask: the answer's media type from `Accept`,
//! the request parameters read strictly (a malformed request is 400 whatever the
//! media type), and the status of a GraphQL answer: always 200 under
//! `application/json`; under `application/graphql-response+json` a request error
//! (nothing was executed) is 4xx and has no `data` entry. Also who may keep an
//! answer (`Cache-Control`): only anonymous answers whose every root field is a
//! public storefront read (`graphql::cache_hints`).

use async_graphql::{ServerError, Value};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value as Json};

use crate::{error::AppError, graphql::error::GraphqlError};

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The media type of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: the legacy type, for clients that ask for it, for `*/*`
    /// and when `Accept` is missing.
    Json,
    /// `application/graphql-response+json`.
    GraphqlResponse,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json; charset=utf-8",
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// One media range of `Accept` with its weight in thousandths.
fn ranges(accept: &str) -> impl Iterator<Item = (&str, u16)> {
    accept.split(',').filter_map(|range| {
        let mut parts = range.split(';');
        let media = parts.next()?.trim();
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next()
            .map_or(1000, thousandths);
        (!media.is_empty()).then_some((media, weight))
    })
}

/// An RFC 9110 qvalue (`0`, `0.5`, `1.000`) in thousandths; malformed counts as 0.
fn thousandths(q: &str) -> u16 {
    let (whole, fraction) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    match (whole, digits.parse::<u16>()) {
        ("1", Ok(_)) => 1000,
        ("0", Ok(f)) if fraction.len() <= 3 => f,
        _ => 0,
    }
}

/// The media type to answer in, or `None` when `Accept` allows neither JSON type
/// (406). A tie goes to `application/graphql-response+json`.
pub fn negotiate(accept: Option<&str>) -> Option<Media> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Media::Json);
    };
    let mut best: Option<(u16, Media)> = None;
    for (media, weight) in ranges(accept) {
        let candidate = match media.to_ascii_lowercase().as_str() {
            GRAPHQL_RESPONSE_JSON => Media::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((w, m)) => {
                weight > w
                    || (weight == w && candidate == Media::GraphqlResponse && m == Media::Json)
            }
        };
        if weight > 0 && better {
            best = Some((weight, candidate));
        }
    }
    best.map(|(_, media)| media)
}

/// Whether a browser is navigating here (`text/html` asked for by name): the
/// playground's page rather than an answer.
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        ranges(accept).any(|(media, weight)| media.eq_ignore_ascii_case("text/html") && weight > 0)
    })
}

/// A request's parameters.
#[derive(Debug, Default)]
pub struct Params {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Option<Map<String, Json>>,
    pub extensions: Option<Map<String, Json>>,
}

fn refused(what: &str) -> AppError {
    AppError::BadRequest(what.into())
}

/// A JSON body: an object whose `query` and `operationName` are strings (or
/// null) and whose `variables` and `extensions` are objects (or null).
pub fn params_from_json(body: &[u8]) -> Result<Params, AppError> {
    let value: Json = serde_json::from_slice(body).map_err(|_| {
        refused("the body is not JSON (a GraphQL request is a JSON object with a `query`)")
    })?;
    let Json::Object(mut object) = value else {
        return Err(match value {
            Json::Array(_) => refused("batch requests are not supported"),
            _ => refused("the body is not a GraphQL request (a JSON object with a `query`)"),
        });
    };
    Ok(Params {
        query: string(&mut object, "query")?,
        operation_name: string(&mut object, "operationName")?,
        variables: map(object.remove("variables"), "variables")?,
        extensions: map(object.remove("extensions"), "extensions")?,
    })
}

/// A GET's query string: `variables` and `extensions` are URL-encoded JSON.
pub fn params_from_query_string(query_string: &str) -> Result<Params, AppError> {
    let mut params = Params::default();
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        let json = |name: &str| -> Result<Option<Map<String, Json>>, AppError> {
            let parsed = serde_json::from_str(&value)
                .map_err(|_| refused(&format!("`{name}` is not URL-encoded JSON")))?;
            map(Some(parsed), name)
        };
        match key.as_ref() {
            "query" => params.query = Some(value.into_owned()),
            "operationName" => params.operation_name = Some(value.into_owned()),
            "variables" => params.variables = json("variables")?,
            "extensions" => params.extensions = json("extensions")?,
            _ => {}
        }
    }
    Ok(params)
}

fn string(object: &mut Map<String, Json>, name: &str) -> Result<Option<String>, AppError> {
    match object.remove(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(_) => Err(refused(&format!("`{name}` must be a string"))),
    }
}

fn map(value: Option<Json>, name: &str) -> Result<Option<Map<String, Json>>, AppError> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(map)) => Ok(Some(map)),
        Some(_) => Err(refused(&format!("`{name}` must be an object"))),
    }
}

/// Who asked, which decides who may keep the answer.
#[derive(Clone, Copy, Debug)]
pub struct Audience {
    pub signed_in: bool,
}

/// A GraphQL answer in `media`.
pub fn answer(response: async_graphql::Response, media: Media, audience: Audience) -> Response {
    let request_error = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = match (media, request_error) {
        (Media::GraphqlResponse, true) => status_of(&response.errors[0]),
        _ => StatusCode::OK,
    };
    let cache_control = if audience.signed_in {
        "private, no-store".to_string()
    } else {
        let hint = response.cache_control;
        if response.errors.is_empty() && hint.public && hint.max_age > 0 {
            format!("public, max-age={}", hint.max_age)
        } else {
            "no-store".to_string()
        }
    };
    let headers = response.http_headers.clone();
    // Written straight from the engine's answer: going through a `serde_json::Value`
    // first would copy every object and string of a page once more.
    let body = if request_error && media == Media::GraphqlResponse {
        let mut body = serde_json::to_value(&response).unwrap_or(Json::Null);
        if let Json::Object(object) = &mut body {
            object.remove("data");
        }
        body.to_string().into_bytes()
    } else {
        serde_json::to_vec(&response).unwrap_or_else(|_| b"null".to_vec())
    };
    let mut answer = json_bytes_response(status, media, body);
    let answer_headers = answer.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        answer_headers.insert(header::CACHE_CONTROL, value);
    }
    // A shared cache keys the answer by what decides it: the media type and
    // whether a credential came with the request.
    answer_headers.append(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization"),
    );
    answer_headers.extend(headers);
    answer
}

/// The status of a request error under `application/graphql-response+json`.
fn status_of(error: &ServerError) -> StatusCode {
    let code = error
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get("code"));
    match code {
        Some(Value::String(code)) => match code.as_str() {
            "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" | "PERSISTED_QUERY_NOT_IN_LIST" => StatusCode::FORBIDDEN,
            "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
            "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        },
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A request refused before execution: the error's own status, no `data`.
pub fn refusal(error: AppError, media: Media) -> Response {
    refusal_with_status(error.http_status(), error, media)
}

pub fn refusal_with_status(status: StatusCode, error: AppError, media: Media) -> Response {
    let error = GraphqlError::from(error).into_server_error();
    let body = serde_json::json!({ "errors": [error] });
    let mut answer = json_response(status, media, &body);
    answer
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    answer
}

fn json_response(status: StatusCode, media: Media, body: &Json) -> Response {
    json_bytes_response(status, media, body.to_string().into_bytes())
}

fn json_bytes_response(status: StatusCode, media: Media, body: Vec<u8>) -> Response {
    let mut answer = (status, body).into_response();
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_type_follows_accept() {
        use Media::*;
        for (accept, expected) in [
            (None, Some(Json)),
            (Some(""), Some(Json)),
            (Some("*/*"), Some(Json)),
            (Some("application/json"), Some(Json)),
            (Some(GRAPHQL_RESPONSE_JSON), Some(GraphqlResponse)),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Some(GraphqlResponse),
            ),
            (
                Some("application/json, application/graphql-response+json;q=0.5"),
                Some(Json),
            ),
            (
                Some("application/json, application/graphql-response+json"),
                Some(GraphqlResponse),
            ),
            (
                Some("text/html,application/xhtml+xml,*/*;q=0.8"),
                Some(Json),
            ),
            (Some("application/json;q=0"), None),
            (Some("text/plain"), None),
        ] {
            assert_eq!(negotiate(accept), expected, "{accept:?}");
        }
        assert!(wants_html(Some(
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )));
        assert!(!wants_html(Some("application/json")));
        assert!(!wants_html(None));
    }

    #[test]
    fn qvalues_are_read_in_thousandths() {
        for (q, expected) in [
            ("1", 1000),
            ("1.000", 1000),
            ("0.9", 900),
            ("0.125", 125),
            ("0", 0),
            ("x", 0),
            ("0.1234", 0),
        ] {
            assert_eq!(thousandths(q), expected, "{q}");
        }
    }

    #[test]
    fn parameters_of_the_wrong_type_are_refused() {
        for body in [
            r#"{"query": {"obj": "ect"}}"#,
            r#"{"query": 0}"#,
            r#"{"query": "{ a }", "operationName": false}"#,
            r#"{"query": "{ a }", "variables": "string"}"#,
            r#"{"query": "{ a }", "variables": ["array"]}"#,
            r#"{"query": "{ a }", "extensions": 0}"#,
            r#"[{"query": "{ a }"}]"#,
            r#"{ "not a JSON"#,
        ] {
            assert!(params_from_json(body.as_bytes()).is_err(), "{body}");
        }
        let params = params_from_json(
            br#"{"query": "{ a }", "operationName": null, "variables": null, "extensions": {"some": "value"}}"#,
        )
        .unwrap();
        assert_eq!(params.query.as_deref(), Some("{ a }"));
        assert!(params.variables.is_none());
        assert!(params.extensions.is_some());
    }

    #[test]
    fn a_get_carries_json_in_its_query_string() {
        let params = params_from_query_string(
            "query=query%20T(%24n%3A%20String!)%20%7B%20a%20%7D&variables=%7B%22n%22%3A%22x%22%7D&operationName=T",
        )
        .unwrap();
        assert_eq!(params.query.as_deref(), Some("query T($n: String!) { a }"));
        assert_eq!(params.variables.unwrap()["n"], "x");
        assert_eq!(params.operation_name.as_deref(), Some("T"));
        assert!(params_from_query_string("query=%7B%20a%20%7D&variables=%7Bnot").is_err());
    }
}
