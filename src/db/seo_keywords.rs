//! `seo_keywords`: search terms the owner targets, each optionally assigned to the
//! page, post, category or service meant to rank for it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{enums::SeoSubject, schema::seo_keywords};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = seo_keywords, check_for_backend(diesel::pg::Pg))]
pub struct SeoKeywordRow {
    pub id: i64,
    pub keyword: String,
    pub subject_type: Option<SeoSubject>,
    pub subject_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

super::reads_by_id!(SeoKeywordRow, seo_keywords);

#[derive(Debug, Insertable)]
#[diesel(table_name = seo_keywords)]
pub struct NewSeoKeyword {
    pub keyword: String,
    pub subject_type: Option<SeoSubject>,
    pub subject_id: Option<i64>,
}

impl SeoKeywordRow {
    /// Every keyword, alphabetically (a short list an owner curates by hand).
    pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<SeoKeywordRow>> {
        seo_keywords::table
            .order((seo_keywords::keyword, seo_keywords::id))
            .select(SeoKeywordRow::as_select())
            .load(conn)
            .await
    }

    pub async fn count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
        seo_keywords::table.count().get_result(conn).await
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        keyword: &NewSeoKeyword,
    ) -> QueryResult<SeoKeywordRow> {
        diesel::insert_into(seo_keywords::table)
            .values(keyword)
            .returning(SeoKeywordRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(seo_keywords::table.find(id))
            .execute(conn)
            .await
    }
}
