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
/// package) under a directory named for tests, or at the top named for tests, whose
/// text ([`read`](settings_module)) reads as settings ([`reads_as_settings`]); the
/// shallowest first. Returns the module and its file.
///
/// The name alone is not enough: `tests/test_settings.py` is as often the tests *of*
/// an app's settings as Django settings for its tests, and naming such a module as
/// `DJANGO_SETTINGS_MODULE` breaks suites that configure Django themselves.
pub fn settings_module(
    files: &[String],
    read: impl Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
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
        .filter(|f| read(f).is_some_and(|text| reads_as_settings(&text)))
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

/// Whether a module's text reads as Django settings: it assigns one of the settings
/// every project has at the start of a line (or star-imports them from a base
/// module, as split settings do), and defines no tests.
pub fn reads_as_settings(text: &str) -> bool {
    const SETTINGS: &[&str] = &[
        "INSTALLED_APPS",
        "DATABASES",
        "SECRET_KEY",
        "ROOT_URLCONF",
        "MIDDLEWARE",
    ];
    let mut assigns = false;
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or_default().trim_end();
        let defines_tests = code.trim_start().starts_with("def test")
            || (code.starts_with("class ") && code.contains("TestCase"));
        if defines_tests {
            return false;
        }
        let assigned = SETTINGS.iter().any(|name| {
            code.strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with(['=', ':', '+']))
        });
        let star = code.starts_with("from ") && code.ends_with("import *");
        assigns |= assigned || star;
    }
    assigns
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
        // Every file reads as settings here; what reads as settings is below.
        let settings = |_: &str| Some("INSTALLED_APPS = ['app']\n".to_string());
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
            let got = settings_module(&v(files), settings).map(|(m, _)| m);
            assert_eq!(got.as_deref(), *want, "{files:?}");
        }
    }

    #[test]
    fn a_settings_name_must_read_as_settings() {
        // djangorestframework 3.14.0: tests/test_settings.py tests its own settings,
        // and tests/conftest.py configures Django.
        let files = v(&[
            "tests/conftest.py",
            "tests/test_settings.py",
            "tests/settings.py",
        ]);
        let texts = |tests_of_settings: &str, settings: Option<&str>| {
            let (a, b) = (tests_of_settings.to_string(), settings.map(str::to_string));
            move |f: &str| match f {
                "tests/test_settings.py" => Some(a.clone()),
                "tests/settings.py" => b.clone(),
                _ => None,
            }
        };
        let drf = "from django.test import TestCase\n\nclass TestSettings(TestCase):\n    def test_import_error(self):\n        pass\n";
        assert_eq!(settings_module(&files, texts(drf, None)), None);
        let real = "import os\nSECRET_KEY = 'x'\nINSTALLED_APPS = [\n    'app',\n]\n";
        assert_eq!(
            settings_module(&files, texts(drf, Some(real))),
            Some(("tests.settings".into(), "tests/settings.py".into()))
        );
        let cases = [
            ("INSTALLED_APPS = ['a']", true),
            ("DATABASES: dict = {}", true),
            ("INSTALLED_APPS += ['debug_toolbar']", true),
            ("from .base import *", true),
            ("from myproject.settings import *  # noqa", true),
            ("    INSTALLED_APPS = ['nested in a function']", false),
            (
                "SECRET_KEY = 'x'\ndef test_secret():\n    assert SECRET_KEY",
                false,
            ),
            ("import os\nDEBUG = True", false),
            ("", false),
        ];
        for (text, want) in cases {
            assert_eq!(reads_as_settings(text), want, "{text:?}");
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
