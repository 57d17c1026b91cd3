//! A job's log as HTML: ANSI colors and styles (SGR) become `<span>`s, every other escape
//! sequence and control character goes, carriage-return progress bars keep only what a
//! terminal would finally show, and the text is HTML-escaped.
//!
//! The log came out of the sandbox: whatever it holds must come out as inert text.
//! Nothing here emits markup from the input except the class names and colors it
//! computes itself.
//!
//! Pure: text in, HTML out.

use std::fmt::Write as _;

/// The text style in effect: what the SGR codes so far have set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Style {
    fg: Option<Color>,
    bg: Option<Color>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
}

/// A color: one of the 16 the stylesheet themes (`f0`…`f15`), or an exact one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Color {
    Palette(u8),
    Rgb(u8, u8, u8),
}

impl Style {
    fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    /// Applies one SGR sequence's parameters (`1;31`, `38;5;208`, `` = reset).
    fn apply(&mut self, params: &str) {
        let codes: Vec<u32> = params
            .split([';', ':'])
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        let mut i = 0;
        while i < codes.len() {
            match codes[i] {
                0 => *self = Style::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => (self.bold, self.dim) = (false, false),
                23 => self.italic = false,
                24 => self.underline = false,
                c @ 30..=37 => self.fg = Some(Color::Palette((c - 30) as u8)),
                c @ 90..=97 => self.fg = Some(Color::Palette((c - 90 + 8) as u8)),
                c @ 40..=47 => self.bg = Some(Color::Palette((c - 40) as u8)),
                c @ 100..=107 => self.bg = Some(Color::Palette((c - 100 + 8) as u8)),
                39 => self.fg = None,
                49 => self.bg = None,
                c @ (38 | 48) => {
                    let (color, used) = extended(&codes[i + 1..]);
                    if c == 38 {
                        self.fg = color;
                    } else {
                        self.bg = color;
                    }
                    i += used;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// The opening tag for this style, written straight into `out` (this runs for every
    /// colored word of every log).
    fn open(&self, out: &mut String) {
        let mut classes = String::new();
        let mut style = String::new();
        for (on, class) in [
            (self.bold, "ab"),
            (self.dim, "ad"),
            (self.italic, "ai"),
            (self.underline, "au"),
        ] {
            if on {
                classes.push_str(class);
                classes.push(' ');
            }
        }
        for (color, class, property) in [(self.fg, 'f', "color"), (self.bg, 'g', "background")] {
            match color {
                Some(Color::Palette(n)) => {
                    let _ = write!(classes, "{class}{n} ");
                }
                Some(Color::Rgb(r, g, b)) => {
                    let _ = write!(style, "{property}:#{r:02x}{g:02x}{b:02x};");
                }
                None => {}
            }
        }
        out.push_str("<span");
        if !classes.is_empty() {
            let _ = write!(out, " class=\"{}\"", classes.trim_end());
        }
        if !style.is_empty() {
            let _ = write!(out, " style=\"{style}\"");
        }
        out.push('>');
    }
}

/// `5;N` (256 colors) or `2;R;G;B` after a 38/48, and how many codes it used.
fn extended(rest: &[u32]) -> (Option<Color>, usize) {
    let byte = |i: usize| rest.get(i).map(|&c| c.min(255) as u8);
    match rest.first() {
        Some(5) => match byte(1) {
            Some(n) if n < 16 => (Some(Color::Palette(n)), 2),
            Some(n) => (Some(xterm256(n)), 2),
            None => (None, 1),
        },
        Some(2) => match (byte(1), byte(2), byte(3)) {
            (Some(r), Some(g), Some(b)) => (Some(Color::Rgb(r, g, b)), 4),
            _ => (None, rest.len()),
        },
        _ => (None, 0),
    }
}

/// xterm's colors 16–255: a 6×6×6 cube, then 24 grays.
fn xterm256(n: u8) -> Color {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    if n >= 232 {
        let v = 8 + 10 * (n - 232);
        return Color::Rgb(v, v, v);
    }
    let i = usize::from(n - 16);
    Color::Rgb(LEVELS[i / 36], LEVELS[i / 6 % 6], LEVELS[i % 6])
}

/// The log as HTML, one string per line (styles carried across lines, each line's spans
/// closed at its end, so lines can be split between folded and shown parts).
pub fn lines(text: &str) -> Vec<String> {
    let mut style = Style::default();
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n')
        .map(|line| render_line(line.strip_suffix('\r').unwrap_or(line), &mut style))
        .collect()
}

/// The whole log as HTML (lines joined with `\n`, for a `<pre>`).
pub fn to_html(text: &str) -> String {
    lines(text).join("\n")
}

/// One line: only its last carriage-return segment with text is shown (a progress bar's
/// final state), but every segment's styles count.
fn render_line(line: &str, style: &mut Style) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    if !line.contains('\r') {
        render_segment(line, style, &mut out);
        return out;
    }
    let segments: Vec<&str> = line.split('\r').collect();
    let shown = segments
        .iter()
        .rposition(|s| has_text(s))
        .unwrap_or(segments.len() - 1);
    for (i, segment) in segments.iter().enumerate() {
        if i == shown {
            render_segment(segment, style, &mut out);
        } else {
            // Styles only: a dropped segment can still leave a color on.
            render_segment(segment, style, &mut String::new());
        }
    }
    out
}

/// Whether a segment prints anything but blanks once escape sequences are skipped.
fn has_text(segment: &str) -> bool {
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    // Parameters up to the final byte.
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next() == Some('\\')) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            c if c.is_control() || c.is_whitespace() => {}
            _ => return true,
        }
    }
    false
}

