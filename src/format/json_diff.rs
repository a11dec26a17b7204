//! MySQL partial JSON updates, applied to the before image to rebuild the new document.
//!
//! With `binlog_row_value_options=PARTIAL_JSON`, MySQL 8 logs an UPDATE that only touches
//! part of a JSON column (`JSON_SET`, `JSON_REPLACE`, `JSON_REMOVE`) as a list of diffs
//! (operation, path, value) instead of the new document. Maxwell's binlog library cannot
//! read these events at all. We rebuild the whole document from the before image, so
//! consumers see the same `data` and `old` a full update would give.
//!
//! The document is rebuilt as a small tree: containers become vectors, scalars stay as
//! `mysql_common`'s jsonb values and are written by [`super::mysql_json`]. Object keys are
//! kept in MySQL's storage order (length, then bytes), which is what a full after image
//! would have carried. Anything that does not fit (a path that is not there, a parent that
//! is not a container) is an error: a guessed document would be a wrong value.

use std::io;

use mysql_common::binlog::jsonb::{self, ComplexValue, Object, StorageFormat};
use mysql_common::binlog::jsondiff::{JsonDiff, JsonDiffOperation};
use mysql_common::io::ParseBuf;

use super::json::write_str_raw_unicode as write_str;
use super::mysql_json::{MAX_DEPTH, write_jsonb_value};

