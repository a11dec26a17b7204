//! MySQL GTID sets: every transaction a server has executed, as `uuid[:tag]:interval` lists.
//!
//! A MySQL checkpoint records the set as of its position (the form of
//! `@@gtid_executed`, `3e11fa47-...:1-57:60,tag:1-3`), so the point it names can be
//! checked against any server of the topology. The set starts from the server
//! (`SHOW MASTER STATUS` or the binlog file's PREVIOUS_GTIDS event plus the GTIDs before the
//! start) and grows with each GTID event the reader passes.

use std::collections::BTreeMap;
use std::fmt;

use mysql_common::binlog::events::{GtidEvent, PreviousGtidsEvent};

/// A UUID and an optional tag (MySQL 8.4+): one source of transaction numbers.
type Source = ([u8; 16], Option<String>);

/// A set of MySQL GTIDs, intervals merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet {
    /// Per source, disjoint `[start, end)` intervals in order.
    sources: BTreeMap<Source, Vec<(u64, u64)>>,
}

impl GtidSet {
    /// Parses MySQL's text form: comma-separated `uuid:interval[:interval...]` groups, where
    /// a tag (`[a-z_][a-z0-9_]*`) applies to the intervals after it; whitespace and line
    /// breaks (as `SHOW MASTER STATUS` prints them) are ignored. The empty string is the
    /// empty set.
    pub fn parse(text: &str) -> Option<Self> {
        let mut set = Self::default();
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for group in compact.split(',').filter(|g| !g.is_empty()) {
            let mut parts = group.split(':');
            let uuid = parse_uuid(parts.next()?)?;
            let mut tag: Option<String> = None;
            let mut any = false;
            for part in parts {
                if part.starts_with(|c: char| c.is_ascii_digit()) {
                    let (start, last) = match part.split_once('-') {
                        Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
                        None => {
                            let n = part.parse::<u64>().ok()?;
                            (n, n)
                        }
                    };
                    if start == 0 || last < start {
                        return None;
                    }
                    set.insert((uuid, tag.clone()), start, last.checked_add(1)?);
                    any = true;
                } else if part.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    tag = Some(part.to_owned());
                } else {
                    return None;
                }
            }
            if !any {
                return None;
            }
        }
        Some(set)
    }

    /// The set a PREVIOUS_GTIDS event carries (everything before its binlog file).
    pub fn from_previous(event: &PreviousGtidsEvent<'_>) -> Self {
        let mut set = Self::default();
        for sid in event.sids() {
            let tag = sid.tag().map(|t| t.to_string());
            for interval in sid.intervals() {
                if interval.start() < interval.end() {
                    set.insert((sid.uuid(), tag.clone()), interval.start(), interval.end());
                }
            }
        }
        set
    }

    /// Adds every transaction of `other`.
    pub fn extend(&mut self, other: &GtidSet) {
        for (source, intervals) in &other.sources {
            for &(start, end) in intervals {
                self.insert(source.clone(), start, end);
            }
        }
    }

    /// Adds one transaction.
    pub fn add(&mut self, uuid: [u8; 16], tag: Option<&str>, gno: u64) {
        if let Some(end) = gno.checked_add(1) {
            self.insert((uuid, tag.map(str::to_owned)), gno, end);
        }
    }

    fn insert(&mut self, source: Source, start: u64, end: u64) {
        let intervals = self.sources.entry(source).or_default();
        intervals.push((start, end));
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(s, e) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *intervals = merged;
    }

    /// Whether every transaction of `other` is in `self`.
    pub fn contains(&self, other: &GtidSet) -> bool {
        other.sources.iter().all(|(source, theirs)| {
            let Some(mine) = self.sources.get(source) else {
                return theirs.is_empty();
            };
            theirs
                .iter()
                .all(|&(s, e)| mine.iter().any(|&(ms, me)| ms <= s && e <= me))
        })
    }
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// MySQL's canonical form: uuids in order, each with its untagged intervals first, then each
/// tag and its intervals.
impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut current: Option<[u8; 16]> = None;
        for ((uuid, tag), intervals) in &self.sources {
            if current != Some(*uuid) {
                if current.is_some() {
                    f.write_str(",")?;
                }
                let h: String = uuid.iter().map(|b| format!("{b:02x}")).collect();
                write!(
                    f,
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )?;
                current = Some(*uuid);
            }
            if let Some(tag) = tag {
                write!(f, ":{tag}")?;
            }
            for (start, end) in intervals {
                if end - start == 1 {
                    write!(f, ":{start}")?;
                } else {
                    write!(f, ":{start}-{}", end - 1)?;
                }
            }
        }
        Ok(())
    }
}

/// A MySQL GTID event's GTID as the server prints it: `uuid:gno`, or `uuid:tag:gno` for
/// tagged GTIDs.
pub fn gtid_text(event: &GtidEvent) -> String {
    let sid = event.sid();
    let hex = |range: std::ops::Range<usize>| -> String {
        sid[range].iter().map(|b| format!("{b:02x}")).collect()
    };
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    );
    match event.tag() {
        Some(tag) => format!("{uuid}:{tag}:{}", event.gno()),
        None => format!("{uuid}:{}", event.gno()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "8a94f357-aab4-11df-86ab-c80aa9429563";

    #[test]
    fn parses_and_prints_mysqls_form() {
        let text = format!("{B}:1-3,\n{A}:1-57:60:62-63:blue:1-4");
        let set = GtidSet::parse(&text).unwrap();
        assert_eq!(
            set.to_string(),
            format!("{A}:1-57:60:62-63:blue:1-4,{B}:1-3")
        );
        assert_eq!(GtidSet::parse("").unwrap(), GtidSet::default());
        for bad in [
            A.to_owned(),
            format!("{A}:0-3"),
            format!("{A}:5-3"),
            format!("{A}:Blue:1"),
            "not-a-uuid:1".to_owned(),
        ] {
            assert_eq!(GtidSet::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn adding_merges_and_containment_compares_by_interval() {
        let mut set = GtidSet::parse(&format!("{A}:1-5")).unwrap();
        let uuid = parse_uuid(A).unwrap();
        set.add(uuid, None, 7);
        assert_eq!(set.to_string(), format!("{A}:1-5:7"));
        set.add(uuid, None, 6);
        assert_eq!(set.to_string(), format!("{A}:1-7"));
        set.add(uuid, Some("blue"), 1);
        assert_eq!(set.to_string(), format!("{A}:1-7:blue:1"));
        let before = GtidSet::parse(&format!("{A}:1-6")).unwrap();
        assert!(set.contains(&before));
        assert!(!before.contains(&set));
        assert!(!set.contains(&GtidSet::parse(&format!("{B}:1")).unwrap()));
        assert!(!set.contains(&GtidSet::parse(&format!("{A}:1-8")).unwrap()));
        assert!(set.contains(&GtidSet::default()));
    }
}
