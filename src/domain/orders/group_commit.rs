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
//! costs nothing more. A group runs on the connection of the caller who leads it
//! (the first waiting, as in MySQL's group commit), never on another pooled one:
//! the callers hold theirs while they wait, and a pool of them all waiting must
//! not starve the group. Writes run to their end whatever the client does
//! (`http::run_to_end`), and `HandOff` passes the account on however a placement
//! ends. The queue is per process; the database's guarded debit and unique indexes keep processes
//! sharing one database exact.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::sync::oneshot;

use crate::{
    db::{
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
    reply: oneshot::Sender<Turn>,
}

/// What a waiting order hears when the placement ahead of it ends.
enum Turn {
    /// Placed (or refused) by another order's caller in a group.
    Answered(Box<AppResult<OrderRow>>),
    /// This caller leads the next group: its own order first, then these.
    Lead(Vec<Waiting>),
}

/// The per-account queues of this process (cheap to clone: one shared state).
#[derive(Clone)]
pub struct GroupCommit(Arc<Inner>);

struct Inner {
    /// At most this many orders in one group; 1 places every order alone.
    max_group: usize,
    /// Accounts with a placement in flight, each with the orders waiting behind it.
    busy: Mutex<HashMap<i64, Vec<Waiting>>>,
}

impl GroupCommit {
    pub fn new(max_group: usize) -> Self {
        GroupCommit(Arc::new(Inner {
            max_group: max_group.max(1),
            busy: Mutex::new(HashMap::new()),
        }))
    }

    /// Places `order` (a paid PENDING order: `NewOrder::insert_paid` takes it) on
    /// `conn`: at once when its account is idle; else it waits for the placement
    /// in flight, and then either another caller has placed it in a group, or
    /// this caller leads the next group on its own connection (the first waiting
    /// order leads, as in MySQL's group commit), so a group never needs a pooled
    /// connection beyond those its callers already hold. A short balance is
    /// INSUFFICIENT_BALANCE with the balance met; a unique index's refusal is its
    /// error, as `insert_paid` alone gives it.
    pub async fn place(
        &self,
        conn: &mut AsyncPgConnection,
        order: NewOrder,
    ) -> AppResult<OrderRow> {
        if self.0.max_group == 1 {
            return place_alone(conn, &order).await;
        }
        let user_id = order.user_id;
        let queued = {
            let mut busy = self.lock();
            match busy.get_mut(&user_id) {
                Some(queue) => {
                    let (reply, turn) = oneshot::channel();
                    queue.push(Waiting {
                        order: order.clone(),
                        reply,
                    });
                    Some(turn)
                }
                None => {
                    busy.insert(user_id, Vec::new());
                    None
                }
            }
        };
        let Some(turn) = queued else {
            let _next = HandOff {
                commit: self.clone(),
                user_id,
            };
            return place_alone(conn, &order).await;
        };
        match turn.await {
            Ok(Turn::Answered(outcome)) => *outcome,
            Ok(Turn::Lead(others)) => {
                let _next = HandOff {
                    commit: self.clone(),
                    user_id,
                };
                let mut outcomes = place_group(conn, user_id, &order, &others).await;
                let own = outcomes.remove(0);
                for (waiting, outcome) in others.into_iter().zip(outcomes) {
                    let _ = waiting.reply.send(Turn::Answered(Box::new(outcome)));
                }
                own
            }
            Err(_) => Err(AppError::Internal(anyhow::anyhow!(
                "the order's group ended without an answer"
            ))),
        }
    }

    /// How many orders of `user_id` wait behind its placement in flight; `None`
    /// when none is in flight.
    pub fn waiting(&self, user_id: i64) -> Option<usize> {
        self.lock().get(&user_id).map(Vec::len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Vec<Waiting>>> {
        // A panic while the map was held cannot leave it inconsistent (every
        // change is one insert, drain or remove), so a poisoned lock is used as is.
        self.0
            .busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Passes the account on when its placement ends, however it ends (answered,
/// dropped by its caller, panicked): the orders queued meanwhile become the next
/// group, led by the first of them whose caller is still there; with none, the
/// account is idle again.
struct HandOff {
    commit: GroupCommit,
    user_id: i64,
}

impl Drop for HandOff {
    fn drop(&mut self) {
        let mut busy = self.commit.lock();
        loop {
            let Some(queue) = busy.get_mut(&self.user_id) else {
                return;
            };
            if queue.is_empty() {
                busy.remove(&self.user_id);
                return;
            }
            let take = queue.len().min(self.commit.0.max_group);
            let mut group: Vec<Waiting> = queue.drain(..take).collect();
            while !group.is_empty() {
                let leader = group.remove(0);
                match leader.reply.send(Turn::Lead(group)) {
                    // The leader's HandOff passes the account on after its group.
                    Ok(()) => return,
                    // That caller is gone (its order goes unplaced, as if it had
                    // never arrived): the next one leads.
                    Err(Turn::Lead(rest)) => group = rest,
                    Err(Turn::Answered(_)) => unreachable!("a Lead was sent"),
                }
            }
            // Every caller of that group was gone: the next queued orders, if any.
        }
    }
}

/// Places `first` and `others` (in that order) on `conn`: together in one
/// transaction when there are several; when the database refuses the group as a
/// whole (a unique index), one by one, so each gets the answer it would have had
/// alone. Returns one outcome per order, in order.
async fn place_group(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    first: &NewOrder,
    others: &[Waiting],
) -> Vec<AppResult<OrderRow>> {
    let mut orders = vec![first];
    orders.extend(others.iter().map(|w| &w.order));
    if orders.len() > 1 {
        let together = conn
            .transaction(async |conn| place_together(conn, user_id, &orders).await)
            .await;
        if let Ok(outcomes) = together {
            metrics::counter!(crate::metrics::ORDERS_GROUP_COMMITTED)
                .increment(orders.len() as u64);
            return outcomes;
        }
    }
    let mut outcomes = Vec::with_capacity(orders.len());
    for order in orders {
        outcomes.push(place_alone(conn, order).await);
    }
    outcomes
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
