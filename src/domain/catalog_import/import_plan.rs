//! Import, the planning half: which of a provider's services an import creates,
//! at what price, limits and type, in which category, and which it skips and
//! why. Pure (reads nothing, writes nothing) so every rule is tested without a
//! database; `import.rs` reads what a plan needs and writes it.

use std::collections::{HashMap, HashSet};

use crate::{db::enums::ServiceType, providers::RemoteService};

use super::{FALLBACK_CATEGORY, MAX_NAME, Markups, cut, quantities, rate_fits};

#[derive(Debug, Clone)]
pub enum Selection {
    /// Every service the provider lists that is not imported yet.
    AllNew,
    /// These provider service ids.
    Ids(Vec<String>),
}

#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Everything into one existing category.
    Category(i64),
    /// Into categories named as the provider names them, created when missing.
    ProviderCategories,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub provider_service_id: String,
    pub reason: String,
}

/// Where a planned service goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryChoice {
    /// An existing category (`Target::Category`).
    Existing(i64),
    /// The category of this name (compared without case), created when missing.
    Named(String),
}

/// A provider service the import will create, with everything decided.
#[derive(Debug, Clone)]
pub struct PlannedService<'a> {
    pub remote: &'a RemoteService,
    pub service_type: ServiceType,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub price_per_1000: i64,
    pub category: CategoryChoice,
}

/// What an import will write, decided before anything is written.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan<'a> {
    /// The services to create, in the provider's order.
    pub create: Vec<PlannedService<'a>>,
    /// The provider categories the services go into, each once (the first
    /// spelling; compared without case), in order of first use.
    pub categories: Vec<String>,
    /// The services not imported, each with its reason.
    pub skipped: Vec<Skipped>,
}

/// Decides which of `remote` an import creates and how; `existing` are the
/// provider service ids imported already. Pure: `import::import` writes what
/// this returns.
pub fn plan<'a>(
    existing: &HashSet<String>,
    remote: &'a [RemoteService],
    selection: &Selection,
    target: Target,
    markups: &Markups,
) -> ImportPlan<'a> {
    let mut result = ImportPlan::default();
    let chosen = choose(existing, remote, selection, &mut result.skipped);
    for r in chosen {
        match plan_service(r, target, markups) {
            Ok(planned) => result.create.push(planned),
            Err(reason) => result.skipped.push(skip(&r.id, reason)),
        }
    }
    let mut seen = HashSet::new();
    result.categories = result
        .create
        .iter()
        .filter_map(|p| match &p.category {
            CategoryChoice::Named(name) if seen.insert(name.to_lowercase()) => Some(name.clone()),
            _ => None,
        })
        .collect();
    result
}

pub(super) fn skip(provider_service_id: &str, reason: impl Into<String>) -> Skipped {
    Skipped {
        provider_service_id: provider_service_id.to_string(),
        reason: reason.into(),
    }
}

/// The remote services the selection names, in the provider's order for
/// `AllNew` and the caller's for `Ids` (each id once); ids that are unknown or
/// imported already are skipped with their reason.
fn choose<'a>(
    existing: &HashSet<String>,
    remote: &'a [RemoteService],
    selection: &Selection,
    skipped: &mut Vec<Skipped>,
) -> Vec<&'a RemoteService> {
    let ids = match selection {
        Selection::AllNew => {
            return remote
                .iter()
                .filter(|r| !existing.contains(&r.id))
                .collect();
        }
        Selection::Ids(ids) => ids,
    };
    let by_id: HashMap<&str, &RemoteService> = remote.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut seen = HashSet::new();
    let mut chosen = Vec::new();
    for id in ids.iter().map(|id| id.trim()) {
        if !seen.insert(id) {
            continue;
        }
        match by_id.get(id) {
            None => skipped.push(skip(id, "not in the provider's catalogue")),
            Some(_) if existing.contains(id) => skipped.push(skip(id, "already imported")),
            Some(r) => chosen.push(*r),
        }
    }
    chosen
}

/// One remote service as the catalogue would hold it, or why it cannot be.
fn plan_service<'a>(
    r: &'a RemoteService,
    target: Target,
    markups: &Markups,
) -> Result<PlannedService<'a>, String> {
    let service_type = ServiceType::from_provider_label(&r.type_label)
        .ok_or_else(|| format!("unknown service type {:?}", r.type_label))?;
    let (min_quantity, max_quantity) =
        quantities(r).ok_or_else(|| format!("maximum {} is below minimum {}", r.max, r.min))?;
    if !rate_fits(&r.rate) {
        return Err(format!("rate {} is out of range", r.rate));
    }
    let price_per_1000 = markups
        .price(&r.rate, None)
        .map_err(|_| "price does not fit in rupiah".to_string())?;
    let category = match target {
        Target::Category(id) => CategoryChoice::Existing(id),
        Target::ProviderCategories => CategoryChoice::Named(category_name(&r.category)),
    };
    Ok(PlannedService {
        remote: r,
        service_type,
        min_quantity,
        max_quantity,
        price_per_1000,
        category,
    })
}

