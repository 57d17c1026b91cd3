//! Django apps: a release that depends on Django and ships a test settings module is
//! run with Django's own runner and that module; when the settings name PostgreSQL
//! or MySQL/MariaDB, the job gets the catalog's service and the environment such
//! settings conventionally read (`DATABASE_URL`, `POSTGRES_*`, `PG*`, `MYSQL_*`,
//! `DB_*`).
//!
//! Pure: paths and texts in, decisions out. The settings are read, never imported.

use super::testdeps::normalized_name;

/// The database a settings module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// `django.db.backends.postgresql` (or PostGIS).
    Postgres,
    /// `django.db.backends.mysql` (MariaDB serves it).
    Mysql,
}

impl Database {
    /// The service's name in the job (its `NAME_*` variables) and its catalog image.
    pub fn service(self) -> (&'static str, &'static str) {
        match self {
            Database::Postgres => ("postgres", "postgres"),
            Database::Mysql => ("mysql", "mariadb"),
        }
    }

    /// Environment templates for the job: the conventional names, filled from the
    /// service's details.
    pub fn env(self) -> Vec<(String, String)> {
        let (name, _) = self.service();
        let s = |field: &str| format!("{{{{services.{name}.{field}}}}}");
        let mut out = vec![
            ("DATABASE_URL".to_string(), s("url")),
            ("DB_HOST".to_string(), s("host")),
            ("DB_PORT".to_string(), s("port")),
            ("DB_USER".to_string(), s("user")),
            ("DB_PASSWORD".to_string(), s("password")),
            ("DB_NAME".to_string(), s("database")),
        ];
        if self == Database::Postgres {
            out.extend([
                ("PGHOST".to_string(), s("host")),
                ("PGPORT".to_string(), s("port")),
                ("PGUSER".to_string(), s("user")),
                ("PGPASSWORD".to_string(), s("password")),
                ("PGDATABASE".to_string(), s("database")),
            ]);
        } else {
            out.push(("MYSQL_DATABASE".to_string(), s("database")));
        }
        out
    }
}

/// Whether `Requires-Dist` names Django (any marker, any version).
pub fn depends_on_django(requires_dist: &[String]) -> bool {
    requires_dist.iter().any(|r| normalized_name(r) == "django")
}

/// The test settings module among `files` (relative paths), as a dotted name: a
/// `settings.py`, `test_settings.py` or `settings_test.py` (or a `settings/`
/// package) under a directory named for tests, or at the top named for tests; the
/// shallowest first. Returns the module and its file.
pub fn settings_module(files: &[String]) -> Option<(String, String)> {
    let is_test_dir = |d: &str| {
        matches!(
            d,
            "tests" | "test" | "testapp" | "test_project" | "testproject"
        )
    };
    let mut candidates: Vec<&String> = files
        .iter()
        .filter(|f| {
            let parts: Vec<&str> = f.split('/').collect();
            let (dirs, name) = parts.split_at(parts.len() - 1);
            let name = name[0];
            let named_for_tests = matches!(
                name,
                "test_settings.py" | "settings_test.py" | "testsettings.py"
            );
            let in_tests = dirs.iter().any(|d| is_test_dir(d));
            let settings_pkg =
                name == "__init__.py" && dirs.last() == Some(&"settings") && in_tests;
            (named_for_tests || (name == "settings.py" && in_tests) || settings_pkg)
                && !dirs.iter().any(|d| d.starts_with('.') || *d == "docs")
                && dirs.len() <= 3
        })
        .collect();
    candidates.sort_by_key(|f| (f.matches('/').count(), f.to_string()));
    let file = candidates.first()?;
    let module = file
        .trim_end_matches("/__init__.py")
        .trim_end_matches(".py")
        .trim_start_matches("src/")
        .replace('/', ".");
    let valid = module
        .split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    valid.then(|| (module, file.to_string()))
}

/// The database the settings text configures, if it is one the catalog serves.
pub fn database(settings: &str) -> Option<Database> {
    if settings.contains("django.db.backends.postgresql") || settings.contains("postgis") {
        Some(Database::Postgres)
    } else if settings.contains("django.db.backends.mysql") {
        Some(Database::Mysql)
    } else {
        None
    }
}

/// The command that runs the tests with Django's runner and `settings`.
pub fn command(settings: &str) -> String {
    format!("PYTHONPATH=. python -m django test --settings={settings} -v 2")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn django_is_found_in_requires_dist() {
        assert!(depends_on_django(&v(&["Django>=4.2"])));
        assert!(depends_on_django(&v(&["django; extra == \"x\""])));
        assert!(!depends_on_django(&v(&[
            "django-stubs",
            "djangorestframework"
        ])));
    }

    #[test]
    fn the_test_settings_module_is_found() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (
                &["app/__init__.py", "tests/settings.py", "tests/test_x.py"],
                Some("tests.settings"),
            ),
            (
                &["test_settings.py", "app/models.py"],
                Some("test_settings"),
            ),
            (&["src/app/tests/settings.py"], Some("app.tests.settings")),
            (
                &["tests/settings/__init__.py", "tests/settings/base.py"],
                Some("tests.settings"),
            ),
            (&["app/settings.py", "tests/test_x.py"], None),
            (&["docs/tests/settings.py"], None),
            (&["tests/my-settings/settings.py"], None),
        ];
        for (files, want) in cases {
            let got = settings_module(&v(files)).map(|(m, _)| m);
            assert_eq!(got.as_deref(), *want, "{files:?}");
        }
    }

    #[test]
    fn the_engine_names_the_service_and_its_variables() {
        let pg = "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'HOST': os.environ['PGHOST']}}";
        assert_eq!(database(pg), Some(Database::Postgres));
        assert_eq!(
            database("'ENGINE': 'django.db.backends.mysql'"),
            Some(Database::Mysql)
        );
        assert_eq!(database("'ENGINE': 'django.db.backends.sqlite3'"), None);
        let env = Database::Postgres.env();
        assert!(env.contains(&("PGHOST".into(), "{{services.postgres.host}}".into())));
        assert!(env.contains(&("DATABASE_URL".into(), "{{services.postgres.url}}".into())));
        assert_eq!(Database::Mysql.service(), ("mysql", "mariadb"));
    }
}
