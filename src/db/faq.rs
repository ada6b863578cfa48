//! `faq_entries`: questions and answers admins write, order and publish; anyone
//! reads the published ones. Search is PostgreSQL full text over question and
//! answer (the index in the migration uses the same expression).

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::faq_entries;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, QueryableByName)]
#[diesel(table_name = faq_entries, check_for_backend(diesel::pg::Pg))]
pub struct FaqRow {
    pub id: i64,
    pub question: String,
    pub answer: String,
    pub category: String,
    pub language: String,
    pub published: bool,
    pub sort_order: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

super::reads_by_id!(FaqRow, faq_entries);

#[derive(Debug, Insertable)]
#[diesel(table_name = faq_entries)]
pub struct NewFaq<'a> {
    pub question: &'a str,
    pub answer: &'a str,
    pub category: &'a str,
    pub language: &'a str,
    pub published: bool,
    pub sort_order: i32,
}

/// A partial update; `None` leaves a column alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = faq_entries)]
pub struct FaqChangeset {
    pub question: Option<String>,
    pub answer: Option<String>,
    pub category: Option<String>,
    pub language: Option<String>,
    pub published: Option<bool>,
    pub sort_order: Option<i32>,
}

/// The full-text document of an entry; the same expression as the GIN index.
const DOCUMENT: &str = "to_tsvector('simple', question || ' ' || answer)";

impl FaqRow {
    pub async fn insert(conn: &mut AsyncPgConnection, new: NewFaq<'_>) -> QueryResult<FaqRow> {
        diesel::insert_into(faq_entries::table)
            .values(new)
            .returning(FaqRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        change: FaqChangeset,
    ) -> QueryResult<Option<FaqRow>> {
        diesel::update(faq_entries::table.find(id))
            .set((change, faq_entries::updated_at.eq(diesel::dsl::now)))
            .returning(FaqRow::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Entries in display order (`sort_order`, then id), optionally only the
    /// published ones, of one language or category.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        published_only: bool,
        language: Option<&str>,
        category: Option<&str>,
    ) -> QueryResult<Vec<FaqRow>> {
        let mut q = faq_entries::table.into_boxed();
        if published_only {
            q = q.filter(faq_entries::published.eq(true));
        }
        if let Some(language) = language {
            q = q.filter(faq_entries::language.eq(language.to_string()));
        }
        if let Some(category) = category {
            q = q.filter(faq_entries::category.eq(category.to_string()));
        }
        q.order((faq_entries::sort_order.asc(), faq_entries::id.asc()))
            .limit(500)
            .select(FaqRow::as_select())
            .load(conn)
            .await
    }

    /// Published entries matching `query` (a `tsquery` in the 'simple'
    /// configuration, built by the caller), best ranked first.
    pub async fn search(
        conn: &mut AsyncPgConnection,
        tsquery: &str,
        language: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<FaqRow>> {
        Self::search_parsed(conn, "to_tsquery", tsquery, language, limit).await
    }

    /// Published entries matching what a person typed (`websearch_to_tsquery`:
    /// words, "phrases", or, -not), best ranked first.
    pub async fn search_text(
        conn: &mut AsyncPgConnection,
        text: &str,
        language: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<FaqRow>> {
        Self::search_parsed(conn, "websearch_to_tsquery", text, language, limit).await
    }

    /// The search both use; `parser` is the PostgreSQL function that makes the
    /// `tsquery` of `query` (one of the two above, never user text).
    async fn search_parsed(
        conn: &mut AsyncPgConnection,
        parser: &'static str,
        query: &str,
        language: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<FaqRow>> {
        diesel::sql_query(format!(
            "SELECT id, question, answer, category, language, published, sort_order, created_at, updated_at \
             FROM faq_entries \
             WHERE published AND {DOCUMENT} @@ {parser}('simple', $1) \
               AND ($2::text IS NULL OR language = $2) \
             ORDER BY ts_rank({DOCUMENT}, {parser}('simple', $1)) DESC, sort_order, id \
             LIMIT $3"
        ))
        .bind::<Text, _>(query)
        .bind::<Nullable<Text>, _>(language)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
    }
}
