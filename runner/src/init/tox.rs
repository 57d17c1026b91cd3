//! tox.ini → a [`Draft`]: the `envlist`'s factors become axes (`py{39,311}-dj{42,50}`
//! is `python` × `dj`, and envs the product would add are excluded), `deps` become
//! install lines (factor-conditional ones as handlebars conditions), the project's
//! own install follows `usedevelop`/`extras`/`skip_install`, and `commands` become
//! `test:` with tox's substitutions (`{posargs}`, `{envpython}`, `{toxinidir}`, …)
//! replaced or reported.
//!
//! The format itself is read by [`crate::tox`]; this module maps it onto a matrix.
//!
//! Pure: reads text; never runs anything.

use super::draft::{self, Draft, Entry};
use crate::run::layout::SRC;
use crate::tox::{self, Condition, EnvVars, Ini, Section, Substitutions};
use indexmap::IndexMap;

/// Translates tox.ini's text into a draft named `name`.
pub fn translate(text: &str, name: &str) -> Draft {
    let ini = Ini::parse(text);
    let mut d = Draft {
        origin: "tox.ini".into(),
        name: name.to_string(),
        ..Draft::default()
    };
    let empty = Section::new();
    let tox = ini.section("tox").unwrap_or(&empty);
    let testenv = ini.section("testenv").unwrap_or(&empty);
    let envlist = tox
        .get("envlist")
        .or_else(|| tox.get("env_list"))
        .cloned()
        .unwrap_or_default();
    let mut envs: Vec<Vec<(String, String)>> = Vec::new();
    let mut factors: IndexMap<String, (String, String)> = IndexMap::new();
    for entry in tox::split_top(&envlist, &[',', '\n']) {
        let parts: Vec<Vec<String>> = tox::split_top(&entry, &['-'])
            .iter()
            .map(|p| tox::expand_braces(p))
            .collect();
        let groups: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(i, alts)| group_name(alts, i))
            .collect();
        for env in product(&parts) {
            let env_name = env.join("-");
            if ini
                .section(&format!("testenv:{env_name}"))
                .is_some_and(|s| s.contains_key("commands"))
            {
                d.note(format!("tox env `{env_name}` has commands of its own"));
                continue;
            }
            let mut combo = Vec::new();
            for (factor, group) in env.iter().zip(&groups) {
                let value = if group == "python" {
                    python_of(factor)
                } else {
                    factor.clone()
                };
                factors.insert(factor.clone(), (group.clone(), value.clone()));
                combo.push((group.clone(), value));
            }
            envs.push(combo);
        }
    }
    if envs.is_empty() {
        envs.push(vec![("python".into(), "3.11".into())]);
    }
    matrix(&envs, &mut d);
    install(testenv, &factors, &mut d);
    env(testenv, &factors, &mut d);
    test(testenv, &factors, &mut d);
    for key in testenv.keys() {
        let known = [
            "deps",
            "commands",
            "commands_pre",
            "setenv",
            "set_env",
            "extras",
            "usedevelop",
            "use_develop",
            "skip_install",
            "package",
            "allowlist_externals",
            "whitelist_externals",
            "passenv",
            "pass_env",
            "description",
            "changedir",
            "change_dir",
        ];
        if !known.contains(&key.as_str()) {
            d.note(format!("[testenv] {key}"));
        }
    }
    d
}

/// The axis a part of env names is: `python` for `py39`/`pypy3`, the letters they
/// share (`dj` for `dj42`/`dj50`), `database` for database names, else `factorN`.
fn group_name(alts: &[String], index: usize) -> String {
    if alts.iter().all(|a| is_python(a)) {
        return "python".into();
    }
    let prefix = |a: &str| {
        a.chars()
            .take_while(char::is_ascii_alphabetic)
            .collect::<String>()
    };
    let first = prefix(&alts[0]);
    if !first.is_empty()
        && alts
            .iter()
            .all(|a| prefix(a) == first && a.len() > first.len())
    {
        return first;
    }
    let dbs = ["sqlite", "postgres", "postgresql", "pg", "mysql", "mariadb"];
    if alts.iter().all(|a| dbs.contains(&a.as_str())) {
        return "database".into();
    }
    format!("factor{}", index + 1)
}

