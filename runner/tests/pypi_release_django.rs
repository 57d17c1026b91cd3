//! End to end: a Django app release whose test settings use PostgreSQL.
//!
//! The fixture `ponyswarm-djangoapp` (tests/fixtures/pypi-django/) depends on
//! Django, declares its PostgreSQL driver in its `test` extra, and ships
//! `tests/settings.py` naming `django.db.backends.postgresql` with the host, port,
//! user and password read from the `PG*` variables. The release test finds the
//! settings module, runs Django's own runner with it, starts the catalog's
//! PostgreSQL beside each job and points the variables at it; the tests (one checks
//! the server is PostgreSQL, one a unique constraint) pass on the wheel and the
//! sdist. Dependencies come from the real PyPI through the egress door.

mod pypi_support;

use ponyswarm::pypi::as_of::AsOf;
use pypi_support::trial::{judged, test_served};

#[tokio::test]
async fn a_django_app_whose_settings_need_postgresql_passes() {
    let report = test_served("pypi-django", "ponyswarm-djangoapp", None, AsOf::Release).await;
    assert!(
        report
            .tests
            .command
            .contains("django test --settings=tests.settings"),
        "{}",
        report.tests.command
    );
    assert!(
        report.notes.iter().any(|n| n.contains("uses postgres")),
        "{:#?}",
        report.notes
    );
    assert_eq!(report.installs.len(), 2, "{:#?}", judged(&report));
    for i in &report.installs {
        assert_eq!(
            i.judged.judgement.as_str(),
            "passed",
            "{}: {:#?}\n{}",
            i.filename,
            i.judged.why,
            i.outcome.log
        );
        assert!(
            i.outcome.log.contains("test_names_are_unique")
                && i.outcome.log.contains("test_the_database_is_postgresql"),
            "both tests ran: {}",
            i.outcome.log
        );
    }
}
