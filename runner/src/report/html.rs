//! Writing the HTML report: a static site (`index.html` and `jobs/*.html`) rendered from
//! the handlebars templates in `templates/`, with the stylesheet inlined and no external
//! asset, so it works offline and as a CI artifact.
//!
//! The templates are compiled into the binary; `PONYSWARM_TEMPLATES=DIR` renders with
//! the files found in `DIR` instead (for working on them without rebuilding).
//!
//! I/O: reads template overrides, writes files. The pages' content is decided in
//! [`super::pages`].

use super::compare::compare;
use super::pages::{index, job, job_files};
use crate::outcome::RunResult;
use handlebars::Handlebars;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The environment variable naming a directory of template overrides.
pub const TEMPLATES_ENV: &str = "PONYSWARM_TEMPLATES";

/// (name, built-in text) of every template; names are file names without `.hbs`.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../../templates/layout.hbs")),
    ("index", include_str!("../../../templates/index.hbs")),
    ("job", include_str!("../../../templates/job.hbs")),
    ("values", include_str!("../../../templates/values.hbs")),
    ("changes", include_str!("../../../templates/changes.hbs")),
];

/// The stylesheet, registered as the partial `report_css`.
const CSS: (&str, &str) = ("report.css", include_str!("../../../templates/report.css"));

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// A template does not parse (only an override can: the built-in ones are tested).
    #[error("template {name}: {source}")]
    Template {
        /// Which.
        name: String,
        /// The parse error, with its line.
        #[source]
        source: Box<handlebars::TemplateError>,
    },
    /// A template refers to something the page does not have.
    #[error("cannot render {page}: {source}")]
    Render {
        /// Which page.
        page: String,
        /// What went wrong.
        #[source]
        source: Box<handlebars::RenderError>,
    },
    /// A file or directory could not be written or an override read.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}

/// What [`write_html`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// `DIR/index.html`.
    pub index: PathBuf,
    /// Size of `index.html` in bytes.
    pub index_bytes: u64,
    /// Number of job pages.
    pub job_pages: usize,
    /// Size of all pages together.
    pub total_bytes: u64,
}

/// The report's pages, rendered in memory: `(relative path, HTML)`.
pub struct Rendered {
    /// `index.html` first, then the job pages.
    pub pages: Vec<(String, String)>,
}

/// The template registry: built-in templates, overridden from [`TEMPLATES_ENV`]'s
/// directory when set.
pub fn templates() -> Result<Handlebars<'static>, HtmlError> {
    let overrides = std::env::var_os(TEMPLATES_ENV).map(PathBuf::from);
    templates_from(overrides.as_deref())
}

/// The template registry, with overrides from `dir` when given.
pub fn templates_from(dir: Option<&Path>) -> Result<Handlebars<'static>, HtmlError> {
    let mut hb = Handlebars::new();
    // A misspelt field is an error, not a blank: the tests render every page.
    hb.set_strict_mode(true);
    for &(name, builtin) in TEMPLATES.iter().chain([&CSS]) {
        let file = if name.contains('.') {
            name.to_string()
        } else {
            format!("{name}.hbs")
        };
        let text = match dir.map(|d| d.join(&file)).filter(|p| p.is_file()) {
            Some(path) => {
                std::fs::read_to_string(&path).map_err(|source| HtmlError::Io { path, source })?
            }
            None => builtin.to_string(),
        };
        let register_as = if name == CSS.0 { "report_css" } else { name };
        hb.register_template_string(register_as, text)
            .map_err(|source| HtmlError::Template {
                name: file,
                source: Box::new(source),
            })?;
    }
    Ok(hb)
}

