//! Reading a release's Python source as text, never running it: its statements with
//! their indentation, comments dropped, and string literals kept only when they are
//! plain words (`'test'`), so that code quoted in a string (a test's snippet, a
//! docstring) never reads as code.
//!
//! Two readers use it: the author's `setup.py test` command ([`super::testdeps`]) and
//! the imports a test module makes only when they succeed ([`guarded_imports`]), which
//! the judgement reads when a test fails with a `NameError`.
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

/// Exceptions whose handler catches a failed import.
const CATCH_IMPORT: &[&str] = &[
    "ImportError",
    "ModuleNotFoundError",
    "Exception",
    "BaseException",
];

/// Whether an `except …` header catches a failed import (a bare `except` does).
fn catches_import(header: &str) -> bool {
    let rest = header
        .strip_prefix("except")
        .unwrap_or("")
        .trim_start_matches('*');
    let rest = rest.split(" as ").next().unwrap_or("");
    let names: Vec<&str> = rest
        .split(['(', ')', ','])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    names.is_empty()
        || names
            .iter()
            .any(|n| CATCH_IMPORT.contains(&n.rsplit('.').next().unwrap_or(n)))
}

/// The imports of one `try` block whose handlers catch a failed import: the
/// top-level modules it imports (absolute imports only: a relative one is the
/// release's own) and the names those imports bind. When any import of the block
/// fails, none of the names after it is bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guarded {
    /// Top-level modules, in order (`hypothesis` for `from hypothesis.strategies …`).
    pub modules: Vec<String>,
    /// Names bound by the imports (`st` for `… strategies as st`).
    pub names: Vec<String>,
}

/// Adds what one import statement imports and binds to `g`.
fn add_import(code: &str, g: &mut Guarded) {
    let top = |m: &str| m.split('.').next().unwrap_or("").trim().to_string();
    let add_module = |m: String, g: &mut Guarded| {
        if !m.is_empty() && !g.modules.contains(&m) {
            g.modules.push(m);
        }
    };
    let bound = |part: &str| -> Option<String> {
        let part = part.trim();
        let name = match part.split_once(" as ") {
            Some((_, alias)) => alias.trim(),
            None => part,
        };
        let ok = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        ok.then(|| name.to_string())
    };
    if let Some(rest) = code.strip_prefix("import ") {
        for part in rest.split(',') {
            let part = part.trim();
            add_module(top(part.split(" as ").next().unwrap_or(part)), g);
            let name = if part.contains(" as ") {
                bound(part)
            } else {
                Some(top(part))
            };
            g.names.extend(name.filter(|n| !n.is_empty()));
        }
    } else if let Some(rest) = code.strip_prefix("from ") {
        let Some((module, names)) = rest.split_once(" import ") else {
            return;
        };
        let module = module.trim();
        if module.starts_with('.') {
            return;
        }
        add_module(top(module), g);
        let names = names.trim().trim_start_matches('(').trim_end_matches(')');
        g.names.extend(names.split(',').filter_map(bound));
    }
}

/// The `try` blocks of `text` that import something and whose handlers catch a
/// failed import (`except ImportError`, `ModuleNotFoundError`, `Exception`, a bare
/// `except`), at any depth: a test module's optional imports.
pub fn guarded_imports(text: &str) -> Vec<Guarded> {
    let stmts = statements(text);
    let mut out = Vec::new();
    for (at, s) in stmts.iter().enumerate() {
        if !starts_with_word(&s.code, "try") || header(&s.code).0 != "try" {
            continue;
        }
        let (body, mut next) = block(&stmts, at);
        let mut caught = false;
        while next < stmts.len()
            && stmts[next].indent == s.indent
            && starts_with_word(&stmts[next].code, "except")
        {
            caught |= catches_import(header(&stmts[next].code).0);
            next = block(&stmts, next).1;
        }
        if !caught {
            continue;
        }
        let mut g = Guarded::default();
        for code in &body {
            add_import(code, &mut g);
        }
        if !g.modules.is_empty() {
            out.push(g);
        }
    }
    out
}

