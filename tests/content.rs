//! Content and SEO: sanitized Markdown, slugs and redirects, drafts hidden from
//! visitors, scheduled posts, SEO meta defaults, site settings, announcements,
//! keywords, the sitemap, robots.txt and feed with their caching, and the
//! newsletter's double opt-in and unsubscribe.

mod common;

use booster::{
    db::{enums::Fulfillment, mail_outbox::MailRow, schema::mail_outbox},
    jobs::scheduled_posts,
};
use common::*;
use serde_json::{Value, json};

const CREATE: &str = "mutation($input: CreateContentInput!) { adminCreateContent(input: $input) { id slug status bodyHtml excerpt readingMinutes } }";
const PUBLISH: &str = "mutation($id: ID!, $at: DateTime) { adminPublishContent(id: $id, at: $at) { id status publishAt } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateContentInput!) { adminUpdateContent(id: $id, input: $input) { id slug title } }";
const POST: &str = "query($slug: String!) { post(slug: $slug) { id title slug path bodyHtml status seo { metaTitle metaDescription canonicalUrl ogTitle ogDescription keywords } } }";
const POSTS: &str =
    "query($tag: String) { posts(tag: $tag) { totalCount edges { node { slug } } } }";

const BASE_URL: &str = "https://panel.example";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|config| {
        config.content.public_base_url = BASE_URL.into();
    })
    .await
}

/// Creates a page or post as `admin`; returns its JSON.
async fn create(app: &TestApp, admin: &str, input: Value) -> Value {
    app.ok(Some(admin), CREATE, json!({ "input": input })).await["adminCreateContent"].clone()
}

/// Creates and publishes a post; returns its id and slug.
async fn published_post(app: &TestApp, admin: &str, title: &str, body: &str) -> (String, String) {
    let item = create(
        app,
        admin,
        json!({ "kind": "POST", "title": title, "body": body }),
    )
    .await;
    let id = item["id"].as_str().unwrap().to_string();
    app.ok(Some(admin), PUBLISH, json!({ "id": id })).await;
    (id, item["slug"].as_str().unwrap().to_string())
}

