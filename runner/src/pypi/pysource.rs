//! Reading a release's Python source as text, never running it: its statements with
//! their indentation, comments dropped, and string literals kept only when they are
//! plain words (`'test'`), so that code quoted in a string (a test's snippet, a
//! docstring) never reads as code.
//!
//! The author's `setup.py test` command is read with it ([`super::testdeps`]).
//!
//! Pure; the source is hostile input, read with no recursion and in one pass.

/// One statement: the indentation of the line it starts on, and its code on one line
/// (brackets and `\` continuations joined, `;` split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Columns of leading whitespace (a tab counts as one).
    pub indent: usize,
    /// The code, trimmed.
    pub code: String,
}

/// Whether a string literal's content is kept: a plain word (letters, digits, `_.-`).
fn plain_word(content: &str) -> bool {
    content
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Reads a string literal starting at `chars[at]` (its opening quote); returns the
/// index after it and its content. An unterminated one ends the text (a triple
/// quote) or the line (a single one).
fn string_at(chars: &[char], at: usize) -> (usize, String) {
    let quote = chars[at];
    let triple = chars.get(at + 1) == Some(&quote) && chars.get(at + 2) == Some(&quote);
    let mut i = at + if triple { 3 } else { 1 };
    let mut content = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            content.push(c);
            if let Some(next) = chars.get(i + 1) {
                content.push(*next);
            }
            i += 2;
            continue;
        }
        if c == quote {
            if !triple {
                return (i + 1, content);
            }
            if chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote) {
                return (i + 3, content);
            }
        }
        if c == '\n' && !triple {
            return (i, content);
        }
        content.push(c);
        i += 1;
    }
    (i, content)
}

/// Splits `code` at `;` outside brackets (strings are already reduced to plain words).
fn split_statements(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in code.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ';' if depth <= 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The statements of `text`, in order.
pub fn statements(text: &str) -> Vec<Statement> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = String::new();
    let mut indent: Option<usize> = None;
    let mut leading = 0usize;
    let mut depth = 0i32;
    let mut i = 0;
    let mut flush = |line: &mut String, indent: &mut Option<usize>| {
        for code in split_statements(line) {
            out.push(Statement {
                indent: indent.unwrap_or(0),
                code,
            });
        }
        line.clear();
        *indent = None;
    };
    while i < chars.len() {
        let c = chars[i];
        if indent.is_none() && depth <= 0 {
            if matches!(c, ' ' | '\t') {
                leading += 1;
                i += 1;
                continue;
            }
            if c != '\n' && c != '#' {
                indent = Some(leading);
            }
        }
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' | '"' => {
                let (end, content) = string_at(&chars, i);
                line.push(c);
                if plain_word(&content) {
                    line.push_str(&content);
                }
                line.push(c);
                i = end;
                continue;
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                line.push(' ');
                i += 2;
                continue;
            }
            '\n' => {
                leading = 0;
                if depth > 0 {
                    line.push(' ');
                } else {
                    flush(&mut line, &mut indent);
                }
                i += 1;
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = (depth - 1).max(0),
            _ => {}
        }
        line.push(c);
        i += 1;
    }
    flush(&mut line, &mut indent);
    out
}

/// `keyword` at the start of `code` as a whole word.
pub fn starts_with_word(code: &str, keyword: &str) -> bool {
    code.strip_prefix(keyword)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

/// The header of a compound statement (`try`, `except ImportError`) and the body
/// written on the same line after its `:`, if any.
pub fn header(code: &str) -> (&str, Option<&str>) {
    let mut depth = 0i32;
    for (at, c) in code.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ':' if depth <= 0 => {
                let body = code[at + 1..].trim();
                return (code[..at].trim(), (!body.is_empty()).then_some(body));
            }
            _ => {}
        }
    }
    (code.trim(), None)
}

/// The statements of the block that `statements[at]` opens: its same-line body, if
/// any, then the statements indented deeper that follow. Returns the block and the
/// index after it.
pub fn block(statements: &[Statement], at: usize) -> (Vec<String>, usize) {
    let opener = &statements[at];
    let mut body: Vec<String> = header(&opener.code)
        .1
        .map(|b| vec![b.to_string()])
        .unwrap_or_default();
    let mut i = at + 1;
    while i < statements.len() && statements[i].indent > opener.indent {
        body.push(statements[i].code.clone());
        i += 1;
    }
    (body, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(usize, String)> {
        statements(text)
            .into_iter()
            .map(|s| (s.indent, s.code))
            .collect()
    }

    #[test]
    fn statements_join_brackets_and_drop_comments_and_code_in_strings() {
        let text = "import a  # c\nx = (1,\n     2)\ny = '''\ntry:\n    import z\n'''\nif x: \\\n  pass\n  d = {'test': T}; e = 1\n";
        assert_eq!(
            codes(text),
            vec![
                (0, "import a".to_string()),
                (0, "x = (1,      2)".to_string()),
                (0, "y = ''".to_string()),
                (0, "if x:    pass".to_string()),
                (2, "d = {'test': T}".to_string()),
                (2, "e = 1".to_string()),
            ]
        );
    }
}
