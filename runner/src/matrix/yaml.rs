//! A small YAML tree that remembers where everything was written.
//!
//! Built from the events of saphyr's parser rather than from `saphyr::MarkedYaml`
//! because the matrix file comes from outside and we need guarantees the generic tree
//! doesn't give: a nesting limit (its recursive drop overflows the stack on
//! `- - - - …` a few thousand deep), duplicate keys reported with both positions,
//! aliases expanded under a node budget and a depth limit, and the text of every
//! scalar as written (`3.10` as well as the float 3.1 YAML makes of it).
//!
//! Pure: parses a string; knows nothing of the matrix format.

use super::error::Pos;
use super::value::Value;
use indexmap::IndexMap;
use saphyr::{Scalar, ScalarStyle, Tag};
use saphyr_parser::{Event, Marker, Parser, ScanError, Span};
use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest nesting accepted. The matrix format needs 6 levels; the limit keeps every
/// recursive walk over the tree far from the stack's end.
pub const MAX_DEPTH: usize = 32;

/// Most nodes that aliases may copy in, against "billion laughs" files.
const ALIAS_BUDGET: usize = 10_000;

/// A YAML node and the position it starts at.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Keys in file order, each with the position of the key.
    Map(IndexMap<String, Entry>),
    Seq(Vec<Node>),
    Scalar(ScalarNode),
}

/// A value in a mapping, with the position of its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key_pos: Pos,
    pub value: Node,
}

/// A scalar typed by the YAML core schema, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarNode {
    pub value: Value,
    /// The text as written for plain scalars (`3.10`, `0x1F`, `~`); the unquoted
    /// content for quoted and block scalars.
    pub text: String,
    /// Whether it was written without quotes (only plain scalars get non-string types).
    pub plain: bool,
}

impl Node {
    /// How the node reads in "found …" messages: `a list`, `a mapping`, `nothing`, or
    /// the scalar itself in backticks.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Map(_) => "a mapping".into(),
            Kind::Seq(_) => "a list".into(),
            Kind::Scalar(ScalarNode {
                value: Value::Null, ..
            }) => "nothing".into(),
            Kind::Scalar(s) => {
                let short: String = s.text.chars().take(40).collect();
                let ellipsis = if short.len() < s.text.len() {
                    "…"
                } else {
                    ""
                };
                format!("`{short}{ellipsis}`")
            }
        }
    }

    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&ScalarNode> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn map(&self) -> Option<&IndexMap<String, Entry>> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// Number of nodes and height of the tree under `self`, for the alias limits.
    /// Recursion is bounded by [`MAX_DEPTH`], which the builder enforces.
    fn measure(&self) -> (usize, usize) {
        let children: Box<dyn Iterator<Item = &Node>> = match &self.kind {
            Kind::Map(m) => Box::new(m.values().map(|e| &e.value)),
            Kind::Seq(items) => Box::new(items.iter()),
            Kind::Scalar(_) => return (1, 1),
        };
        children.fold((1, 1), |(size, height), child| {
            let (s, h) = child.measure();
            (size.saturating_add(s), height.max(h + 1))
        })
    }
}

/// A YAML syntax or structure error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

impl YamlError {
    fn new(mark: Marker, message: impl Into<String>) -> Self {
        YamlError {
            pos: pos(mark),
            message: message.into(),
        }
    }
}

fn pos(mark: Marker) -> Pos {
    // saphyr's lines are 1-based and its columns 0-based; editors count both from 1.
    Pos {
        line: mark.line().max(1),
        col: mark.col() + 1,
    }
}

/// Parses `text`, which must hold at most one document. `None` for a file with no
/// document at all (empty, or only comments).
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(scan_error)?;
        builder.on_event(event, span)?;
    }
    Ok(builder.root)
}

fn scan_error(e: ScanError) -> YamlError {
    YamlError::new(*e.marker(), format!("invalid YAML: {}", e.info()))
}

/// An open mapping or list, waiting for its children.
struct Frame {
    pos: Pos,
    anchor: usize,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    /// `key` holds a key whose value hasn't arrived yet.
    Map {
        entries: IndexMap<String, Entry>,
        key: Option<(String, Pos)>,
    },
}