/// Updates a page or post as `admin`; returns the whole answer.
async fn update(app: &TestApp, admin: &str, id: &str, input: Value) -> Value {
    app.gql(Some(admin), UPDATE, json!({ "id": id, "input": input }))
        .await
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.http.get(format!("{}{path}", app.base_url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn markdown_comes_out_without_scripts_handlers_or_javascript_links() {
    let app = spawn().await;
    let admin = app.admin().await;
    let body = "# Promo\n\nBuy **now**.\n\n<script>alert('x')</script>\n\n\
                [click](javascript:alert(1)) <a href=\"jAvAsCrIpT:alert(2)\">two</a>\n\n\
                <img src=\"https://cdn.example/a.png\" onerror=\"alert(3)\">\n\n\
                <div onclick=\"alert(4)\" onmouseover=\"alert(5)\">hover</div>\n\n\
                <iframe src=\"https://evil.example\"></iframe><svg onload=alert(6)></svg>\n\n\
                [ok](https://example.com/page)";
    let (_, slug) = published_post(&app, &admin, "Promo", body).await;
    let post = app.ok(None, POST, json!({ "slug": slug })).await["post"].clone();
    let html = post["bodyHtml"].as_str().unwrap();
    let lower = html.to_lowercase();
    for bad in [
        "<script",
        "alert(",
        "javascript:",
        "onerror",
        "onclick",
        "onmouseover",
        "onload",
        "<iframe",
        "<svg",
    ] {
        assert!(!lower.contains(bad), "{bad} reached a visitor: {html}");
    }
    assert!(html.contains("<h1>Promo</h1>") && html.contains("<strong>now</strong>"));
    assert!(html.contains("href=\"https://example.com/page\""));
    assert!(html.contains("src=\"https://cdn.example/a.png\""));

    // An edit is sanitized the same way.
    let id = post["id"].as_str().unwrap();
    let body = "<a href=\"javascript:void(0)\" onclick=\"steal()\">x</a>";
    let edited = update(&app, &admin, id, json!({ "body": body })).await;
    assert!(edited.get("errors").is_none(), "{edited:#}");
    let html = app.ok(None, POST, json!({ "slug": slug })).await["post"]["bodyHtml"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(
        !html.contains("javascript:") && !html.contains("onclick"),
        "{html}"
    );

    // Bounded, typed refusals naming the field; nothing written.
    let too_long = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "input": { "kind": "PAGE", "title": "t".repeat(201) } }),
        )
        .await;
    assert_invalid(&too_long, "title");
    for (field, value) in [
        ("slug", "About Us!"),
        ("coverImageUrl", "javascript:alert(1)"),
    ] {
        let mut input = json!({ "kind": "PAGE", "title": "About" });
        input[field] = json!(value);
        let bad = app
            .gql(Some(&admin), CREATE, json!({ "input": input }))
            .await;
        assert_eq!(error_field(&bad), field);
    }
    let listed = app.read(&admin, "{ adminContent { totalCount } }").await;
    assert_eq!(listed["adminContent"]["totalCount"], 1);
}

#[tokio::test]
async fn customers_and_visitors_cannot_create_edit_or_see_drafts() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("buyer@example.com").await;
    let draft = create(
        &app,
        &admin,
        json!({ "kind": "POST", "title": "Secret plan", "body": "draft" }),
    )
    .await;
    let id = draft["id"].as_str().unwrap();
    assert_eq!(draft["status"], "DRAFT");

    let input = json!({ "input": { "kind": "PAGE", "title": "Mine" } });
    let edit = json!({ "id": id, "input": { "title": "Hacked" } });
    let by_id = json!({ "id": id });
    let customer_token = Some(customer.as_str());
    let refusals = [
        (customer_token, CREATE, input.clone(), "FORBIDDEN"),
        (None, CREATE, input, "UNAUTHENTICATED"),
        (customer_token, UPDATE, edit.clone(), "FORBIDDEN"),
        (None, UPDATE, edit, "UNAUTHENTICATED"),
        (customer_token, PUBLISH, by_id.clone(), "FORBIDDEN"),
        (
            customer_token,
            "mutation($id: ID!) { adminDeleteContent(id: $id) }",
            by_id,
            "FORBIDDEN",
        ),
        (
            customer_token,
            "mutation { adminUpdateSiteSettings(input: { siteName: \"x\" }) { siteName } }",
            json!({}),
            "FORBIDDEN",
        ),
        (
            customer_token,
            "{ adminContent { totalCount } }",
            json!({}),
            "FORBIDDEN",
        ),
    ];
    for (token, operation, variables, code) in refusals {
        let answer = app.gql(token, operation, variables).await;
        assert_eq!(error_code(&answer), code, "{operation}");
    }

    // The draft is invisible to visitors and customers, visible to admins.
    for token in [None, Some(customer.as_str())] {
        let post = app.ok(token, POST, json!({ "slug": "secret-plan" })).await;
        assert!(post["post"].is_null());
        let posts = app.ok(token, POSTS, json!({})).await;
        assert_eq!(posts["posts"]["totalCount"], 0);
    }
    let seen = app
        .ok(Some(&admin), POST, json!({ "slug": "secret-plan" }))
        .await;
    assert_eq!(seen["post"]["title"], "Secret plan");
    // The Markdown source is admin-only.
    const MARKDOWN: &str = "query { posts { edges { node { bodyMarkdown } } } }";
    let source = app.gql(Some(&customer), MARKDOWN, json!({})).await;
    assert!(source["errors"].is_null() || error_code(&source) == "FORBIDDEN");
    app.ok(Some(&admin), PUBLISH, json!({ "id": id })).await;
    let source = app.gql(Some(&customer), MARKDOWN, json!({})).await;
    assert_eq!(error_code(&source), "FORBIDDEN");
    let title = app.ok(None, POST, json!({ "slug": "secret-plan" })).await;
    assert_eq!(
        title["post"]["title"], "Secret plan",
        "nobody but admins changed it"
    );

    // Every admin change is in the audit log, with the subject before and after.
    let log = app.read(&admin, "{ adminAuditLog(subjectType: \"content\") { edges { node { action subjectId before after } } } }").await;
    let entries = log["adminAuditLog"]["edges"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["content.publish", "content.create"]);
    assert_eq!(entries[0]["node"]["before"]["status"], "DRAFT");
    assert_eq!(entries[0]["node"]["after"]["status"], "PUBLISHED");
}