fn is_python(factor: &str) -> bool {
    let digits = factor
        .strip_prefix("pypy")
        .or_else(|| factor.strip_prefix("py"));
    digits.is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// `py39` → `3.9`, `py311` and `py3.11` → `3.11`, `pypy310` → `pypy3`.
fn python_of(factor: &str) -> String {
    if factor.starts_with("pypy") {
        return "pypy3".into();
    }
    let digits = factor.trim_start_matches("py");
    let dotted = if digits.contains('.') {
        digits.to_string()
    } else if digits.len() >= 2 {
        format!("{}.{}", &digits[..1], &digits[1..])
    } else {
        digits.to_string()
    };
    draft::python_version(&dotted).unwrap_or(dotted)
}

fn product(parts: &[Vec<String>]) -> Vec<Vec<String>> {
    parts.iter().fold(vec![vec![]], |acc, alts| {
        acc.iter()
            .flat_map(|prefix| {
                alts.iter()
                    .map(move |a| [prefix.clone(), vec![a.clone()]].concat())
            })
            .collect()
    })
}

/// Axes from the envs of the most common shape (the set of axes they have), the
/// product's extra combinations excluded; envs of other shapes are added as
/// includes when they would not merge into other jobs, else reported.
fn matrix(envs: &[Vec<(String, String)>], d: &mut Draft) {
    let shape = |e: &Vec<(String, String)>| e.iter().map(|(g, _)| g.clone()).collect::<Vec<_>>();
    let mut shapes: IndexMap<Vec<String>, usize> = IndexMap::new();
    for e in envs {
        *shapes.entry(shape(e)).or_default() += 1;
    }
    let main = shapes
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(s, _)| s.clone())
        .unwrap_or_default();
    let mut members: Vec<Entry> = Vec::new();
    for e in envs.iter().filter(|e| shape(e) == main) {
        let entry: Entry = e.iter().cloned().collect();
        for (g, v) in &entry {
            let values = d.axes.entry(g.clone()).or_default();
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
        if !members.contains(&entry) {
            members.push(entry);
        }
    }
    let parts: Vec<Vec<String>> = d.axes.values().cloned().collect();
    for combo in product(&parts) {
        let entry: Entry = d.axes.keys().cloned().zip(combo).collect();
        if !members.contains(&entry) {
            d.exclude.push(entry);
        }
    }
    for e in envs.iter().filter(|e| shape(e) != main) {
        let entry: Entry = e.iter().cloned().collect();
        // An include that overwrites no axis value is merged into existing jobs
        // instead of adding one (GitHub's rule), so only those that do are faithful.
        let conflicts_everywhere = members.iter().all(|m| {
            entry
                .iter()
                .any(|(k, v)| m.get(k).is_some_and(|mv| mv != v))
        });
        let fills_axes = main.iter().all(|g| entry.contains_key(g));
        if conflicts_everywhere || fills_axes {
            d.include.push(entry);
        } else {
            let name: Vec<&str> = e.iter().map(|(_, v)| v.as_str()).collect();
            d.note(format!(
                "tox env `{}` does not fit the matrix of the others",
                name.join("-")
            ));
        }
    }
}

/// A condition as a handlebars expression over the matrix, `None` when it can never
/// hold for a translated env.
fn condition(c: &Condition, factors: &IndexMap<String, (String, String)>) -> Option<String> {
    let mut terms = Vec::new();
    'term: for term in &c.0 {
        let mut parts = Vec::new();
        for f in term {
            let test = match factors.get(&f.name) {
                Some((group, value)) => format!("(eq matrix.{group} \"{value}\")"),
                None if f.negated => continue,
                None => continue 'term,
            };
            parts.push(if f.negated {
                format!("(not {test})")
            } else {
                test
            });
        }
        terms.push(match parts.len() {
            0 => "true".to_string(),
            1 => parts.remove(0),
            _ => format!("(and {})", parts.join(" ")),
        });
    }
    match terms.len() {
        0 => None,
        1 => Some(terms.remove(0)),
        _ => Some(format!("(or {})", terms.join(" "))),
    }
}

