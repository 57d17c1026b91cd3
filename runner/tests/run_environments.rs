//! End to end: environment images. The dependencies of a job are installed once per
//! key into `ponyswarm/env:<key>` and the venv volume it names; jobs and later runs
//! start from them, an edited test reuses them, a changed dependency file makes new
//! ones.
//!
//! Each test works on a copy of the `env-reuse` fixture with a unique line in its
//! pyproject.toml, so that its first run builds its own environment whatever ran
//! before.

mod run_support;

use ponyswarm::run;
use ponyswarm::run::prepare::Trust;
use run_support::{docker, ensure_images, fixture, run_dir, run_dir_as, serial, status};
use serde_json::Value;
use std::path::Path;

/// Copies the fixture `name` into `dir`, its pyproject.toml made unique.
fn unique_copy(name: &str, dir: &Path) {
    let from = fixture(name);
    for entry in walk(&from) {
        let rel = entry.strip_prefix(&from).expect("inside the fixture");
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(&entry, &to).expect("copy");
    }
    let salt = format!("# {}\n", run::new_run_id());
    append(&dir.join("pyproject.toml"), &salt);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).expect("read");
    s.push_str(text);
    std::fs::write(path, s).expect("write");
}

/// Each job's environment line: (`ponyswarm/env:<key>`, `built` or `reused`).
fn environments(results: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for j in results["jobs"].as_array().expect("jobs") {
        assert_eq!(status(j), "passed", "{j:#}");
        let log = j["log"].as_str().unwrap_or_default();
        let line = log
            .lines()
            .find_map(|l| l.strip_prefix("ponyswarm: environment "))
            .unwrap_or_else(|| panic!("no environment line: {log}"));
        let (image, how) = line.split_once(' ').expect("image and how");
        out.push((image.to_string(), how.trim_matches(['(', ')']).to_string()));
    }
    out
}

/// The log of the job of `results` that built its environment.
fn builder_log(results: &Value) -> String {
    let jobs = results["jobs"].as_array().expect("jobs");
    jobs.iter()
        .map(|j| j["log"].as_str().unwrap_or_default().to_string())
        .find(|log| log.contains(" (built)"))
        .unwrap_or_else(|| panic!("no job built: {results:#}"))
}

/// The line after `line` in `log`.
fn line_after<'a>(log: &'a str, line: &str) -> Option<&'a str> {
    let mut lines = log.lines();
    lines.find(|l| l.ends_with(line))?;
    lines.next()
}

/// The volume environment image `image` keeps its venv in (its label).
fn venv_volume(image: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["image", "inspect", "--format"])
        .arg("{{index .Config.Labels \"io.ponyswarm.env.venv-volume\"}}")
        .arg(image)
        .output()
        .expect("docker image inspect");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the volume `name` exists.
fn volume_exists(name: &str) -> bool {
    std::process::Command::new("docker")
        .args(["volume", "inspect", name])
        .output()
        .expect("docker volume inspect")
        .status
        .success()
}

