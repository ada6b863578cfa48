//! `job_runs`: when each background job last succeeded and last failed, written by
//! the job runner of whichever process ran it, read by `/readyz`.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, upsert::excluded};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::job_runs;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_runs, check_for_backend(diesel::pg::Pg))]
pub struct JobRunRow {
    pub name: String,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Records one run of `name`.
pub async fn record(conn: &mut AsyncPgConnection, name: &str, succeeded: bool) -> QueryResult<()> {
    let now = Utc::now();
    let (success, failure) = if succeeded {
        (Some(now), None)
    } else {
        (None, Some(now))
    };
    diesel::insert_into(job_runs::table)
        .values((
            job_runs::name.eq(name),
            job_runs::last_success_at.eq(success),
            job_runs::last_failure_at.eq(failure),
            job_runs::updated_at.eq(now),
        ))
        .on_conflict(job_runs::name)
        .do_update()
        .set((
            job_runs::last_success_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >(
                "COALESCE(excluded.last_success_at, job_runs.last_success_at)",
            )),
            job_runs::last_failure_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >(
                "COALESCE(excluded.last_failure_at, job_runs.last_failure_at)",
            )),
            job_runs::updated_at.eq(excluded(job_runs::updated_at)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Every job's last runs.
pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<JobRunRow>> {
    job_runs::table
        .select(JobRunRow::as_select())
        .order(job_runs::name)
        .load(conn)
        .await
}