/// Each line of a key, with its condition turned into handlebars (`None`: always).
fn conditional_lines(
    value: &str,
    factors: &IndexMap<String, (String, String)>,
    what: &str,
    d: &mut Draft,
) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for line in tox::lines(value) {
        match Condition::split(&line) {
            None => out.push((None, line.clone())),
            Some((c, rest)) => match condition(&c, factors) {
                Some(h) if h == "true" => out.push((None, rest.to_string())),
                Some(h) => out.push((Some(h), rest.to_string())),
                None => d.note(format!("{what} `{line}`: only for envs not translated")),
            },
        }
    }
    out
}

fn guard(cond: Option<String>, text: String, otherwise: &str) -> String {
    match cond {
        None => text,
        Some(c) => format!("{{{{#if {c}}}}}{text}{{{{else}}}}{otherwise}{{{{/if}}}}"),
    }
}

/// A requirement as a shell word.
fn quote(req: &str) -> String {
    if req.contains('"') {
        format!("'{req}'")
    } else {
        format!("\"{req}\"")
    }
}

fn install(testenv: &Section, factors: &IndexMap<String, (String, String)>, d: &mut Draft) {
    let mut plain = Vec::new();
    let mut guarded = Vec::new();
    for (cond, dep) in conditional_lines(
        testenv.get("deps").map_or("", String::as_str),
        factors,
        "deps",
        d,
    ) {
        let Some(dep) = substitute(&dep, d) else {
            continue;
        };
        let args = match dep.strip_prefix("-r").or_else(|| dep.strip_prefix("-c")) {
            Some(file) => format!("{} {}", &dep[..2], file.trim()),
            None if dep.starts_with("-e") => dep.clone(),
            None => quote(&dep),
        };
        match cond {
            None => plain.push(args),
            Some(c) => guarded.push(guard(Some(c), format!("pip install {args}"), "true")),
        }
    }
    if !plain.is_empty() {
        d.install.push(format!("pip install {}", plain.join(" ")));
    }
    d.install.extend(guarded);
    let flag = |k: &str| {
        testenv
            .get(k)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    };
    let package = testenv.get("package").map(String::as_str);
    if flag("skip_install") || package == Some("skip") {
        return;
    }
    let extras: Vec<String> = testenv
        .get("extras")
        .map(|e| tox::split_top(e, &[',', '\n']))
        .unwrap_or_default();
    let target = if extras.is_empty() {
        ".".to_string()
    } else {
        format!(".[{}]", extras.join(","))
    };
    let editable = flag("usedevelop") || flag("use_develop") || package == Some("editable");
    d.install.push(if editable {
        format!("pip install -e {target}")
    } else {
        format!("pip install {target}")
    });
}

fn env(testenv: &Section, factors: &IndexMap<String, (String, String)>, d: &mut Draft) {
    let value = testenv
        .get("setenv")
        .or_else(|| testenv.get("set_env"))
        .cloned()
        .unwrap_or_default();
    for (cond, line) in conditional_lines(&value, factors, "setenv", d) {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if let Some(v) = substitute(v.trim(), d) {
            if cond.is_some() {
                d.note(format!(
                    "setenv `{}`: set to an empty value where its factors do not hold",
                    k.trim()
                ));
            }
            d.env.insert(k.trim().to_string(), guard(cond, v, ""));
        }
    }
}

