//! Markdown to HTML that is safe to show a visitor. Editors write Markdown (which
//! may embed raw HTML); it is rendered with pulldown-cmark and the result cleaned
//! by ammonia's allow-list on every save, so `<script>`, event attributes
//! (`onclick`, ...), `javascript:` and other non-web URLs, `<iframe>`, `<style>` and
//! forms never reach a page. Also the plain text used for excerpts, meta
//! descriptions and reading time.

use pulldown_cmark::{Options, Parser, html};

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

/// The words of `markdown` without markup, one space apart, taken from its
/// sanitized HTML ([`render`]): what a script or style an editor pasted held
/// never reaches an excerpt, a meta description or a feed summary. Code blocks
/// are left out (they are not read as prose).
pub fn plain_text(markdown: &str) -> String {
    let text = html_text(&render(markdown), false);
    let mut out = String::new();
    push_words(&mut out, &text);
    out
}

/// The text of `markdown` without markup, one line per paragraph, heading or
/// list item (the plain-text part of a mail), taken from its sanitized HTML: a
/// link's target is shown as `[url]` only when it survived sanitizing (http,
/// https, mailto, tel).
pub fn plain_text_paragraphs(markdown: &str) -> String {
    html_text(&render(markdown), true)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Elements that end a line of text.
const BLOCKS: &[&str] = &[
    "p",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "div",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "hr",
    "dl",
    "dt",
    "dd",
];

/// The text of sanitized HTML (ammonia's output: well-formed, attributes in
/// double quotes, text escaped): tags dropped, a line break at each block,
/// entities decoded. With `links`, an `<a href>` shows its target as `[url] `;
/// without, the text of `<pre>` blocks is left out.
fn html_text(html: &str, links: bool) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut in_pre = 0usize;
    while let Some(open) = rest.find('<') {
        if in_pre == 0 || links {
            out.push_str(&decode_entities(&rest[..open]));
        }
        let tag_and_after = &rest[open + 1..];
        // The tag ends at the first `>` outside a quoted attribute value.
        let mut quoted = false;
        let end = tag_and_after
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map_or(tag_and_after.len(), |(i, _)| i);
        let tag = &tag_and_after[..end];
        rest = tag_and_after.get(end + 1..).unwrap_or("");
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name == "pre" {
            in_pre = if closing {
                in_pre.saturating_sub(1)
            } else {
                in_pre + 1
            };
        }
        if BLOCKS.contains(&name.as_str()) {
            out.push('\n');
        } else if name == "a"
            && links
            && !closing
            && let Some(href) = attribute(tag, "href")
        {
            out.push_str(&format!("[{href}] "));
        }
    }
    if in_pre == 0 || links {
        out.push_str(&decode_entities(rest));
    }
    out
}

/// The decoded value of a double-quoted attribute in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let value = &tag[start..];
    Some(decode_entities(&value[..value.find('"')?]))
}

/// The entities an HTML serializer writes, and numeric references, decoded
/// (characters XML cannot carry dropped).
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity = after.find(';').filter(|&i| i <= 10).map(|i| &after[..i]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{A0}'),
            _ => e
                .strip_prefix("#x")
                .or_else(|| e.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        });
        match (entity, decoded) {
            (Some(entity), Some(c)) => {
                if crate::domain::text::is_xml_char(c) {
                    out.push(c);
                }
                rest = &after[entity.len() + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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

    /// Each dangerous construct alone, against the exact HTML that comes out
    /// (the end-to-end test in `tests/content.rs` throws them in together).
    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        let cases = [
            ("# Hi", "<h1>Hi</h1>\n"),
            ("<script>alert(1)</script>", ""),
            (
                "[x](javascript:alert(1))",
                "<p><a rel=\"noopener noreferrer\">x</a></p>\n",
            ),
            (
                "<a href=\"JaVaScRiPt:alert(2)\">y</a>",
                "<p><a rel=\"noopener noreferrer\">y</a></p>\n",
            ),
            ("<img src=x onerror=alert(3)>", "<img src=\"x\">"),
            (
                "<p onclick=\"alert(4)\" style=\"color:red\">p</p>",
                "<p>p</p>",
            ),
            ("<iframe src=\"https://e.com\"></iframe>", ""),
            (
                "[ok](https://example.com)",
                "<p><a href=\"https://example.com\" rel=\"noopener noreferrer\">ok</a></p>\n",
            ),
        ];
        for (markdown, html) in cases {
            assert_eq!(render(markdown), html, "{markdown}");
        }
    }

    #[test]
    fn plain_text_excerpts_and_reading_time() {
        let plain = plain_text("# Title\n\nSome *bold* text <b>raw</b>\n\n```\ncode\n```");
        assert_eq!(plain, "Title Some bold text raw");
        assert_eq!(
            plain_text("a <script>x()</script> b &amp; &lt;c&gt; [l](javascript:y)"),
            "a b & <c> l"
        );
        assert_eq!(
            plain_text_paragraphs(
                "# T\n\n[a](https://e.com/?x=1&y=2) <b onclick=\"z\">b</b>\n\n- i"
            ),
            "T\n\n[https://e.com/?x=1&y=2] a b\n\ni"
        );
        assert_eq!(truncate_words("one two three four", 10), "one two…");
        assert_eq!(truncate_words("short", 10), "short");
        assert_eq!(reading_minutes(""), 1);
        assert_eq!(reading_minutes(&"w ".repeat(401)), 3);
    }
}
