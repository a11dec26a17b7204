//! Maxwell's payload encryption (`encrypt = data | all`, `secret_key`), byte for byte the
//! envelope its consumers decrypt (Maxwell's `RowEncrypt` and `DataJsonGenerator`):
//!
//! - AES in CBC mode with PKCS#5/7 padding; the key is the UTF-8 bytes of `secret_key`
//!   (16, 24 or 32 of them: AES-128, -192 or -256); a fresh random 16-byte IV per message.
//! - `"encrypted":{"iv":"<base64 IV>","bytes":"<base64 ciphertext>"}`.
//! - `data`: every field up to and including `primary_key`/`primary_key_columns` stays in
//!   clear; `data` and `old` are sealed as the object `{"data":{..},"old":{..}}`.
//! - `all`: the whole message is sealed; what is sent is `{"encrypted":{..}}`.
//!
//! DDL messages are not encrypted, as in Maxwell (its `DDLMap` has no encryption).
//! Sealing is done on finished messages, once the transaction's `xid`, `xoffset` and
//! `commit` are in place, so the plaintext is exactly the message Maxwell would have sent
//! unencrypted.

use aws_lc_rs::cipher::{AES_128, AES_192, AES_256, PaddedBlockEncryptingKey, UnboundCipherKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::batch::{Batch, Message, MessageKind};

/// `output.encrypt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptMode {
    /// Messages in clear (Maxwell's default).
    #[default]
    None,
    /// `data` and `old` sealed in `encrypted`; the other fields in clear.
    Data,
    /// The whole message sealed: `{"encrypted":{..}}`.
    All,
}

/// Why a message could not be sealed. Not expected with a key that loaded; the daemon
/// stops rather than send a message in clear.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    #[error("AES-CBC encryption failed (the cipher library refused the message)")]
    Cipher,
    #[error(
        "a {kind} message has no top-level `data` field to encrypt (or lies outside its batch); this is a bug in binlog-relay, please report it"
    )]
    NoData { kind: &'static str },
}

/// The key and mode, ready to seal messages.
pub struct Sealer {
    mode: EncryptMode,
    key: PaddedBlockEncryptingKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Sealer").field("mode", &self.mode).finish()
    }
}

impl Sealer {
    /// A sealer for `mode` with Maxwell's key: the UTF-8 bytes of `secret_key`. `Err` says
    /// what is wrong with the key, without the key.
    pub fn new(mode: EncryptMode, secret_key: &str) -> Result<Option<Self>, String> {
        if mode == EncryptMode::None {
            return Ok(None);
        }
        let bytes = secret_key.as_bytes();
        let algorithm = match bytes.len() {
            16 => &AES_128,
            24 => &AES_192,
            32 => &AES_256,
            0 => {
                return Err(
                    "encryption is on but no key is set: set output.secret_key (or output.secret_key_file, or BINLOG_RELAY__OUTPUT__SECRET_KEY)".into(),
                );
            }
            n => {
                return Err(format!(
                    "the key is {n} bytes long; AES takes 16, 24 or 32 (Maxwell uses the key's UTF-8 bytes as they are)"
                ));
            }
        };
        let key = UnboundCipherKey::new(algorithm, bytes)
            .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
            .map_err(|_| "the cipher library refused the key".to_owned())?;
        Ok(Some(Self { mode, key }))
    }

    pub fn mode(&self) -> EncryptMode {
        self.mode
    }

    /// Seals every message of `batch` but DDL, rebuilding its body.
    pub fn seal_batch(&self, batch: &mut Batch) -> Result<(), EncryptError> {
        let mut body = Vec::with_capacity(batch.body.len() + batch.body.len() / 3 + 64);
        let mut plain = Vec::new();
        for message in &mut batch.messages {
            let Some(text) = batch.body.get(message.range.clone()) else {
                return Err(EncryptError::NoData {
                    kind: message.kind.as_str(),
                });
            };
            let start = body.len();
            if message.kind == MessageKind::Ddl {
                body.extend_from_slice(text);
            } else {
                self.seal(&mut body, &mut plain, message, text)?;
            }
            message.range = start..body.len();
        }
        batch.body = body;
        Ok(())
    }

