//! Sync, the deciding half: the imported services of a provider against its
//! catalogue, as a list of changes (rates, limits and flags to write, services
//! to deactivate or bring back, change-log rows). Pure, as `upstream::sync`'s
//! `decide` is, so every rule is tested without a database; `sync.rs` reads what
//! the diff needs and writes it.

use std::collections::{HashMap, HashSet};

use bigdecimal::BigDecimal;
use serde_json::{Map, Value, json};

use super::{ImportedService, Markups, quantities, rate_fits};
use crate::{
    db::{catalog_changes::NewCatalogChange, enums::CatalogChangeKind},
    error::{AppError, AppResult},
    providers::RemoteService,
};

/// What a sync changed, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Services the provider lists that were not seen before (not imported).
    pub new: usize,
    pub rate_changed: usize,
    pub details_changed: usize,
    /// Deactivated because the provider dropped them.
    pub removed: usize,
    /// Listed again after a drop.
    pub reappeared: usize,
    /// Reactivated on reappearing (the sync had deactivated them).
    pub reactivated: usize,
    /// Services whose price changed.
    pub repriced: u64,
}

/// What a sync changes, decided before anything is written.
#[derive(Debug, Default)]
pub(super) struct SyncDiff<'a> {
    /// The counts so far (`new` once [`SyncDiff::log_new`] ran; `repriced` is
    /// the writer's).
    pub report: SyncReport,
    /// Change-log rows, in the order of the services.
    pub changes: Vec<NewCatalogChange>,
    /// The provider-decided columns to write.
    pub limits: LimitsUpdate,
    /// Services the provider dropped: to deactivate.
    pub removed: Vec<i64>,
    /// Services listed again after a drop.
    pub reappeared: Vec<i64>,
    /// Services the provider lists that were never imported.
    pub unseen: Vec<&'a RemoteService>,
}

/// The provider-decided columns of many services, written in one statement.
#[derive(Debug, Default, PartialEq)]
pub(super) struct LimitsUpdate {
    pub ids: Vec<i64>,
    pub rates: Vec<BigDecimal>,
    pub mins: Vec<i64>,
    pub maxs: Vec<i64>,
    pub refills: Vec<bool>,
    pub cancels: Vec<bool>,
    pub dripfeeds: Vec<bool>,
}

impl LimitsUpdate {
    fn push(&mut self, id: i64, rate: BigDecimal, min: i64, max: i64, r: &RemoteService) {
        self.ids.push(id);
        self.rates.push(rate);
        self.mins.push(min);
        self.maxs.push(max);
        self.refills.push(r.refill);
        self.cancels.push(r.cancel);
        self.dripfeeds.push(r.dripfeed);
    }
}

/// An empty list is far likelier a provider glitch than a provider that dropped
/// everything: deactivating the whole catalogue would be worse, so it is refused
/// while anything imported is still listed.
pub(super) fn refuse_empty_list(
    local: &[ImportedService],
    remote: &[RemoteService],
) -> AppResult<()> {
    if remote.is_empty() && local.iter().any(|s| s.upstream_missing_since.is_none()) {
        return Err(AppError::ProviderError(
            "the provider listed no services; nothing was changed".into(),
        ));
    }
    Ok(())
}

/// Compares the provider's imported services (`local`) with its catalogue.
pub(super) fn diff<'a>(
    provider_id: i64,
    local: &[ImportedService],
    remote: &'a [RemoteService],
    markups: &Markups,
) -> AppResult<SyncDiff<'a>> {
    let by_id: HashMap<&str, &RemoteService> = remote.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut diff = SyncDiff::default();
    let mut known: HashSet<&str> = HashSet::with_capacity(local.len());
    for s in local {
        let Some(psid) = s.provider_service_id.as_deref() else {
            continue;
        };
        known.insert(psid);
        let log = ChangeLog {
            provider_id,
            service_id: s.id,
            provider_service_id: psid,
        };
        match by_id.get(psid) {
            None => diff.dropped(&log, s),
            Some(r) => diff.listed(&log, s, r, markups)?,
        }
    }
    diff.unseen = remote
        .iter()
        .filter(|r| !known.contains(r.id.as_str()))
        .collect();
    Ok(diff)
}

/// Writes the change-log rows of one service.
struct ChangeLog<'s> {
    provider_id: i64,
    service_id: i64,
    provider_service_id: &'s str,
}

