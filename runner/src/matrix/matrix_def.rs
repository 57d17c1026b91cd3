//! The `matrix:` section: axes, `include` and `exclude`, checked the way GitHub Actions
//! checks them, plus the typo and Python checks GitHub doesn't make.

use super::error::{Pos, SpecError};
use super::images::check_python;
use super::read::{KeyAt, Reader};
use super::spec::Spanned;
use super::suggest;
use super::value::{Combination, Value};
use super::yaml::{Entry, Node};
use indexmap::IndexSet;

/// Most axes a matrix may have. Far beyond real use; it bounds the typo checks a
/// hostile file can ask for (every include key is compared with every axis).
pub const MAX_AXES: usize = 64;

/// The axis that picks the interpreter.
pub const PYTHON_AXIS: &str = "python";

/// The `matrix:` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatrixDef {
    /// Axes in file order: name, values, and where the axis key was written.
    pub axes: Vec<(Spanned<String>, Vec<super::Value>)>,
    pub exclude: Vec<Spanned<Combination>>,
    pub include: Vec<Spanned<Combination>>,
    /// Where `matrix:` was written, for errors about the whole expansion; 1:1 when
    /// the file has no `matrix:`.
    pub pos: Pos,
}

impl MatrixDef {
    /// Whether `name` is an axis.
    pub fn is_axis(&self, name: &str) -> bool {
        self.axes.iter().any(|(axis, _)| axis.value == name)
    }

    /// Axis names in order.
    pub fn axis_names(&self) -> impl Iterator<Item = &str> {
        self.axes.iter().map(|(axis, _)| axis.value.as_str())
    }

    /// Every key a job's matrix can hold: the axes, then keys that `include` adds, in
    /// order of first appearance. `when:` and `allow-failure` may use only these.
    pub fn keys(&self) -> IndexSet<&str> {
        let axes = self.axis_names();
        let added = self
            .include
            .iter()
            .flat_map(|e| e.value.keys().map(String::as_str));
        axes.chain(added).collect()
    }

    /// Reads a partial match or a list of them whose keys are among `known` (from
    /// [`MatrixDef::keys`]): a service's `when:` and `allow-failure:`.
    pub(super) fn partial_matches(
        r: &Reader<'_>,
        what: &str,
        node: &Node,
        known: &IndexSet<&str>,
    ) -> Result<Vec<Combination>, SpecError> {
        let items: Vec<&Node> = match node.seq() {
            Some(items) => items.iter().collect(),
            None => vec![node],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.map().is_none() {
                return Err(r.expected(
                    item,
                    what,
                    "a mapping of matrix keys to values, or a list of them",
                ));
            }
            let (combination, keys) = r.combination(what, item)?;
            for KeyAt {
                name: key,
                key_pos: pos,
                ..
            } in keys
            {
                if !known.contains(&key.as_str()) {
                    let hint = match suggest::nearest(&key, known.iter().copied()) {
                        Some(near) => format!("; did you mean `{near}`?"),
                        None => String::new(),
                    };
                    return Err(r.err(
                        pos,
                        format!("`{what}` key `{key}` is neither an axis nor a key that `include` adds{hint}"),
                    ));
                }
            }
            out.push(combination);
        }
        Ok(out)
    }

    /// Reads and checks `matrix:` (the entry of the top-level mapping).
    pub(super) fn parse(r: &Reader<'_>, entry: &Entry) -> Result<MatrixDef, SpecError> {
        let node = &entry.value;
        let map = node.map().ok_or_else(|| {
            r.expected(
                node,
                "matrix",
                "a mapping of axes like `python: [\"3.9\", \"3.11\"]`",
            )
        })?;
        let mut def = MatrixDef {
            pos: entry.key_pos,
            ..MatrixDef::default()
        };
        // Axes first: include and exclude are checked against them wherever they are
        // written.
        for (name, axis) in map {
            if name != "include" && name != "exclude" {
                if def.axes.len() == MAX_AXES {
                    return Err(r.err(
                        axis.key_pos,
                        format!("the matrix has more than {MAX_AXES} axes"),
                    ));
                }
                r.matrix_key(name, axis.key_pos)?;
                let values = axis_values(r, name, &axis.value)?;
                let key = Spanned {
                    value: name.clone(),
                    pos: axis.key_pos,
                };
                def.axes.push((key, values));
            }
        }
        if let Some(exclude) = map.get("exclude") {
            def.exclude = entries(r, "exclude", &exclude.value, |key, pos| {
                exclude_key(r, &def, key, pos)
            })?;
        }
        if let Some(include) = map.get("include") {
            def.include = entries(r, "include", &include.value, |key, pos| {
                include_key(r, &def, key, pos)
            })?;
        }
        Ok(def)
    }
}

