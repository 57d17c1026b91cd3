//! The shell lines of a workflow's `run:` steps: which install, which test, which are
//! neither; and GitHub's `${{ … }}` expressions turned into handlebars.
//!
//! Pure: classifies text; nothing here is ever run.

/// What a line of a `run:` step does, as far as the matrix file cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Installs packages into the environment (`pip install …`).
    Install(String),
    /// Only upgrades the installer itself (`pip install -U pip setuptools wheel`): a
    /// job's venv has its own, so it is dropped.
    InstallerUpgrade,
    /// Runs the tests (`pytest`, `python -m pytest`, `python runtests.py`, …).
    Test(String),
    /// Runs tox, whose matrix lives in tox.ini.
    Tox,
    /// Anything else (`coverage report`, `echo`, uploads).
    Other(String),
}

const INSTALLERS: &[&str] = &[
    "pip install ",
    "pip3 install ",
    "python -m pip install ",
    "python3 -m pip install ",
    "uv pip install ",
];

const TESTS: &[&str] = &[
    "pytest",
    "py.test",
    "python -m pytest",
    "python3 -m pytest",
    "coverage run",
    "python -m coverage run",
    "python runtests.py",
    "python3 runtests.py",
    "./runtests.py",
    "python manage.py test",
    "python3 manage.py test",
    "python -m django test",
    "django-admin test",
    "python -m unittest",
    "python3 -m unittest",
];

/// What `line` (one logical line) does.
pub fn classify(line: &str) -> Line {
    let words: Vec<&str> = line.split_whitespace().collect();
    let normal = words.join(" ");
    if let Some(rest) = INSTALLERS.iter().find_map(|p| normal.strip_prefix(p)) {
        let packages: Vec<&str> = rest
            .split_whitespace()
            .filter(|w| !w.starts_with('-'))
            .collect();
        let upgrades_only = !packages.is_empty()
            && packages
                .iter()
                .all(|p| matches!(*p, "pip" | "setuptools" | "wheel" | "uv"));
        return if upgrades_only {
            Line::InstallerUpgrade
        } else {
            Line::Install(normal)
        };
    }
    if words.first() == Some(&"tox") || normal.starts_with("python -m tox") {
        return Line::Tox;
    }
    let is_test = TESTS
        .iter()
        .any(|t| normal == *t || normal.starts_with(&format!("{t} ")));
    if is_test {
        Line::Test(normal)
    } else {
        Line::Other(normal)
    }
}

/// Why an expression could not be translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Untranslatable(pub String);

