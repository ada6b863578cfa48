//! Markdown to HTML that is safe to show a visitor. Editors write Markdown (which
//! may embed raw HTML); it is rendered with pulldown-cmark and the result cleaned
//! by ammonia's allow-list on every save, so `<script>`, event attributes
//! (`onclick`, ...), `javascript:` and other non-web URLs, `<iframe>`, `<style>` and
//! forms never reach a page. Also the plain text used for excerpts, meta
//! descriptions and reading time.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS
}

/// The sanitized HTML of `markdown`.
pub fn render(markdown: &str) -> String {
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options()));
    sanitize(&unsafe_html)
}

/// Characters XML cannot carry that character references (`&#1;`, `&#xFFFF;`)
/// decode to are dropped from derived text.
fn xml_safe(text: String) -> String {
    match crate::domain::text::xml_safe(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

/// Cleans HTML down to the allow-list: formatting, links (http, https, mailto,
/// tel and relative) marked `noopener noreferrer`, images and tables.
pub fn sanitize(html: &str) -> String {
    xml_safe(
        ammonia::Builder::default()
            .url_schemes(["http", "https", "mailto", "tel"].into())
            .link_rel(Some("noopener noreferrer"))
            .clean(html)
            .to_string(),
    )
}

/// The words of `markdown` without markup (raw HTML dropped), one space apart.
pub fn plain_text(markdown: &str) -> String {
    let mut text = String::new();
    let mut in_code_block = false;
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(t) if !in_code_block => push_words(&mut text, &t),
            Event::Code(t) => push_words(&mut text, &t),
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            _ => {}
        }
    }
    xml_safe(text)
}

/// The text of `markdown` without markup, one line per paragraph, heading or
/// list item (the plain-text part of a mail).
pub fn plain_text_paragraphs(markdown: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => line.push_str(&t),
            Event::SoftBreak | Event::HardBreak => line.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock,
            ) => {
                if !line.trim().is_empty() {
                    out.push_str(line.trim());
                    out.push_str("\n\n");
                }
                line.clear();
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                line.push_str(&format!("[{dest_url}] "));
            }
            _ => {}
        }
    }
    if !line.trim().is_empty() {
        out.push_str(line.trim());
    }
    xml_safe(out.trim_end().to_string())
}

fn push_words(out: &mut String, text: &str) {
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// At most `max` characters of `text`, cut at a word boundary when one is near,
/// with an ellipsis when anything was cut.
pub fn truncate_words(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let at_word = match cut.rfind(' ') {
        Some(space) if space > cut.len() / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", at_word.trim_end_matches([' ', ',', '.', ';', ':']))
}

/// Minutes to read, at 200 words a minute, at least one.
pub fn reading_minutes(plain: &str) -> i32 {
    let words = plain.split_whitespace().count();
    words.div_ceil(200).max(1) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        let html = render(
            "# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) \
             <a href=\"JaVaScRiPt:alert(2)\">y</a> <img src=x onerror=alert(3)> \
             <p onclick=\"alert(4)\" style=\"color:red\">p</p><iframe src=\"https://e.com\"></iframe>",
        );
        let lower = html.to_lowercase();
        for bad in [
            "<script",
            "alert(",
            "javascript:",
            "onerror",
            "onclick",
            "<iframe",
            "style=",
        ] {
            assert!(!lower.contains(bad), "{bad} survived in {html}");
        }
        assert!(html.contains("<h1>Hi</h1>"));
        assert!(render("[ok](https://example.com)").contains("href=\"https://example.com\""));
    }

    #[test]
    fn plain_text_excerpts_and_reading_time() {
        let plain = plain_text("# Title\n\nSome *bold* text <b>raw</b>\n\n```\ncode\n```");
        assert_eq!(plain, "Title Some bold text raw");
        assert_eq!(truncate_words("one two three four", 10), "one two…");
        assert_eq!(truncate_words("short", 10), "short");
        assert_eq!(reading_minutes(""), 1);
        assert_eq!(reading_minutes(&"w ".repeat(401)), 3);
    }
}
