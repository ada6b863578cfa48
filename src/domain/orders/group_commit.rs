//! Group commit of one account's paid orders. A reseller sends all its
//! customers' orders with one key; placed one by one, every order of the account
//! waits on the account's row lock through the commit before it, so the account
//! is served one commit at a time. Here the orders of one account that arrive
//! while one of its placements is in flight wait in a queue, and the next
//! placement takes them all (up to `ORDER_GROUP_MAX`) in one transaction: the
//! balance locked once, one guarded debit of the sum, each order with its ledger
//! row (`balance_after` running down in arrival order) and history row, one
//! commit (`NewOrder::insert_paid_group`), in the manner of TigerBeetle's batches.
//!
//! The rules do not move. A group is planned in arrival order against the locked
//! balance (`plan`): an order that does not fit is refused with the balance it
//! would have met, exactly as placing them one by one would. Anything the group
//! statement refuses as a whole (a repeated idempotency key, the same-link
//! guard's unique index) rolls it back, and its orders are placed one by one, so
//! each gets the answer it would have had alone. An order alone (an idle account,
//! the common case) takes the one-statement path on its caller's connection and
//! costs nothing more. Groups run in a task of their own: a caller that goes away
//! leaves the group to finish or roll back, never half-written. The queue is per
//! process; the database's guarded debit and unique indexes keep processes
//! sharing one database exact.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::sync::oneshot;

use crate::{
    db::{
        PgPool,
        order_placement::PlacedInGroup,
        orders::{NewOrder, OrderRow},
        users::UserRow,
    },
    domain::wallet,
    error::{AppError, AppResult, is_unique_violation},
    events,
};

/// How one order of a group fares against the balance, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Placed; its ledger row records this balance after the charge.
    Placed { balance_after: i64 },
    /// Refused: the balance it met (INSUFFICIENT_BALANCE says so).
    Short { available: i64 },
}

/// The fate of each charge against `balance`, in order: each is placed when what
/// is left covers it, as if the orders came one at a time (a refused order does
/// not keep a smaller later one out).
pub fn plan(balance: i64, charges: &[i64]) -> Vec<Fit> {
    let mut left = balance;
    charges
        .iter()
        .map(|&charge| {
            if charge <= left {
                left -= charge;
                Fit::Placed {
                    balance_after: left,
                }
            } else {
                Fit::Short { available: left }
            }
        })
        .collect()
}

/// An order waiting for its account's next group.
struct Waiting {
    order: NewOrder,
    reply: oneshot::Sender<AppResult<OrderRow>>,
}

/// The per-account queues of this process (cheap to clone: one shared state).
#[derive(Clone)]
pub struct GroupCommit(Arc<Inner>);

struct Inner {
    pool: PgPool,
    /// At most this many orders in one group; 1 places every order alone.
    max_group: usize,
    /// Accounts with a placement in flight, each with the orders waiting behind it.
    busy: Mutex<HashMap<i64, Vec<Waiting>>>,
}

impl GroupCommit {
    pub fn new(pool: PgPool, max_group: usize) -> Self {
        GroupCommit(Arc::new(Inner {
            pool,
            max_group: max_group.max(1),
            busy: Mutex::new(HashMap::new()),
        }))
    }

    /// Places `order` (a paid PENDING order: `NewOrder::insert_paid` takes it):
    /// at once on `conn` when its account is idle, else in the account's next
    /// group. A short balance is INSUFFICIENT_BALANCE with the balance met; a
    /// unique index's refusal is its error, as `insert_paid` alone gives it.
    pub async fn place(
        &self,
        conn: &mut AsyncPgConnection,
        order: NewOrder,
    ) -> AppResult<OrderRow> {
        if self.0.max_group == 1 {
            return place_alone(conn, &order).await;
        }
        let user_id = order.user_id;
        let waiting = {
            let mut busy = self.lock();
            match busy.get_mut(&user_id) {
                Some(queue) => {
                    let (reply, answer) = oneshot::channel();
                    queue.push(Waiting { order, reply });
                    Err(answer)
                }
                None => {
                    busy.insert(user_id, Vec::new());
                    Ok(order)
                }
            }
        };
        match waiting {
            Ok(order) => {
                let _next = HandOff {
                    commit: self.clone(),
                    user_id,
                };
                place_alone(conn, &order).await
            }
            Err(answer) => answer.await.unwrap_or_else(|_| {
                Err(AppError::Internal(anyhow::anyhow!(
                    "the order's group ended without an answer"
                )))
            }),
        }
    }

