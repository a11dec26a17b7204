//! The text of a QUERY event as the server read it.
//!
//! The binlog stores a statement as the client's bytes, with the session's charset and
//! `sql_mode` in status variables. `mysql_common` hands the bytes over as lossy UTF-8, which
//! would turn a latin1 client's `ENUM('café')` into `caf\u{FFFD}`. Here they are decoded
//! with the session's `character_set_client`. Under `NO_BACKSLASH_ESCAPES` a backslash in a
//! string is an ordinary character, so each one is doubled before the SQL lexer (which
//! follows the default mode) sees it.

use std::borrow::Cow;

use mysql_common::binlog::consts::StatusVarKey;
use mysql_common::binlog::events::{QueryEvent, StatusVarVal};
use mysql_common::constants::SqlMode;

use crate::table::Charset;

/// The statement's text for the schema reader, or, when its bytes are not valid in the
/// session's charset, `Err` with a lossy rendering for messages.
pub fn statement_text(query: &QueryEvent<'_>) -> Result<String, String> {
    let raw = query.query_raw();
    let status = query.status_vars();
    let client = status
        .get_status_var(StatusVarKey::Charset)
        .and_then(|v| match v.get_value() {
            Ok(StatusVarVal::Charset { charset_client, .. }) => Some(charset_client),
            _ => None,
        });
    let charset = client.map_or(Charset::Utf8, Charset::from_collation_id);
    let Some(text) = decode_strict(&charset, raw) else {
        return Err(String::from_utf8_lossy(raw).into_owned());
    };
    let no_backslash_escapes = status
        .get_status_var(StatusVarKey::SqlMode)
        .and_then(|v| match v.get_value() {
            Ok(StatusVarVal::SqlMode(mode)) => Some(mode.get()),
            _ => None,
        })
        .is_some_and(|mode| mode.contains(SqlMode::MODE_NO_BACKSLASH_ESCAPES));
    Ok(if no_backslash_escapes {
        text.replace('\\', "\\\\")
    } else {
        text.into_owned()
    })
}

/// Decodes `bytes`, or `None` if they are not valid in `charset`.
fn decode_strict<'a>(charset: &Charset, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
    match charset {
        Charset::Utf8 | Charset::Binary => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Charset::Encoded(encoding) => {
            encoding.decode_without_bom_handling_and_without_replacement(bytes)
        }
        // Not allowed as client charsets by the server.
        Charset::Utf32 | Charset::Unsupported(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Status variables: sql_mode (key 1, 8 bytes) and charset (key 4: client, connection
    /// and server collation ids).
    fn status(sql_mode: u64, client_collation: u16) -> Vec<u8> {
        let mut v = vec![1];
        v.extend(sql_mode.to_le_bytes());
        v.push(4);
        for id in [client_collation, client_collation, 8] {
            v.extend(id.to_le_bytes());
        }
        v
    }

    #[test]
    fn statements_are_read_in_the_sessions_charset_and_sql_mode() {
        // latin1 (collation 8) bytes, backslash literal under NO_BACKSLASH_ESCAPES.
        let query = QueryEvent::new(status(0x0010_0000, 8), b"app".to_vec())
            .with_query(b"ALTER TABLE t ADD e ENUM('caf\xe9', 'C:\\') ".to_vec());
        assert_eq!(
            statement_text(&query).unwrap(),
            r"ALTER TABLE t ADD e ENUM('café', 'C:\\') "
        );
        // utf8mb4 (45) client sending bytes that are not UTF-8: not readable.
        let query = QueryEvent::new(status(0, 45), b"app".to_vec())
            .with_query(b"ALTER TABLE t ADD e ENUM('caf\xe9')".to_vec());
        assert_eq!(
            statement_text(&query).unwrap_err(),
            "ALTER TABLE t ADD e ENUM('caf\u{fffd}')"
        );
    }

    #[test]
    fn strict_decoding_refuses_what_the_charset_cannot_hold() {
        assert_eq!(
            decode_strict(&Charset::LATIN1, b"caf\xe9").as_deref(),
            Some("café")
        );
        assert_eq!(decode_strict(&Charset::Utf8, b"caf\xe9"), None);
        assert_eq!(
            decode_strict(&Charset::Utf8, "café".as_bytes()).as_deref(),
            Some("café")
        );
    }
}
