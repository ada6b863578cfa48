//! The FAQ: admins write, order and publish entries (question, answer, category,
//! language); anyone lists and searches the published ones; the reply bot asks
//! [`best_match`] for an entry that answers a customer's message.

use std::collections::HashSet;

use diesel_async::AsyncPgConnection;

use crate::domain::text::{check_line, check_search, check_text};
use crate::{
    db::faq::{FaqChangeset, FaqRow, NewFaq},
    domain::audit::{AdminWrite, Subject, Summary},
    error::{AppError, AppResult},
};

pub const MAX_QUESTION_CHARS: usize = 300;
pub const MAX_ANSWER_CHARS: usize = 5000;
pub const MAX_CATEGORY_CHARS: usize = 100;

/// An entry as an admin writes it.
#[derive(Debug, Clone, Default)]
pub struct FaqInput {
    pub question: Option<String>,
    pub answer: Option<String>,
    pub category: Option<String>,
    pub language: Option<String>,
    pub published: Option<bool>,
}

fn check_language(language: &str) -> AppResult<String> {
    match language.trim() {
        l @ ("id" | "en") => Ok(l.to_string()),
        _ => Err(AppError::validation(
            "language",
            "language must be id or en",
        )),
    }
}

fn check_category(category: &str) -> AppResult<String> {
    let category = category.trim();
    if category.chars().count() > MAX_CATEGORY_CHARS || category.chars().any(char::is_control) {
        return Err(AppError::validation(
            "category",
            format!("category must be at most {MAX_CATEGORY_CHARS} characters on one line"),
        ));
    }
    Ok(category.to_string())
}

/// A new entry, last in its order; unpublished unless `published` says so.
pub async fn create(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    input: FaqInput,
) -> AppResult<FaqRow> {
    let question = check_line(
        "question",
        input.question.as_deref().unwrap_or_default(),
        MAX_QUESTION_CHARS,
        true,
    )?;
    let answer = check_text(
        "answer",
        input.answer.as_deref().unwrap_or_default(),
        MAX_ANSWER_CHARS,
        true,
    )?;
    let category = check_category(input.category.as_deref().unwrap_or_default())?;
    let language = check_language(input.language.as_deref().unwrap_or("id"))?;
    let write = AdminWrite::new(admin_id, "faq_entry.create");
    write
        .create(conn, Subject::FaqEntry, async |conn| {
            let last = FaqRow::list(conn, false, None, None)
                .await?
                .iter()
                .map(|row| row.sort_order)
                .max()
                .unwrap_or(0);
            let new = NewFaq {
                question: &question,
                answer: &answer,
                category: &category,
                language: &language,
                published: input.published.unwrap_or(false),
                sort_order: last.saturating_add(1),
            };
            Ok(FaqRow::insert(conn, new).await?)
        })
        .await
}

/// Changes the fields given; NOT_FOUND for an unknown entry. `action` names the
/// change in the audit log (`faq_entry.update`, `faq_entry.publish`).
pub async fn update(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    id: i64,
    input: FaqInput,
    action: &str,
) -> AppResult<FaqRow> {
    let change = FaqChangeset {
        question: input
            .question
            .map(|q| check_line("question", &q, MAX_QUESTION_CHARS, true))
            .transpose()?,
        answer: input
            .answer
            .map(|a| check_text("answer", &a, MAX_ANSWER_CHARS, true))
            .transpose()?,
        category: input.category.map(|c| check_category(&c)).transpose()?,
        language: input.language.map(|l| check_language(&l)).transpose()?,
        published: input.published,
        sort_order: None,
    };
    let write = AdminWrite::new(admin_id, action);
    write
        .change(conn, Subject::FaqEntry, id, async |conn| {
            FaqRow::update(conn, id, change)
                .await?
                .ok_or(AppError::NotFound("FAQ entry"))
        })
        .await
}