    /// Appends the sealed form of the message `text` to `out`.
    fn seal(
        &self,
        out: &mut Vec<u8>,
        plain: &mut Vec<u8>,
        message: &Message,
        text: &[u8],
    ) -> Result<(), EncryptError> {
        plain.clear();
        match self.mode {
            EncryptMode::None => {
                out.extend_from_slice(text);
                return Ok(());
            }
            EncryptMode::All => {
                plain.extend_from_slice(text);
                out.push(b'{');
            }
            EncryptMode::Data => {
                let comma = data_member(text).ok_or(EncryptError::NoData {
                    kind: message.kind.as_str(),
                })?;
                // `{` + `"data":{..},"old":{..}` + `}`: the members after the comma, whose
                // closing brace is the message's own.
                plain.push(b'{');
                plain.extend_from_slice(&text[comma + 1..]);
                out.extend_from_slice(&text[..comma]);
                out.push(b',');
            }
        }
        let iv = self.encrypt(plain)?;
        out.extend_from_slice(b"\"encrypted\":{\"iv\":\"");
        encode_into(out, &iv);
        out.extend_from_slice(b"\",\"bytes\":\"");
        encode_into(out, plain);
        out.extend_from_slice(b"\"}}");
        Ok(())
    }

    /// Encrypts `plain` in place (padded); returns the IV it chose.
    fn encrypt(&self, plain: &mut Vec<u8>) -> Result<[u8; 16], EncryptError> {
        let context = self.key.encrypt(plain).map_err(|_| EncryptError::Cipher)?;
        let iv: &[u8] = (&context).try_into().map_err(|_| EncryptError::Cipher)?;
        iv.try_into().map_err(|_| EncryptError::Cipher)
    }
}

