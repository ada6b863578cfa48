//! The newsletter's links: `GET /newsletter/confirm` (the double opt-in link) and
//! `/newsletter/unsubscribe` (GET shows a one-button page, so a mail scanner
//! following links unsubscribes nobody; POST unsubscribes, which is also what
//! mail clients send for RFC 8058 one-click unsubscribe). Both take `email` and
//! `token` in the query; the rules are in `domain::content::newsletter`.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use quick_xml::escape::escape;
use serde::Deserialize;

use super::HttpState;
use crate::{domain::content::newsletter, error::AppError};

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    token: String,
}

fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\"><title>{title}</title></head><body><h1>{title}</h1>{body_html}</body></html>",
            title = escape(title)
        )),
    )
        .into_response()
}

fn refused(error: AppError) -> Response {
    let public = error.public();
    page(
        public.status,
        "Link tidak berlaku / Invalid link",
        &format!("<p>{}</p>", escape(public.message.as_str())),
    )
}

pub async fn confirm(State(state): State<HttpState>, Query(link): Query<LinkQuery>) -> Response {
    let result = async {
        let mut conn = state.app.pool.get().await?;
        newsletter::confirm(&mut conn, &state.app.tokens, &link.email, &link.token).await
    }
    .await;
    match result {
        Ok(_) => page(
            StatusCode::OK,
            "Langganan dikonfirmasi / Subscription confirmed",
            "<p>Terima kasih! / Thank you!</p>",
        ),
        Err(error) => refused(error),
    }
}

/// A page with one button that POSTs the same link.
pub async fn unsubscribe_page(Query(link): Query<LinkQuery>) -> Response {
    let action = format!(
        "/newsletter/unsubscribe?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("email", &link.email)
            .append_pair("token", &link.token)
            .finish()
    );
    page(
        StatusCode::OK,
        "Berhenti berlangganan / Unsubscribe",
        &format!(
            "<p>{}</p><form method=\"post\" action=\"{}\"><button type=\"submit\">Berhenti berlangganan / Unsubscribe</button></form>",
            escape(link.email.as_str()),
            escape(action.as_str())
        ),
    )
}

pub async fn unsubscribe(
    State(state): State<HttpState>,
    Query(link): Query<LinkQuery>,
) -> Response {
    let result = async {
        let mut conn = state.app.pool.get().await?;
        newsletter::unsubscribe(&mut conn, &state.app.tokens, &link.email, &link.token).await
    }
    .await;
    match result {
        Ok(()) => page(
            StatusCode::OK,
            "Berhenti berlangganan / Unsubscribed",
            "<p>Anda tidak akan menerima newsletter lagi. / You will not receive the newsletter any more.</p>",
        ),
        Err(error) => refused(error),
    }
}
