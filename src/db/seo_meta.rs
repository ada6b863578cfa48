//! `seo_meta`: the SEO fields an admin set for a page, post, category or service.
//! Unset fields are derived from the content when read (`domain::content::seo`).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{enums::SeoSubject, schema::seo_meta};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = seo_meta, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct SeoMetaRow {
    pub subject_type: SeoSubject,
    pub subject_id: i64,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub keywords: Vec<String>,
    pub canonical_url: Option<String>,
    pub og_title: Option<String>,
    pub og_description: Option<String>,
    pub og_image_url: Option<String>,
}

impl SeoMetaRow {
    /// The overrides of many subjects of one type, by subject id.
    pub async fn for_subjects(
        conn: &mut AsyncPgConnection,
        subject: SeoSubject,
        ids: &[i64],
    ) -> QueryResult<Vec<SeoMetaRow>> {
        seo_meta::table
            .filter(seo_meta::subject_type.eq(subject))
            .filter(seo_meta::subject_id.eq_any(ids))
            .select(SeoMetaRow::as_select())
            .load(conn)
            .await
    }

    /// Replaces a subject's overrides.
    pub async fn put(conn: &mut AsyncPgConnection, row: &SeoMetaRow) -> QueryResult<()> {
        diesel::insert_into(seo_meta::table)
            .values(row)
            .on_conflict((seo_meta::subject_type, seo_meta::subject_id))
            .do_update()
            .set((row, seo_meta::updated_at.eq(diesel::dsl::now)))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn delete(
        conn: &mut AsyncPgConnection,
        subject: SeoSubject,
        id: i64,
    ) -> QueryResult<()> {
        diesel::delete(seo_meta::table.find((subject, id)))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Subjects of one type that have a meta description of their own.
    pub async fn with_description(
        conn: &mut AsyncPgConnection,
        subject: SeoSubject,
    ) -> QueryResult<Vec<i64>> {
        seo_meta::table
            .filter(seo_meta::subject_type.eq(subject))
            .filter(seo_meta::meta_description.is_not_null())
            .select(seo_meta::subject_id)
            .load(conn)
            .await
    }
}