impl ChangeLog<'_> {
    fn row(&self, kind: CatalogChangeKind, old: Value, new: Value) -> NewCatalogChange {
        NewCatalogChange {
            provider_id: self.provider_id,
            service_id: Some(self.service_id),
            provider_service_id: self.provider_service_id.to_string(),
            kind,
            old_values: Some(old),
            new_values: Some(new),
        }
    }
}

fn rate_text(rate: &BigDecimal) -> String {
    rate.normalized().to_plain_string()
}

impl<'a> SyncDiff<'a> {
    /// A service the provider no longer lists: deactivated once, on the first
    /// sync that misses it.
    fn dropped(&mut self, log: &ChangeLog<'_>, s: &ImportedService) {
        if s.upstream_missing_since.is_some() {
            return;
        }
        self.removed.push(s.id);
        self.report.removed += 1;
        self.changes.push(log.row(
            CatalogChangeKind::Removed,
            json!({ "active": s.active }),
            json!({ "active": false }),
        ));
    }

    /// A service the provider lists: back after a drop, and following the
    /// provider's rate (when it fits the column), limits (when they make sense)
    /// and flags.
    fn listed(
        &mut self,
        log: &ChangeLog<'_>,
        s: &ImportedService,
        r: &RemoteService,
        markups: &Markups,
    ) -> AppResult<()> {
        if s.upstream_missing_since.is_some() {
            self.came_back(log, s);
        }
        let old_rate = s.provider_rate.clone().unwrap_or_default();
        let rate = if rate_fits(&r.rate) {
            r.rate.clone()
        } else {
            old_rate.clone()
        };
        let (min, max) = quantities(r).unwrap_or((s.min_quantity, s.max_quantity));
        let rate_changed = rate != old_rate;
        if rate_changed {
            self.report.rate_changed += 1;
            let new_price = markups.price(&rate, s.markup_bps)?;
            self.changes.push(log.row(
                CatalogChangeKind::RateChanged,
                json!({ "providerRate": rate_text(&old_rate), "pricePer1000": s.price_per_1000 }),
                json!({ "providerRate": rate_text(&rate), "pricePer1000": new_price }),
            ));
        }
        let (old_details, new_details) = changed_details(s, min, max, r);
        if !old_details.is_empty() {
            self.report.details_changed += 1;
            self.changes.push(log.row(
                CatalogChangeKind::DetailsChanged,
                old_details.into(),
                new_details.into(),
            ));
        }
        if rate_changed || !limits_unchanged(s, min, max, r) {
            self.limits.push(s.id, rate, min, max, r);
        }
        Ok(())
    }

    /// Listed again after a drop: reactivated only when the sync itself had
    /// deactivated it (an admin's decision stands).
    fn came_back(&mut self, log: &ChangeLog<'_>, s: &ImportedService) {
        self.reappeared.push(s.id);
        self.report.reappeared += 1;
        let reactivate = s.sync_deactivated && !s.active;
        if reactivate {
            self.report.reactivated += 1;
        }
        self.changes.push(log.row(
            CatalogChangeKind::Reappeared,
            json!({ "active": s.active }),
            json!({ "active": s.active || reactivate }),
        ));
    }

    /// Logs each service offered but not imported once: `logged` are the provider
    /// service ids logged as new before.
    pub(super) fn log_new(&mut self, provider_id: i64, logged: &HashSet<String>) {
        for r in self.unseen.iter().filter(|r| !logged.contains(&r.id)) {
            self.report.new += 1;
            self.changes.push(NewCatalogChange {
                provider_id,
                service_id: None,
                provider_service_id: r.id.clone(),
                kind: CatalogChangeKind::New,
                old_values: None,
                new_values: Some(json!({
                    "name": r.name,
                    "category": r.category,
                    "providerRate": rate_text(&r.rate),
                })),
            });
        }
    }
}

/// The limits and flags that differ, old and new, under their GraphQL names.
fn changed_details(
    s: &ImportedService,
    min: i64,
    max: i64,
    r: &RemoteService,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut old_details = Map::new();
    let mut new_details = Map::new();
    let mut detail = |field: &str, old: Value, new: Value| {
        if old != new {
            old_details.insert(field.into(), old);
            new_details.insert(field.into(), new);
        }
    };
    detail("minQuantity", s.min_quantity.into(), min.into());
    detail("maxQuantity", s.max_quantity.into(), max.into());
    detail("refill", s.refill.into(), r.refill.into());
    detail("cancel", s.cancel.into(), r.cancel.into());
    detail("dripfeed", s.dripfeed.into(), r.dripfeed.into());
    (old_details, new_details)
}