fn test(testenv: &Section, factors: &IndexMap<String, (String, String)>, d: &mut Draft) {
    let mut commands = Vec::new();
    if let Some(dir) = testenv
        .get("changedir")
        .or_else(|| testenv.get("change_dir"))
    {
        if let Some(dir) = substitute(dir, d) {
            commands.push(format!("cd {dir}"));
        }
    }
    for key in ["commands_pre", "commands"] {
        for (cond, line) in
            conditional_lines(testenv.get(key).map_or("", String::as_str), factors, key, d)
        {
            // A leading `-` tells tox to ignore the command's exit status.
            let (line, ignore) = match line.strip_prefix('-') {
                Some(l) => (l.trim().to_string(), true),
                None => (line, false),
            };
            let Some(mut line) = substitute(&line, d) else {
                continue;
            };
            if ignore {
                line = format!("{{ {line} || true; }}");
            }
            commands.push(guard(cond, line, "true"));
        }
    }
    if !commands.is_empty() {
        d.test = Some(commands.join(" && "));
    }
}

/// What tox's places are in a job: its virtualenv, the checkout, a scratch dir.
const PLACES: &[(&str, &str)] = &[
    ("envbindir", "$VIRTUAL_ENV/bin"),
    ("envdir", "$VIRTUAL_ENV"),
    ("toxinidir", SRC),
    ("tox_root", SRC),
    ("envtmpdir", "/tmp"),
    ("temp_dir", "/tmp"),
];

/// `text` with tox's substitutions replaced (`{env:X}` read by the job's shell);
/// `None` (and a note) for one that has no meaning here (`{[section]key}`,
/// `{envsitepackagesdir}`).
fn substitute(text: &str, d: &mut Draft) -> Option<String> {
    let subs = Substitutions {
        places: PLACES,
        env: EnvVars::Shell,
    };
    match tox::substitute(text, &subs) {
        Ok(out) => Some(out.replace("[]", "").trim().to_string()),
        Err(unhandled) => {
            d.note(format!(
                "`{text}`: tox substitution {{{}}}",
                unhandled.inner
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_groups_are_named_for_what_they_vary() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases = [
            (s(&["py39", "py311"]), "python"),
            (s(&["pypy3", "py3.12"]), "python"),
            (s(&["dj42", "dj50"]), "dj"),
            (s(&["sqlite", "postgres"]), "database"),
            (s(&["unit", "integration"]), "factor2"),
        ];
        for (alts, want) in cases {
            assert_eq!(group_name(&alts, 1), want, "{alts:?}");
        }
        for (factor, want) in [
            ("py39", "3.9"),
            ("py311", "3.11"),
            ("py3.12", "3.12"),
            ("pypy310", "pypy3"),
        ] {
            assert_eq!(python_of(factor), want);
        }
    }

    #[test]
    fn conditions_become_handlebars_over_the_matrix() {
        let factors: IndexMap<String, (String, String)> = [
            ("py39", ("python", "3.9")),
            ("dj42", ("dj", "dj42")),
            ("dj50", ("dj", "dj50")),
        ]
        .into_iter()
        .map(|(f, (g, v))| (f.to_string(), (g.to_string(), v.to_string())))
        .collect();
        let cases = [
            ("dj42: x", Some("(eq matrix.dj \"dj42\")")),
            (
                "dj{42,50}: x",
                Some("(or (eq matrix.dj \"dj42\") (eq matrix.dj \"dj50\"))"),
            ),
            (
                "py39-!dj42: x",
                Some("(and (eq matrix.python \"3.9\") (not (eq matrix.dj \"dj42\")))"),
            ),
            ("lint: x", None),
            ("!lint: x", Some("true")),
        ];
        for (line, want) in cases {
            let (c, _) = Condition::split(line).expect(line);
            assert_eq!(condition(&c, &factors).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn substitutions_are_replaced_or_reported() {
        let cases = [
            ("pytest {posargs}", Some("pytest")),
            (
                "pytest {posargs:{toxinidir}/tests}",
                Some("pytest /work/src/tests"),
            ),
            ("{envpython} -m pytest", Some("python -m pytest")),
            (
                "echo {env:HOME:/root} {env:USER}",
                Some("echo ${HOME:-/root} $USER"),
            ),
            ("pip install {[base]deps}", None),
        ];
        for (text, want) in cases {
            let mut d = Draft::default();
            assert_eq!(substitute(text, &mut d).as_deref(), want, "{text}");
            assert_eq!(d.notes.is_empty(), want.is_some(), "{text}");
        }
    }
}
