//! Content and SEO: pages and blog posts (`pages_posts`), their Markdown rendered
//! to sanitized HTML (`markdown`), slugs and the redirects old slugs leave
//! (`slugs`), where an old slug leads as the asker may see it (`redirects`), SEO meta with its defaults and the public path of every subject
//! (`seo`), the site settings (`site`), announcements for signed-in users
//! (`announcements`), the newsletter's double opt-in (`newsletter`) and the
//! keyword health check (`keywords`). Reads of the tables live in
//! `db::{content_items, slug_redirects, seo_meta, seo_keywords, announcements,
//! newsletter_subscribers}`; the machine-readable files are built in `http::seo`.

pub mod announcements;
pub mod keywords;
pub mod markdown;
pub mod newsletter;
pub mod pages_posts;
pub mod redirects;
pub mod seo;
pub mod site;
pub mod sitemap;
pub mod slugs;