/// Puts the entries named in `ids` first, in that order (the others keep their
/// relative order after them). Every id must exist and appear once.
pub async fn reorder(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    ids: &[i64],
) -> AppResult<Vec<FaqRow>> {
    let unique: HashSet<i64> = ids.iter().copied().collect();
    if unique.len() != ids.len() {
        return Err(AppError::validation("ids", "an entry appears twice"));
    }
    let write = AdminWrite::new(admin_id, "faq_entry.reorder");
    write
        .bulk(conn, Subject::FaqEntry.as_str(), async |conn| {
            let all = FaqRow::list(conn, false, None, None).await?;
            if ids.iter().any(|id| !all.iter().any(|row| row.id == *id)) {
                return Err(AppError::NotFound("FAQ entry"));
            }
            let before: Vec<i64> = all.iter().map(|row| row.id).collect();
            let rest = all
                .iter()
                .map(|row| row.id)
                .filter(|id| !unique.contains(id));
            let order: Vec<i64> = ids.iter().copied().chain(rest).collect();
            for (position, id) in order.iter().copied().enumerate() {
                FaqRow::update(
                    conn,
                    id,
                    FaqChangeset {
                        sort_order: Some(i32::try_from(position + 1).unwrap_or(i32::MAX)),
                        ..Default::default()
                    },
                )
                .await?;
            }
            let summary = Summary {
                before: Some(serde_json::json!(before)),
                ..Summary::after(serde_json::json!(order))
            };
            Ok((FaqRow::list(conn, false, None, None).await?, summary))
        })
        .await
}

/// Published entries: all of them in display order, or those matching `search`
/// best first.
pub async fn published(
    conn: &mut AsyncPgConnection,
    search: Option<&str>,
    language: Option<&str>,
    category: Option<&str>,
) -> AppResult<Vec<FaqRow>> {
    let language = language.map(check_language).transpose()?;
    match check_search(search)? {
        Some(text) => {
            let rows = FaqRow::search_text(conn, &text, language.as_deref(), 50).await?;
            Ok(rows
                .into_iter()
                .filter(|row| category.is_none_or(|c| row.category == c))
                .collect())
        }
        None => Ok(FaqRow::list(conn, true, language.as_deref(), category).await?),
    }
}

/// Words too common to say what a question is about (Indonesian and English).
const STOPWORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "you",
    "your",
    "are",
    "was",
    "what",
    "how",
    "why",
    "when",
    "can",
    "does",
    "this",
    "that",
    "with",
    "have",
    "has",
    "not",
    "but",
    "please",
    "hello",
    "thanks",
    "thank",
    "yang",
    "dan",
    "untuk",
    "saya",
    "aku",
    "apa",
    "bagaimana",
    "kenapa",
    "mengapa",
    "kapan",
    "bisa",
    "ini",
    "itu",
    "dengan",
    "ada",
    "tidak",
    "tolong",
    "halo",
    "terima",
    "kasih",
    "kak",
    "min",
    "admin",
    "gan",
    "sudah",
    "belum",
    "akan",
    "dari",
    "pada",
    "juga",
    "atau",
    "mau",
];

/// The words of `text` that say what it is about: lowercase letters and digits,
/// three characters or more, no stopwords, each once, at most 40.
pub fn keywords(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|word| word.chars().count() >= 3 && !STOPWORDS.contains(&word.as_str()))
        .filter(|word| seen.insert(word.clone()))
        .take(40)
        .collect()
}

/// The published entry that answers `text` well enough, preferring `language`:
/// full-text search finds candidates sharing any keyword, and one is taken when
/// the message contains at least 60% of its question's keywords (and two of them,
/// unless the question has only one).
pub async fn best_match(
    conn: &mut AsyncPgConnection,
    text: &str,
    language: &str,
) -> AppResult<Option<FaqRow>> {
    let words = keywords(text);
    if words.is_empty() {
        return Ok(None);
    }
    // Keywords are letters and digits only, so they are safe tsquery terms.
    let tsquery = words.join(" | ");
    let candidates = FaqRow::search(conn, &tsquery, None, 20).await?;
    let message: HashSet<&str> = words.iter().map(String::as_str).collect();
    let best = candidates
        .into_iter()
        .filter_map(|row| {
            let question = keywords(&row.question);
            if question.is_empty() {
                return None;
            }
            let matched = question
                .iter()
                .filter(|w| message.contains(w.as_str()))
                .count();
            let share = matched as f64 / question.len() as f64;
            let enough = share >= 0.6 && (matched >= 2 || question.len() == 1);
            let same_language = row.language == language;
            enough.then_some((same_language, share, row))
        })
        .max_by(|a, b| {
            (a.0, a.1)
                .partial_cmp(&(b.0, b.1))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(_, _, row)| row);
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::keywords;

    #[test]
    fn keywords_drop_stopwords_short_words_and_punctuation() {
        assert_eq!(
            keywords("How do I top up my balance? Top-up via QRIS!"),
            vec!["top", "balance", "via", "qris"]
        );
        assert_eq!(keywords("apa itu refill?"), vec!["refill"]);
        assert!(keywords("a & | ! :*").is_empty());
    }
}