/// An axis: a non-empty list of scalars. `python` values must name a Python.
fn axis_values(r: &Reader<'_>, name: &str, node: &Node) -> Result<Vec<Value>, SpecError> {
    let what = format!("matrix.{name}");
    let items = node
        .seq()
        .ok_or_else(|| r.expected(node, &what, "a list of values like `[\"a\", \"b\"]`"))?;
    if items.is_empty() {
        // GitHub rejects an empty axis too: it would silently make the matrix empty.
        return Err(r.err(node.pos, format!("axis `{name}` has no values")));
    }
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        let value = r.matrix_value(&what, item)?;
        if name == PYTHON_AXIS {
            // The text as written, so an error quotes the user (`1e3`, not `1000.0`).
            let written = item
                .scalar()
                .map_or_else(|| value.text(), |s| s.text.clone());
            check_python(r, &written, item.pos)?;
        }
        values.push(value);
    }
    Ok(values)
}

/// The entries of `include` or `exclude`: a list of non-empty mappings of scalars,
/// each key passed to `check_key`.
fn entries(
    r: &Reader<'_>,
    what: &str,
    node: &Node,
    check_key: impl Fn(&str, Pos) -> Result<(), SpecError>,
) -> Result<Vec<Spanned<Combination>>, SpecError> {
    let items = r.seq(&format!("matrix.{what}"), node)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (combination, keys) = r.combination(&format!("matrix.{what}"), item)?;
        for key in &keys {
            check_key(&key.name, key.key_pos)?;
            if key.name == PYTHON_AXIS {
                if let Some(python) = combination.get(PYTHON_AXIS) {
                    check_python(r, &python.text(), key.value_pos)?;
                }
            }
        }
        out.push(Spanned {
            value: combination,
            pos: item.pos,
        });
    }
    Ok(out)
}

/// Exclude entries remove combinations, so every key must be an axis.
fn exclude_key(r: &Reader<'_>, def: &MatrixDef, key: &str, pos: Pos) -> Result<(), SpecError> {
    if def.is_axis(key) {
        return Ok(());
    }
    Err(r.err(pos, not_an_axis("exclude", key, def)))
}

/// Include entries may add keys (`experimental: true`), but a key one typo away from
/// an axis almost always meant the axis: it would otherwise silently add a job.
fn include_key(r: &Reader<'_>, def: &MatrixDef, key: &str, pos: Pos) -> Result<(), SpecError> {
    match def.axis_names().find(|axis| suggest::is_typo_of(key, axis)) {
        Some(axis) if !def.is_axis(key) => Err(r.err(
            pos,
            format!(
                "include key `{key}` is not an axis; did you mean `{axis}`? (include may add \
                 new keys, but this one looks like a typo)"
            ),
        )),
        _ => Ok(()),
    }
}

/// "`section` key `x` is not an axis; did you mean `y`?" or the list of axes.
fn not_an_axis(section: &str, key: &str, def: &MatrixDef) -> String {
    match suggest::nearest(key, def.axis_names()) {
        Some(near) => format!("{section} key `{key}` is not an axis; did you mean `{near}`?"),
        None if def.axes.is_empty() => {
            format!("{section} key `{key}` is not an axis; the matrix has no axes")
        }
        None => format!(
            "{section} key `{key}` is not an axis; the axes are {}",
            suggest::list(def.axis_names())
        ),
    }
}