/// The pyvenv.cfg of the venv at the venv's place in a container of environment image
/// `image`, with its venv volume mounted (`with_volume`) or not; `None` when missing.
fn pyvenv_cfg_in(image: &str, with_volume: bool) -> Option<String> {
    let mut cmd = std::process::Command::new("docker");
    cmd.args(["run", "--rm", "--network", "none"]);
    if with_volume {
        let volume = format!("{}:/opt/ponyswarm/venv:ro", venv_volume(image));
        cmd.args(["--volume", &volume]);
    }
    let out = cmd
        .args([
            "--entrypoint",
            "cat",
            image,
            "/opt/ponyswarm/venv/pyvenv.cfg",
        ])
        .output()
        .expect("docker run");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The pyvenv.cfg of the venv of environment image `image`.
fn pyvenv_cfg(image: &str) -> String {
    pyvenv_cfg_in(image, true).expect("a venv in the environment's volume")
}

/// Whether any job of `results` ran an install command itself.
fn installed_in_a_job(results: &Value) -> bool {
    results["jobs"].as_array().expect("jobs").iter().any(|j| {
        let log = j["log"].as_str().unwrap_or_default();
        log.lines()
            .any(|l| l.starts_with("$ ") && l.contains("pip install"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_is_reused_across_jobs_and_runs_and_rebuilt_for_new_dependencies() {
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    unique_copy("env-reuse", dir.path());

    // First run: one job builds, the other waits for it and reuses it.
    let results = run_dir(dir.path()).await;
    let first = environments(&results);
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(
        first[0].0, first[1].0,
        "one environment for both: {first:?}"
    );
    let mut hows: Vec<&str> = first.iter().map(|(_, h)| h.as_str()).collect();
    hows.sort();
    assert_eq!(hows, ["built", "reused"], "{first:?}");
    let image = first[0].0.clone();

    // The venv is kept in a volume of its own, not in the image's layer (no commit of
    // a venv layer).
    assert!(volume_exists(&venv_volume(&image)), "{image}");
    assert_eq!(
        pyvenv_cfg_in(&image, false),
        None,
        "{image}: a venv in the layer"
    );

    // The venv was made by uv, which did the `pip install` it shares with pip; the
    // line with a pip-only option ran with pip, as written.
    assert!(
        pyvenv_cfg(&image).contains("uv = "),
        "{}",
        pyvenv_cfg(&image)
    );
    let log = builder_log(&results);
    let uv_line = line_after(&log, "$ pip install -e .[test]").unwrap_or_default();
    assert!(
        uv_line.contains("(with uv: uv pip install --offline") && uv_line.contains("--editable"),
        "{log}"
    );
    let pip_line = "$ pip install --upgrade-strategy only-if-needed pytest";
    assert!(log.contains(pip_line), "{log}");
    assert!(
        !line_after(&log, pip_line)
            .unwrap_or_default()
            .contains("with uv"),
        "{log}"
    );

    // Second run, nothing changed: no job installs anything.
    let second = run_dir(dir.path()).await;
    assert!(!installed_in_a_job(&second), "{second:#}");
    for (img, how) in environments(&second) {
        assert_eq!((img.as_str(), how.as_str()), (image.as_str(), "reused"));
    }

    // A test file edited: the same environment, still no install.
    append(
        &dir.path().join("tests/test_answer.py"),
        "\n\ndef test_more():\n    assert envpkg.answer() > 0\n",
    );
    let edited = run_dir(dir.path()).await;
    assert!(!installed_in_a_job(&edited), "{edited:#}");
    for j in edited["jobs"].as_array().expect("jobs") {
        assert_eq!(j["tests"]["passed"], 2, "{j:#}");
    }
    for (img, how) in environments(&edited) {
        assert_eq!((img.as_str(), how.as_str()), (image.as_str(), "reused"));
    }

    // A dependency file changed: a new environment.
    append(
        &dir.path().join("pyproject.toml"),
        "# a new dependency line\n",
    );
    let changed = environments(&run_dir(dir.path()).await);
    assert!(changed.iter().all(|(img, _)| *img != image), "{changed:?}");
    assert!(changed.iter().any(|(_, how)| how == "built"), "{changed:?}");
}

/// The wheelhouse volumes the jobs of `results` used.
fn wheelhouses(results: &Value) -> std::collections::BTreeSet<String> {
    let jobs = results["jobs"].as_array().expect("jobs");
    jobs.iter()
        .map(|j| {
            let log = j["log"].as_str().unwrap_or_default();
            log.lines()
                .find_map(|l| l.strip_prefix("ponyswarm: wheelhouse "))
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("no wheelhouse line: {log}"))
                .to_string()
        })
        .collect()
}

/// The one environment image the jobs of `results` used, and whether one job built it.
fn one_environment(results: &Value) -> (String, bool) {
    let envs = environments(results);
    let images: std::collections::BTreeSet<&str> = envs.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(images.len(), 1, "one environment for the run: {envs:?}");
    let built = envs.iter().any(|(_, how)| how == "built");
    (envs[0].0.clone(), built)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_and_trusted_runs_never_share_wheelhouses_or_environments() {
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11", "door"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    unique_copy("env-reuse", dir.path());

    let trusted = run_dir_as(dir.path(), Trust::Trusted).await;
    let (trusted_env, built) = one_environment(&trusted);
    assert!(built, "{trusted:#}");
    let trusted_wheels = wheelhouses(&trusted);
    assert_eq!(trusted_wheels.len(), 1, "{trusted_wheels:?}");

    // The same project from an untrusted origin (a fork's pull request): neither the
    // trusted wheelhouse nor the environment built from it, though both are warm.
    let untrusted = run_dir_as(dir.path(), Trust::Untrusted).await;
    let (untrusted_env, built) = one_environment(&untrusted);
    assert_ne!(untrusted_env, trusted_env, "{untrusted:#}");
    assert!(built, "the untrusted run builds its own: {untrusted:#}");
    let untrusted_wheels = wheelhouses(&untrusted);
    assert_eq!(untrusted_wheels.len(), 1, "{untrusted_wheels:?}");
    assert!(
        untrusted_wheels.is_disjoint(&trusted_wheels),
        "{untrusted_wheels:?} {trusted_wheels:?}"
    );

    // Untrusted again: its own, warm; trusted again: its own, not the untrusted one's.
    let again = run_dir_as(dir.path(), Trust::Untrusted).await;
    assert_eq!(one_environment(&again), (untrusted_env, false), "{again:#}");
    assert_eq!(wheelhouses(&again), untrusted_wheels);
    assert!(!installed_in_a_job(&again), "{again:#}");
    let back = run_dir_as(dir.path(), Trust::Trusted).await;
    assert_eq!(one_environment(&back), (trusted_env, false), "{back:#}");
    assert_eq!(wheelhouses(&back), trusted_wheels);
}

/// The flagged paths of each job's install changes.
fn flagged(results: &Value) -> Vec<Vec<String>> {
    let jobs = results["jobs"].as_array().expect("jobs");
    jobs.iter()
        .map(|j| {
            let changes = j["install_changes"].as_array().expect("install_changes");
            changes
                .iter()
                .filter(|c| c["flagged"] == true)
                .filter_map(|c| c["path"].as_str().map(str::to_string))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_outside_the_venv_stay_flagged_on_jobs_that_reuse_the_environment() {
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    unique_copy("env-outside", dir.path());
    let written = vec![vec!["/home/pony/.ponyswarm-outside.ini".to_string()]];

    let first = run_dir(dir.path()).await;
    assert_eq!(environments(&first)[0].1, "built", "{first:#}");
    assert_eq!(flagged(&first), written, "{first:#}");

    // Reused: nothing installed in the job, the build's write still shown.
    let second = run_dir(dir.path()).await;
    assert_eq!(environments(&second)[0].1, "reused", "{second:#}");
    assert!(!installed_in_a_job(&second), "{second:#}");
    assert_eq!(flagged(&second), written, "{second:#}");

    // The code changed and the project is not installed editable: the job installs
    // the project alone (its setup.py runs again), on the same environment, with uv.
    append(&dir.path().join("envoutside.py"), "# edited\n");
    let third = run_dir(dir.path()).await;
    assert_eq!(environments(&third)[0].1, "reused", "{third:#}");
    let log = third["jobs"][0]["log"].as_str().unwrap_or_default();
    assert!(
        log.lines()
            .any(|l| l.starts_with("$ uv pip install --offline")
                && l.ends_with("--no-deps --reinstall .")),
        "{log}"
    );
    assert_eq!(flagged(&third), written, "{third:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_images_are_listed_with_size_and_last_use_and_removed() {
    use ponyswarm::run::env_images;
    let _serial = serial().await;
    let docker = docker().await;
    ensure_images(&docker, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    unique_copy("env-reuse", dir.path());
    let image = environments(&run_dir(dir.path()).await)[0].0.clone();
    let listed = env_images::list(&docker).await.expect("listed");
    let mine = listed
        .iter()
        .find(|i| i.image == image)
        .unwrap_or_else(|| panic!("{image} not in {listed:?}"));
    // Its venv (pytest and its dependencies): megabytes, not the whole Python image
    // under it.
    assert!(mine.size > 1 << 20, "{mine:?}");
    assert!(mine.size < 200 << 20, "{mine:?}");
    assert!(!mine.last_used.is_empty(), "{mine:?}");
    let volume = venv_volume(&image);
    assert!(volume_exists(&volume), "{volume}");
    assert_eq!(
        env_images::remove(&docker, std::slice::from_ref(&image)).await,
        vec![image.clone()]
    );
    let after = env_images::list(&docker).await.expect("listed");
    assert!(after.iter().all(|i| i.image != image), "{after:?}");
    assert!(!volume_exists(&volume), "{volume} left behind");
}

/// The log of the only job of `results`.
fn only_log(results: &Value) -> &str {
    let jobs = results["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1, "{results:#}");
    assert_eq!(status(&jobs[0]), "passed", "{results:#}");
    jobs[0]["log"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_test_outside_the_package_keeps_the_install_an_edited_module_does_not() {
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    unique_copy("env-srclayout", dir.path());

    let first = run_dir(dir.path()).await;
    assert_eq!(environments(&first)[0].1, "built", "{first:#}");
    let log = only_log(&first);
    assert!(!log.contains("files are not known"), "{log}");

    // A test edited and one added, outside the package: no install, the tests see
    // the edit.
    let test_file = dir.path().join("tests/test_srcpkg.py");
    append(
        &test_file,
        "\n\ndef test_more():\n    assert srcpkg.answer() > 0\n",
    );
    std::fs::write(
        dir.path().join("tests/test_new.py"),
        "def test_new():\n    assert True\n",
    )
    .expect("write");
    let edited = run_dir(dir.path()).await;
    assert_eq!(environments(&edited)[0].1, "reused", "{edited:#}");
    assert!(!installed_in_a_job(&edited), "{edited:#}");
    let log = only_log(&edited);
    assert!(
        log.contains("ponyswarm: the source changed outside the installed project"),
        "{log}"
    );
    assert_eq!(edited["jobs"][0]["tests"]["passed"], 3, "{edited:#}");

    // The package edited, and a test of the new code: the project is installed
    // again, and the test sees the new code.
    append(
        &dir.path().join("src/srcpkg/__init__.py"),
        "\n\ndef extra():\n    return 7\n",
    );
    append(
        &test_file,
        "\n\ndef test_extra():\n    assert srcpkg.extra() == 7\n",
    );
    let changed = run_dir(dir.path()).await;
    assert_eq!(environments(&changed)[0].1, "reused", "{changed:#}");
    let log = only_log(&changed);
    assert!(
        log.contains("ponyswarm: src/srcpkg/__init__.py changed since the environment was built"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("$ uv pip install --offline")
                && l.ends_with("--no-deps --reinstall .")),
        "{log}"
    );
    assert_eq!(changed["jobs"][0]["tests"]["passed"], 4, "{changed:#}");
}

/// A `setup.py`-only sdist, `legacydep-0.1.tar.gz`, made in `dir`.
fn legacy_sdist(dir: &Path) {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(dir.join("legacydep-0.1.tar.gz")).expect("create"),
        flate2::Compression::fast(),
    ));
    let files = [
        (
            "setup.py",
            "from setuptools import setup\nsetup(name='legacydep', version='0.1', py_modules=['legacydep'])\n",
        ),
        ("legacydep.py", "VALUE = 1\n"),
        (
            "PKG-INFO",
            "Metadata-Version: 2.1\nName: legacydep\nVersion: 0.1\n",
        ),
    ];
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            format!("legacydep-0.1/{name}"),
            text.as_bytes(),
        )
        .expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_that_is_an_old_setup_py_sdist_is_built_offline() {
    // No pyproject.toml in the sdist: pip, in the prepare venv that has setuptools but
    // no `wheel`, would take its legacy path (`setup.py bdist_wheel` with that venv's
    // setuptools) and fail; built in isolation as PEP 517 says, with setuptools and
    // wheel fetched through the door, it works.
    //
    // The project's own setup.py asks for setuptools_scm by `setup_requires`, which
    // setuptools asks for while it builds, offline: the prepare reads it (never runs
    // it) and puts it into the wheelhouse. And the job's venv on 3.11 has setuptools,
    // as one made by `python -m venv` there does.
    let _serial = serial().await;
    ensure_images(&docker().await, &["3.11"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let deps = dir.path().join("deps");
    std::fs::create_dir_all(&deps).expect("mkdir");
    legacy_sdist(&deps);
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(dir.path().join("app/__init__.py"), "").expect("write");
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\
             [project]\nname = \"app\"\nversion = \"1\"\ndependencies = [\"legacydep\"]\n\
             [tool.setuptools]\npackages = [\"app\"]\n# {}\n",
            run::new_run_id()
        ),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("setup.py"),
        "from setuptools import setup\nsetup(setup_requires=[\"setuptools_scm\"])\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("ponyswarm.yaml"),
        "name: legacy-sdist\npython: \"3.11\"\ninstall:\n  - pip install --find-links deps .\n\
         test: python -c \"import legacydep, setuptools; assert legacydep.VALUE == 1\"\ntimeout: 5m\n",
    )
    .expect("write");
    let results = run_dir(dir.path()).await;
    assert_eq!(
        environments(&results).len(),
        1,
        "the job passed: {results:#}"
    );
    let log = builder_log(&results);
    assert!(
        log.contains("legacydep"),
        "the sdist went through the prepare: {log}"
    );
    assert!(
        log.contains("setuptools_scm"),
        "setup_requires went into the wheelhouse: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commit_record_for_engines_that_cannot_load_is_the_same_image_with_the_labels() {
    use ponyswarm::run::env_images;
    use ponyswarm::sandbox::container::Tracker;
    let _serial = serial().await;
    let docker = docker().await;
    let python = ponyswarm::sandbox::images::ensure(&docker, "3.11", &run_support::image_options())
        .await
        .expect("python image");
    let dir = tempfile::tempdir().expect("tempdir");
    unique_copy("env-reuse", dir.path());
    let loaded = environments(&run_dir(dir.path()).await)[0].0.clone();
    let labels = docker
        .inspect_image(&loaded)
        .await
        .expect("loaded record")
        .config
        .and_then(|c| c.labels)
        .expect("labels");
    let committed = format!("{loaded}-commit");
    let tracker = Tracker::new(&docker);
    env_images::commit_record(
        &docker,
        &tracker,
        "ponyswarm-test-envrecord",
        &python.reference,
        &committed,
        labels.clone(),
    )
    .await
    .expect("committed");
    let record = docker.inspect_image(&committed).await.expect("record");
    let record_labels = record.config.and_then(|c| c.labels).expect("labels");
    for (k, v) in &labels {
        assert_eq!(record_labels.get(k), Some(v), "{k}");
    }
    // Listed as an environment with its venv's size, not the Python image's.
    let listed = env_images::list(&docker).await.expect("listed");
    let mine = listed
        .iter()
        .find(|i| i.image == committed)
        .unwrap_or_else(|| panic!("{committed} not in {listed:?}"));
    assert!(mine.size < 200 << 20, "{mine:?}");
    assert!(
        tracker.live_count() == 0,
        "the container it committed is gone"
    );
    // The copy goes by the engine alone: `env_images::remove` would take the venv
    // volume, which both records name, from the loaded one too.
    let _ = docker
        .remove_image(
            &committed,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}