/// An anchored node with its size and height, measured once.
struct Anchored {
    node: Node,
    size: usize,
    height: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    anchors: HashMap<usize, Anchored>,
    alias_nodes: usize,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let at = pos(span.start);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError::new(
                        span.start,
                        "a matrix file holds one YAML document, but a second one starts here",
                    ));
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = scalar(text, style, tag.as_deref(), at)?;
                self.insert(node, anchor)
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                check_collection_tag(tag.as_deref(), at)?;
                if self.stack.len() >= MAX_DEPTH {
                    return Err(too_deep(at));
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    FrameKind::Seq(Vec::new())
                } else {
                    FrameKind::Map {
                        entries: IndexMap::new(),
                        key: None,
                    }
                };
                self.stack.push(Frame {
                    pos: at,
                    anchor,
                    kind,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(YamlError {
                        pos: at,
                        message: "invalid YAML: unbalanced end of a collection".into(),
                    });
                };
                let kind = match frame.kind {
                    FrameKind::Seq(items) => Kind::Seq(items),
                    // The parser sends a key's value before the end, so `key` is None.
                    FrameKind::Map { entries, .. } => Kind::Map(entries),
                };
                let node = Node {
                    pos: frame.pos,
                    kind,
                };
                self.insert(node, frame.anchor)
            }
            Event::Alias(id) => self.alias(id, at),
        }
    }

    /// Copies the anchored node in, within the alias budget and the depth limit.
    fn alias(&mut self, id: usize, at: Pos) -> Result<(), YamlError> {
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(YamlError {
                pos: at,
                message: "invalid YAML: alias to an unknown anchor".into(),
            });
        };
        if self.stack.len() + anchored.height > MAX_DEPTH + 1 {
            return Err(too_deep(at));
        }
        self.alias_nodes = self.alias_nodes.saturating_add(anchored.size);
        if self.alias_nodes > ALIAS_BUDGET {
            return Err(YamlError {
                pos: at,
                message: format!(
                    "aliases copy in more than {ALIAS_BUDGET} nodes; write the values out instead"
                ),
            });
        }
        let node = anchored.node.clone();
        self.insert(node, 0)
    }

    /// Places a finished node in its parent (or as the document), remembering it when
    /// it carries an anchor.
    fn insert(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            let (size, height) = node.measure();
            let anchored = Anchored {
                node: node.clone(),
                size,
                height,
            };
            self.anchors.insert(anchor, anchored);
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut parent.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map { entries, key } => match key.take() {
                None => *key = Some((key_text(&node)?, node.pos)),
                Some((name, key_pos)) => {
                    if let Some(first) = entries.get(&name) {
                        return Err(YamlError {
                            pos: key_pos,
                            message: format!(
                                "duplicate key `{name}` (first written at line {}, column {})",
                                first.key_pos.line, first.key_pos.col
                            ),
                        });
                    }
                    entries.insert(
                        name,
                        Entry {
                            key_pos,
                            value: node,
                        },
                    );
                }
            },
        }
        Ok(())
    }
}

fn too_deep(at: Pos) -> YamlError {
    YamlError {
        pos: at,
        message: format!("the file nests deeper than {MAX_DEPTH} levels"),
    }
}

/// A mapping key must be a scalar; non-string scalars keep the text they were written
/// with, so `3.10: x` has the key `3.10`.
fn key_text(node: &Node) -> Result<String, YamlError> {
    match &node.kind {
        Kind::Scalar(ScalarNode {
            value: Value::Null, ..
        }) => Err(YamlError {
            pos: node.pos,
            message: "a key must be a name, found nothing".into(),
        }),
        Kind::Scalar(s) => Ok(s.text.clone()),
        _ => Err(YamlError {
            pos: node.pos,
            message: format!("a key must be a name, found {}", node.describe()),
        }),
    }
}

/// Types a scalar with the YAML core schema, as saphyr does.
fn scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    at: Pos,
) -> Result<Node, YamlError> {
    if let Some(tag) = tag {
        if !tag.is_yaml_core_schema() {
            return Err(unsupported_tag(tag, at));
        }
    }
    let plain = style == ScalarStyle::Plain;
    let tag_cow = tag.map(Cow::Borrowed);
    let Some(parsed) = Scalar::parse_from_cow_and_metadata(text.clone(), style, tag_cow.as_ref())
    else {
        let suffix = tag.map(|t| t.suffix.as_str()).unwrap_or_default();
        return Err(YamlError {
            pos: at,
            message: format!("`{text}` is not a valid !!{suffix}"),
        });
    };
    let value = match parsed {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(b),
        Scalar::Integer(i) => Value::Int(i),
        Scalar::FloatingPoint(x) => Value::Float(x.into_inner()),
        Scalar::String(s) => Value::Str(s.into_owned()),
    };
    Ok(Node {
        pos: at,
        kind: Kind::Scalar(ScalarNode {
            value,
            text: text.into_owned(),
            plain,
        }),
    })
}

fn check_collection_tag(tag: Option<&Tag>, at: Pos) -> Result<(), YamlError> {
    match tag {
        Some(tag) if !tag.is_yaml_core_schema() => Err(unsupported_tag(tag, at)),
        _ => Ok(()),
    }
}

