//! The serial-numbered changelog of an index, through its XML-RPC API (`POST
//! {index}/pypi`): `changelog_last_serial()` and `changelog_since_serial(n)`, what
//! mirroring tools such as bandersnatch follow. Every upload has a serial, so reading
//! from the last serial seen misses nothing between polls.
//!
//! Pure: no I/O. Builds the request bodies, reads the answers.

use super::xml::{self, Element};

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The project's name as uploaded.
    pub name: String,
    /// The version, when the event concerns one.
    pub version: Option<String>,
    /// Unix time of the event.
    pub time: i64,
    /// `new release`, `add py3 file …`, `remove project`…
    pub action: String,
    /// Its serial.
    pub serial: i64,
}

impl Entry {
    /// Whether the event makes a release (or a file of one) appear: those are worth
    /// testing; removals, yanks and role changes are not.
    pub fn announces_release(&self) -> bool {
        self.version.is_some()
            && (self.action == "new release"
                || (self.action.starts_with("add ") && self.action.contains(" file ")))
    }
}

/// The body of an XML-RPC call of `method` with integer arguments.
pub fn call(method: &str, args: &[i64]) -> String {
    let params: String = args
        .iter()
        .map(|a| format!("<param><value><int>{a}</int></value></param>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?>\n<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>\n"
    )
}

/// Reads the answer to `changelog_last_serial`.
pub fn parse_last_serial(body: &str) -> Result<i64, String> {
    let value = result(body)?;
    int(&value).ok_or_else(|| "the answer is not an integer".to_string())
}

/// Reads the answer to `changelog_since_serial`: entries in serial order.
pub fn parse_since(body: &str) -> Result<Vec<Entry>, String> {
    let value = result(body)?;
    let rows = array(&value).ok_or("the answer is not an array")?;
    let mut entries = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let fields = array(row).ok_or_else(|| format!("entry {i} is not an array"))?;
        let [name, version, time, action, serial] = fields.as_slice() else {
            return Err(format!("entry {i} has {} fields, not 5", fields.len()));
        };
        let bad = |what: &str| format!("entry {i}: {what} is missing or of the wrong type");
        entries.push(Entry {
            name: string(name).ok_or_else(|| bad("the name"))?,
            version: string(version).filter(|v| !v.is_empty()),
            time: int(time).unwrap_or(0),
            action: string(action).ok_or_else(|| bad("the action"))?,
            serial: int(serial).ok_or_else(|| bad("the serial"))?,
        });
    }
    entries.sort_by_key(|e| e.serial);
    Ok(entries)
}

/// The `<value>` of a `<methodResponse>`, or the fault's text.
fn result(body: &str) -> Result<Element, String> {
    let root = xml::parse(body)?;
    if root.name != "methodResponse" {
        return Err(format!("<{}> is not an XML-RPC answer", root.name));
    }
    if let Some(fault) = root.child("fault") {
        let text = fault
            .child("value")
            .and_then(|v| v.child("struct"))
            .and_then(|s| {
                s.all("member")
                    .find(|m| m.child_text("name") == Some("faultString"))
                    .and_then(|m| m.child("value"))
                    .and_then(string)
            })
            .unwrap_or_else(|| "no reason given".into());
        return Err(format!("the index answered with a fault: {text}"));
    }
    root.child("params")
        .and_then(|p| p.child("param"))
        .and_then(|p| p.child("value"))
        .cloned()
        .ok_or_else(|| "the answer has no value".to_string())
}

/// A `<value>`'s array elements.
fn array(value: &Element) -> Option<Vec<Element>> {
    let data = value.child("array")?.child("data")?;
    Some(data.all("value").cloned().collect())
}

/// A `<value>`'s string: `<string>`, or bare text (XML-RPC's default type); `None`
/// for `<nil/>`.
fn string(value: &Element) -> Option<String> {
    match value.children.first() {
        None => Some(value.text.clone()),
        Some(typed) if typed.name == "string" => Some(typed.text.clone()),
        Some(_) => None,
    }
}

fn int(value: &Element) -> Option<i64> {
    let typed = value.children.first()?;
    match typed.name.as_str() {
        "int" | "i4" | "i8" => typed.text.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(value: &str) -> String {
        format!("<?xml version='1.0'?><methodResponse><params><param><value>{value}</value></param></params></methodResponse>")
    }

    fn row(name: &str, version: &str, action: &str, serial: i64) -> String {
        format!("<value><array><data><value><string>{name}</string></value>{version}<value><int>1700000000</int></value><value><string>{action}</string></value><value><i4>{serial}</i4></value></data></array></value>")
    }

    #[test]
    fn changelog_answers_become_entries_in_serial_order() {
        let body = response(&format!(
            "<array><data>{}{}{}</data></array>",
            row(
                "Pony",
                "<value><string>1.0</string></value>",
                "add py3 file pony-1.0-py3-none-any.whl",
                12
            ),
            row("Pony", "<value>1.0</value>", "new release", 11),
            row("gone", "<value><nil/></value>", "remove project", 13),
        ));
        let entries = parse_since(&body).expect("a valid answer");
        let got: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.name.as_str(),
                    e.version.as_deref(),
                    e.serial,
                    e.announces_release(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("Pony", Some("1.0"), 11, true),
                ("Pony", Some("1.0"), 12, true),
                ("gone", None, 13, false),
            ]
        );
        assert_eq!(entries[0].time, 1_700_000_000);
    }

    #[test]
    fn last_serial_and_faults_are_read() {
        assert_eq!(parse_last_serial(&response("<int>42</int>")), Ok(42));
        let fault = "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><string>no such method</string></value></member></struct></value></fault></methodResponse>";
        let err = parse_since(fault).expect_err("a fault");
        assert!(err.contains("no such method"), "{err}");
        assert!(parse_last_serial("<html>nope</html>").is_err());
        assert!(parse_since(&response(
            "<array><data><value><array><data></data></array></value></data></array>"
        ))
        .is_err());
    }

    #[test]
    fn only_uploads_announce_releases() {
        let cases = [
            ("new release", Some("1.0"), true),
            ("add source file pony-1.0.tar.gz", Some("1.0"), true),
            ("remove release", Some("1.0"), false),
            ("yank release", Some("1.0"), false),
            ("add Owner alice", None, false),
            ("create", None, false),
        ];
        for (action, version, want) in cases {
            let e = Entry {
                name: "p".into(),
                version: version.map(str::to_string),
                time: 0,
                action: action.into(),
                serial: 1,
            };
            assert_eq!(e.announces_release(), want, "{action}");
        }
    }

    #[test]
    fn calls_carry_their_arguments() {
        let body = call("changelog_since_serial", &[7]);
        assert!(body.contains("<methodName>changelog_since_serial</methodName>"));
        assert!(body.contains("<int>7</int>"));
    }
}