#[tokio::test]
async fn a_changed_slug_keeps_the_old_url_answering_with_a_redirect_target() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (id, slug) = published_post(&app, &admin, "Jasa Followers Twitter Murah", "body").await;
    assert_eq!(slug, "jasa-followers-twitter-murah");
    // The same title again gets a free slug.
    let second = create(
        &app,
        &admin,
        json!({ "kind": "POST", "title": "Jasa Followers Twitter Murah" }),
    )
    .await;
    assert_eq!(second["slug"], "jasa-followers-twitter-murah-2");

    let renamed = update(&app, &admin, &id, json!({ "slug": "twitter-followers" })).await;
    assert_eq!(
        renamed["data"]["adminUpdateContent"]["slug"], "twitter-followers",
        "{renamed:#}"
    );
    let taken = update(
        &app,
        &admin,
        &id,
        json!({ "slug": "jasa-followers-twitter-murah-2" }),
    )
    .await;
    assert_eq!(error_code(&taken), "CONFLICT");

    const REDIRECT: &str = "query($t: SeoSubject!, $s: String!) { slugRedirect(subjectType: $t, slug: $s) { subjectType id slug path } }";
    assert!(app.ok(None, POST, json!({ "slug": slug })).await["post"].is_null());
    let redirect = app
        .ok(None, REDIRECT, json!({ "t": "POST", "s": slug }))
        .await["slugRedirect"]
        .clone();
    assert_eq!(redirect["slug"], "twitter-followers");
    assert_eq!(redirect["path"], "/blog/twitter-followers");
    assert_eq!(redirect["id"], id.as_str());
    let current = app
        .ok(None, POST, json!({ "slug": "twitter-followers" }))
        .await;
    assert_eq!(current["post"]["id"], id.as_str());
    // A current or unknown slug is no redirect.
    assert!(
        app.ok(
            None,
            REDIRECT,
            json!({ "t": "POST", "s": "twitter-followers" })
        )
        .await["slugRedirect"]
            .is_null()
    );
    assert!(
        app.ok(None, REDIRECT, json!({ "t": "POST", "s": "nothing-here" }))
            .await["slugRedirect"]
            .is_null()
    );

    // Categories and services have slugs too, made from their names.
    let service = service(&app, Fulfillment::Manual, 1000, 10, 1000).await;
    let by_slug = app
        .ok(
            None,
            "{ serviceBySlug(slug: \"twitter-followers\") { id path category { slug path } } }",
            json!({}),
        )
        .await;
    assert_eq!(by_slug["serviceBySlug"]["id"], service.to_string());
    assert_eq!(
        by_slug["serviceBySlug"]["path"],
        "/services/twitter-followers"
    );
    const SET_SLUG: &str =
        "mutation($id: ID!, $s: String!) { adminSetSlug(subjectType: SERVICE, id: $id, slug: $s) }";
    let (_, customer) = app.customer("c@example.com").await;
    assert_eq!(
        error_code(
            &app.gql(
                Some(&customer),
                SET_SLUG,
                json!({ "id": service, "s": "x" })
            )
            .await
        ),
        "FORBIDDEN"
    );
    app.ok(
        Some(&admin),
        SET_SLUG,
        json!({ "id": service, "s": "buy-twitter-followers" }),
    )
    .await;
    let redirect = app
        .ok(
            None,
            REDIRECT,
            json!({ "t": "SERVICE", "s": "twitter-followers" }),
        )
        .await;
    assert_eq!(
        redirect["slugRedirect"]["path"],
        "/services/buy-twitter-followers"
    );
    let bad = app
        .gql(
            Some(&admin),
            SET_SLUG,
            json!({ "id": service, "s": "Bad Slug" }),
        )
        .await;
    assert_eq!(error_field(&bad), "slug");
}

