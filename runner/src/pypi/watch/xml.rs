//! A small XML tree for the two feeds the watcher reads (the XML-RPC changelog and the
//! RSS feed): elements by local name, with their text, entities resolved.
//!
//! Pure: no I/O. DTD entities are never expanded.

use quick_xml::events::Event;
use quick_xml::Reader;

/// The most elements read from one answer: a bound on a hostile feed.
const MAX_ELEMENTS: usize = 1_000_000;

/// One element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Its local name.
    pub name: String,
    /// Its child elements, in order.
    pub children: Vec<Element>,
    /// Its own text (not its children's), entities resolved.
    pub text: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Parses `text` into its root element.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    // The root's parent, so the loop needs no special case.
    let mut stack = vec![Element::default()];
    let mut count = 0;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if count >= MAX_ELEMENTS => {
                return Err(format!(
                    "more than {MAX_ELEMENTS} elements at <{:?}>",
                    e.local_name()
                ));
            }
            Event::Start(e) => {
                count += 1;
                stack.push(element(e.local_name().as_ref()));
            }
            Event::Empty(e) => {
                count += 1;
                let done = element(e.local_name().as_ref());
                push_child(&mut stack, done);
            }
            Event::End(_) => {
                if stack.len() < 2 {
                    return Err("a closing tag without its opening one".into());
                }
                if let Some(done) = stack.pop() {
                    push_child(&mut stack, done);
                }
            }
            Event::Text(t) => add_text(&mut stack, &t.xml10_content().unwrap_or_default()),
            Event::CData(t) => add_text(&mut stack, &t.decode().unwrap_or_default()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap_or_default();
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&name)
                        .map_or_else(|| format!("&{name};"), str::to_string),
                };
                add_text(&mut stack, &resolved);
            }
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("the document ends inside an element".into());
    }
    stack
        .pop()
        .and_then(|top| top.children.into_iter().next())
        .ok_or_else(|| "no root element".to_string())
}

fn element(name: &[u8]) -> Element {
    Element {
        name: String::from_utf8_lossy(name).into_owned(),
        ..Element::default()
    }
}

fn push_child(stack: &mut [Element], child: Element) {
    if let Some(parent) = stack.last_mut() {
        parent.children.push(child);
    }
}

fn add_text(stack: &mut [Element], text: &str) {
    if let Some(current) = stack.last_mut() {
        current.text.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_keep_order_text_and_entities() {
        let root =
            parse("<?xml version='1.0'?><a><b>x &amp; y&#33;</b><c/><b><![CDATA[<z>]]></b></a>")
                .expect("well-formed");
        assert_eq!(root.name, "a");
        let bs: Vec<&str> = root.all("b").map(|b| b.text.as_str()).collect();
        assert_eq!(bs, vec!["x & y!", "<z>"]);
        assert!(root.child("c").is_some());
        assert_eq!(root.child_text("missing"), None);
    }

    #[test]
    fn broken_documents_are_errors() {
        for text in ["", "<a><b></a>", "<a>", "just text"] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}