/// Renders one segment into `out`, updating `style`.
fn render_segment(segment: &str, style: &mut Style, out: &mut String) {
    let mut open = false;
    let mut chars = segment.chars().peekable();
    fn ensure_open(style: &Style, open: &mut bool, out: &mut String) {
        if !*open && !style.is_plain() {
            style.open(out);
            *open = true;
        }
    }
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    let mut params = String::new();
                    let mut last = None;
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            last = Some(c);
                            break;
                        }
                        params.push(c);
                    }
                    if last == Some('m') {
                        let before = *style;
                        style.apply(&params);
                        if *style != before && open {
                            out.push_str("</span>");
                            open = false;
                        }
                    }
                }
                // OSC (titles, hyperlinks): up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => {
                ensure_open(style, &mut open, out);
                out.push('\t');
            }
            c if c.is_control() => {}
            c => {
                ensure_open(style, &mut open, out);
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
        }
    }
    if open {
        out.push_str("</span>");
    }
}

/// `text` without ANSI colour sequences (`ESC [ … letter`), for plain-text views of
/// output: log tails in errors, test summaries parsed from a runner's output.
pub fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering() {
        let cases = [
            ("plain", "plain"),
            ("<b>&\"'", "&lt;b&gt;&amp;&quot;&#39;"),
            (
                "\x1b[31mred\x1b[0m done",
                "<span class=\"f1\">red</span> done",
            ),
            (
                "\x1b[1;92mok\x1b[22m!",
                "<span class=\"ab f10\">ok</span><span class=\"f10\">!</span>",
            ),
            ("\x1b[38;5;208mx", "<span style=\"color:#ff8700;\">x</span>"),
            (
                "\x1b[48;2;1;2;3my",
                "<span style=\"background:#010203;\">y</span>",
            ),
            ("\x1b[38;5;9mz", "<span class=\"f9\">z</span>"),
            ("\x1b[2K\x1b[1Gcleared", "cleared"),
            ("\x1b]0;title\x07after", "after"),
            ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
            ("bell\x07 and nul\0", "bell and nul"),
            (" 10%\r 50%\r100%", "100%"),
            ("done\r\n", "done"),
            ("100%\r", "100%"),
            ("\x1b[31m", ""),
            ("\x1b[", ""),
            ("\x1b[38;5m bad", " bad"),
            ("tab\there", "tab\there"),
        ];
        for (input, want) in cases {
            assert_eq!(to_html(input), want, "{input:?}");
        }
    }

    #[test]
    fn styles_carry_across_lines_and_close_at_each_end() {
        let got = lines("\x1b[31mone\ntwo\x1b[0m\nthree\n");
        assert_eq!(
            got,
            [
                "<span class=\"f1\">one</span>",
                "<span class=\"f1\">two</span>",
                "three"
            ]
        );
    }

    #[test]
    fn dropped_progress_segments_keep_their_colors() {
        assert_eq!(
            to_html("\x1b[32m 50%\r100%"),
            "<span class=\"f2\">100%</span>"
        );
    }

    #[test]
    fn no_markup_from_input_survives() {
        let hostile = "\x1b[31m<script>alert(1)</script>\x1b[38;2;999;0;0m\"><img src=x>";
        let html = to_html(hostile);
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
    }
}