#[tokio::test]
async fn a_scheduled_post_appears_at_its_time_and_not_before() {
    let app = spawn().await;
    let admin = app.admin().await;
    let item = create(
        &app,
        &admin,
        json!({ "kind": "POST", "title": "Launch", "body": "soon" }),
    )
    .await;
    let id = item["id"].as_str().unwrap();
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let scheduled = app
        .ok(
            Some(&admin),
            PUBLISH,
            json!({ "id": id, "at": at.to_rfc3339() }),
        )
        .await;
    assert_eq!(scheduled["adminPublishContent"]["status"], "SCHEDULED");

    assert!(app.ok(None, POST, json!({ "slug": "launch" })).await["post"].is_null());
    assert_eq!(
        app.ok(None, POSTS, json!({})).await["posts"]["totalCount"],
        0
    );
    assert_eq!(scheduled_posts::run(&app.state).await.unwrap().published, 0);
    let sitemap = get(&app, "/sitemap.xml", &[]).await.text().await.unwrap();
    assert!(!sitemap.contains("/blog/launch"));

    tokio::time::sleep(
        (at - chrono::Utc::now()).to_std().unwrap_or_default()
            + std::time::Duration::from_millis(200),
    )
    .await;
    // Visible at its time, before the job has run...
    assert_eq!(
        app.ok(None, POSTS, json!({})).await["posts"]["totalCount"],
        1
    );
    // ...which then records it as published, at the scheduled time.
    assert_eq!(scheduled_posts::run(&app.state).await.unwrap().published, 1);
    assert_eq!(scheduled_posts::run(&app.state).await.unwrap().published, 0);
    let post = app
        .ok(
            None,
            "{ post(slug: \"launch\") { status publishedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(post["post"]["status"], "PUBLISHED");
    let published_at: chrono::DateTime<chrono::Utc> = post["post"]["publishedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((published_at - at).num_milliseconds().abs() < 5);
    let sitemap = get(&app, "/sitemap.xml", &[]).await.text().await.unwrap();
    assert!(sitemap.contains("https://panel.example/blog/launch"));
}

/// The `<url>` entries of a sitemap as (loc, lastmod), checking the schema's shape:
/// a `urlset` root in the sitemap namespace whose children are `url` elements,
/// each with exactly one `loc` and one `lastmod` and nothing else.
fn parse_urlset(xml: &str) -> Vec<(String, String)> {
    use quick_xml::{Reader, events::Event};
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut urls = Vec::new();
    let mut current: (Option<String>, Option<String>) = (None, None);
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                match (path.len(), name.as_str()) {
                    (0, "urlset") => {
                        let ns = e
                            .attributes()
                            .filter_map(Result::ok)
                            .find(|a| a.key.as_ref() == b"xmlns")
                            .map(|a| String::from_utf8(a.value.to_vec()).unwrap());
                        assert_eq!(
                            ns.as_deref(),
                            Some("http://www.sitemaps.org/schemas/sitemap/0.9")
                        );
                    }
                    (1, "url") => current = (None, None),
                    (2, "loc" | "lastmod") => {}
                    (depth, other) => panic!("unexpected <{other}> at depth {depth}"),
                }
                path.push(name);
            }
            Event::Text(t) => {
                let text = t.decode().unwrap().to_string();
                match path.last().map(String::as_str) {
                    Some("loc") => {
                        assert!(current.0.replace(text).is_none(), "two locs")
                    }
                    Some("lastmod") => {
                        chrono::DateTime::parse_from_rfc3339(&text).expect("W3C datetime");
                        assert!(current.1.replace(text).is_none(), "two lastmods")
                    }
                    other => panic!("text in {other:?}"),
                }
            }
            Event::End(_) => {
                if path.pop().as_deref() == Some("url") {
                    urls.push((
                        current.0.take().expect("a loc"),
                        current.1.take().expect("a lastmod"),
                    ));
                }
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    urls
}

/// A small seeded site: a published page and post (one in English), a draft, an
/// active category with an active and an inactive service.
async fn seed_site(app: &TestApp, admin: &str) {
    let about = create(
        app,
        admin,
        json!({ "kind": "PAGE", "title": "About us", "body": "We grow accounts." }),
    )
    .await;
    app.ok(Some(admin), PUBLISH, json!({ "id": about["id"] }))
        .await;
    let english = create(
        app,
        admin,
        json!({ "kind": "PAGE", "title": "About", "language": "EN", "translationOf": about["id"] }),
    )
    .await;
    app.ok(Some(admin), PUBLISH, json!({ "id": english["id"] }))
        .await;
    published_post(app, admin, "Tips & tricks <2026>", "Grow *fast*.").await;
    create(
        app,
        admin,
        json!({ "kind": "POST", "title": "Unfinished draft" }),
    )
    .await;
    service(app, Fulfillment::Manual, 1000, 10, 1000).await;
    service_with(app, Fulfillment::Manual, 1000, 10, 1000, |s| {
        s.name = "Hidden service".into();
        s.active = false;
    })
    .await;
}

#[tokio::test]
async fn the_sitemap_has_the_schema_shape_and_lists_only_what_is_published() {
    let app = spawn().await;
    let admin = app.admin().await;
    seed_site(&app, &admin).await;
    let response = get(&app, "/sitemap.xml", &[]).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = response.text().await.unwrap();
    // Shown by `cargo nextest run --test content the_sitemap --no-capture`.
    println!("{xml}");
    let locs: Vec<String> = parse_urlset(&xml).into_iter().map(|(loc, _)| loc).collect();
    // Both categories are active (the inactive service has one of its own).
    let categories = app.ok(None, "{ categories { slug } }", json!({})).await;
    let category_urls = categories["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("https://panel.example/{}", c["slug"].as_str().unwrap()));
    let mut expected: Vec<String> = vec![
        "https://panel.example/".into(),
        "https://panel.example/about-us".into(),
        "https://panel.example/en/about".into(),
        "https://panel.example/blog/tips-tricks-2026".into(),
    ];
    expected.extend(category_urls);
    expected.push("https://panel.example/services/twitter-followers".into());
    assert_eq!(locs, expected);
    assert!(!xml.contains("unfinished") && !xml.contains("hidden-service"));

    // Translations link to each other.
    let page = app
        .ok(
            None,
            "{ page(slug: \"about-us\") { translations { language path } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        page["page"]["translations"],
        json!([{ "language": "EN", "path": "/en/about" }])
    );

    // robots.txt points crawlers at the sitemap and keeps them off the API.
    let robots = get(&app, "/robots.txt", &[]).await.text().await.unwrap();
    assert!(robots.contains("Sitemap: https://panel.example/sitemap.xml"));
    for path in ["/graphql", "/api/", "/admin", "/webhooks/"] {
        assert!(robots.contains(&format!("Disallow: {path}\n")), "{path}");
    }

    // The Atom feed has the published post, escaped.
    let feed = get(&app, "/feed.xml", &[]).await;
    assert!(
        feed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let feed = feed.text().await.unwrap();
    assert!(feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert!(feed.contains("<title>Tips &amp; tricks &lt;2026&gt;</title>"));
    assert!(feed.contains("https://panel.example/blog/tips-tricks-2026"));
    assert!(!feed.contains("Unfinished"));
    let mut reader = quick_xml::Reader::from_str(&feed);
    loop {
        match reader.read_event().expect("well-formed Atom") {
            quick_xml::events::Event::Eof => break,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn past_the_per_file_limit_the_sitemap_is_an_index() {
    let app = TestApp::spawn_with(|config| {
        config.content.public_base_url = BASE_URL.into();
        config.content.sitemap_urls_per_file = 4;
    })
    .await;
    let admin = app.admin().await;
    seed_site(&app, &admin).await;
    let index = get(&app, "/sitemap.xml", &[]).await.text().await.unwrap();
    assert!(index.contains("<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"));
    assert!(index.contains("<loc>https://panel.example/sitemaps/1.xml</loc>"));
    assert!(index.contains("<loc>https://panel.example/sitemaps/2.xml</loc>"));
    assert!(!index.contains("sitemaps/3.xml"));
    let first = parse_urlset(&app.get_text("/sitemaps/1.xml", None).await);
    let second = parse_urlset(&app.get_text("/sitemaps/2.xml", None).await);
    assert_eq!((first.len(), second.len()), (4, 3));
    assert_eq!(get(&app, "/sitemaps/3.xml", &[]).await.status(), 404);
    assert_eq!(get(&app, "/sitemaps/x.xml", &[]).await.status(), 404);
}

#[tokio::test]
async fn an_unchanged_file_answers_304_to_its_etag_or_date() {
    let app = spawn().await;
    let admin = app.admin().await;
    published_post(&app, &admin, "First", "one").await;
    for path in ["/sitemap.xml", "/feed.xml", "/robots.txt"] {
        let first = get(&app, path, &[]).await;
        assert_eq!(first.status(), 200);
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        let again = get(&app, path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.text().await.unwrap().is_empty());
        let other = get(&app, path, &[("if-none-match", "\"something-else\"")]).await;
        assert_eq!(other.status(), 200);
        if let Some(modified) = first.headers().get("last-modified") {
            let modified = modified.to_str().unwrap().to_string();
            let since = get(&app, path, &[("if-modified-since", &modified)]).await;
            assert_eq!(since.status(), 304, "{path}");
        }
    }
    let before = get(&app, "/sitemap.xml", &[]).await;
    let etag = before.headers()["etag"].to_str().unwrap().to_string();
    let modified = before.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    published_post(&app, &admin, "Second", "two").await;
    let after = get(&app, "/sitemap.xml", &[("if-none-match", &etag)]).await;
    assert_eq!(after.status(), 200, "a new post changes the sitemap");
    assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
    let after = get(&app, "/sitemap.xml", &[("if-modified-since", &modified)]).await;
    assert_eq!(after.status(), 200);
}

#[tokio::test]
async fn seo_meta_has_defaults_from_the_content_and_admin_overrides() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.ok(
        Some(&admin),
        "mutation($i: SiteSettingsInput!) { adminUpdateSiteSettings(input: $i) { siteName } }",
        json!({ "i": {
            "siteName": "Booster Panel",
            "defaultOgImageUrl": "https://cdn.example/og.png",
            "socialLinks": [{ "network": "instagram", "url": "https://instagram.com/booster" }],
            "contactWhatsapp": "+62 812 0000 0000",
            "googleAnalyticsId": "G-TEST123"
        } }),
    )
    .await;
    let settings = app
        .ok(None, "{ siteSettings { siteName socialLinks { network url } contactWhatsapp googleAnalyticsId } }", json!({}))
        .await;
    assert_eq!(settings["siteSettings"]["siteName"], "Booster Panel");
    assert_eq!(
        settings["siteSettings"]["socialLinks"][0]["network"],
        "instagram"
    );
    let bad = app
        .gql(
            Some(&admin),
            "mutation { adminUpdateSiteSettings(input: { socialLinks: [{ network: \"x\", url: \"javascript:alert(1)\" }] }) { siteName } }",
            json!({}),
        )
        .await;
    assert_invalid(&bad, "socialLinks.url");

    let long_body = "Followers that stay. ".repeat(30);
    let (_, slug) = published_post(&app, &admin, "Buy followers", &long_body).await;
    let seo = app.ok(None, POST, json!({ "slug": slug })).await["post"]["seo"].clone();
    assert_eq!(seo["metaTitle"], "Buy followers | Booster Panel");
    let description = seo["metaDescription"].as_str().unwrap();
    assert!(description.starts_with("Followers that stay.") && description.chars().count() <= 155);
    assert_eq!(
        seo["canonicalUrl"],
        "https://panel.example/blog/buy-followers"
    );
    assert_eq!(seo["ogTitle"], seo["metaTitle"]);

    let service = service(&app, Fulfillment::Manual, 1000, 10, 1000).await;
    const SET_SEO: &str = "mutation($id: ID!, $i: SeoInput!) { adminSetSeo(subjectType: SERVICE, id: $id, input: $i) }";
    app.ok(
        Some(&admin),
        SET_SEO,
        json!({ "id": service, "i": { "metaDescription": "Real Twitter followers, fast.", "keywords": ["buy twitter followers"] } }),
    )
    .await;
    let meta = app
        .ok(None, "{ serviceBySlug(slug: \"twitter-followers\") { seo { metaTitle metaDescription keywords ogDescription ogImageUrl canonicalUrl } } }", json!({}))
        .await["serviceBySlug"]["seo"]
        .clone();
    assert_eq!(meta["metaTitle"], "Twitter followers | Booster Panel");
    assert_eq!(meta["metaDescription"], "Real Twitter followers, fast.");
    assert_eq!(meta["ogDescription"], "Real Twitter followers, fast.");
    assert_eq!(meta["keywords"], json!(["buy twitter followers"]));
    assert_eq!(meta["ogImageUrl"], "https://cdn.example/og.png");
    assert_eq!(
        meta["canonicalUrl"],
        "https://panel.example/services/twitter-followers"
    );
    let bad = app
        .gql(
            Some(&admin),
            SET_SEO,
            json!({ "id": service, "i": { "metaTitle": "x".repeat(201) } }),
        )
        .await;
    assert_eq!(error_field(&bad), "seo.metaTitle");
    let missing = app
        .gql(Some(&admin), SET_SEO, json!({ "id": "999999", "i": {} }))
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
}

#[tokio::test]
async fn the_keyword_health_check_finds_keywords_without_a_page_or_description() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (page_id, _) = published_post(&app, &admin, "Twitter accounts", "aged accounts").await;
    const ADD: &str =
        "mutation($i: AddSeoKeywordInput!) { adminAddSeoKeyword(input: $i) { id keyword } }";
    app.ok(
        Some(&admin),
        ADD,
        json!({ "i": { "keyword": "jasa followers twitter murah" } }),
    )
    .await;
    app.ok(
        Some(&admin),
        ADD,
        json!({ "i": { "keyword": "buy twitter accounts", "subjectType": "POST", "subjectId": page_id } }),
    )
    .await;
    let duplicate = app
        .gql(
            Some(&admin),
            ADD,
            json!({ "i": { "keyword": "Buy Twitter Accounts" } }),
        )
        .await;
    assert_eq!(error_code(&duplicate), "CONFLICT");
    let (_, customer) = app.customer("c@example.com").await;
    assert_eq!(
        error_code(
            &app.gql(Some(&customer), ADD, json!({ "i": { "keyword": "x" } }))
                .await
        ),
        "FORBIDDEN"
    );

    const HEALTH: &str =
        "{ adminSeoKeywords(onlyProblems: true) { keyword { keyword } problems } }";
    let health = app.read(&admin, HEALTH).await["adminSeoKeywords"].clone();
    assert_eq!(
        health,
        json!([
            { "keyword": { "keyword": "buy twitter accounts" }, "problems": ["NO_META_DESCRIPTION"] },
            { "keyword": { "keyword": "jasa followers twitter murah" }, "problems": ["NO_PAGE"] },
        ])
    );
    let seo = json!({ "seo": { "metaDescription": "Aged Twitter accounts." } });
    let edited = update(&app, &admin, &page_id, seo).await;
    assert!(edited.get("errors").is_none(), "{edited:#}");
    let health = app.read(&admin, HEALTH).await["adminSeoKeywords"].clone();
    assert_eq!(health.as_array().unwrap().len(), 1);
    // Unpublished, the page no longer ranks for anything.
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminUnpublishContent(id: $id) { status } }",
        json!({ "id": page_id }),
    )
    .await;
    let health = app.read(&admin, HEALTH).await["adminSeoKeywords"].clone();
    assert_eq!(health[0]["problems"], json!(["NO_PAGE"]));
}

#[tokio::test]
async fn announcements_reach_their_audience_with_a_read_state() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("c@example.com").await;
    const ANNOUNCE: &str = "mutation($i: CreateAnnouncementInput!) { adminCreateAnnouncement(input: $i) { id bodyHtml } }";
    let all = app
        .ok(
            Some(&admin),
            ANNOUNCE,
            json!({ "i": { "title": "Maintenance", "body": "Tonight <script>x()</script>" } }),
        )
        .await["adminCreateAnnouncement"]
        .clone();
    assert!(!all["bodyHtml"].as_str().unwrap().contains("<script"));
    let tiktok = app
        .ok(
            Some(&admin),
            ANNOUNCE,
            json!({ "i": { "title": "TikTok news", "body": "x", "platform": "TIKTOK" } }),
        )
        .await["adminCreateAnnouncement"]["id"]
        .clone();
    assert_eq!(
        error_code(
            &app.gql(
                Some(&customer),
                ANNOUNCE,
                json!({ "i": { "title": "t", "body": "b" } })
            )
            .await
        ),
        "FORBIDDEN"
    );

    const MINE: &str = "query($u: Boolean) { myAnnouncements(unread: $u) { totalCount edges { node { id title readAt } } } }";
    let mine = app.ok(Some(&customer), MINE, json!({ "u": true })).await;
    assert_eq!(
        mine["myAnnouncements"]["totalCount"], 1,
        "no TikTok order, no TikTok news"
    );
    assert_eq!(
        mine["myAnnouncements"]["edges"][0]["node"]["title"],
        "Maintenance"
    );
    assert_eq!(
        error_code(&app.gql(None, MINE, json!({})).await),
        "UNAUTHENTICATED"
    );
    const READ: &str = "mutation($ids: [ID!]!) { markAnnouncementsRead(ids: $ids) }";
    let hidden = app
        .gql(Some(&customer), READ, json!({ "ids": [tiktok] }))
        .await;
    assert_eq!(error_code(&hidden), "NOT_FOUND");
    app.ok(Some(&customer), READ, json!({ "ids": [all["id"]] }))
        .await;
    app.ok(Some(&customer), READ, json!({ "ids": [all["id"]] }))
        .await;
    assert_eq!(
        app.ok(Some(&customer), MINE, json!({ "u": true })).await["myAnnouncements"]["totalCount"],
        0
    );
    let every = app.ok(Some(&customer), MINE, json!({ "u": false })).await;
    assert!(every["myAnnouncements"]["edges"][0]["node"]["readAt"].is_string());
    // The admin (who has ordered nothing) sees the general one, unread.
    let admins = app
        .read(&admin, "mutation { markAllAnnouncementsRead }")
        .await;
    assert_eq!(admins["markAllAnnouncementsRead"], 1);
}

/// The mails queued to an address, oldest first.
async fn mails_to(app: &TestApp, to: &str) -> Vec<MailRow> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    mail_outbox::table
        .filter(mail_outbox::to_address.eq(to))
        .order(mail_outbox::id)
        .select(MailRow::as_select())
        .load(&mut *app.conn().await)
        .await
        .unwrap()
}

/// The first link in a text starting with `prefix`, and its `token` parameter.
fn link_in(text: &str, prefix: &str) -> (String, String) {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let url = url::Url::parse(&link).unwrap();
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.to_string())
        .unwrap();
    (link, token)
}

async fn subscriber_status(app: &TestApp, admin: &str) -> Vec<(String, String)> {
    let data = app
        .read(
            admin,
            "{ adminNewsletterSubscribers { edges { node { email status } } } }",
        )
        .await;
    data["adminNewsletterSubscribers"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["email"].as_str().unwrap().to_string(),
                e["node"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn newsletter_double_opt_in_and_unsubscribe_with_unforgeable_tokens() {
    let app = spawn().await;
    let admin = app.admin().await;
    const SUBSCRIBE: &str = "mutation($e: String!) { subscribeNewsletter(email: $e) }";
    const CONFIRM: &str =
        "mutation($e: String!, $t: String!) { confirmNewsletter(email: $e, token: $t) }";
    const UNSUBSCRIBE: &str =
        "mutation($e: String!, $t: String!) { unsubscribeNewsletter(email: $e, token: $t) }";
    assert_eq!(
        app.ok(None, SUBSCRIBE, json!({ "e": " Reader@Example.com " }))
            .await["subscribeNewsletter"],
        true
    );
    app.ok(None, SUBSCRIBE, json!({ "e": "other@example.com" }))
        .await;
    let bad = app
        .gql(None, SUBSCRIBE, json!({ "e": "not an address" }))
        .await;
    assert_eq!(error_field(&bad), "email");
    assert_eq!(
        subscriber_status(&app, &admin).await,
        vec![
            ("other@example.com".to_string(), "PENDING".to_string()),
            ("reader@example.com".into(), "PENDING".into()),
        ]
    );
    // One confirmation mail, queued with the signup, however often the form is sent.
    app.ok(None, SUBSCRIBE, json!({ "e": "reader@example.com" }))
        .await;
    let mails = mails_to(&app, "reader@example.com").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].kind, "newsletter_confirm");
    let (link, token) = link_in(
        &mails[0].text_body,
        "https://panel.example/newsletter/confirm?",
    );
    let (_, other_token) = link_in(
        &mails_to(&app, "other@example.com").await[0].text_body,
        "https://panel.example/newsletter/confirm?",
    );

    // Another address's token, a forged or altered token: refused, nothing changes.
    for (email, token) in [
        ("reader@example.com", other_token.clone()),
        ("other@example.com", token.clone()),
        (
            "reader@example.com",
            "9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ),
        ("reader@example.com", format!("{}x", token)),
        ("reader@example.com", String::new()),
    ] {
        let refused = app
            .gql(None, CONFIRM, json!({ "e": email, "t": token }))
            .await;
        assert_invalid(&refused, "token");
    }
    // A confirmation token is no unsubscribe token.
    let refused = app
        .gql(
            None,
            UNSUBSCRIBE,
            json!({ "e": "reader@example.com", "t": token }),
        )
        .await;
    assert_eq!(error_field(&refused), "token");
    assert!(
        subscriber_status(&app, &admin)
            .await
            .iter()
            .all(|(_, s)| s == "PENDING")
    );
    assert!(!format!("{mails:?}").contains("BOOSTER_SECRET_KEY"));

    // The link confirms (over HTTP, as a mail reader follows it).
    let page = get(
        &app,
        link.strip_prefix("https://panel.example").unwrap(),
        &[],
    )
    .await;
    assert_eq!(page.status(), 200);
    app.ok(
        None,
        CONFIRM,
        json!({ "e": "reader@example.com", "t": token }),
    )
    .await;
    assert_eq!(
        subscriber_status(&app, &admin).await[1],
        ("reader@example.com".to_string(), "CONFIRMED".to_string())
    );
    let export = app.read(&admin, "{ adminNewsletterExport }").await;
    let export = export["adminNewsletterExport"].as_str().unwrap();
    assert!(
        export.starts_with("email,confirmed_at\n") && export.contains("\"reader@example.com\",")
    );
    assert!(
        !export.contains("other@example.com"),
        "unconfirmed addresses are not exported"
    );
    let (_, customer) = app.customer("c@example.com").await;
    assert_eq!(
        error_code(
            &app.gql(Some(&customer), "{ adminNewsletterExport }", json!({}))
                .await
        ),
        "FORBIDDEN"
    );

    // Every newsletter mail carries its own one-click unsubscribe link.
    let sent = app.read(&admin, "mutation { adminSendNewsletter(subject: \"News\", body: \"# Hello\\n\\nNew services <script>x</script>\") }").await;
    assert_eq!(sent["adminSendNewsletter"], 1);
    let issue = mails_to(&app, "reader@example.com").await.pop().unwrap();
    assert_eq!(issue.kind, "newsletter");
    assert!(!issue.html_body.as_deref().unwrap().contains("<script"));
    let (unsubscribe_link, unsubscribe_token) = link_in(
        &issue.text_body,
        "https://panel.example/newsletter/unsubscribe?",
    );
    assert!(
        issue
            .html_body
            .unwrap()
            .contains("/newsletter/unsubscribe?")
    );
    let refused = app
        .gql(
            None,
            UNSUBSCRIBE,
            json!({ "e": "other@example.com", "t": unsubscribe_token }),
        )
        .await;
    assert_eq!(
        error_field(&refused),
        "token",
        "not reusable for another address"
    );
    let path = unsubscribe_link
        .strip_prefix("https://panel.example")
        .unwrap();
    // GET shows a button (a link scanner unsubscribes nobody); POST unsubscribes.
    let shown = get(&app, path, &[]).await;
    assert_eq!(shown.status(), 200);
    assert_eq!(subscriber_status(&app, &admin).await[1].1, "CONFIRMED");
    let one_click = app
        .http
        .post(format!("{}{path}", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    assert_eq!(subscriber_status(&app, &admin).await[1].1, "UNSUBSCRIBED");
    // An old confirmation link does not subscribe the address again.
    let again = app
        .gql(
            None,
            CONFIRM,
            json!({ "e": "reader@example.com", "t": token }),
        )
        .await;
    assert_eq!(error_code(&again), "VALIDATION");
    let forged = get(
        &app,
        "/newsletter/confirm?email=reader%40example.com&token=0.abc",
        &[],
    )
    .await;
    assert_eq!(forged.status(), 400);
    let export = app.read(&admin, "{ adminNewsletterExport }").await;
    assert_eq!(export["adminNewsletterExport"], "email,confirmed_at\n");
}

#[tokio::test]
async fn signed_in_users_follow_their_newsletter_setting() {
    let app = spawn().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("member@example.com").await;
    app.read(
        &customer,
        "mutation { subscribeNewsletter(email: \"Member@example.com\") }",
    )
    .await;
    assert!(
        mails_to(&app, "member@example.com").await.is_empty(),
        "their address is verified"
    );
    let me = app
        .read(&customer, "{ me { settings { notifyNewsletter } } }")
        .await;
    assert_eq!(me["me"]["settings"]["notifyNewsletter"], true);
    assert_eq!(subscriber_status(&app, &admin).await[0].1, "CONFIRMED");
    for (notify, status) in [(false, "UNSUBSCRIBED"), (true, "CONFIRMED")] {
        app.ok(
            Some(&customer),
            "mutation($n: Boolean!) { updateSettings(input: { notifyNewsletter: $n }) { id } }",
            json!({ "n": notify }),
        )
        .await;
        assert_eq!(subscriber_status(&app, &admin).await[0].1, status);
    }
}

#[tokio::test]
async fn newsletter_signups_are_limited_per_client_address() {
    let app = TestApp::spawn_with(|config| {
        config.content.newsletter_signups_per_ip_per_hour = 2;
    })
    .await;
    const SUBSCRIBE: &str = "mutation($e: String!) { subscribeNewsletter(email: $e) }";
    for email in ["a@example.com", "b@example.com"] {
        app.ok(None, SUBSCRIBE, json!({ "e": email })).await;
    }
    let limited = app
        .gql(None, SUBSCRIBE, json!({ "e": "c@example.com" }))
        .await;
    assert_eq!(error_code(&limited), "RATE_LIMITED");
    assert!(mails_to(&app, "c@example.com").await.is_empty());
}

#[tokio::test]
async fn a_page_of_posts_with_seo_and_authors_costs_the_same_statements_at_any_size() {
    let app = spawn().await;
    let admin = app.admin().await;
    for n in 0..10 {
        published_post(&app, &admin, &format!("Post {n}"), "text").await;
    }
    const LIST: &str = "query($n: Int) { posts(first: $n) { edges { node { title authorName seo { metaTitle metaDescription canonicalUrl } } } } }";
    let mut counts = Vec::new();
    for n in [1, 10] {
        let (statements, data) = app
            .statements_of(app.ok(None, LIST, json!({ "n": n })))
            .await;
        counts.push(statements);
        assert_eq!(data["posts"]["edges"].as_array().unwrap().len(), n);
    }
    assert_eq!(
        counts[0], counts[1],
        "statements at first 1 and 10: {counts:?}"
    );
}
