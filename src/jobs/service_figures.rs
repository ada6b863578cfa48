//! Measured service figures: every `SERVICE_FIGURES_INTERVAL_SECONDS`, each
//! service's start time (p50, p90), speed per 1000 over its last 10 completed
//! orders, share ending PARTIAL or CANCELED and refill requests per completed
//! order, over the orders placed in the last `SERVICE_FIGURES_WINDOW_DAYS`, in
//! one set-based statement (`db::service_figures`). Never computed per request.

use crate::{app::AppState, db::service_figures::ServiceFiguresRow, error::AppResult};

super::job!(ServiceFigures, "service figures", orders.figures_interval);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FiguresRun {
    /// Services whose figures were written.
    pub services: usize,
}

/// Recomputes every service's figures.
pub async fn run(state: &AppState) -> AppResult<FiguresRun> {
    let mut conn = state.pool.get().await?;
    let window = state.config.orders.figures_window_days;
    let services = ServiceFiguresRow::recompute(&mut conn, window).await?;
    Ok(FiguresRun { services })
}
