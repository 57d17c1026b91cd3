//! `ponyswarm images build [NAME…]` and `ponyswarm images list`.

use super::docker::{connect, DockerArgs};
use super::CliError;
use ponyswarm::sandbox::images::{self, Origin};
use std::process::ExitCode;
use std::time::SystemTime;

pub async fn build(names: &[String], args: &DockerArgs) -> Result<ExitCode, CliError> {
    let docker = connect().await?;
    let mut opts = args.image_options(args.egress()?);
    opts.progress = Some(indicatif::MultiProgress::new());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut failed = false;
    for result in images::build(&docker, &names, &opts).await {
        match result {
            Ok(img) => {
                let what = match img.origin {
                    Origin::Built => "built",
                    Origin::Cached => "up to date",
                    Origin::Local => "local",
                    Origin::Pulled => "pulled",
                };
                println!("{:<10} {} ({what})", img.name, img.reference);
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
            }
        }
    }
    if failed {
        return Err(CliError::Infra(
            "some images could not be built (see above)".into(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list(args: &DockerArgs) -> Result<ExitCode, CliError> {
    let docker = connect().await?;
    let opts = args.image_options(args.egress()?);
    let rows = images::list(&docker, &opts)
        .await
        .map_err(|e| CliError::Infra(e.to_string()))?;
    println!("{:<10} {:<42} {:>9}  BUILT", "NAME", "TAG", "SIZE");
    for r in rows {
        let age = SystemTime::now()
            .duration_since(r.built)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        println!(
            "{:<10} {:<42} {:>7.1}MB  {} ago{}",
            r.name,
            r.tag,
            r.size as f64 / 1e6,
            human_age(age),
            if r.current {
                ""
            } else {
                "  (stale: images/ changed since)"
            }
        );
    }
    let envs = ponyswarm::run::env_images::list(&docker)
        .await
        .map_err(|e| CliError::Infra(e.to_string()))?;
    if !envs.is_empty() {
        println!();
        for row in ponyswarm::run::env_images::table(&envs) {
            println!("{row}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