/// The file among `files` (relative paths) that holds the test module a JUnit test
/// name points into: `tests.test_x` (pytest's name for a module that failed to
/// collect), `tests.test_x.TestA::test_b`, `test_mccabe::test_f`. Its dotted part is
/// tried whole and then shorter, each against the files' dotted paths, exactly or as
/// a suffix (the run's rootdir may sit below the tree's top); the shortest path wins.
pub fn module_file<'a>(test: &str, files: &'a [String]) -> Option<&'a str> {
    let dotted = test.split("::").next().unwrap_or(test);
    let parts: Vec<&str> = dotted.split('.').collect();
    let modules: Vec<(String, &str)> = files
        .iter()
        .filter_map(|f| Some((f.strip_suffix(".py")?.replace('/', "."), f.as_str())))
        .collect();
    (1..=parts.len()).rev().find_map(|n| {
        let want = parts[..n].join(".");
        let suffix = format!(".{want}");
        modules
            .iter()
            .filter(|(m, _)| *m == want || m.ends_with(&suffix))
            .map(|(_, f)| *f)
            .min_by_key(|f| f.len())
    })
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

    #[test]
    fn only_imports_in_a_try_that_catches_a_failed_import_are_guarded() {
        // mccabe 0.7.0's test_mccabe.py, abridged.
        let mccabe = "try:\n    from StringIO import StringIO\nexcept ImportError:\n    from io import StringIO\n\nimport pytest\ntry:\n    import hypothesmith\n    from hypothesis import HealthCheck, given, settings, strategies as st\nexcept ImportError:\n    hypothesmith = None\n\nsnippet = '''\\\ntry:\n    import nothere\nexcept ImportError:\n    pass\n'''\n";
        // A text and the guarded blocks it has, as (modules, names).
        type Blocks<'a> = &'a [(&'a [&'a str], &'a [&'a str])];
        let cases: &[(&str, Blocks)] = &[
            (
                mccabe,
                &[
                    (&["StringIO"], &["StringIO"]),
                    (
                        &["hypothesmith", "hypothesis"],
                        &["hypothesmith", "HealthCheck", "given", "settings", "st"],
                    ),
                ],
            ),
            (
                "if True:\n    try: import a.b as ab, c.d\n    except (OSError, ModuleNotFoundError) as e: ab = None\n",
                &[(&["a", "c"], &["ab", "c"])],
            ),
            (
                "try:\n    from x import (\n        y,\n        z as w,\n    )\nexcept:\n    pass\n",
                &[(&["x"], &["y", "w"])],
            ),
            ("try:\n    import a\nexcept KeyError:\n    pass\n", &[]),
            ("try:\n    from . import local\nexcept ImportError:\n    pass\n", &[]),
            ("try:\n    x = 1\nfinally:\n    pass\n", &[]),
        ];
        for (text, want) in cases {
            let got = guarded_imports(text);
            let want: Vec<Guarded> = want
                .iter()
                .map(|(m, n)| Guarded {
                    modules: m.iter().map(|s| s.to_string()).collect(),
                    names: n.iter().map(|s| s.to_string()).collect(),
                })
                .collect();
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn a_test_name_points_to_its_module_file() {
        let files: Vec<String> = [
            "test_mccabe.py",
            "mccabe.py",
            "tests/test_x.py",
            "src/pkg/tests/test_y.py",
            "tests/__init__.py",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let cases = [
            ("test_mccabe", Some("test_mccabe.py")),
            ("test_mccabe::test_f", Some("test_mccabe.py")),
            ("tests.test_x", Some("tests/test_x.py")),
            ("tests.test_x.TestA::test_b[1]", Some("tests/test_x.py")),
            ("pkg.tests.test_y", Some("src/pkg/tests/test_y.py")),
            ("other", None),
        ];
        for (test, want) in cases {
            assert_eq!(module_file(test, &files), want, "{test}");
        }
    }
}
