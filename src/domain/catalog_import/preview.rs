//! Preview: what an import would bring, compared with what was imported before:
//! new services, changed ones (old and new price) and the ones the provider dropped.

use std::collections::{HashMap, HashSet};

use diesel_async::AsyncPgConnection;

use crate::{
    db::{
        enums::{Platform, ServiceType},
        providers::ProviderRow,
    },
    error::AppResult,
    providers::RemoteService,
};

use super::*;

#[derive(Debug, Clone)]
pub struct NewEntry {
    pub remote: RemoteService,
    /// None when the provider's type label is unknown: such a service is skipped.
    pub service_type: Option<ServiceType>,
    pub platform: Platform,
    /// The price it would be imported at; None when the rate cannot be priced.
    pub price_per_1000: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ChangedEntry {
    pub service_id: i64,
    pub provider_service_id: String,
    pub changed_fields: Vec<&'static str>,
    pub old: ServiceSnapshot,
    pub new: ServiceSnapshot,
}

#[derive(Debug, Clone)]
pub struct RemovedEntry {
    pub service_id: i64,
    pub provider_service_id: String,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CatalogPreview {
    pub new: Vec<NewEntry>,
    pub changed: Vec<ChangedEntry>,
    pub removed: Vec<RemovedEntry>,
}

/// Compares the provider's catalogue with the services imported from it. Reads only.
pub async fn preview(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    remote: &[RemoteService],
) -> AppResult<CatalogPreview> {
    let markups = Markups::load(conn, provider).await?;
    let local = load_imported(conn, provider.id, false).await?;
    let by_id: HashMap<&str, &ImportedService> = local
        .iter()
        .filter_map(|s| s.provider_service_id.as_deref().map(|id| (id, s)))
        .collect();
    let upstream: HashSet<&str> = remote.iter().map(|r| r.id.as_str()).collect();
    let mut result = CatalogPreview::default();
    for r in remote {
        match by_id.get(r.id.as_str()) {
            None => result.new.push(NewEntry {
                service_type: ServiceType::from_provider_label(&r.type_label),
                platform: guess_platform(&r.name, &r.category),
                price_per_1000: rate_fits(&r.rate)
                    .then(|| markups.price(&r.rate, None).ok())
                    .flatten(),
                remote: r.clone(),
            }),
            Some(s) => {
                let old = ServiceSnapshot::local(s);
                let price = if rate_fits(&r.rate) {
                    markups.price(&r.rate, s.markup_bps)?
                } else {
                    old.price_per_1000
                };
                let new = ServiceSnapshot::remote(r, price);
                let changed_fields = old.changed_fields(&new);
                if !changed_fields.is_empty() {
                    result.changed.push(ChangedEntry {
                        service_id: s.id,
                        provider_service_id: r.id.clone(),
                        changed_fields,
                        old,
                        new,
                    });
                }
            }
        }
    }
    for s in &local {
        let Some(id) = s.provider_service_id.as_deref() else {
            continue;
        };
        if !upstream.contains(id) {
            result.removed.push(RemovedEntry {
                service_id: s.id,
                provider_service_id: id.to_string(),
                name: s.name.clone(),
                active: s.active,
            });
        }
    }
    Ok(result)
}