fn unsupported_tag(tag: &Tag, at: Pos) -> YamlError {
    YamlError {
        pos: at,
        message: format!(
            "YAML tags like `{}{}` are not supported",
            tag.handle, tag.suffix
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: usize, col: usize) -> Pos {
        Pos { line, col }
    }

    fn root(text: &str) -> Node {
        parse(text).unwrap().unwrap()
    }

    fn err(text: &str) -> (Pos, String) {
        let e = parse(text).unwrap_err();
        (e.pos, e.message)
    }

    fn scalar_at<'a>(node: &'a Node, key: &str) -> &'a ScalarNode {
        node.map().unwrap()[key].value.scalar().unwrap()
    }

    #[test]
    fn scalars_are_typed_by_the_core_schema() {
        let node = root("a: 12\nb: \"3.11\"\nc: 3.10\nd: true\ne: ~\nf:\ng: yes\nh: 'x'\n");
        let cases = [
            ("a", Value::Int(12), "12", true),
            ("b", Value::Str("3.11".into()), "3.11", false),
            ("c", Value::Float(3.1), "3.10", true),
            ("d", Value::Bool(true), "true", true),
            ("e", Value::Null, "~", true),
            ("f", Value::Null, "", true),
            ("g", Value::Str("yes".into()), "yes", true),
            ("h", Value::Str("x".into()), "x", false),
        ];
        for (key, value, text, plain) in cases {
            let s = scalar_at(&node, key);
            assert_eq!(
                (&s.value, s.text.as_str(), s.plain),
                (&value, text, plain),
                "{key}"
            );
        }
    }

    #[test]
    fn positions_are_one_based() {
        let node = root("name: x\nmatrix:\n  python: [\"3.9\", \"3.11\"]\n");
        let map = node.map().unwrap();
        assert_eq!(map["name"].key_pos, p(1, 1));
        assert_eq!(map["name"].value.pos, p(1, 7));
        let matrix = map["matrix"].value.map().unwrap();
        assert_eq!(matrix["python"].key_pos, p(3, 3));
        let values = matrix["python"].value.seq().unwrap();
        assert_eq!(values[1].pos, p(3, 19));
    }

    #[test]
    fn keys_keep_file_order() {
        let node = root("z: 1\na: 2\nm: 3\n");
        let keys: Vec<_> = node.map().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn empty_inputs_hold_no_document() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
        // An explicit empty document is a null scalar.
        assert!(matches!(
            parse("---\n").unwrap().unwrap().scalar().unwrap().value,
            Value::Null
        ));
    }

    #[test]
    fn aliases_are_expanded() {
        let node = root("a: &pys [\"3.9\", \"3.11\"]\nb: *pys\n");
        let map = node.map().unwrap();
        assert_eq!(map["a"].value.kind, map["b"].value.kind);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            (
                "a: 1\na: 2\n",
                p(2, 1),
                "duplicate key `a` (first written at line 1, column 1)",
            ),
            (
                "a: [1, 2\n",
                p(2, 1),
                "invalid YAML: while parsing a flow sequence, expected ',' or ']'",
            ),
            (
                "a: 1\n---\nb: 2\n",
                p(2, 1),
                "a matrix file holds one YAML document, but a second one starts here",
            ),
            (
                "a: !foo bar\n",
                p(1, 4),
                "YAML tags like `!foo` are not supported",
            ),
            ("a: !!int abc\n", p(1, 4), "`abc` is not a valid !!int"),
            (
                "? [a]\n: 1\n",
                p(1, 3),
                "a key must be a name, found a list",
            ),
            (
                "a: *nowhere\n",
                p(1, 4),
                "invalid YAML: while parsing node, found unknown anchor",
            ),
        ];
        for (text, at, message) in cases {
            assert_eq!(err(text), (at, message.to_string()), "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "- ".repeat(100_000) + "x";
        assert_eq!(err(&deep).1, "the file nests deeper than 32 levels");
        let flow = "[".repeat(300);
        assert!(parse(&flow).is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 10].join(", ");
            text += &format!("a{i}: &a{i} [{items}]\n");
        }
        let message = err(&text).1;
        assert!(
            message.starts_with("aliases copy in more than 10000 nodes"),
            "{message}"
        );
    }

    #[test]
    fn aliases_cannot_stack_past_the_depth_limit() {
        // Each anchor nests the previous one 20 levels deeper.
        let mut text = String::from("a0: &a0 x\n");
        for i in 1..5 {
            let open = "[".repeat(20);
            let close = "]".repeat(20);
            text += &format!("a{i}: &a{i} {open}*a{}{close}\n", i - 1);
        }
        assert_eq!(err(&text).1, "the file nests deeper than 32 levels");
    }
}
