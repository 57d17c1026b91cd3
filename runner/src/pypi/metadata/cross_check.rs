//! The JSON API as a cross-check of the files: PyPI's JSON API shows what the upload
//! form said, which tools fill from the file's metadata but need not; where the two
//! differ, pip (which reads the file) and the project page (which shows the form)
//! disagree, and the author should know.
//!
//! Pure: no I/O.

use crate::pypi::Metadata;
use std::collections::BTreeSet;

/// How `json` (the JSON API's) differs from `file` (the distribution's), one sentence
/// per field, empty when they agree.
pub fn differences(json: &Metadata, file: &Metadata) -> Vec<String> {
    let mut out = Vec::new();
    let mut single = |field: &str, a: &Option<String>, b: &Option<String>| {
        let (a, b) = (trimmed(a), trimmed(b));
        if a != b {
            out.push(format!(
                "{field}: the JSON API says {}, the file says {}",
                shown(a),
                shown(b)
            ));
        }
    };
    single("Summary", &json.summary, &file.summary);
    single("Description", &json.description, &file.description);
    single(
        "Description-Content-Type",
        &json.description_content_type,
        &file.description_content_type,
    );
    single("License", &json.license, &file.license);
    single(
        "Requires-Python",
        &json.requires_python,
        &file.requires_python,
    );
    single("Author-email", &json.author_email, &file.author_email);
    single(
        "Maintainer-email",
        &json.maintainer_email,
        &file.maintainer_email,
    );
    let mut set = |field: &str, a: BTreeSet<String>, b: BTreeSet<String>| {
        let only_json: Vec<&String> = a.difference(&b).collect();
        let only_file: Vec<&String> = b.difference(&a).collect();
        if !only_json.is_empty() || !only_file.is_empty() {
            out.push(format!(
                "{field}: only in the JSON API {only_json:?}, only in the file {only_file:?}"
            ));
        }
    };
    set(
        "Classifier",
        json.classifiers.iter().cloned().collect(),
        file.classifiers.iter().cloned().collect(),
    );
    set(
        "Requires-Dist",
        json.requires_dist.iter().cloned().collect(),
        file.requires_dist.iter().cloned().collect(),
    );
    set("Project-URL", urls(json), urls(file));
    out
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A value in a sentence: quoted, long ones cut.
fn shown(value: Option<&str>) -> String {
    match value {
        None => "nothing".into(),
        Some(v) if v.chars().count() > 60 => {
            let cut: String = v.chars().take(60).collect();
            format!("{cut:?}…")
        }
        Some(v) => format!("{v:?}"),
    }
}

/// Project URLs as `label, url`, labels compared as PyPI does (case and separators
/// aside), since tools spell `Homepage` and `Home-page` alike.
fn urls(meta: &Metadata) -> BTreeSet<String> {
    meta.project_urls
        .iter()
        .map(|(label, url)| {
            let label: String = label
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            format!("{label}, {url}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        Metadata {
            summary: Some("Ponies".into()),
            description: Some("# Pony\n".into()),
            license: Some("MIT".into()),
            classifiers: vec!["A".into(), "B".into()],
            project_urls: [("Homepage".to_string(), "https://h".to_string())].into(),
            requires_dist: vec!["x".into()],
            ..Metadata::default()
        }
    }

    #[test]
    fn the_same_metadata_has_no_differences() {
        let mut reordered = sample();
        reordered.classifiers.reverse();
        reordered.description = Some("# Pony".into());
        reordered.project_urls = [("home-page".to_string(), "https://h".to_string())].into();
        assert_eq!(differences(&sample(), &reordered), Vec::<String>::new());
    }

    #[test]
    fn each_differing_field_is_one_finding() {
        type Change = fn(&mut Metadata);
        let cases: &[(Change, &str)] = &[
            (
                |m| m.summary = None,
                "Summary: the JSON API says \"Ponies\", the file says nothing",
            ),
            (
                |m| m.license = Some("BSD".into()),
                "License: the JSON API says \"MIT\", the file says \"BSD\"",
            ),
            (
                |m| m.classifiers.push("C".into()),
                "Classifier: only in the JSON API [], only in the file [\"C\"]",
            ),
            (
                |m| m.requires_dist.clear(),
                "Requires-Dist: only in the JSON API [\"x\"], only in the file []",
            ),
            (
                |m| m.requires_python = Some(">=3".into()),
                "Requires-Python: the JSON API says nothing, the file says \">=3\"",
            ),
        ];
        for (change, want) in cases {
            let mut file = sample();
            change(&mut file);
            assert_eq!(differences(&sample(), &file), vec![want.to_string()]);
        }
    }
}
