//! Job → JobPlan, pure: handlebars rendering of `env:`, `install:`, `prepare` and the
//! `files:` templates, service connection details, the test command.
//!
//! The templates' text and the default test command are handed in by the front door
//! ([`super::from_spec`]); nothing here reads a file or touches Docker.

use crate::catalog::{self, ServiceInfo};
use crate::detect::{self, Runner};
use crate::matrix::{Job, Pos, ServiceSpec, Spanned, Spec, SpecError};
use handlebars::{Handlebars, RenderError, RenderErrorReason};
use indexmap::IndexMap;
use serde_json::{json, Map, Value as Json};

use super::{spec_dir, JobPlan, ServicePlan, Templates, TestCommand};

/// Plans every job. `default_test` is used when the file has no `test:` (the front
/// door detects it from the source tree).
pub(super) fn plan_all(
    spec: &Spec,
    jobs: &[Job],
    templates: &Templates,
    default_test: &TestCommand,
) -> Result<Vec<JobPlan>, SpecError> {
    let renderer = Renderer::new();
    jobs.iter()
        .map(|job| plan_job(&renderer, spec, job, templates, default_test))
        .collect()
}

/// Handlebars set up for ponyswarm: strict (an undefined variable is an error, not an
/// empty string that breaks a job much later) and without HTML escaping (these are
/// shell commands and Python files, not web pages).
struct Renderer(Handlebars<'static>);

impl Renderer {
    fn new() -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        Renderer(hb)
    }

    /// Renders a template written inside the matrix file at `pos`; `what` names the key.
    fn inline(
        &self,
        spec: &Spec,
        what: &str,
        t: &Spanned<String>,
        ctx: &Json,
    ) -> Result<String, SpecError> {
        self.0
            .render_template(&t.value, ctx)
            .map_err(|e| SpecError::at(&spec.path, t.pos, template_message(what, &e, ctx)))
    }

    /// Renders a `files:` template file; errors point into that file.
    fn file(&self, spec: &Spec, name: &str, text: &str, ctx: &Json) -> Result<String, SpecError> {
        self.0.render_template(text, ctx).map_err(|e| {
            let file = spec_dir(spec).join(name);
            let pos = Pos {
                line: e.line_no.unwrap_or(1),
                col: e.column_no.unwrap_or(1),
            };
            SpecError::at(&file, pos, template_message("template", &e, ctx))
        })
    }
}

/// Says which variable was missing and what is there, rather than handlebars' terse
/// "Failed to access variable in strict mode".
fn template_message(what: &str, e: &RenderError, ctx: &Json) -> String {
    match e.reason() {
        RenderErrorReason::MissingVariable(Some(var)) => {
            let (root, _) = var.split_once('.').unwrap_or((var.as_str(), ""));
            let known: Vec<String> = match ctx.get(root) {
                Some(Json::Object(m)) => m.keys().map(|k| format!("{root}.{k}")).collect(),
                _ => ["matrix", "services", "env"]
                    .iter()
                    .filter(|k| ctx.get(**k).is_some())
                    .map(|k| k.to_string())
                    .collect(),
            };
            format!(
                "{what} uses `{var}`, which is not defined for this job (defined: {})",
                if known.is_empty() {
                    "nothing".into()
                } else {
                    known.join(", ")
                }
            )
        }
        _ => format!("{what} does not render: {}", e.reason()),
    }
}

/// Connection details of one started service, as templates and env see them.
struct Endpoint {
    name: String,
    info: ServiceInfo,
}

impl Endpoint {
    fn url(&self) -> String {
        let ServiceInfo {
            port,
            scheme,
            credentials,
            ..
        } = self.info;
        match credentials {
            Some(c) => format!(
                "{scheme}://{}:{}@{}:{port}/{}",
                c.user, c.password, self.name, c.database
            ),
            None if scheme == "redis" => format!("redis://{}:{port}/0", self.name),
            None => format!("{scheme}://{}:{port}", self.name),
        }
    }

