//! tox's substitutions: `{posargs}`, `{posargs:default}`, `{envpython}`, `{env:X}`,
//! `{env:X:default}`, `{/}`, `{:}`, and the places a caller knows (`{toxinidir}`, …).
//!
//! One substitution may hold another (`{posargs:{toxinidir}/tests}`): the innermost is
//! replaced first. A brace with no partner is left as it is.

/// What a caller's substitutions become, beyond the ones every caller shares.
#[derive(Debug, Clone, Copy)]
pub struct Substitutions<'a> {
    /// Named substitutions and their values, e.g. `("toxinidir", "/work/src")`.
    pub places: &'a [(&'a str, &'a str)],
    /// How `{env:X}` and `{env:X:default}` are written.
    pub env: EnvVars,
}

/// How `{env:X:default}` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvVars {
    /// As the shell's `${X:-default}` (`$X` without a default): read when the job runs.
    Shell,
    /// As its default (empty without one): the job's environment does not have `X`.
    Default,
}

/// A substitution [`substitute`] cannot replace, e.g. `{[base]deps}` or
/// `{envsitepackagesdir}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("substitution {{{inner}}} is not supported")]
pub struct Unhandled {
    /// What is between the braces.
    pub inner: String,
}

/// `text` with its substitutions replaced; the first one that cannot be, as an error.
pub fn substitute(text: &str, subs: &Substitutions) -> Result<String, Unhandled> {
    let mut out = text.to_string();
    let mut from = 0;
    while let Some(close) = out[from..].find('}').map(|i| i + from) {
        let Some(open) = out[..close].rfind('{') else {
            from = close + 1;
            continue;
        };
        // Braces in a replacement are not substitutions: stand-ins until the end.
        let replacement = one(&out[open + 1..close], subs)?
            .replace('{', "\u{1}")
            .replace('}', "\u{2}");
        out.replace_range(open..=close, &replacement);
        from = open;
    }
    Ok(out.replace('\u{1}', "{").replace('\u{2}', "}"))
}

/// The replacement of one substitution, `inner` being what is between its braces.
fn one(inner: &str, subs: &Substitutions) -> Result<String, Unhandled> {
    let unhandled = || Unhandled {
        inner: inner.to_string(),
    };
    if inner == ":" {
        return Ok(":".into());
    }
    Ok(match inner.split_once(':') {
        None => match inner {
            "posargs" => String::new(),
            "envpython" => "python".into(),
            "/" => "/".into(),
            name => subs
                .places
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .ok_or_else(unhandled)?,
        },
        Some(("posargs", default)) => default.to_string(),
        Some(("env", var)) => match (var.split_once(':'), subs.env) {
            (Some((name, default)), EnvVars::Shell) => format!("${{{name}:-{default}}}"),
            (Some((_, default)), EnvVars::Default) => default.to_string(),
            (None, EnvVars::Shell) => format!("${var}"),
            (None, EnvVars::Default) => String::new(),
        },
        Some(_) => return Err(unhandled()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_substitutions_and_places() {
        let shell = Substitutions {
            places: &[("toxinidir", "/src")],
            env: EnvVars::Shell,
        };
        let default = Substitutions {
            env: EnvVars::Default,
            ..shell
        };
        let cases = [
            ("pytest {posargs}", &shell, Ok("pytest ")),
            (
                "pytest {posargs:{toxinidir}/tests}",
                &shell,
                Ok("pytest /src/tests"),
            ),
            ("{envpython} -m x", &shell, Ok("python -m x")),
            ("a{/}b{:}c", &shell, Ok("a/b:c")),
            ("{env:A:1} {env:B}", &shell, Ok("${A:-1} $B")),
            ("{env:A:1} {env:B}", &default, Ok("1 ")),
            ("awk '}' {posargs:x}", &shell, Ok("awk '}' x")),
            ("{[base]deps}", &shell, Err("[base]deps")),
            ("{envsitepackagesdir}", &default, Err("envsitepackagesdir")),
        ];
        for (text, subs, want) in cases {
            let want = want.map(str::to_string).map_err(|inner| Unhandled {
                inner: inner.to_string(),
            });
            assert_eq!(substitute(text, subs), want, "{text}");
        }
    }
}
