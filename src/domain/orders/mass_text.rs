//! A mass order's text read into lines: `service_id|link|quantity` per line, or
//! CSV with a header naming `service`, `link` and `quantity`; each line that
//! cannot be read is reported by its number. Pure: reads nothing.

use crate::error::{AppError, AppResult};

/// The most lines one mass order may hold; a longer text is refused whole.
pub const MAX_MASS_ORDER_LINES: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug)]
pub(super) struct RawLine {
    pub(super) line: usize,
    pub(super) service: String,
    pub(super) link: String,
    pub(super) quantity: String,
}

/// Parses `service_id|link|quantity` lines, or CSV with a header naming `service`,
/// `link` and `quantity` columns.
fn parse_mass_text(text: &str) -> Result<Vec<RawLine>, Vec<LineError>> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let lower = first.to_ascii_lowercase();
    if !first.contains('|') && lower.contains("service") && lower.contains(',') {
        return parse_csv(text);
    }
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let parts: Vec<&str> = trimmed.split('|').map(str::trim).collect();
        if parts.len() != 3 {
            errors.push(LineError {
                line: index + 1,
                field: "line".into(),
                message: "expected service_id|link|quantity".into(),
            });
            continue;
        }
        lines.push(RawLine {
            line: index + 1,
            service: parts[0].into(),
            link: parts[1].into(),
            quantity: parts[2].into(),
        });
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

fn parse_csv(text: &str) -> Result<Vec<RawLine>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            vec![LineError {
                line: 1,
                field: "line".into(),
                message: format!("unreadable CSV header: {e}"),
            }]
        })?
        .clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.to_ascii_lowercase().as_str()))
    };
    let (Some(s), Some(l), Some(q)) = (
        column(&["service", "service_id", "serviceid"]),
        column(&["link", "target", "url"]),
        column(&["quantity", "qty", "amount"]),
    ) else {
        return Err(vec![LineError {
            line: 1,
            field: "line".into(),
            message: "the CSV header needs service, link and quantity columns".into(),
        }]);
    };
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                if record.iter().all(|f| f.is_empty()) {
                    continue;
                }
                let get = |i: usize| record.get(i).unwrap_or("").to_string();
                lines.push(RawLine {
                    line,
                    service: get(s),
                    link: get(l),
                    quantity: get(q),
                });
            }
            Err(e) => errors.push(LineError {
                line: e.position().map_or(0, |p| p.line() as usize),
                field: "line".into(),
                message: format!("unreadable CSV row: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

/// The lines of a mass order text, and the structural errors of those that could
/// not be read (the lines that could are still validated, so the report is
/// complete). An empty text or one over [`MAX_MASS_ORDER_LINES`] is refused whole.
pub(super) fn read_lines(text: &str) -> AppResult<(Vec<RawLine>, Vec<LineError>)> {
    let (lines, errors) = match parse_mass_text(text) {
        Ok(lines) => (lines, Vec::new()),
        Err(errors) => (parse_mass_text_lenient(text), errors),
    };
    if lines.is_empty() && errors.is_empty() {
        return Err(AppError::validation(
            "text",
            "no orders: one order per line, service_id|link|quantity",
        ));
    }
    if lines.len() + errors.len() > MAX_MASS_ORDER_LINES {
        return Err(AppError::validation(
            "text",
            format!("at most {MAX_MASS_ORDER_LINES} lines per mass order"),
        ));
    }
    Ok((lines, errors))
}

/// The lines that can be read, when some cannot: they are still validated so
/// the report is complete.
fn parse_mass_text_lenient(text: &str) -> Vec<RawLine> {
    text.lines()
        .enumerate()
        .filter_map(|(index, raw)| {
            let parts: Vec<&str> = raw.trim().split('|').map(str::trim).collect();
            (parts.len() == 3).then(|| RawLine {
                line: index + 1,
                service: parts[0].into(),
                link: parts[1].into(),
                quantity: parts[2].into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mass_text_formats() {
        let lines = parse_mass_text("1|https://x.com/a|100\n\n2|https://x.com/b|200\n").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].line, 3);
        let csv = parse_mass_text(
            "service,link,quantity\n1,https://x.com/a,100\n2,\"https://x.com/b\",200\n",
        )
        .unwrap();
        assert_eq!(
            (csv.len(), csv[1].line, csv[1].quantity.as_str()),
            (2, 3, "200")
        );
        let errors = parse_mass_text("1|https://x.com/a\n").unwrap_err();
        assert_eq!(errors[0].line, 1);
    }
}
