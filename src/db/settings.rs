//! `app_settings`: panel-wide settings as JSON values under fixed keys.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::app_settings;

pub const DEFAULT_MARKUP_BPS: &str = "default_markup_bps";

pub async fn get(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> QueryResult<Option<serde_json::Value>> {
    app_settings::table
        .find(key)
        .select(app_settings::value)
        .first(conn)
        .await
        .optional()
}

pub async fn put(
    conn: &mut AsyncPgConnection,
    key: &str,
    value: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(app_settings::table)
        .values((app_settings::key.eq(key), app_settings::value.eq(&value)))
        .on_conflict(app_settings::key)
        .do_update()
        .set((
            app_settings::value.eq(&value),
            app_settings::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
