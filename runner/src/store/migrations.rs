//! The schema's migrations, embedded in the binary and applied in order on open.
//!
//! Built by hand rather than with `sqlx::migrate!`: the macro needs sqlx's `macros`
//! feature, which compiles both database drivers a second time for the compiler. The
//! SQL files live in `runner/migrations/`; add one there and a line here. Never edit a
//! file once released: sqlx checks each applied migration's checksum.

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::AnyPool;
use std::borrow::Cow;

/// (version, description, SQL), in version order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "results",
        include_str!("../../migrations/0001_results.sql"),
    ),
    (2, "swarm", include_str!("../../migrations/0002_swarm.sql")),
    (3, "pypi", include_str!("../../migrations/0003_pypi.sql")),
    (
        4,
        "github_outbox",
        include_str!("../../migrations/0004_github_outbox.sql"),
    ),
    (
        5,
        "agent_operator",
        include_str!("../../migrations/0005_agent_operator.sql"),
    ),
    (
        6,
        "swarm_lifecycle",
        include_str!("../../migrations/0006_swarm_lifecycle.sql"),
    ),
    (
        7,
        "claims",
        include_str!("../../migrations/0007_claims.sql"),
    ),
    (
        9,
        "service_logs",
        include_str!("../../migrations/0009_service_logs.sql"),
    ),
    (
        10,
        "pypi_projects",
        include_str!("../../migrations/0010_pypi_projects.sql"),
    ),
    (
        11,
        "pull_request_trust",
        include_str!("../../migrations/0011_pull_request_trust.sql"),
    ),
    (
        12,
        "lookups",
        include_str!("../../migrations/0012_lookups.sql"),
    ),
];

/// Applies the migrations the database lacks. On PostgreSQL, sqlx takes an advisory
/// lock, so several coordinators starting at once migrate once.
pub(super) async fn run(pool: &AnyPool) -> Result<(), MigrateError> {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    let migrator = Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    };
    migrator.run(pool).await
}
