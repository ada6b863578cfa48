//! Content and SEO writes, one file per sub-concern as in `domain/content/`:
//! pages and posts, slugs and SEO fields, site settings, announcements, target
//! keywords, and the newsletter (signup limited per client address,
//! confirmation and unsubscribe by signed link).

mod announcements;
mod keywords;
mod newsletter;
mod pages_posts;
mod seo;
mod site;

pub use newsletter::NewsletterSignupLimiter;

/// Merged in this order so the schema lists the fields as it always has.
#[derive(async_graphql::MergedObject, Default)]
pub struct ContentMutation(
    pages_posts::PagePostMutation,
    seo::SeoMutation,
    site::SiteMutation,
    announcements::AnnouncementMutation,
    keywords::KeywordMutation,
    newsletter::NewsletterMutation,
);
