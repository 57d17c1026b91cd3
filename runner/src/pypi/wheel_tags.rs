//! Which wheel a job's interpreter can install: wheel file names parsed into their
//! tags (PEP 427, PEP 425, compressed tag sets), the interpreter described by
//! implementation, version, glibc and architecture, and the wheels ranked the way
//! pip ranks them (the interpreter's most specific tag first).
//!
//! The order follows `packaging.tags.sys_tags`: for CPython `cp311-cp311`, then
//! `cp311-abi3`, `cp311-none`, older `cp3X-abi3`, then `py311-none`, `py3-none`,
//! older `py3X-none`; within each, the newest manylinux level the glibc allows down
//! to `manylinux_2_5`, then `linux_<arch>`; platform-independent (`any`) wheels
//! after every platform wheel.
//!
//! Pure.

use crate::catalog;

/// A Python implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    /// CPython: `cp` tags, `abi3`.
    CPython,
    /// PyPy: `pp` tags, `pypy3X_pp73` ABIs.
    PyPy,
}

/// The interpreter of a job, as wheel tags see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// CPython or PyPy.
    pub implementation: Implementation,
    /// The language version, e.g. (3, 11).
    pub version: (u32, u32),
    /// The glibc of the image, e.g. (2, 36); `None` for musl.
    pub glibc: Option<(u32, u32)>,
    /// The machine, as wheel platforms name it (`x86_64`, `aarch64`).
    pub arch: String,
}

/// The glibc of a Debian suite.
pub fn glibc_of_suite(suite: &str) -> Option<(u32, u32)> {
    match suite {
        "bullseye" => Some((2, 31)),
        "bookworm" => Some((2, 36)),
        "trixie" => Some((2, 41)),
        _ => None,
    }
}

impl Interpreter {
    /// The interpreter of a catalog Python (`3.11`, `pypy3`) on this machine's
    /// architecture. A name the catalog does not know is read as a CPython version
    /// on bookworm.
    pub fn of_catalog(name: &str) -> Interpreter {
        let entry = catalog::python_entry(name);
        let suite = entry.map(|e| e.suite).unwrap_or("bookworm");
        let arch = std::env::consts::ARCH.to_string();
        let glibc = glibc_of_suite(suite);
        if name.starts_with("pypy") {
            // Debian's pypy3: bullseye 3.7, bookworm 3.9, trixie 3.11.
            let version = match suite {
                "bullseye" => (3, 7),
                "trixie" => (3, 11),
                _ => (3, 9),
            };
            return Interpreter {
                implementation: Implementation::PyPy,
                version,
                glibc,
                arch,
            };
        }
        let version = name
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .unwrap_or((3, 11));
        Interpreter {
            implementation: Implementation::CPython,
            version,
            glibc,
            arch,
        }
    }

    /// `cp311-manylinux_x86_64`: the interpreter as a result names it.
    pub fn describe(&self) -> String {
        let (major, minor) = self.version;
        let imp = match self.implementation {
            Implementation::CPython => "cp",
            Implementation::PyPy => "pp",
        };
        let libc = if self.glibc.is_some() {
            "manylinux"
        } else {
            "musllinux"
        };
        format!("{imp}{major}{minor}-{libc}_{}", self.arch)
    }

    /// The rank of the (interpreter tag, ABI) pair, lower is more specific; `None`
    /// when this interpreter cannot load it.
    fn rank_python(&self, python: &str, abi: &str) -> Option<u32> {
        let (major, minor) = self.version;
        let own = format!("{major}{minor}");
        let older = |tag: &str| -> Option<u32> {
            // `3X` with X ≤ minor → distance; `3` alone → 0.
            let rest = tag.strip_prefix(&major.to_string())?;
            if rest.is_empty() {
                return Some(0);
            }
            let m: u32 = rest.parse().ok()?;
            (m <= minor).then(|| minor - m)
        };
        match self.implementation {
            Implementation::CPython => {
                if let Some(v) = python.strip_prefix("cp") {
                    match abi {
                        _ if v == own && abi == format!("cp{own}") => Some(0),
                        "abi3" => older(v).map(|d| if d == 0 { 1 } else { 3 + d }),
                        "none" if v == own => Some(2),
                        _ => None,
                    }
                } else {
                    self.rank_generic(python, abi, &own, older)
                }
            }
            Implementation::PyPy => {
                if let Some(v) = python.strip_prefix("pp") {
                    let own_abi = abi.starts_with(&format!("pypy{own}_"))
                        || abi == format!("pypy{major}_{minor}");
                    match abi {
                        _ if v == own && own_abi => Some(0),
                        "none" if v == own => Some(2),
                        _ => None,
                    }
                } else {
                    self.rank_generic(python, abi, &own, older)
                }
            }
        }
    }

