//! The files crawlers read: `GET /robots.txt`, `GET /sitemap.xml` (a urlset, or
//! past `SITEMAP_URLS_PER_FILE` URLs a sitemap index of `/sitemaps/<n>.xml`) and
//! `GET /feed.xml` (Atom, the newest posts). Every URL in them is at
//! `PUBLIC_BASE_URL`, which should proxy these paths here. Responses carry an
//! `ETag` (of the body) and `Last-Modified` (the newest change listed) and answer
//! a matching `If-None-Match` or `If-Modified-Since` with 304. All text is
//! XML-escaped.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
/// XML-escaped text without the characters XML cannot carry (rows older than
/// the `domain/text.rs` rule, or written by hand, still make valid XML).
pub(super) fn escape(text: &str) -> String {
    quick_xml::escape::escape(crate::domain::text::xml_safe(text).as_ref()).into_owned()
}
use sha2::{Digest, Sha256};

use super::HttpState;
use crate::{
    domain::content::{
        site,
        sitemap::{self, PublicUrl},
    },
    error::{AppError, AppResult},
};

/// Posts in the feed.
const FEED_ENTRIES: i64 = 50;

pub(super) fn error_response(error: AppError) -> Response {
    let public = error.public();
    (public.status, public.message).into_response()
}

/// A cacheable answer: 304 when the client's copy is current.
pub(super) fn cacheable(
    request: &HeaderMap,
    content_type: &'static str,
    body: String,
    last_modified: Option<DateTime<Utc>>,
) -> Response {
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let last_modified_text =
        last_modified.map(|at| at.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    let etag_matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*");
    let has_if_none_match = request.contains_key(header::IF_NONE_MATCH);
    // If-Modified-Since counts only without If-None-Match (RFC 9110 13.1.3).
    let not_modified_since = !has_if_none_match
        && match (
            last_modified,
            request
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok()),
        ) {
            (Some(changed), Some(since)) => changed.timestamp() <= since.timestamp(),
            _ => false,
        };
    let status = if etag_matches || not_modified_since {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = if status == StatusCode::NOT_MODIFIED {
        status.into_response()
    } else {
        (status, body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Some(value) = last_modified_text.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    response
}

pub(super) fn w3c_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub async fn robots(State(state): State<HttpState>, request: HeaderMap) -> Response {
    let base = &state.app.config.content.public_base_url;
    let body = format!(
        "User-agent: *\n\
         Disallow: /graphql\n\
         Disallow: /api/\n\
         Disallow: /admin\n\
         Disallow: /webhooks/\n\
         Disallow: /newsletter/\n\
         Disallow: /healthz\n\
         Disallow: /readyz\n\
         Disallow: /metrics\n\
         Allow: /\n\
         \n\
         Sitemap: {base}/sitemap.xml\n"
    );
    cacheable(&request, "text/plain; charset=utf-8", body, None)
}

async fn public_urls(state: &HttpState) -> AppResult<Vec<PublicUrl>> {
    let mut conn = state.app.pool.get().await?;
    sitemap::public_urls(&mut conn).await
}

fn urlset(base: &str, urls: &[PublicUrl]) -> String {
    let mut xml = String::with_capacity(120 * urls.len() + 200);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for url in urls {
        xml.push_str("  <url><loc>");
        xml.push_str(&escape(format!("{base}{}", url.path).as_str()));
        xml.push_str("</loc><lastmod>");
        xml.push_str(&w3c_date(url.last_modified));
        xml.push_str("</lastmod></url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

fn newest(urls: &[PublicUrl]) -> Option<DateTime<Utc>> {
    urls.iter().map(|u| u.last_modified).max()
}

pub async fn sitemap(State(state): State<HttpState>, request: HeaderMap) -> Response {
    let urls = match public_urls(&state).await {
        Ok(urls) => urls,
        Err(error) => return error_response(error),
    };
    let base = &state.app.config.content.public_base_url;
    let per_file = state.app.config.content.sitemap_urls_per_file;
    let body = if urls.len() <= per_file {
        urlset(base, &urls)
    } else {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for (n, chunk) in urls.chunks(per_file).enumerate() {
            xml.push_str("  <sitemap><loc>");
            xml.push_str(&escape(format!("{base}/sitemaps/{}.xml", n + 1).as_str()));
            xml.push_str("</loc>");
            if let Some(at) = newest(chunk) {
                xml.push_str("<lastmod>");
                xml.push_str(&w3c_date(at));
                xml.push_str("</lastmod>");
            }
            xml.push_str("</sitemap>\n");
        }
        xml.push_str("</sitemapindex>\n");
        xml
    };
    cacheable(
        &request,
        "application/xml; charset=utf-8",
        body,
        newest(&urls),
    )
}

/// One file of a sitemap index: `/sitemaps/<n>.xml`, n from 1.
pub async fn sitemap_file(
    State(state): State<HttpState>,
    Path(file): Path<String>,
    request: HeaderMap,
) -> Response {
    let Some(n) = file
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n >= 1)
    else {
        return error_response(AppError::NotFound("sitemap"));
    };
    let urls = match public_urls(&state).await {
        Ok(urls) => urls,
        Err(error) => return error_response(error),
    };
    let per_file = state.app.config.content.sitemap_urls_per_file;
    let Some(chunk) = urls.chunks(per_file).nth(n - 1) else {
        return error_response(AppError::NotFound("sitemap"));
    };
    let body = urlset(&state.app.config.content.public_base_url, chunk);
    cacheable(
        &request,
        "application/xml; charset=utf-8",
        body,
        newest(chunk),
    )
}

pub async fn feed(State(state): State<HttpState>, request: HeaderMap) -> Response {
    let loaded = async {
        let mut conn = state.app.pool.get().await?;
        let posts = sitemap::feed_posts(&mut conn, FEED_ENTRIES).await?;
        let site = site::load(&mut conn).await?;
        AppResult::Ok((posts, site))
    }
    .await;
    let (posts, site) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_response(error),
    };
    let base = &state.app.config.content.public_base_url;
    let title = match site.site_name.trim() {
        "" => "Blog".to_string(),
        name => format!("{name} blog"),
    };
    let author = match site.site_name.trim() {
        "" => "booster",
        name => name,
    };
    let updated = posts
        .iter()
        .map(sitemap::changed_at)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    let feed_url = format!("{base}/feed.xml");
    xml.push_str(&format!(
        "  <title>{}</title>\n  <id>{}</id>\n  <link rel=\"self\" href=\"{}\"/>\n  <link rel=\"alternate\" href=\"{}\"/>\n  <updated>{}</updated>\n  <author><name>{}</name></author>\n",
        escape(title.as_str()),
        escape(feed_url.as_str()),
        escape(feed_url.as_str()),
        escape(format!("{base}/blog").as_str()),
        w3c_date(updated),
        escape(author),
    ));
    for post in &posts {
        let url = format!(
            "{base}{}",
            crate::domain::content::seo::content_path(post.kind, post.language, &post.slug)
        );
        let published = post
            .published_at
            .or(post.publish_at)
            .unwrap_or(post.created_at);
        xml.push_str(&format!(
            "  <entry>\n    <title>{}</title>\n    <id>{}</id>\n    <link rel=\"alternate\" href=\"{}\"/>\n    <published>{}</published>\n    <updated>{}</updated>\n    <summary>{}</summary>\n    <content type=\"html\">{}</content>\n",
            escape(post.title.as_str()),
            escape(url.as_str()),
            escape(url.as_str()),
            w3c_date(published),
            w3c_date(sitemap::changed_at(post)),
            escape(post.excerpt.as_str()),
            escape(post.body_html.as_str()),
        ));
        for tag in &post.tags {
            xml.push_str(&format!(
                "    <category term=\"{}\"/>\n",
                escape(tag.as_str())
            ));
        }
        xml.push_str("  </entry>\n");
    }
    xml.push_str("</feed>\n");
    let last_modified = (!posts.is_empty()).then_some(updated);
    cacheable(
        &request,
        "application/atom+xml; charset=utf-8",
        xml,
        last_modified,
    )
}
