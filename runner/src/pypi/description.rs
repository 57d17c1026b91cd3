//! Rendering a long description as PyPI's project page does, to tell whether it
//! renders.
//!
//! Markdown is rendered here with `pulldown-cmark` (CommonMark with GitHub's
//! extensions, as PyPI's `cmarkgfm`): it always yields a page, so what the check
//! learns is whether anything is left to show. Plain text is shown as written.
//! reStructuredText has no renderer in Rust that matches docutils, so it is rendered
//! with `readme_renderer` in an offline container by the release test; this module
//! only says that it must be. A content type PyPI does not know is refused by PyPI.
//!
//! Pure: no I/O.

use pulldown_cmark::{html, Options, Parser};

/// How a description is rendered, from its `Description-Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// `text/markdown`.
    Markdown,
    /// `text/plain`.
    Plain,
    /// `text/x-rst`, and PyPI's default when no type is given.
    Rst,
    /// Anything else: PyPI does not render it.
    Unknown,
}

impl Markup {
    /// The markup `content_type` names (`None`: reStructuredText, PyPI's default).
    pub fn of(content_type: Option<&str>) -> Markup {
        let Some(ct) = content_type else {
            return Markup::Rst;
        };
        let mime = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "text/markdown" => Markup::Markdown,
            "text/plain" => Markup::Plain,
            "text/x-rst" | "" => Markup::Rst,
            _ => Markup::Unknown,
        }
    }
}

/// What rendering a description here found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// It renders to this many characters of HTML (plain text: of text).
    Renders(usize),
    /// It renders to an empty page.
    Empty,
    /// PyPI does not render this content type.
    UnknownType(String),
    /// reStructuredText: only docutils can tell (see `readme_renderer`).
    NeedsDocutils,
}

/// Renders `description` of `content_type` where that can be done in process.
pub fn render(description: &str, content_type: Option<&str>) -> Rendered {
    let size = match Markup::of(content_type) {
        Markup::Rst => return Rendered::NeedsDocutils,
        Markup::Unknown => return Rendered::UnknownType(content_type.unwrap_or("").to_string()),
        Markup::Plain => description.trim().chars().count(),
        Markup::Markdown => markdown_to_html(description).trim().chars().count(),
    };
    if size == 0 {
        Rendered::Empty
    } else {
        Rendered::Renders(size)
    }
}

/// The verdict that needs no container: `Some(None)` for an empty description
/// (nothing to render), `Some(Some(_))` for what renders here (Markdown, plain text,
/// an unknown type), `None` for reStructuredText, which only docutils can tell.
pub fn without_renderer(
    description: Option<&str>,
    content_type: Option<&str>,
) -> Option<Option<bool>> {
    let Some(text) = description.filter(|d| !d.trim().is_empty()) else {
        return Some(None);
    };
    match render(text, content_type) {
        Rendered::Renders(_) => Some(Some(true)),
        Rendered::Empty | Rendered::UnknownType(_) => Some(Some(false)),
        Rendered::NeedsDocutils => None,
    }
}

/// `text` rendered as GitHub-flavoured Markdown to HTML.
pub fn markdown_to_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    let mut out = String::with_capacity(text.len() * 5 / 4);
    html::push_html(&mut out, Parser::new_ext(text, options));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_follows_the_content_type() {
        let cases = [
            (Some("text/markdown"), Markup::Markdown),
            (
                Some("text/markdown; charset=UTF-8; variant=GFM"),
                Markup::Markdown,
            ),
            (Some("Text/Plain"), Markup::Plain),
            (Some("text/x-rst; charset=UTF-8"), Markup::Rst),
            (None, Markup::Rst),
            (Some("text/html"), Markup::Unknown),
        ];
        for (ct, want) in cases {
            assert_eq!(Markup::of(ct), want, "{ct:?}");
        }
    }

    #[test]
    fn descriptions_render_or_say_why_not() {
        let md = Some("text/markdown");
        assert_eq!(render("", md), Rendered::Empty);
        assert_eq!(
            render("# Pony", md),
            Rendered::Renders("<h1>Pony</h1>".len())
        );
        assert_eq!(render(" plain ", Some("text/plain")), Rendered::Renders(5));
        assert_eq!(render("x", None), Rendered::NeedsDocutils);
        assert_eq!(
            render("x", Some("text/html")),
            Rendered::UnknownType("text/html".into())
        );
    }

    #[test]
    fn markdown_renders_with_github_extensions() {
        let html =
            markdown_to_html("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ <script>x</script>\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<del>old</del>"), "{html}");
    }
}
