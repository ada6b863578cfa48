//! Target keywords and the SEO health check: admins list the search terms they
//! want to rank for, each assigned to a page, post, category or service; the
//! check reports keywords with no page (unassigned, or assigned to something
//! missing or not public) and keywords whose page has no meta description of its own.

use std::collections::HashSet;

use diesel_async::AsyncPgConnection;

use crate::domain::text::check_text;
use crate::{
    db::{
        enums::SeoSubject,
        seo_keywords::{NewSeoKeyword, SeoKeywordRow},
        seo_meta::SeoMetaRow,
        seo_subjects,
    },
    error::{AppError, AppResult, is_unique_violation},
};

const MAX_KEYWORD: usize = 100;
const MAX_KEYWORDS: i64 = 1000;

/// What is wrong with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordProblem {
    /// No public page, post, category or service targets it.
    NoPage,
    /// Its page has no meta description of its own.
    NoMetaDescription,
}

pub async fn add(
    conn: &mut AsyncPgConnection,
    keyword: &str,
    subject: Option<(SeoSubject, i64)>,
) -> AppResult<SeoKeywordRow> {
    let keyword = check_text("keyword", keyword, MAX_KEYWORD, true)?;
    if SeoKeywordRow::count(conn).await? >= MAX_KEYWORDS {
        return Err(AppError::validation(
            "keyword",
            format!("at most {MAX_KEYWORDS} keywords"),
        ));
    }
    if let Some((kind, id)) = subject
        && !exists(conn, kind, id).await?
    {
        return Err(AppError::validation("subjectId", "subjectId names nothing"));
    }
    let row = NewSeoKeyword {
        keyword,
        subject_type: subject.map(|s| s.0),
        subject_id: subject.map(|s| s.1),
    };
    SeoKeywordRow::insert(conn, &row).await.map_err(|e| {
        if is_unique_violation(&e, "seo_keywords_keyword_key") {
            AppError::conflict("this keyword is listed already")
        } else {
            e.into()
        }
    })
}

pub async fn remove(conn: &mut AsyncPgConnection, id: i64) -> AppResult<SeoKeywordRow> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let row = SeoKeywordRow::find_for_update(conn, id)
            .await?
            .ok_or(AppError::NotFound("keyword"))?;
        SeoKeywordRow::delete(conn, id).await?;
        Ok(row)
    })
    .await
}

async fn exists(conn: &mut AsyncPgConnection, kind: SeoSubject, id: i64) -> AppResult<bool> {
    Ok(seo_subjects::current(conn, kind, id, false)
        .await?
        .is_some())
}

/// The ids of a subject type a visitor can reach.
async fn public_ids(conn: &mut AsyncPgConnection, kind: SeoSubject) -> AppResult<HashSet<i64>> {
    Ok(seo_subjects::public_ids(conn, kind)
        .await?
        .into_iter()
        .collect())
}

/// Every keyword with its problems (empty when it is fine), alphabetically.
pub async fn health(
    conn: &mut AsyncPgConnection,
) -> AppResult<Vec<(SeoKeywordRow, Vec<KeywordProblem>)>> {
    let keywords = SeoKeywordRow::all(conn).await?;
    let mut public = std::collections::HashMap::new();
    let mut described = std::collections::HashMap::new();
    for kind in SeoSubject::ALL {
        if keywords.iter().any(|k| k.subject_type == Some(*kind)) {
            public.insert(*kind, public_ids(conn, *kind).await?);
            let with: HashSet<i64> = SeoMetaRow::with_description(conn, *kind)
                .await?
                .into_iter()
                .collect();
            described.insert(*kind, with);
        }
    }
    Ok(keywords
        .into_iter()
        .map(|keyword| {
            let problems = match (keyword.subject_type, keyword.subject_id) {
                (Some(kind), Some(id)) if public[&kind].contains(&id) => {
                    if described[&kind].contains(&id) {
                        vec![]
                    } else {
                        vec![KeywordProblem::NoMetaDescription]
                    }
                }
                _ => vec![KeywordProblem::NoPage],
            };
            (keyword, problems)
        })
        .collect())
}