    fn template_value(&self) -> Json {
        let mut m = Map::new();
        m.insert("host".into(), json!(self.name));
        m.insert("port".into(), json!(self.info.port));
        m.insert("url".into(), json!(self.url()));
        if let Some(c) = self.info.credentials {
            m.insert("user".into(), json!(c.user));
            m.insert("password".into(), json!(c.password));
            m.insert("database".into(), json!(c.database));
        }
        Json::Object(m)
    }

    /// NAME_HOST, NAME_PORT, NAME_URL and for databases NAME_USER, NAME_PASSWORD, NAME_DB.
    fn env(&self, out: &mut IndexMap<String, String>) {
        let prefix = env_name(&self.name);
        out.insert(format!("{prefix}_HOST"), self.name.clone());
        out.insert(format!("{prefix}_PORT"), self.info.port.to_string());
        out.insert(format!("{prefix}_URL"), self.url());
        if let Some(c) = self.info.credentials {
            out.insert(format!("{prefix}_USER"), c.user.into());
            out.insert(format!("{prefix}_PASSWORD"), c.password.into());
            out.insert(format!("{prefix}_DB"), c.database.into());
        }
    }
}

/// `my-db` → `MY_DB`: what a shell accepts as a variable name.
pub fn env_name(service: &str) -> String {
    service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn service_info(spec: &Spec, name: &str, s: &ServiceSpec) -> Result<ServiceInfo, SpecError> {
    let known = catalog::service_entry(&s.image.value)
        .and_then(|e| e.service)
        .or_else(|| catalog::service_info_for_reference(&s.image.value));
    match (known, s.port) {
        (Some(info), Some(port)) => Ok(ServiceInfo { port, ..info }),
        (Some(info), None) => Ok(info),
        (None, Some(port)) => Ok(ServiceInfo {
            port,
            scheme: "tcp",
            credentials: None,
            data: None,
        }),
        (None, None) => Err(SpecError::at(
            &spec.path,
            s.image.pos,
            format!(
                "service `{name}`: cannot tell which port `{}` listens on; add `port:` to the service",
                s.image.value
            ),
        )),
    }
}

/// Environment for a service container: what official images want to set up the
/// same credentials the catalog images have baked in, then the file's `env:`.
fn service_env(
    image: &str,
    info: &ServiceInfo,
    extra: &IndexMap<String, String>,
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if catalog::is_image_reference(image) {
        if let Some(c) = info.credentials {
            let names: &[&str] = match info.scheme {
                "postgres" => &["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"],
                "mysql" => &["MARIADB_USER", "MARIADB_PASSWORD", "MARIADB_DATABASE"],
                _ => &[],
            };
            for (k, v) in names.iter().zip([c.user, c.password, c.database]) {
                env.push((k.to_string(), v.to_string()));
            }
            if info.scheme == "mysql" {
                env.push(("MARIADB_ROOT_PASSWORD".into(), c.password.into()));
            }
        }
    }
    env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// The first two services of a job that listen on the same port, and the port: they
/// cannot both bind it in the network namespace a job's services share.
fn shared_port(services: &[ServicePlan]) -> Option<(&str, &str, u16)> {
    services.iter().enumerate().find_map(|(i, a)| {
        services[..i]
            .iter()
            .find(|b| b.port == a.port)
            .map(|b| (b.name.as_str(), a.name.as_str(), a.port))
    })
}

fn plan_job(
    r: &Renderer,
    spec: &Spec,
    job: &Job,
    templates: &Templates,
    default_test: &TestCommand,
) -> Result<JobPlan, SpecError> {
    let mut services = Vec::new();
    let mut endpoints = Vec::new();
    for name in &job.services {
        let Some(s) = spec.services.get(name) else {
            continue;
        };
        let info = service_info(spec, name, s)?;
        services.push(ServicePlan {
            name: name.clone(),
            image: s.image.value.clone(),
            port: info.port,
            env: service_env(&s.image.value, &info, &s.env),
            data: info.data.map(str::to_string),
        });
        endpoints.push(Endpoint {
            name: name.clone(),
            info,
        });
    }
    if let Some((first, second, port)) = shared_port(&services) {
        let pos = spec
            .services
            .get(second)
            .map_or(Pos { line: 1, col: 1 }, |s| s.image.pos);
        return Err(SpecError::at(
            &spec.path,
            pos,
            format!(
                "services `{first}` and `{second}` both listen on port {port}, and a job's \
                 services share `localhost`; start them in different jobs (`when:`)"
            ),
        ));
    }

    let mut ctx = json!({
        "matrix": serde_json::to_value(&job.matrix).unwrap_or(Json::Null),
        "services": Json::Object(endpoints.iter().map(|e| (e.name.clone(), e.template_value())).collect()),
    });

    // Service details first, so `env:` may override them deliberately.
    let mut env = IndexMap::new();
    for e in &endpoints {
        e.env(&mut env);
    }
    for (k, t) in &spec.env {
        env.insert(k.clone(), r.inline(spec, &format!("env `{k}`"), t, &ctx)?);
    }
    ctx["env"] = json!(env);

    let files = spec
        .files
        .iter()
        .map(|(dest, t)| {
            let text = templates
                .get(&t.value)
                .map(String::as_str)
                .unwrap_or_default();
            Ok((dest.clone(), r.file(spec, &t.value, text, &ctx)?))
        })
        .collect::<Result<_, SpecError>>()?;
    let mut install: Vec<String> = spec
        .install
        .iter()
        .enumerate()
        .map(|(i, t)| r.inline(spec, &format!("install command {}", i + 1), t, &ctx))
        .collect::<Result<_, _>>()?;
    let test = match &spec.test {
        Some(t) => TestCommand {
            command: r.inline(spec, "test", t, &ctx)?,
            detected: None,
        },
        None => {
            // Detection chose the runner, so make sure the job has it: an install that
            // already brings pytest makes this a no-op.
            if detect::runner_of(&default_test.command) == Runner::Pytest {
                install.push("pip install pytest".into());
            }
            default_test.clone()
        }
    };

    Ok(JobPlan {
        job: job.clone(),
        python_image: crate::pythons::image_for(&job.python),
        services,
        env,
        files,
        install,
        prepare: spec.prepare.clone(),
        test,
        timeout: spec.timeout,
        limits: spec.limits.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec_from(yaml: &str) -> Spec {
        Spec::parse(Path::new("/p/ponyswarm.yaml"), yaml).expect("spec parses")
    }

    fn plans(yaml: &str, templates: &[(&str, &str)]) -> Result<Vec<JobPlan>, SpecError> {
        let spec = spec_from(yaml);
        let jobs = crate::matrix::expand(&spec).expect("expands");
        let t = templates
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let test = TestCommand {
            command: "python -m pytest".into(),
            detected: Some("pytest: tests/ exists".into()),
        };
        plan_all(&spec, &jobs, &t, &test)
    }

    const DJANGO: &str = r#"
name: app
matrix:
  django: ["4.2"]
  database: [sqlite, postgres]
services:
  postgres: {image: postgres, when: {database: postgres}}
env:
  DB: "{{matrix.database}}"
files:
  settings_ci.py: settings.hbs
install:
  - pip install "django~={{matrix.django}}.0"
"#;

    #[test]
    fn services_fill_env_and_templates() {
        let t = [("settings.hbs", "DB = '{{env.DB}}'\n{{#if services.postgres}}HOST = '{{services.postgres.host}}:{{services.postgres.port}}'{{/if}}\n")];
        let p = plans(DJANGO, &t).unwrap();
        assert_eq!(p.len(), 2);
        let sqlite = &p[0];
        assert!(sqlite.services.is_empty());
        assert_eq!(sqlite.env.get("DB").map(String::as_str), Some("sqlite"));
        assert!(!sqlite.env.contains_key("POSTGRES_HOST"));
        let pg = &p[1];
        assert_eq!(pg.services[0].port, 5432);
        assert_eq!(
            pg.env["POSTGRES_URL"],
            "postgres://pony:pony@postgres:5432/pony"
        );
        assert_eq!(pg.env["POSTGRES_USER"], "pony");
        assert_eq!(
            pg.files["settings_ci.py"],
            "DB = 'postgres'\nHOST = 'postgres:5432'\n"
        );
        assert_eq!(
            pg.install,
            ["pip install \"django~=4.2.0\"", "pip install pytest"]
        );
        assert_eq!(pg.test.detected.as_deref(), Some("pytest: tests/ exists"));
    }

    #[test]
    fn two_services_on_one_port_in_a_job_are_an_error_naming_both() {
        let yaml = r#"
name: app
matrix:
  db: [one, both]
services:
  pg:
    image: postgres
  pg16:
    image: "postgres:16"
    when: {db: both}
  cache: {image: redis}
"#;
        let err = plans(yaml, &[]).unwrap_err();
        assert_eq!(
            err.message,
            "services `pg` and `pg16` both listen on port 5432, and a job's services share \
             `localhost`; start them in different jobs (`when:`)"
        );
        assert_eq!(err.pos.map(|p| p.line), Some(9));
        let apart = yaml.replace(
            "    when: {db: both}\n",
            "    when: {db: both}\n    port: 5433\n",
        );
        let p = plans(&apart, &[]).unwrap();
        assert_eq!(p[1].services.len(), 3, "distinct ports share a job");
    }

    #[test]
    fn undefined_variable_in_inline_template_points_at_the_yaml() {
        let yaml = DJANGO.replace("{{matrix.database}}", "{{matrix.databse}}");
        let err = plans(&yaml, &[("settings.hbs", "")]).unwrap_err();
        assert_eq!(err.file, Path::new("/p/ponyswarm.yaml"));
        assert_eq!(err.pos.map(|p| p.line), Some(9));
        assert!(err.message.contains("`matrix.databse`"), "{}", err.message);
        assert!(err.message.contains("matrix.database"), "{}", err.message);
    }

    #[test]
    fn undefined_variable_in_file_template_points_into_the_template() {
        let err = plans(
            DJANGO,
            &[("settings.hbs", "X = 1\nY = '{{services.redis.host}}'\n")],
        )
        .unwrap_err();
        assert_eq!(err.file, Path::new("/p/settings.hbs"));
        assert_eq!(err.pos.map(|p| p.line), Some(2));
        assert!(err.message.contains("services.redis"), "{}", err.message);
    }

    #[test]
    fn reference_images_get_official_image_credentials() {
        let yaml = "matrix: {x: [1]}\nservices:\n  db: {image: \"postgres:16\"}\n  cache: {image: \"example/thing:1\", port: 7000}\n";
        let p = &plans(yaml, &[]).unwrap()[0];
        assert!(p.services[0]
            .env
            .contains(&("POSTGRES_PASSWORD".into(), "pony".into())));
        assert_eq!(p.env["DB_URL"], "postgres://pony:pony@db:5432/pony");
        assert_eq!(p.env["CACHE_URL"], "tcp://cache:7000");
    }

    #[test]
    fn unknown_port_is_refused_before_planning() {
        // The parser already refuses it, pointing at the image; plan never sees it.
        let yaml = "matrix: {x: [1]}\nservices:\n  thing: {image: \"example/thing:1\"}\n";
        let err = Spec::parse(Path::new("/p/ponyswarm.yaml"), yaml).unwrap_err();
        assert!(err.message.contains("port"), "{}", err.message);
        assert_eq!(err.pos.map(|p| p.line), Some(3));
    }

    #[test]
    fn env_names_are_shell_safe() {
        assert_eq!(env_name("my-db.1"), "MY_DB_1");
    }
}