    /// `py3X-none` tags, which any implementation takes.
    fn rank_generic(
        &self,
        python: &str,
        abi: &str,
        own: &str,
        older: impl Fn(&str) -> Option<u32>,
    ) -> Option<u32> {
        if abi != "none" {
            return None;
        }
        let v = python.strip_prefix("py")?;
        if v == own {
            return Some(20);
        }
        if v == self.version.0.to_string() {
            return Some(21);
        }
        older(v).map(|d| 22 + d)
    }

    /// The rank of a platform tag, lower is more specific; `None` when this
    /// interpreter's machine cannot run it. `any` is ranked by the caller.
    fn rank_platform(&self, platform: &str) -> Option<u32> {
        let arch = platform_arch(platform)?;
        if arch != self.arch {
            return None;
        }
        let head = &platform[..platform.len() - arch.len() - 1];
        let level = match head {
            "manylinux1" => Some((2, 5)),
            "manylinux2010" => Some((2, 12)),
            "manylinux2014" => Some((2, 17)),
            "linux" => return self.glibc.map(|_| 1000),
            _ => None,
        };
        let level = level.or_else(|| {
            let (x, y) = head.strip_prefix("manylinux_")?.split_once('_')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        });
        if let Some((x, y)) = level {
            let (gx, gy) = self.glibc?;
            return (x == gx && y <= gy).then(|| gy - y);
        }
        // musllinux_1_2: only for a musl interpreter, which the catalog has none of.
        None
    }

    /// The rank of a wheel file name for this interpreter, lower is better; `None`
    /// when it cannot be installed (or the name is not a wheel's).
    pub fn rank(&self, filename: &str) -> Option<(u32, u32, u32)> {
        let tags = WheelTags::parse(filename)?;
        let mut best = None;
        for python in &tags.python {
            for abi in &tags.abi {
                let Some(pr) = self.rank_python(python, abi) else {
                    continue;
                };
                for platform in &tags.platform {
                    let r = if platform == "any" {
                        Some((1, pr, 0))
                    } else {
                        self.rank_platform(platform).map(|p| (0, pr, p))
                    };
                    if let Some(r) = r {
                        best = Some(best.map_or(r, |b: (u32, u32, u32)| b.min(r)));
                    }
                }
            }
        }
        best
    }
}

/// The architecture a platform tag ends with.
fn platform_arch(platform: &str) -> Option<&str> {
    [
        "x86_64", "aarch64", "i686", "armv7l", "ppc64le", "s390x", "riscv64",
    ]
    .into_iter()
    .find(|a| platform.ends_with(&format!("_{a}")))
}

/// The tags of a wheel file name, each set expanded (`py2.py3` → `py2`, `py3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelTags {
    /// Interpreter tags (`cp311`, `py3`).
    pub python: Vec<String>,
    /// ABI tags (`cp311`, `abi3`, `none`).
    pub abi: Vec<String>,
    /// Platform tags (`manylinux_2_17_x86_64`, `any`).
    pub platform: Vec<String>,
}

impl WheelTags {
    /// The tags of `NAME-VER[-BUILD]-PY-ABI-PLAT.whl`; `None` for any other name.
    pub fn parse(filename: &str) -> Option<WheelTags> {
        let stem = filename.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if !(5..=6).contains(&parts.len()) {
            return None;
        }
        let n = parts.len();
        let set = |s: &str| s.split('.').map(str::to_ascii_lowercase).collect();
        Some(WheelTags {
            python: set(parts[n - 3]),
            abi: set(parts[n - 2]),
            platform: set(parts[n - 1]),
        })
    }
}