/// Renders every page of `result`'s report, compared with `previous` when given.
pub fn render(
    hb: &Handlebars<'_>,
    result: &RunResult,
    previous: Option<&RunResult>,
) -> Result<Rendered, HtmlError> {
    let comparison = previous.map(|p| compare(result, p));
    let view = index::build(result, comparison.as_ref());
    let mut pages = vec![(
        "index.html".to_string(),
        page(hb, "index", "index.html", &view)?,
    )];
    // Job pages are independent: render them on every core (a 1,000-job run is
    // thousands of log lines to colour and escape).
    let files = job_files(result);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let indexes: Vec<usize> = (0..files.len()).collect();
    let rendered: Vec<Result<Vec<(String, String)>, HtmlError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = indexes
            .chunks(chunk)
            .map(|part| {
                let files = &files;
                scope.spawn(move || {
                    part.iter()
                        .map(|&i| {
                            let view = job::build(result, i, files);
                            Ok((files[i].clone(), page(hb, "job", &files[i], &view)?))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for part in rendered {
        pages.extend(part?);
    }
    Ok(Rendered { pages })
}

/// Renders one page.
fn page<T: Serialize>(
    hb: &Handlebars<'_>,
    template: &str,
    file: &str,
    view: &T,
) -> Result<String, HtmlError> {
    hb.render(template, view)
        .map_err(|source| HtmlError::Render {
            page: file.to_string(),
            source: Box::new(source),
        })
}

/// Writes the report of `result` into `dir` (created if missing): `index.html` and one
/// page per job in `dir/jobs/`. `previous` is the previous run of the same matrix, for
/// the "since the previous run" section.
///
/// Pages of an earlier report in `dir` are overwritten; job pages of jobs this run does
/// not have are left, unlinked.
pub fn write_html(
    result: &RunResult,
    previous: Option<&RunResult>,
    dir: &Path,
) -> Result<Site, HtmlError> {
    let hb = templates()?;
    let rendered = render(&hb, result, previous)?;
    write_pages(&rendered, dir)
}

/// Writes rendered pages under `dir`.
pub fn write_pages(rendered: &Rendered, dir: &Path) -> Result<Site, HtmlError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HtmlError::Io { path, source }
    };
    let jobs_dir = dir.join("jobs");
    std::fs::create_dir_all(&jobs_dir).map_err(io(&jobs_dir))?;
    let mut site = Site {
        index: dir.join("index.html"),
        index_bytes: 0,
        job_pages: 0,
        total_bytes: 0,
    };
    for (file, html) in &rendered.pages {
        let path = dir.join(file);
        std::fs::write(&path, html).map_err(io(&path))?;
        let bytes = html.len() as u64;
        site.total_bytes += bytes;
        if file == "index.html" {
            site.index_bytes = bytes;
        } else {
            site.job_pages += 1;
        }
    }
    Ok(site)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Value;
    use crate::outcome::Status;
    use crate::outcome::Tests;
    use crate::report::synthetic::{fail, flagged_addition, SyntheticRun};
    use std::time::Duration;

    fn sample(id: &str, failing: &[&str]) -> RunResult {
        let mut run = SyntheticRun::new(id, "demo <&>");
        for python in ["3.11", "3.12", "3.13"] {
            for db in ["postgres", "mariadb"] {
                let axes = [
                    ("python", Value::Str(python.into())),
                    ("database", Value::Str(db.into())),
                ];
                let fails = python == "3.13";
                let status = if fails {
                    Status::Failed
                } else {
                    Status::Passed
                };
                run = run.job(&axes, status, |job| {
                    // The run's name is HTML-hostile; the jobs keep a plain one.
                    job.name = format!("demo ({python}, {db})");
                    job.tests = Some(Tests::new(10, u32::from(fails), 0, 0));
                    if fails {
                        for test in failing {
                            fail(job, test, "\x1b[31massert <b>\x1b[0m");
                        }
                    }
                    flagged_addition(job, "/etc/evil");
                    job.record_phase("install", Duration::from_secs(3));
                    job.record_phase("test", Duration::from_secs(1));
                    job.images
                        .insert("python".into(), "sha256:0123456789abcdef".into());
                    job.log = "\x1b[32mok\x1b[0m <script>\n".repeat(400);
                });
            }
        }
        run.finished_after(Duration::from_secs(75))
    }

    #[test]
    fn built_in_templates_render_every_page() {
        let hb = templates_from(None).expect("templates parse");
        let previous = sample("r0", &["t::old"]);
        let current = sample("r1", &["t::new"]);
        let rendered = render(&hb, &current, Some(&previous)).expect("renders");
        assert_eq!(rendered.pages.len(), 7);
        let (name, index) = &rendered.pages[0];
        assert_eq!(name, "index.html");
        for want in [
            "demo &lt;&amp;&gt;",
            "Fails only where",
            "python=3.13",
            "1 new failures",
            "t::new",
            "jobs/001-demo-3.11-postgres.html",
        ] {
            assert!(index.contains(want), "index lacks {want}");
        }
        let (_, page) = &rendered.pages[5];
        for want in [
            "unexpected",
            "250 earlier lines",
            "&lt;script&gt;",
            "<span class=\"f2\">ok</span>",
            "sha256:0123456789ab",
        ] {
            assert!(page.contains(want), "job page lacks {want}");
        }
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn without_a_previous_run_the_comparison_says_so() {
        let hb = templates_from(None).expect("templates parse");
        let rendered = render(&hb, &sample("r1", &[]), None).expect("renders");
        assert!(rendered.pages[0]
            .1
            .contains("No earlier run of this matrix"));
    }

    #[test]
    fn overrides_replace_built_in_templates() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("job.hbs"), "JOB {{name}}").expect("write");
        let hb = templates_from(Some(dir.path())).expect("templates parse");
        let rendered = render(&hb, &sample("r1", &[]), None).expect("renders");
        assert_eq!(rendered.pages[1].1, "JOB demo (3.11, postgres)");
        std::fs::write(dir.path().join("index.hbs"), "{{#if}}").expect("write");
        assert!(matches!(
            templates_from(Some(dir.path())),
            Err(HtmlError::Template { .. })
        ));
    }
}