/// True when the provider's limits and flags are the service's already.
fn limits_unchanged(s: &ImportedService, min: i64, max: i64, r: &RemoteService) -> bool {
    s.min_quantity == min
        && s.max_quantity == max
        && s.refill == r.refill
        && s.cancel == r.cancel
        && s.dripfeed == r.dripfeed
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::Utc;

    use super::*;

    fn decimal(text: &str) -> BigDecimal {
        BigDecimal::from_str(text).unwrap()
    }

    /// ImportedService from provider service "p<id>" at rate 1, 10 to 5000, priced
    /// 17,600 (16,000 x 1.1), active, still listed.
    fn local(id: i64) -> ImportedService {
        ImportedService {
            id,
            provider_service_id: Some(format!("p{id}")),
            name: format!("Service {id}"),
            provider_rate: Some(decimal("1")),
            markup_bps: None,
            price_per_1000: 17_600,
            min_quantity: 10,
            max_quantity: 5000,
            refill: false,
            cancel: false,
            dripfeed: false,
            active: true,
            upstream_missing_since: None,
            sync_deactivated: false,
        }
    }

    /// The provider's entry for `local(id)`, unchanged.
    fn listed(id: i64) -> RemoteService {
        super::super::listed_service(
            format!("p{id}"),
            format!("Service {id}"),
            "Twitter",
            decimal("1"),
        )
    }

    fn markups() -> Markups {
        Markups {
            provider: None,
            default: 1000,
            exchange_rate: BigDecimal::from(16_000),
        }
    }

    fn kinds(diff: &SyncDiff<'_>) -> Vec<(Option<i64>, CatalogChangeKind)> {
        diff.changes
            .iter()
            .map(|c| (c.service_id, c.kind))
            .collect()
    }

    #[test]
    fn nothing_changes_when_the_lists_agree() {
        let remote = [listed(1), listed(2)];
        let diff = diff(1, &[local(1), local(2)], &remote, &markups()).unwrap();
        assert_eq!(diff.report, SyncReport::default());
        assert!(diff.changes.is_empty() && diff.removed.is_empty() && diff.reappeared.is_empty());
        assert_eq!(diff.limits, LimitsUpdate::default());
        assert!(diff.unseen.is_empty());
    }

    #[test]
    fn a_new_rate_is_written_and_logged_with_its_price() {
        let mut r = listed(1);
        r.rate = decimal("1.5");
        let remote = [r];
        let diff = diff(1, &[local(1)], &remote, &markups()).unwrap();
        assert_eq!(diff.report.rate_changed, 1);
        assert_eq!(diff.limits.ids, [1]);
        assert_eq!(diff.limits.rates, [decimal("1.5")]);
        let change = &diff.changes[0];
        assert_eq!(change.kind, CatalogChangeKind::RateChanged);
        assert_eq!(
            change.old_values,
            Some(json!({ "providerRate": "1", "pricePer1000": 17_600 }))
        );
        assert_eq!(
            change.new_values,
            Some(json!({ "providerRate": "1.5", "pricePer1000": 26_400 }))
        );
        // The service's own markup prices it.
        let mut own = local(1);
        own.markup_bps = Some(0);
        let diff = super::diff(1, &[own], &remote, &markups()).unwrap();
        assert_eq!(
            diff.changes[0].new_values.as_ref().unwrap()["pricePer1000"],
            24_000
        );
    }

    #[test]
    fn a_rate_out_of_range_keeps_the_old_one() {
        let mut r = listed(1);
        r.rate = decimal("-2");
        let remote = [r];
        let diff = diff(1, &[local(1)], &remote, &markups()).unwrap();
        assert_eq!(diff.report, SyncReport::default());
        assert!(diff.changes.is_empty());
        assert!(diff.limits.ids.is_empty());
    }

    #[test]
    fn limits_and_flags_are_followed_when_they_make_sense() {
        let mut r = listed(1);
        (r.min, r.max, r.refill) = (0, 9000, true);
        let mut nonsense = listed(2);
        (nonsense.min, nonsense.max) = (900, 100);
        let remote = [r, nonsense];
        let diff = diff(1, &[local(1), local(2)], &remote, &markups()).unwrap();
        assert_eq!(diff.report.details_changed, 1);
        assert_eq!(kinds(&diff), [(Some(1), CatalogChangeKind::DetailsChanged)]);
        assert_eq!(
            diff.changes[0].old_values,
            Some(json!({ "minQuantity": 10, "maxQuantity": 5000, "refill": false }))
        );
        assert_eq!(
            diff.changes[0].new_values,
            Some(json!({ "minQuantity": 1, "maxQuantity": 9000, "refill": true }))
        );
        // Service 2's limits are nonsense: its own stay, so nothing is written.
        assert_eq!(diff.limits.ids, [1]);
        assert_eq!(
            (diff.limits.mins.clone(), diff.limits.maxs.clone()),
            (vec![1], vec![9000])
        );
        assert_eq!(diff.limits.refills, [true]);
    }

    #[test]
    fn a_dropped_service_is_deactivated_once() {
        let mut gone_before = local(2);
        gone_before.upstream_missing_since = Some(Utc::now());
        gone_before.active = false;
        let remote = [listed(3)];
        let diff = diff(1, &[local(1), gone_before, local(3)], &remote, &markups()).unwrap();
        assert_eq!(diff.removed, [1]);
        assert_eq!(diff.report.removed, 1);
        assert_eq!(kinds(&diff), [(Some(1), CatalogChangeKind::Removed)]);
        assert_eq!(diff.changes[0].old_values, Some(json!({ "active": true })));
        assert_eq!(diff.changes[0].new_values, Some(json!({ "active": false })));
    }

    #[test]
    fn a_returning_service_is_reactivated_only_if_the_sync_turned_it_off() {
        let missing = |id, active, sync_deactivated| ImportedService {
            upstream_missing_since: Some(Utc::now()),
            active,
            sync_deactivated,
            ..local(id)
        };
        let services = [
            missing(1, false, true),
            missing(2, false, false),
            missing(3, true, false),
        ];
        let remote = [listed(1), listed(2), listed(3)];
        let diff = diff(1, &services, &remote, &markups()).unwrap();
        assert_eq!(diff.reappeared, [1, 2, 3]);
        assert_eq!((diff.report.reappeared, diff.report.reactivated), (3, 1));
        let became: Vec<_> = diff
            .changes
            .iter()
            .map(|c| c.new_values.clone().unwrap())
            .collect();
        assert_eq!(
            became,
            [
                json!({ "active": true }),
                json!({ "active": false }),
                json!({ "active": true })
            ]
        );
        assert!(
            diff.changes
                .iter()
                .all(|c| c.kind == CatalogChangeKind::Reappeared)
        );
    }

    #[test]
    fn services_never_imported_are_logged_once() {
        let mut not_ours = local(9);
        not_ours.provider_service_id = None;
        let remote = [listed(1), listed(7), listed(8)];
        let mut diff = diff(1, &[local(1), not_ours], &remote, &markups()).unwrap();
        let unseen: Vec<&str> = diff.unseen.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(unseen, ["p7", "p8"]);
        diff.log_new(1, &HashSet::from(["p7".to_string()]));
        assert_eq!(diff.report.new, 1);
        let logged = &diff.changes[0];
        assert_eq!(
            (
                logged.kind,
                logged.service_id,
                logged.provider_service_id.as_str()
            ),
            (CatalogChangeKind::New, None, "p8")
        );
        assert_eq!(
            logged.new_values,
            Some(json!({ "name": "Service 8", "category": "Twitter", "providerRate": "1" }))
        );
    }

    #[test]
    fn an_empty_list_is_refused_while_anything_is_listed() {
        assert!(matches!(
            refuse_empty_list(&[local(1)], &[]),
            Err(AppError::ProviderError(_))
        ));
        let mut gone = local(1);
        gone.upstream_missing_since = Some(Utc::now());
        assert!(refuse_empty_list(&[gone], &[]).is_ok());
        assert!(refuse_empty_list(&[], &[]).is_ok());
        assert!(refuse_empty_list(&[local(1)], &[listed(1)]).is_ok());
    }
}
