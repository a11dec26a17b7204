//! TLS to the database, in the five modes MySQL's own clients know, on mysql_async's rustls
//! support.
//!
//! The binlog carries every row of the database, health records included, so the wire to it
//! matters. `verify-identity` (the default) checks the server's certificate against a CA and
//! its name against `source.host`; `verify-ca` checks only the CA; `required` encrypts
//! without checking; `preferred` encrypts when the server offers TLS and falls back to plain
//! text when it does not; `disabled` never encrypts. With `required` or a verifying mode, a
//! server without TLS is refused before the login is sent, never used in plain text. The
//! three weaker modes are opt-outs: the log and `check` say what each leaves open, except
//! for plain text to a loopback address, which crosses no network.

use std::path::PathBuf;

use mysql_async::{ClientIdentity, SslOpts};
use serde::Deserialize;

use crate::section::ConfigError;

/// How the connection to the database is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    #[default]
    VerifyIdentity,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Preferred => "preferred",
            TlsMode::Required => "required",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyIdentity => "verify-identity",
        }
    }

    pub fn verifies(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyIdentity)
    }
}

/// `[source.tls]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceTlsConfig {
    #[serde(default)]
    pub mode: TlsMode,
    /// PEM file of the CA(s) that signed the server's certificate; without it the verifying
    /// modes trust the public web roots.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain and private key, for servers that require a client certificate
    /// (`REQUIRE X509`).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

impl SourceTlsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ca_file.is_some() && !self.mode.verifies() {
            return Err(ConfigError::key(
                "source.tls.ca_file",
                format!(
                    "is only used to verify the server, but mode = \"{}\" does not verify: set mode = \"verify-identity\" (or \"verify-ca\")",
                    self.mode.as_str()
                ),
            ));
        }
        crate::section::check_tls_files(
            "source.tls",
            self.ca_file.as_deref(),
            self.client_cert_file.as_deref(),
            self.client_key_file.as_deref(),
        )?;
        if self.client_cert_file.is_some() && self.mode == TlsMode::Disabled {
            return Err(ConfigError::key(
                "source.tls.client_cert_file",
                "a client certificate needs TLS, but mode = \"disabled\"",
            ));
        }
        Ok(())
    }

    /// What the mode leaves open on the way to `host`, for the log at start-up and for
    /// `check`; `None` when the connection is verified, or plain text that stays on this
    /// machine.
    pub fn exposure(&self, host: &str) -> Option<String> {
        const FIX: &str = "set source.tls.mode = \"verify-identity\" with source.tls.ca_file (the CA that signed the server's certificate)";
        match self.mode {
            TlsMode::VerifyIdentity | TlsMode::VerifyCa => None,
            TlsMode::Disabled if crate::net::is_loopback_host(host) => None,
            TlsMode::Disabled => Some(format!(
                "source.tls.mode = \"disabled\": the login and every row cross the network to {host} in plain text; {FIX}"
            )),
            TlsMode::Preferred => Some(format!(
                "source.tls.mode = \"preferred\" accepts any certificate and falls back to plain text when the server offers no TLS, so a machine in the middle can read the stream and the login; {FIX}"
            )),
            TlsMode::Required => Some(format!(
                "source.tls.mode = \"required\" encrypts but accepts any certificate, so a machine in the middle can read the stream; {FIX}"
            )),
        }
    }

    /// What the operator should know about the mode at start-up, if anything.
    pub fn caveat(&self) -> Option<&'static str> {
        (self.mode == TlsMode::VerifyCa).then_some(
            "source.tls.mode = \"verify-ca\" also checks the server's name with this build: mysql_async 0.37.1 rejects every name mismatch (blackbeam/mysql_async#404, fixed upstream but not yet released); use a certificate that names source.host",
        )
    }

    /// The client's TLS settings for this mode; `None` for `disabled`.
    pub fn ssl_opts(&self) -> Option<SslOpts> {
        let mut opts = match self.mode {
            TlsMode::Disabled => return None,
            TlsMode::Preferred | TlsMode::Required => {
                SslOpts::default().with_danger_accept_invalid_certs(true)
            }
            TlsMode::VerifyCa => SslOpts::default().with_danger_skip_domain_validation(true),
            TlsMode::VerifyIdentity => SslOpts::default(),
        };
        if let Some(ca) = &self.ca_file {
            opts = opts
                .with_root_certs(vec![ca.clone().into()])
                // A private CA replaces the public roots: trust exactly what was given.
                .with_disable_built_in_roots(true);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert_file, &self.client_key_file) {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                cert.clone().into(),
                key.clone().into(),
            )));
        }
        Some(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(mode: TlsMode) -> SourceTlsConfig {
        SourceTlsConfig {
            mode,
            ..Default::default()
        }
    }

    #[test]
    fn modes_choose_what_is_checked() {
        assert!(config(TlsMode::Disabled).ssl_opts().is_none());
        let preferred = config(TlsMode::Preferred).ssl_opts().unwrap();
        assert!(preferred.accept_invalid_certs());
        let required = config(TlsMode::Required).ssl_opts().unwrap();
        assert!(required.accept_invalid_certs());
        let ca = config(TlsMode::VerifyCa).ssl_opts().unwrap();
        assert!(!ca.accept_invalid_certs() && ca.skip_domain_validation());
        let identity = config(TlsMode::VerifyIdentity).ssl_opts().unwrap();
        assert!(!identity.accept_invalid_certs() && !identity.skip_domain_validation());
    }

    #[test]
    fn the_default_verifies_and_every_weaker_mode_is_flagged_off_loopback() {
        assert_eq!(SourceTlsConfig::default().mode, TlsMode::VerifyIdentity);
        for mode in [TlsMode::VerifyIdentity, TlsMode::VerifyCa] {
            assert_eq!(config(mode).exposure("db.example.org"), None);
        }
        for (mode, says) in [
            (TlsMode::Disabled, "plain text"),
            (TlsMode::Preferred, "falls back to plain text"),
            (TlsMode::Required, "accepts any certificate"),
        ] {
            let flagged = config(mode).exposure("10.0.0.5").unwrap();
            assert!(flagged.contains(says), "{flagged}");
            assert!(flagged.contains("verify-identity"), "{flagged}");
        }
        // Plain text that never leaves the machine is not a risk worth a warning.
        for host in ["127.0.0.1", "localhost", "::1"] {
            assert_eq!(config(TlsMode::Disabled).exposure(host), None, "{host}");
        }
        assert!(config(TlsMode::Required).exposure("127.0.0.1").is_some());
    }

    #[test]
    fn settings_that_would_not_do_what_they_say_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let mut c = config(TlsMode::Required);
        c.ca_file = Some(ca.clone());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("verify-identity"), "{err}");
        c.mode = TlsMode::VerifyIdentity;
        c.validate().unwrap();
        c.client_cert_file = Some(ca.clone());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("go together")
        );
        c.client_key_file = Some(dir.path().join("missing.pem"));
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("missing.pem")
        );
    }
}
