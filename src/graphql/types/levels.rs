//! `CustomerLevel` and `LevelProgress`: the levels customers earn, and where a
//! customer stands on the way to the next one.

use async_graphql::{ID, InputObject, Object, SimpleObject};

use crate::{
    db::{
        customer_levels::{LevelForm, LevelRow},
        enums::LevelBasis,
    },
    graphql::scalars::Rupiah,
};

/// A level (Member, Reseller, Agen...): a discount earned by total deposits or
/// total spent.
pub struct CustomerLevel(pub LevelRow);

#[Object]
impl CustomerLevel {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The discount on list prices, basis points (never below provider cost).
    async fn discount_bps(&self) -> i32 {
        self.0.discount_bps
    }

    async fn basis(&self) -> LevelBasis {
        self.0.basis
    }

    /// Rupiah to deposit or spend (by `basis`) to reach it.
    async fn threshold(&self) -> Rupiah {
        Rupiah(self.0.threshold)
    }
}

/// Where a customer stands: their level, their totals and the next level.
#[derive(SimpleObject)]
pub struct LevelProgress {
    /// The discount they pay with: the better of their own and their level's.
    pub effective_discount_bps: i32,
    /// Everything deposited (bonuses not included).
    pub total_deposits: Rupiah,
    /// Everything spent on orders, less refunds.
    pub total_spent: Rupiah,
    /// The closest level with a larger discount; null at the top.
    pub next_level: Option<CustomerLevel>,
    /// What the next level still needs, by its basis.
    pub next_level_remaining: Option<Rupiah>,
    /// Whether an admin chose the level (money raises it, never lowers it).
    pub set_by_admin: bool,
}

/// A level as an admin writes it.
#[derive(Debug, InputObject)]
pub struct CustomerLevelInput {
    pub name: String,
    pub discount_bps: i32,
    pub basis: LevelBasis,
    pub threshold: Rupiah,
}

impl From<CustomerLevelInput> for LevelForm {
    fn from(input: CustomerLevelInput) -> Self {
        LevelForm {
            name: input.name,
            discount_bps: input.discount_bps,
            basis: input.basis,
            threshold: input.threshold.0,
        }
    }
}