    /// How many orders of `user_id` wait behind its placement in flight; `None`
    /// when none is in flight.
    pub fn waiting(&self, user_id: i64) -> Option<usize> {
        self.lock().get(&user_id).map(Vec::len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Vec<Waiting>>> {
        // A panic while the map was held cannot leave it inconsistent (every
        // change is one insert, take or remove), so a poisoned lock is used as is.
        self.0
            .busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Places one group in a transaction of its own and answers every order.
    async fn place_group(&self, user_id: i64, group: Vec<Waiting>) {
        let mut conn = match self.0.pool.get().await {
            Ok(conn) => conn,
            Err(error) => {
                let error = AppError::from(error).to_string();
                for waiting in group {
                    let failed = AppError::Internal(anyhow::anyhow!("{error}"));
                    let _ = waiting.reply.send(Err(failed));
                }
                return;
            }
        };
        if let [_] = group.as_slice() {
            for waiting in group {
                let placed = place_alone(&mut conn, &waiting.order).await;
                let _ = waiting.reply.send(placed);
            }
            return;
        }
        let orders: Vec<&NewOrder> = group.iter().map(|w| &w.order).collect();
        let together = conn
            .transaction(async |conn| place_together(conn, user_id, &orders).await)
            .await;
        match together {
            Ok(outcomes) => {
                metrics::counter!(crate::metrics::ORDERS_GROUP_COMMITTED)
                    .increment(group.len() as u64);
                for (waiting, outcome) in group.into_iter().zip(outcomes) {
                    let _ = waiting.reply.send(outcome);
                }
            }
            // Refused as a whole (a unique index): one by one, each order gets
            // the answer it would have had alone.
            Err(_) => {
                for waiting in group {
                    let placed = place_alone(&mut conn, &waiting.order).await;
                    let _ = waiting.reply.send(placed);
                }
            }
        }
    }
}

/// Passes the account on when its placement ends, however it ends (answered,
/// dropped by its caller, panicked): the orders queued meanwhile become the next
/// group, placed in a task of its own; with none, the account is idle again.
struct HandOff {
    commit: GroupCommit,
    user_id: i64,
}

impl Drop for HandOff {
    fn drop(&mut self) {
        let group = {
            let mut busy = self.commit.lock();
            let Some(queue) = busy.get_mut(&self.user_id) else {
                return;
            };
            if queue.is_empty() {
                busy.remove(&self.user_id);
                return;
            }
            let take = queue.len().min(self.commit.0.max_group);
            queue.drain(..take).collect::<Vec<_>>()
        };
        let (commit, user_id) = (self.commit.clone(), self.user_id);
        tokio::spawn(async move {
            let _next = HandOff {
                commit: commit.clone(),
                user_id,
            };
            commit.place_group(user_id, group).await;
        });
    }
}

/// The group's orders in the caller's transaction: the balance locked, the plan,
/// the placed ones in one statement. An error rolls the whole group back.
async fn place_together(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    orders: &[&NewOrder],
) -> AppResult<Vec<AppResult<OrderRow>>> {
    let balance = UserRow::lock_balance(conn, user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let charges: Vec<i64> = orders.iter().map(|o| o.charge).collect();
    let fits = plan(balance, &charges);
    let placing: Vec<(&NewOrder, i64)> = orders
        .iter()
        .zip(&fits)
        .filter_map(|(order, fit)| match fit {
            Fit::Placed { balance_after } => Some((*order, *balance_after)),
            Fit::Short { .. } => None,
        })
        .collect();
    let mut placed = if placing.is_empty() {
        Vec::new()
    } else {
        NewOrder::insert_paid_group(conn, user_id, &placing, events::ORDER_CHANNEL).await?
    };
    if placed.len() != placing.len() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the balance moved under its lock"
        )));
    }
    placed.reverse();
    let mut outcomes = Vec::with_capacity(orders.len());
    for (order, fit) in orders.iter().zip(fits) {
        outcomes.push(match fit {
            Fit::Placed { .. } => match placed.pop() {
                Some(PlacedInGroup { order, .. }) => Ok(order),
                None => Err(AppError::Internal(anyhow::anyhow!(
                    "a placed order is missing"
                ))),
            },
            Fit::Short { available } => Err(AppError::InsufficientBalance {
                needed: order.charge,
                available,
            }),
        });
    }
    Ok(outcomes)
}

/// One order in one statement; a short balance is INSUFFICIENT_BALANCE with the
/// balance there is, a unique index's refusal its error.
async fn place_alone(conn: &mut AsyncPgConnection, order: &NewOrder) -> AppResult<OrderRow> {
    let placed = order
        .insert_paid(conn, events::ORDER_CHANNEL)
        .await
        .map_err(duplicate_key)?;
    if let Some(order) = placed {
        return Ok(order);
    }
    let available = wallet::available(conn, order.user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    Err(AppError::InsufficientBalance {
        needed: order.charge,
        available,
    })
}

/// A unique index's refusal as the error the customer reads.
pub(super) fn duplicate_key(error: diesel::result::Error) -> AppError {
    if is_unique_violation(&error, "orders_user_id_idempotency_key_key") {
        AppError::conflict("an order with this idempotencyKey exists")
    } else if is_unique_violation(&error, super::guard::ACTIVE_LINK_INDEX) {
        super::guard::active_link_error()
    } else {
        error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_planned_in_arrival_order_as_one_by_one_would_place_it() {
        assert_eq!(
            plan(10_000, &[3_000, 5_000, 4_000, 2_000]),
            vec![
                Fit::Placed {
                    balance_after: 7_000
                },
                Fit::Placed {
                    balance_after: 2_000
                },
                // Does not fit; the smaller one after it still does.
                Fit::Short { available: 2_000 },
                Fit::Placed { balance_after: 0 },
            ]
        );
        assert_eq!(plan(0, &[1]), vec![Fit::Short { available: 0 }]);
        assert_eq!(plan(5, &[]), vec![]);
    }

    #[test]
    fn every_placed_balance_after_is_the_balance_less_the_charges_before_it() {
        let charges = [1_100, 2_200, 50_000, 3_300, 999, 1];
        let fits = plan(8_000, &charges);
        let mut left = 8_000;
        for (charge, fit) in charges.iter().zip(&fits) {
            match fit {
                Fit::Placed { balance_after } => {
                    left -= charge;
                    assert_eq!(*balance_after, left);
                }
                Fit::Short { available } => {
                    assert_eq!(*available, left);
                    assert!(charge > available);
                }
            }
        }
        assert!(left >= 0);
    }
}
