//! `GET /updates.xml`: the public catalogue updates feed as Atom (the newest
//! entries of `service_updates`), with the same `ETag`/`Last-Modified` handling
//! as the other public files (`seo.rs`). List prices only; no provider or cost.

use axum::{extract::State, http::HeaderMap, response::Response};

use super::{
    HttpState,
    seo::{cacheable, error_response, escape, w3c_date},
};
use crate::{
    db::service_updates::ServiceUpdateRow,
    domain::{catalog::updates, content::seo::service_path},
};

/// Entries in the feed.
const FEED_ENTRIES: i64 = 100;

pub async fn feed(State(state): State<HttpState>, request: HeaderMap) -> Response {
    let loaded = async {
        let mut conn = state.app.pool.get().await?;
        Ok(ServiceUpdateRow::newest_named(&mut conn, FEED_ENTRIES).await?)
    }
    .await;
    let updates = match loaded {
        Ok(updates) => updates,
        Err(error) => return error_response(error),
    };
    let base = &state.app.config.content.public_base_url;
    let feed_url = format!("{base}/updates.xml");
    let updated = updates.first().map(|(u, _, _)| u.created_at);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    xml.push_str(&format!(
        "  <title>Service updates</title>\n  <id>{}</id>\n  <link rel=\"self\" href=\"{}\"/>\n  <updated>{}</updated>\n  <author><name>booster</name></author>\n",
        escape(&feed_url),
        escape(&feed_url),
        w3c_date(updated.unwrap_or(chrono::DateTime::UNIX_EPOCH)),
    ));
    for (update, name, slug) in &updates {
        let url = format!("{base}{}", service_path(slug));
        xml.push_str(&format!(
            "  <entry>\n    <title>{}</title>\n    <id>{}#{}</id>\n    <link rel=\"alternate\" href=\"{}\"/>\n    <updated>{}</updated>\n    <category term=\"{}\"/>\n  </entry>\n",
            escape(&updates::headline(update, name)),
            escape(&feed_url),
            update.id,
            escape(&url),
            w3c_date(update.created_at),
            update.kind.as_str(),
        ));
    }
    xml.push_str("</feed>\n");
    cacheable(
        &request,
        "application/atom+xml; charset=utf-8",
        xml,
        updated,
    )
}
