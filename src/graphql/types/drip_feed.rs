//! `DripFeed` and `DripFeedRun`: a drip-feed order the panel runs as one order per
//! run (`domain::orders::drip`), as its owner and admins see it.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::drip_feeds::{DripFeedRow, DripFeedRunRow},
    graphql::{error::GraphqlResult, load, loaders::RunsOf, scalars::Rupiah, types::orders::Order},
};

pub struct DripFeed(pub DripFeedRow);

/// The runs of a drip-feed order: `runs` orders of `quantityPerRun`, placed
/// `intervalMinutes` apart, each an order of its own.
#[Object]
impl DripFeed {
    async fn runs(&self) -> i32 {
        self.0.runs
    }

    async fn runs_placed(&self) -> i32 {
        self.0.runs_placed
    }

    /// Runs still to be placed (0 once canceled).
    async fn runs_remaining(&self) -> i32 {
        if self.0.stopped_at.is_some() {
            0
        } else {
            self.0.runs - self.0.runs_placed
        }
    }

    async fn quantity_per_run(&self) -> i64 {
        self.0.quantity_per_run
    }

    async fn interval_minutes(&self) -> i32 {
        self.0.interval_minutes
    }

    /// When the next run is placed; null when none is left.
    async fn next_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_run_at
    }

    /// When the runs not placed were canceled (and refunded).
    async fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.0.stopped_at
    }

    /// What the whole drip-feed cost; the order's `charge` is what is left for the
    /// runs not placed, each run carrying its own share.
    async fn total_charge(&self) -> Rupiah {
        Rupiah(self.0.total_charge)
    }

    /// The runs placed so far, in order (batched across a list).
    #[graphql(complexity = 10)]
    async fn orders(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Order>> {
        let runs = load(ctx, RunsOf(self.0.order_id), "drip-feed runs").await?;
        Ok(runs.into_iter().map(Order).collect())
    }
}

pub struct DripFeedRun(pub DripFeedRunRow);

/// Which drip-feed order a run belongs to.
#[Object]
impl DripFeedRun {
    /// The drip-feed order.
    async fn order_id(&self) -> ID {
        self.0.parent_order_id.into()
    }

    /// 1 for the first run.
    async fn run_number(&self) -> i32 {
        self.0.run_number
    }
}