pub(super) fn category_name(provider_category: &str) -> String {
    let name = cut(provider_category, MAX_NAME);
    if name.is_empty() {
        FALLBACK_CATEGORY.to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use bigdecimal::BigDecimal;

    use super::*;

    fn remote(id: &str, category: &str, rate: &str) -> RemoteService {
        super::super::listed_service(
            id.into(),
            format!("Twitter Followers {id}"),
            category,
            BigDecimal::from_str(rate).unwrap(),
        )
    }

    /// 10% by default, an exchange rate of 16,000 rupiah to the provider's unit.
    fn markups(provider: Option<i32>) -> Markups {
        Markups {
            provider,
            default: 1000,
            exchange_rate: BigDecimal::from(16_000),
        }
    }

    fn existing(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    fn ids<'p>(plan: &'p ImportPlan<'_>) -> Vec<&'p str> {
        plan.create.iter().map(|p| p.remote.id.as_str()).collect()
    }

    fn reasons<'p>(plan: &'p ImportPlan<'_>) -> Vec<(&'p str, &'p str)> {
        plan.skipped
            .iter()
            .map(|s| (s.provider_service_id.as_str(), s.reason.as_str()))
            .collect()
    }

    #[test]
    fn all_new_passes_over_what_is_imported() {
        let list = [
            remote("1", "A", "1"),
            remote("2", "A", "1"),
            remote("3", "A", "1"),
        ];
        let plan = plan(
            &existing(&["2"]),
            &list,
            &Selection::AllNew,
            Target::Category(9),
            &markups(None),
        );
        assert_eq!(ids(&plan), ["1", "3"]);
        // Not chosen, so not reported as skipped.
        assert!(plan.skipped.is_empty());
        assert!(plan.categories.is_empty());
        assert!(
            plan.create
                .iter()
                .all(|p| p.category == CategoryChoice::Existing(9))
        );
    }

    #[test]
    fn ids_are_taken_once_in_the_callers_order() {
        let list = [
            remote("1", "A", "1"),
            remote("2", "A", "1"),
            remote("3", "A", "1"),
        ];
        let selection = Selection::Ids(vec![
            " 3".into(),
            "1".into(),
            "3".into(),
            "2".into(),
            "9".into(),
        ]);
        let plan = plan(
            &existing(&["2"]),
            &list,
            &selection,
            Target::Category(9),
            &markups(None),
        );
        assert_eq!(ids(&plan), ["3", "1"]);
        assert_eq!(
            reasons(&plan),
            [
                ("2", "already imported"),
                ("9", "not in the provider's catalogue")
            ]
        );
    }

    #[test]
    fn unusable_services_are_skipped_with_their_reason() {
        let mut unknown_type = remote("1", "A", "1");
        unknown_type.type_label = "Weird Type".into();
        let mut bad_limits = remote("2", "A", "1");
        (bad_limits.min, bad_limits.max) = (500, 100);
        let negative_rate = remote("3", "A", "-1");
        let huge_rate = remote("4", "A", "123456789012345");
        // Fits the column, but not in rupiah once converted.
        let too_dear = remote("5", "A", "99999999999999");
        let fine = remote("6", "A", "0.5");
        let list = [
            unknown_type,
            bad_limits,
            negative_rate,
            huge_rate,
            too_dear,
            fine,
        ];
        let dear_currency = Markups {
            exchange_rate: BigDecimal::from(1_000_000),
            ..markups(None)
        };
        let plan = plan(
            &existing(&[]),
            &list,
            &Selection::AllNew,
            Target::Category(1),
            &dear_currency,
        );
        assert_eq!(ids(&plan), ["6"]);
        assert_eq!(
            reasons(&plan),
            [
                ("1", "unknown service type \"Weird Type\""),
                ("2", "maximum 100 is below minimum 500"),
                ("3", "rate -1 is out of range"),
                ("4", "rate 123456789012345 is out of range"),
                ("5", "price does not fit in rupiah"),
            ]
        );
    }

    #[test]
    fn limits_and_types_are_as_the_catalogue_stores_them() {
        let mut r = remote("1", "A", "1");
        r.min = 0;
        r.type_label = "Custom Comments".into();
        let list = [r];
        let plan = plan(
            &existing(&[]),
            &list,
            &Selection::AllNew,
            Target::Category(1),
            &markups(None),
        );
        let p = &plan.create[0];
        assert_eq!((p.min_quantity, p.max_quantity), (1, 5000));
        assert_eq!(p.service_type, ServiceType::CustomComments);
    }

    #[test]
    fn prices_follow_the_markup_in_force() {
        // 0.9 x 16,000 = 14,400 per 1000 before the markup.
        let list = [remote("1", "A", "0.9")];
        let price = |m: Markups| {
            plan(
                &existing(&[]),
                &list,
                &Selection::AllNew,
                Target::Category(1),
                &m,
            )
            .create[0]
                .price_per_1000
        };
        assert_eq!(price(markups(None)), 15_840); // the panel's 10%
        assert_eq!(price(markups(Some(2500))), 18_000); // the provider's 25%
        assert_eq!(price(markups(Some(0))), 14_400);
        // Rounded up to a whole rupiah: 0.000123 x 16,000 x 1.1 = 2.1648.
        let cheap = [remote("2", "A", "0.000123")];
        let plan = plan(
            &existing(&[]),
            &cheap,
            &Selection::AllNew,
            Target::Category(1),
            &markups(None),
        );
        assert_eq!(plan.create[0].price_per_1000, 3);
    }

    #[test]
    fn provider_categories_are_named_once_each() {
        let list = [
            remote("1", " Twitter Followers ", "1"),
            remote("2", "twitter followers", "1"),
            remote("3", "", "1"),
            remote("4", "Instagram Likes", "1"),
        ];
        let plan = plan(
            &existing(&[]),
            &list,
            &Selection::AllNew,
            Target::ProviderCategories,
            &markups(None),
        );
        let named: Vec<CategoryChoice> = plan.create.iter().map(|p| p.category.clone()).collect();
        assert_eq!(
            named,
            [
                CategoryChoice::Named("Twitter Followers".into()),
                CategoryChoice::Named("twitter followers".into()),
                CategoryChoice::Named(FALLBACK_CATEGORY.into()),
                CategoryChoice::Named("Instagram Likes".into()),
            ]
        );
        assert_eq!(
            plan.categories,
            ["Twitter Followers", FALLBACK_CATEGORY, "Instagram Likes"]
        );
    }
}