/// `text` with every `${{ matrix.X }}` as `{{matrix.X}}` (after `rename`, which maps
/// an axis to its new name) and every `${{ env.X }}` as `{{env.X}}` when `env_ok`;
/// any other expression (secrets, github context, functions) is an error naming it.
pub fn translate(
    text: &str,
    rename: &dyn Fn(&str) -> String,
    env_ok: bool,
) -> Result<String, Untranslatable> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else {
            return Err(Untranslatable(rest[start..].to_string()));
        };
        let expr = after[..end].trim();
        match matrix_or_env(expr) {
            Some(("matrix", name)) => out.push_str(&format!("{{{{matrix.{}}}}}", rename(name))),
            Some(("env", name)) if env_ok => out.push_str(&format!("{{{{env.{name}}}}}")),
            _ => return Err(Untranslatable(format!("${{{{ {expr} }}}}"))),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `matrix.X` or `env.X` (a plain name), split.
fn matrix_or_env(expr: &str) -> Option<(&str, &str)> {
    let (scope, name) = expr.split_once('.')?;
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (plain && (scope == "matrix" || scope == "env")).then_some((scope, name))
}

/// The axis a whole-value expression names: `${{ matrix.os }}` → `os`.
pub fn matrix_reference(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
    match matrix_or_env(inner) {
        Some(("matrix", name)) => Some(name),
        _ => None,
    }
}

/// A step's `if:` of the form `matrix.X == 'v'` as the handlebars condition
/// `(eq matrix.X "v")`; `None` for anything else.
pub fn simple_condition(cond: &str, rename: &dyn Fn(&str) -> String) -> Option<String> {
    let cond = cond.trim();
    let cond = cond
        .strip_prefix("${{")
        .and_then(|c| c.strip_suffix("}}"))
        .unwrap_or(cond)
        .trim();
    let (left, right) = cond.split_once("==")?;
    let (scope, name) = matrix_or_env(left.trim())?;
    let value = right.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    (scope == "matrix" && !value.contains(['\'', '"']))
        .then(|| format!("(eq matrix.{} \"{value}\")", rename(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_classified() {
        let cases = [
            (
                "pip install -e .[test]",
                Line::Install("pip install -e .[test]".into()),
            ),
            (
                "python -m pip install -r requirements.txt",
                Line::Install("python -m pip install -r requirements.txt".into()),
            ),
            (
                "python -m pip install --upgrade pip",
                Line::InstallerUpgrade,
            ),
            (
                "pip install -U pip setuptools wheel",
                Line::InstallerUpgrade,
            ),
            ("pytest -q tests", Line::Test("pytest -q tests".into())),
            ("python  -m pytest", Line::Test("python -m pytest".into())),
            (
                "python runtests.py --parallel 1",
                Line::Test("python runtests.py --parallel 1".into()),
            ),
            (
                "python manage.py test",
                Line::Test("python manage.py test".into()),
            ),
            ("tox -e py", Line::Tox),
            ("pytestx", Line::Other("pytestx".into())),
            ("coverage report", Line::Other("coverage report".into())),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line), want, "{line}");
        }
    }

    #[test]
    fn continuations_join_and_comments_drop() {
        let script = "# set up\npip install \\\n  django \\\n  pytest\n\npytest\n";
        assert_eq!(
            crate::tox::lines(script),
            ["pip install django pytest", "pytest"]
        );
    }

    #[test]
    fn expressions_become_handlebars_or_are_refused() {
        let rename = |n: &str| {
            if n == "python-version" {
                "python".into()
            } else {
                n.to_string()
            }
        };
        let cases: [(&str, bool, Result<&str, &str>); 6] = [
            (
                "pip install django~=${{ matrix.django }}.0",
                false,
                Ok("pip install django~={{matrix.django}}.0"),
            ),
            (
                "py${{matrix.python-version}}",
                false,
                Ok("py{{matrix.python}}"),
            ),
            ("echo ${{ env.DB }}", true, Ok("echo {{env.DB}}")),
            ("${{ env.DB }}", false, Err("${{ env.DB }}")),
            ("${{ secrets.TOKEN }}", true, Err("${{ secrets.TOKEN }}")),
            (
                "${{ matrix.os == 'x' }}",
                true,
                Err("${{ matrix.os == 'x' }}"),
            ),
        ];
        for (text, env_ok, want) in cases {
            let got = translate(text, &rename, env_ok);
            match want {
                Ok(w) => assert_eq!(got, Ok(w.to_string()), "{text}"),
                Err(w) => assert_eq!(got, Err(Untranslatable(w.to_string())), "{text}"),
            }
        }
    }

    #[test]
    fn simple_step_conditions_translate() {
        let same = |n: &str| n.to_string();
        assert_eq!(
            simple_condition("matrix.database == 'postgres'", &same).as_deref(),
            Some("(eq matrix.database \"postgres\")")
        );
        assert_eq!(
            simple_condition("${{ matrix.db == 'mysql' }}", &same).as_deref(),
            Some("(eq matrix.db \"mysql\")")
        );
        assert_eq!(simple_condition("github.event_name == 'push'", &same), None);
        assert_eq!(matrix_reference("${{ matrix.os }}"), Some("os"));
    }
}
