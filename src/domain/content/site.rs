//! Site settings: the site's name, default meta, social profiles, contact details
//! and analytics ids, kept as one JSON value in `app_settings` under `site` and
//! edited by admins. Every field is bounded and every URL is http(s).

use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};

use crate::domain::text::check_text;
use crate::{
    db::settings,
    error::{AppError, AppResult},
};

const KEY: &str = "site";
const MAX_SOCIAL_LINKS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteSettings {
    pub site_name: String,
    pub tagline: String,
    pub default_meta_title: String,
    pub default_meta_description: String,
    pub default_og_image_url: Option<String>,
    pub social_links: Vec<SocialLink>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_whatsapp: Option<String>,
    pub contact_address: Option<String>,
    pub google_analytics_id: Option<String>,
    pub google_tag_manager_id: Option<String>,
    pub facebook_pixel_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocialLink {
    /// "twitter", "instagram", "telegram", ...
    pub network: String,
    pub url: String,
}

/// The settings; defaults (an empty site name) until an admin saves them.
pub async fn load(conn: &mut AsyncPgConnection) -> AppResult<SiteSettings> {
    Ok(match settings::get(conn, KEY).await? {
        Some(value) => serde_json::from_value(value).unwrap_or_else(|error| {
            tracing::error!(%error, "site settings are unreadable; using defaults");
            SiteSettings::default()
        }),
        None => SiteSettings::default(),
    })
}

/// Checks and stores the settings as a whole; returns what was stored.
pub async fn save(conn: &mut AsyncPgConnection, input: SiteSettings) -> AppResult<SiteSettings> {
    let clean = check(input)?;
    let value = serde_json::to_value(&clean).map_err(AppError::internal)?;
    settings::put(conn, KEY, value).await?;
    Ok(clean)
}

fn optional(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    value
        .map(|v| check_text(field, &v, max, false))
        .transpose()
        .map(|v| v.filter(|v| !v.is_empty()))
}

/// An absolute http(s) URL of at most 2000 characters.
pub fn check_url(field: &str, value: &str) -> AppResult<String> {
    let value = check_text(field, value, 2000, true)?;
    match url::Url::parse(&value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(value),
        _ => Err(AppError::validation(
            field,
            format!("{field} must be an http or https address"),
        )),
    }
}

fn optional_url(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => check_url(field, v).map(Some),
    }
}

fn check(input: SiteSettings) -> AppResult<SiteSettings> {
    if input.social_links.len() > MAX_SOCIAL_LINKS {
        return Err(AppError::validation(
            "socialLinks",
            format!("at most {MAX_SOCIAL_LINKS} social links"),
        ));
    }
    let social_links = input
        .social_links
        .into_iter()
        .map(|link| {
            Ok(SocialLink {
                network: check_text("socialLinks.network", &link.network, 50, true)?,
                url: check_url("socialLinks.url", &link.url)?,
            })
        })
        .collect::<AppResult<_>>()?;
    let contact_email = optional("contactEmail", input.contact_email, 254)?;
    if let Some(email) = &contact_email
        && !super::newsletter::looks_like_email(email)
    {
        return Err(AppError::validation(
            "contactEmail",
            "contactEmail is not an email address",
        ));
    }
    Ok(SiteSettings {
        site_name: check_text("siteName", &input.site_name, 100, false)?,
        tagline: check_text("tagline", &input.tagline, 200, false)?,
        default_meta_title: check_text("defaultMetaTitle", &input.default_meta_title, 200, false)?,
        default_meta_description: check_text(
            "defaultMetaDescription",
            &input.default_meta_description,
            500,
            false,
        )?,
        default_og_image_url: optional_url("defaultOgImageUrl", input.default_og_image_url)?,
        social_links,
        contact_email,
        contact_phone: optional("contactPhone", input.contact_phone, 50)?,
        contact_whatsapp: optional("contactWhatsapp", input.contact_whatsapp, 50)?,
        contact_address: optional("contactAddress", input.contact_address, 500)?,
        google_analytics_id: optional("googleAnalyticsId", input.google_analytics_id, 50)?,
        google_tag_manager_id: optional("googleTagManagerId", input.google_tag_manager_id, 50)?,
        facebook_pixel_id: optional("facebookPixelId", input.facebook_pixel_id, 50)?,
    })
}