/// Appends the JSON text of `before` (a binary JSON document) after applying the binary
/// diff list `diffs` to it.
pub fn write_patched_json(out: &mut Vec<u8>, before: &[u8], diffs: &[u8]) -> io::Result<()> {
    let mut doc = if before.is_empty() {
        Node::Scalar(jsonb::Value::Null)
    } else {
        let value: jsonb::Value<'_> = ParseBuf(before).parse(())?;
        Node::from_jsonb(value, 0)?
    };
    let mut buf = ParseBuf(diffs);
    while !buf.is_empty() {
        let diff: JsonDiff<'_> = buf.parse(())?;
        apply(&mut doc, &diff)?;
    }
    doc.write(out, 0)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A JSON document being patched.
#[derive(Debug, Clone)]
enum Node {
    /// Anything that is not an array or object; never a container variant.
    Scalar(jsonb::Value<'static>),
    Array(Vec<Node>),
    /// Members in MySQL's storage order.
    Object(Vec<(Vec<u8>, Node)>),
}

impl Node {
    fn from_jsonb(value: jsonb::Value<'_>, depth: usize) -> io::Result<Self> {
        if depth > MAX_DEPTH {
            return Err(invalid(
                "JSON document nested deeper than MySQL allows".into(),
            ));
        }
        Ok(match value {
            jsonb::Value::SmallArray(a) => Node::Array(
                a.iter()
                    .map(|e| Node::from_jsonb(e?, depth + 1))
                    .collect::<io::Result<_>>()?,
            ),
            jsonb::Value::LargeArray(a) => Node::Array(
                a.iter()
                    .map(|e| Node::from_jsonb(e?, depth + 1))
                    .collect::<io::Result<_>>()?,
            ),
            jsonb::Value::SmallObject(o) => Node::Object(members(&o, depth)?),
            jsonb::Value::LargeObject(o) => Node::Object(members(&o, depth)?),
            scalar => Node::Scalar(scalar.into_owned()),
        })
    }

    fn write(&self, out: &mut Vec<u8>, depth: usize) -> io::Result<()> {
        if depth > MAX_DEPTH {
            return Err(invalid(
                "JSON document nested deeper than MySQL allows".into(),
            ));
        }
        match self {
            Node::Scalar(v) => write_jsonb_value(out, v)?,
            Node::Array(elements) => {
                out.push(b'[');
                for (i, e) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    e.write(out, depth + 1)?;
                }
                out.push(b']');
            }
            Node::Object(members) => {
                out.push(b'{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, &String::from_utf8_lossy(key));
                    out.push(b':');
                    value.write(out, depth + 1)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

fn members<T: StorageFormat>(
    object: &ComplexValue<'_, T, Object>,
    depth: usize,
) -> io::Result<Vec<(Vec<u8>, Node)>> {
    object
        .iter()
        .map(|entry| {
            let (key, value) = entry?;
            Ok((
                key.value_raw().to_vec(),
                Node::from_jsonb(value, depth + 1)?,
            ))
        })
        .collect()
}

/// MySQL's key order inside a binary object: shorter keys first, then bytewise.
fn key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leg {
    Member(Vec<u8>),
    /// `[n]`, or `[last - n]` when `from_end`.
    Cell {
        index: usize,
        from_end: bool,
    },
}

impl Leg {
    /// The array position this leg names in an array of `len` elements; `None` when it
    /// names a position before the start.
    fn position(&self, len: usize) -> Option<usize> {
        match *self {
            Leg::Cell {
                index,
                from_end: false,
            } => Some(index),
            Leg::Cell {
                index,
                from_end: true,
            } => len.checked_sub(1)?.checked_sub(index),
            Leg::Member(_) => None,
        }
    }
}

/// Parses the path of a diff as MySQL writes it (`$`, `.key`, `."quoted key"`, `[n]`,
/// `[last]`, `[last-n]`). Wildcards cannot appear in a diff and are refused.
fn parse_path(path: &[u8]) -> io::Result<Vec<Leg>> {
    let bad = || {
        invalid(format!(
            "partial JSON update has a path MySQL does not write: {}",
            String::from_utf8_lossy(path)
        ))
    };
    let text = std::str::from_utf8(path).map_err(|_| bad())?;
    let mut rest = text.trim_start().strip_prefix('$').ok_or_else(bad)?;
    let mut legs = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(legs);
        }
        if let Some(after) = rest.strip_prefix('.') {
            let after = after.trim_start();
            if after.starts_with('"') {
                // A JSON string: find its end, then let serde_json unescape it.
                let end = quoted_end(after).ok_or_else(bad)?;
                let key: String = serde_json::from_str(&after[..end]).map_err(|_| bad())?;
                legs.push(Leg::Member(key.into_bytes()));
                rest = &after[end..];
            } else {
                let end = after
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                    .unwrap_or(after.len());
                if end == 0 {
                    return Err(bad());
                }
                legs.push(Leg::Member(after.as_bytes()[..end].to_vec()));
                rest = &after[end..];
            }
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').ok_or_else(bad)?;
            let inner: String = after[..close].split_whitespace().collect();
            let leg = if let Some(tail) = inner.strip_prefix("last") {
                let index = match tail.strip_prefix('-') {
                    Some(n) => n.parse().map_err(|_| bad())?,
                    None if tail.is_empty() => 0,
                    None => return Err(bad()),
                };
                Leg::Cell {
                    index,
                    from_end: true,
                }
            } else {
                Leg::Cell {
                    index: inner.parse().map_err(|_| bad())?,
                    from_end: false,
                }
            };
            legs.push(leg);
            rest = &after[close + 1..];
        } else {
            return Err(bad());
        }
    }
}

/// The byte length of the JSON string literal at the start of `s`, quotes included.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn apply(doc: &mut Node, diff: &JsonDiff<'_>) -> io::Result<()> {
    let legs = parse_path(diff.path())?;
    let path = || String::from_utf8_lossy(diff.path()).into_owned();
    let value = match diff.value() {
        Some(v) => Some(Node::from_jsonb(v.clone(), 0)?),
        None => None,
    };
    let operation = diff.operation();
    let Some((last, parents)) = legs.split_last() else {
        // The whole document: only a replacement makes sense.
        return match (operation, value) {
            (JsonDiffOperation::REPLACE, Some(v)) => {
                *doc = v;
                Ok(())
            }
            _ => Err(invalid(format!(
                "partial JSON update {operation:?} on the whole document"
            ))),
        };
    };
    let mismatch = || {
        invalid(format!(
            "partial JSON update {operation:?} at {} does not fit the before image",
            path()
        ))
    };
    let mut parent = &mut *doc;
    for leg in parents {
        parent = child(parent, leg).ok_or_else(mismatch)?;
    }
    match (operation, parent, last) {
        (JsonDiffOperation::REPLACE, parent, leg) => {
            let slot = child(parent, leg).ok_or_else(mismatch)?;
            *slot = value.ok_or_else(mismatch)?;
        }
        (JsonDiffOperation::INSERT, Node::Object(members), Leg::Member(key)) => {
            let value = value.ok_or_else(mismatch)?;
            match members.binary_search_by(|(k, _)| key_order(k, key)) {
                Ok(i) => members[i].1 = value,
                Err(i) => members.insert(i, (key.clone(), value)),
            }
        }
        (JsonDiffOperation::INSERT, Node::Array(elements), leg @ Leg::Cell { .. }) => {
            let value = value.ok_or_else(mismatch)?;
            // An index past the end appends, as JSON_ARRAY_INSERT and JSON_SET do.
            let at = leg
                .position(elements.len())
                .unwrap_or(0)
                .min(elements.len());
            elements.insert(at, value);
        }
        (JsonDiffOperation::REMOVE, Node::Object(members), Leg::Member(key)) => {
            let i = members
                .iter()
                .position(|(k, _)| k == key)
                .ok_or_else(mismatch)?;
            members.remove(i);
        }
        (JsonDiffOperation::REMOVE, Node::Array(elements), leg @ Leg::Cell { .. }) => {
            let at = leg
                .position(elements.len())
                .filter(|&i| i < elements.len())
                .ok_or_else(mismatch)?;
            elements.remove(at);
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// The existing value that `leg` names inside `node`.
fn child<'n>(node: &'n mut Node, leg: &Leg) -> Option<&'n mut Node> {
    match (node, leg) {
        (Node::Object(members), Leg::Member(key)) => {
            members.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
        }
        (Node::Array(elements), leg) => {
            let at = leg.position(elements.len())?;
            elements.get_mut(at)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds MySQL binary JSON for small documents, for tests.
    mod build {
        /// A scalar int16 document.
        pub fn int16(v: i16) -> Vec<u8> {
            let mut d = vec![0x05];
            d.extend(v.to_le_bytes());
            d
        }

        /// A string document.
        pub fn string(s: &str) -> Vec<u8> {
            let mut d = vec![0x0c, s.len() as u8];
            d.extend(s.as_bytes());
            d
        }

        /// A small object whose values are int16 (inlined), keys given in storage order.
        pub fn object(members: &[(&str, i16)]) -> Vec<u8> {
            let n = members.len();
            let header = 4 + n * 4 + n * 3;
            let mut body = Vec::new();
            body.extend((n as u16).to_le_bytes());
            body.extend([0, 0]);
            let mut key_at = header;
            for (k, _) in members {
                body.extend((key_at as u16).to_le_bytes());
                body.extend((k.len() as u16).to_le_bytes());
                key_at += k.len();
            }
            for (_, v) in members {
                body.push(0x05);
                body.extend(v.to_le_bytes());
            }
            for (k, _) in members {
                body.extend(k.as_bytes());
            }
            let size = body.len() as u16;
            body[2..4].copy_from_slice(&size.to_le_bytes());
            let mut d = vec![0x00];
            d.extend(body);
            d
        }

        /// A small array of int16 values.
        pub fn array(values: &[i16]) -> Vec<u8> {
            let n = values.len();
            let mut body = Vec::new();
            body.extend((n as u16).to_le_bytes());
            body.extend([0, 0]);
            for v in values {
                body.push(0x05);
                body.extend(v.to_le_bytes());
            }
            let size = body.len() as u16;
            body[2..4].copy_from_slice(&size.to_le_bytes());
            let mut d = vec![0x02];
            d.extend(body);
            d
        }

        /// One diff in the binlog's layout: operation, length-encoded path, and for
        /// REPLACE/INSERT a length-encoded binary value.
        pub fn diff(op: u8, path: &str, value: Option<&[u8]>) -> Vec<u8> {
            let mut d = vec![op, path.len() as u8];
            d.extend(path.as_bytes());
            if let Some(v) = value {
                d.push(v.len() as u8);
                d.extend(v);
            }
            d
        }
    }

    const REPLACE: u8 = 0;
    const INSERT: u8 = 1;
    const REMOVE: u8 = 2;

    fn patched(before: &[u8], diffs: &[Vec<u8>]) -> io::Result<String> {
        let mut out = Vec::new();
        write_patched_json(&mut out, before, &diffs.concat())?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn replace_insert_and_remove_members_in_storage_order() {
        let before = build::object(&[("a", 1), ("age", 24)]);
        let out = patched(
            &before,
            &[
                build::diff(REPLACE, "$.age", Some(&build::int16(26))),
                build::diff(INSERT, "$.zz", Some(&build::string("new"))),
                build::diff(INSERT, "$.b", Some(&build::int16(2))),
                build::diff(REMOVE, "$.a", None),
            ],
        )
        .unwrap();
        // Inserted keys land where MySQL's sort puts them: by length, then bytes.
        assert_eq!(out, r#"{"b":2,"zz":"new","age":26}"#);
    }

    #[test]
    fn array_cells_including_last_and_appends() {
        let before = build::array(&[1, 2, 3]);
        let out = patched(
            &before,
            &[
                build::diff(REPLACE, "$[0]", Some(&build::int16(10))),
                build::diff(REMOVE, "$[last]", None),
                build::diff(INSERT, "$[9]", Some(&build::int16(4))),
                build::diff(INSERT, "$[1]", Some(&build::int16(5))),
                build::diff(REPLACE, "$[last-1]", Some(&build::int16(6))),
            ],
        )
        .unwrap();
        assert_eq!(out, "[10,5,6,4]");
    }

    #[test]
    fn nested_and_quoted_paths() {
        let inner = build::object(&[("x", 1)]);
        // {"a b": [ {"x":1} ]} built by hand: an object whose one value is an array that
        // holds the inner object.
        let mut array = vec![0x02];
        let mut body = vec![1, 0, 0, 0, 0x00];
        let value_at = (4 + 3) as u16;
        body.extend(value_at.to_le_bytes());
        body.extend(&inner[1..]);
        let size = body.len() as u16;
        body[2..4].copy_from_slice(&size.to_le_bytes());
        array.extend(body);
        let mut obj = vec![0x00];
        let mut ob = vec![1, 0, 0, 0];
        let key_at = (4 + 4 + 3) as u16;
        ob.extend(key_at.to_le_bytes());
        ob.extend(3u16.to_le_bytes());
        ob.push(0x02);
        ob.extend((key_at + 3).to_le_bytes());
        ob.extend(b"a b");
        ob.extend(&array[1..]);
        let size = ob.len() as u16;
        ob[2..4].copy_from_slice(&size.to_le_bytes());
        obj.extend(ob);

        let out = patched(
            &obj,
            &[build::diff(
                REPLACE,
                r#"$."a b"[0].x"#,
                Some(&build::string("y\"z")),
            )],
        )
        .unwrap();
        assert_eq!(out, r#"{"a b":[{"x":"y\"z"}]}"#);
    }

    #[test]
    fn diffs_that_do_not_fit_are_errors() {
        let before = build::object(&[("a", 1)]);
        for diff in [
            build::diff(REPLACE, "$.missing", Some(&build::int16(1))),
            build::diff(REMOVE, "$[0]", None),
            build::diff(REPLACE, "$.a.b", Some(&build::int16(1))),
            build::diff(REPLACE, "$.*", Some(&build::int16(1))),
            build::diff(REMOVE, "$", None),
            build::diff(7, "$.a", None),
        ] {
            assert!(patched(&before, &[diff]).is_err());
        }
        // A truncated diff list.
        let mut cut = build::diff(REPLACE, "$.a", Some(&build::int16(1)));
        cut.pop();
        assert!(patched(&before, &[cut]).is_err());
    }

    #[test]
    fn path_syntax() {
        assert_eq!(parse_path(b"$").unwrap(), vec![]);
        assert_eq!(
            parse_path(br#"$.a[3]."k\"ey"[last - 2]"#).unwrap(),
            vec![
                Leg::Member(b"a".to_vec()),
                Leg::Cell {
                    index: 3,
                    from_end: false
                },
                Leg::Member(b"k\"ey".to_vec()),
                Leg::Cell {
                    index: 2,
                    from_end: true
                },
            ]
        );
        for bad in ["", "a", "$.", "$[x]", "$[1", "$**", "$[last+1]"] {
            assert!(parse_path(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