/// Appends the standard base64 of `bytes` to `out`.
fn encode_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// The offset of the comma before the message's top-level `"data"` member: strings and
/// nested values are skipped, so text inside a value (a statement, a JSON column) that
/// looks like `,"data":` is never taken for it.
fn data_member(text: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    let mut last_separator = None;
    while i < text.len() {
        match text[i] {
            b'"' => {
                let end = string_end(text, i)?;
                if depth == 1
                    && last_separator.is_some_and(|(at, c)| c == b',' && at + 1 == i)
                    && &text[i..=end] == b"\"data\""
                    && text.get(end + 1) == Some(&b':')
                {
                    return last_separator.map(|(at, _)| at);
                }
                i = end;
            }
            b'{' | b'[' => {
                depth += 1;
                last_separator = Some((i, text[i]));
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => last_separator = Some((i, b',')),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote that closes the string opening at `open`.
fn string_end(text: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lc_rs::cipher::{DecryptionContext, PaddedBlockDecryptingKey};
    use aws_lc_rs::iv::FixedLength;

    use super::*;

    const KEY: &str = "aaaaaaaaaaaaaaaa";

    fn batch(messages: &[(MessageKind, &str)]) -> Batch {
        let mut batch = Batch::default();
        for (kind, text) in messages {
            batch.push(Arc::from("db"), Arc::from("t"), *kind, |out| {
                out.extend_from_slice(text.as_bytes())
            });
        }
        batch
    }

    fn bodies(batch: &Batch) -> Vec<String> {
        batch
            .messages
            .iter()
            .map(|m| String::from_utf8(batch.body[m.range.clone()].to_vec()).unwrap())
            .collect()
    }

    /// Opens `{"iv":..,"bytes":..}` with the key, as Maxwell's `RowEncrypt.decrypt` does.
    fn open(envelope: &serde_json::Value, key: &str) -> String {
        let iv: [u8; 16] = STANDARD
            .decode(envelope["iv"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let mut bytes = STANDARD
            .decode(envelope["bytes"].as_str().unwrap())
            .unwrap();
        let algorithm = match key.len() {
            16 => &AES_128,
            24 => &AES_192,
            _ => &AES_256,
        };
        let key = PaddedBlockDecryptingKey::cbc_pkcs7(
            UnboundCipherKey::new(algorithm, key.as_bytes()).unwrap(),
        )
        .unwrap();
        let plain = key
            .decrypt(&mut bytes, DecryptionContext::Iv128(FixedLength::from(iv)))
            .unwrap();
        String::from_utf8(plain.to_vec()).unwrap()
    }

    const UPDATE: &str = r#"{"database":"db","table":"t","query":"UPDATE t SET a = ',\"data\":{}' -- }","type":"update","ts":5,"xid":9,"commit":true,"primary_key":[{"k":[1,"x"]}],"data":{"id":1,"a":",\"data\":{}","j":{"data":[1]}},"old":{"a":"b"}}"#;

    #[test]
    fn data_mode_seals_data_and_old_and_keeps_the_rest_in_clear() {
        let sealer = Sealer::new(EncryptMode::Data, KEY).unwrap().unwrap();
        let mut b = batch(&[
            (MessageKind::Update, UPDATE),
            (MessageKind::Ddl, r#"{"type":"table-create","data":1}"#),
            (
                MessageKind::BootstrapStart,
                r#"{"database":"db","table":"t","type":"bootstrap-start","ts":1,"data":{}}"#,
            ),
        ]);
        sealer.seal_batch(&mut b).unwrap();
        let got = bodies(&b);
        let head = r#"{"database":"db","table":"t","query":"UPDATE t SET a = ',\"data\":{}' -- }","type":"update","ts":5,"xid":9,"commit":true,"primary_key":[{"k":[1,"x"]}],"encrypted":{"iv":""#;
        assert!(got[0].starts_with(head), "{}", got[0]);
        let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 9, "{v}");
        assert_eq!(
            open(&v["encrypted"], KEY),
            r#"{"data":{"id":1,"a":",\"data\":{}","j":{"data":[1]}},"old":{"a":"b"}}"#
        );
        // DDL stays in clear, as in Maxwell.
        assert_eq!(got[1], r#"{"type":"table-create","data":1}"#);
        let start: serde_json::Value = serde_json::from_str(&got[2]).unwrap();
        assert_eq!(open(&start["encrypted"], KEY), r#"{"data":{}}"#);
    }

    #[test]
    fn all_mode_seals_the_whole_message_with_a_fresh_iv_each_time() {
        // AES-128, -192 and -256: the key's UTF-8 bytes, as in Maxwell.
        for key in [
            KEY,
            "bbbbbbbbbbbbbbbbbbbbbbbb",
            "é-ccccccccccccccccccccccccccccc",
        ] {
            let sealer = Sealer::new(EncryptMode::All, key).unwrap().unwrap();
            let mut b = batch(&[(MessageKind::Update, UPDATE), (MessageKind::Update, UPDATE)]);
            sealer.seal_batch(&mut b).unwrap();
            let got = bodies(&b);
            let v: Vec<serde_json::Value> = got
                .iter()
                .map(|m| serde_json::from_str(m).unwrap())
                .collect();
            for m in &v {
                assert_eq!(m.as_object().unwrap().len(), 1, "{m}");
                assert_eq!(open(&m["encrypted"], key), UPDATE);
            }
            // The member order Maxwell writes: iv, then bytes.
            assert!(got[0].starts_with(r#"{"encrypted":{"iv":""#), "{}", got[0]);
            assert_ne!(v[0]["encrypted"]["iv"], v[1]["encrypted"]["iv"]);
            assert_ne!(v[0]["encrypted"]["bytes"], v[1]["encrypted"]["bytes"]);
        }
    }

    #[test]
    fn keys_are_checked_and_never_shown() {
        assert!(Sealer::new(EncryptMode::None, "").unwrap().is_none());
        for bad in ["", "short", "0123456789abcdef0"] {
            let err = Sealer::new(EncryptMode::Data, bad).unwrap_err();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
        let sealer = Sealer::new(EncryptMode::All, KEY).unwrap().unwrap();
        assert!(!format!("{sealer:?}").contains(KEY));
    }

    #[test]
    fn the_data_member_is_found_only_at_the_top_level() {
        assert_eq!(data_member(br#"{"a":1,"data":{}}"#), Some(6));
        assert_eq!(data_member(br#"{"q":",\"data\":","x":{"data":1}}"#), None);
        assert_eq!(data_member(br#"{"q":"\\","data":{}}"#), Some(9));
        assert_eq!(data_member(br#"{"data":{}}"#), None);
        assert_eq!(data_member(br#"{"a":"unterminated,"data":{}}"#), None);
    }
}