/// The wheel among `filenames` this interpreter installs, the most specific one; `None`
/// when none fits.
pub fn best_wheel<'a>(interpreter: &Interpreter, filenames: &[&'a str]) -> Option<&'a str> {
    filenames
        .iter()
        .filter_map(|f| interpreter.rank(f).map(|r| (r, *f)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, f)| f)
}

/// The wheel each of `pythons` (catalog names) installs, from `wheels` (file names,
/// the preferred ones, e.g. not yanked, first: a later one is used only when no
/// earlier one fits), and a note for each Python no wheel fits:
/// `no wheel for cp311-manylinux_x86_64; sdist tested`.
pub fn choose(
    pythons: &[String],
    wheels: &[Vec<&str>],
    has_sdist: bool,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut chosen = Vec::new();
    let mut notes = Vec::new();
    for python in pythons {
        let interpreter = Interpreter::of_catalog(python);
        match wheels
            .iter()
            .find_map(|tier| best_wheel(&interpreter, tier))
        {
            Some(w) => chosen.push((python.clone(), w.to_string())),
            None if wheels.iter().any(|t| !t.is_empty()) => notes.push(format!(
                "no wheel for {}; {}",
                interpreter.describe(),
                if has_sdist {
                    "sdist tested"
                } else {
                    "nothing tested on this Python"
                }
            )),
            None => {}
        }
    }
    (chosen, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(minor: u32, glibc: (u32, u32)) -> Interpreter {
        Interpreter {
            implementation: Implementation::CPython,
            version: (3, minor),
            glibc: Some(glibc),
            arch: "x86_64".into(),
        }
    }

    #[test]
    fn file_names_give_their_tag_sets() {
        let t = WheelTags::parse("six-1.16.0-py2.py3-none-any.whl").expect("parses");
        assert_eq!(t.python, vec!["py2", "py3"]);
        let t = WheelTags::parse(
            "numpy-2.0.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .expect("parses");
        assert_eq!(t.abi, vec!["cp311"]);
        assert_eq!(t.platform.len(), 2);
        assert_eq!(WheelTags::parse("p-1.0.tar.gz"), None);
        assert_eq!(WheelTags::parse("p-1.0-py3.whl"), None);
    }

    #[test]
    fn compatibility_follows_python_abi_platform_and_glibc() {
        let bookworm311 = cp(11, (2, 36));
        let bullseye = cp(9, (2, 31));
        let cases = [
            (
                &bookworm311,
                "p-1-cp311-cp311-manylinux_2_17_x86_64.whl",
                true,
            ),
            (
                &bookworm311,
                "p-1-cp310-cp310-manylinux_2_17_x86_64.whl",
                false,
            ),
            (
                &bookworm311,
                "p-1-cp312-cp312-manylinux_2_17_x86_64.whl",
                false,
            ),
            (&bookworm311, "p-1-cp38-abi3-manylinux2014_x86_64.whl", true),
            (
                &bookworm311,
                "p-1-cp312-abi3-manylinux2014_x86_64.whl",
                false,
            ),
            (
                &bookworm311,
                "p-1-cp311-cp311-manylinux_2_38_x86_64.whl",
                false,
            ),
            (&bookworm311, "p-1-cp311-cp311-manylinux1_x86_64.whl", true),
            (&bookworm311, "p-1-cp311-cp311-linux_x86_64.whl", true),
            (
                &bookworm311,
                "p-1-cp311-cp311-musllinux_1_2_x86_64.whl",
                false,
            ),
            (
                &bookworm311,
                "p-1-cp311-cp311-manylinux_2_17_aarch64.whl",
                false,
            ),
            (&bookworm311, "p-1-cp311-cp311-win_amd64.whl", false),
            (&bookworm311, "p-1-cp311-cp311-macosx_11_0_arm64.whl", false),
            (&bookworm311, "p-1-py2.py3-none-any.whl", true),
            (&bookworm311, "p-1-py2-none-any.whl", false),
            (&bookworm311, "p-1-py312-none-any.whl", false),
            (
                &bookworm311,
                "p-1-pp39-pypy39_pp73-manylinux2014_x86_64.whl",
                false,
            ),
            (&bullseye, "p-1-cp39-cp39-manylinux_2_34_x86_64.whl", false),
            (&bullseye, "p-1-cp39-cp39-manylinux_2_28_x86_64.whl", true),
        ];
        for (interp, file, ok) in cases {
            assert_eq!(
                interp.rank(file).is_some(),
                ok,
                "{} {file}",
                interp.describe()
            );
        }
    }

    #[test]
    fn the_most_specific_wheel_is_chosen() {
        let i = cp(11, (2, 36));
        let cases: &[(&[&str], Option<&str>)] = &[
            (
                &[
                    "p-1-py3-none-any.whl",
                    "p-1-cp310-cp310-manylinux_2_17_x86_64.whl",
                    "p-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                    "p-1-cp311-cp311-manylinux_2_28_x86_64.whl",
                    "p-1-cp311-cp311-win_amd64.whl",
                ],
                Some("p-1-cp311-cp311-manylinux_2_28_x86_64.whl"),
            ),
            (
                &[
                    "p-1-py3-none-any.whl",
                    "p-1-cp37-abi3-manylinux2014_x86_64.whl",
                ],
                Some("p-1-cp37-abi3-manylinux2014_x86_64.whl"),
            ),
            (
                &[
                    "p-1-cp311-cp311-linux_x86_64.whl",
                    "p-1-cp311-cp311-manylinux1_x86_64.whl",
                ],
                Some("p-1-cp311-cp311-manylinux1_x86_64.whl"),
            ),
            (
                &[
                    "p-1-cp310-cp310-manylinux_2_17_x86_64.whl",
                    "p-1-cp312-cp312-manylinux_2_17_x86_64.whl",
                ],
                None,
            ),
        ];
        for (files, want) in cases {
            assert_eq!(best_wheel(&i, files), *want, "{files:?}");
        }
    }

    #[test]
    fn pypy_takes_its_own_abi_and_generic_wheels() {
        let i = Interpreter {
            implementation: Implementation::PyPy,
            version: (3, 9),
            glibc: Some((2, 36)),
            arch: "x86_64".into(),
        };
        let files = [
            "p-1-cp39-cp39-manylinux2014_x86_64.whl",
            "p-1-py3-none-any.whl",
            "p-1-pp39-pypy39_pp73-manylinux_2_17_x86_64.whl",
        ];
        assert_eq!(best_wheel(&i, &files), Some(files[2]));
        assert_eq!(best_wheel(&i, &files[..1]), None);
    }

    #[test]
    fn each_python_gets_its_wheel_or_a_note_saying_the_sdist_was_tested() {
        if std::env::consts::ARCH != "x86_64" {
            return; // the fixture names are x86-64 wheels
        }
        let pythons: Vec<String> = ["3.9", "3.11", "3.13"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let good = vec![
            "c-1-cp39-cp39-manylinux_2_17_x86_64.whl",
            "c-1-cp311-cp311-manylinux_2_17_x86_64.whl",
        ];
        let yanked = vec!["c-1-cp313-cp313-manylinux_2_17_x86_64.whl"];
        let (chosen, notes) = choose(&pythons, &[good.clone(), vec![]], true);
        assert_eq!(
            chosen,
            vec![
                ("3.9".to_string(), good[0].to_string()),
                ("3.11".to_string(), good[1].to_string())
            ]
        );
        assert_eq!(
            notes,
            vec!["no wheel for cp313-manylinux_x86_64; sdist tested"]
        );
        let (chosen, notes) = choose(&pythons, &[good.clone(), yanked.clone()], false);
        assert_eq!(chosen.len(), 3);
        assert!(notes.is_empty());
        let (chosen, notes) = choose(&pythons, &[vec![], vec![]], true);
        assert!(chosen.is_empty() && notes.is_empty());
    }

    #[test]
    fn catalog_pythons_have_their_images_glibc() {
        let i = Interpreter::of_catalog("3.9");
        assert_eq!((i.version, i.glibc), ((3, 9), Some((2, 31))));
        let i = Interpreter::of_catalog("3.13");
        assert_eq!((i.version, i.glibc), ((3, 13), Some((2, 41))));
        let i = Interpreter::of_catalog("pypy3");
        assert_eq!(i.implementation, Implementation::PyPy);
        assert!(i.describe().starts_with("pp39-manylinux_"));
    }
}
