//! `binlog-relay status [--watch]`: one screen about a running daemon, read from its
//! `/status` endpoint: role, position, lag, rates, in-flight messages, connections,
//! reconnects, the last error and the bootstrap under way. Plain text when the output is
//! not a terminal (a log, a pipe); redrawn in place with `--watch` on a terminal.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;

use crate::metrics::LastError;

/// What `/status` answers (`http::status_document`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Snapshot {
    pub version: String,
    pub now: f64,
    pub role: String,
    pub streaming: bool,
    pub source_connected: bool,
    pub sink_connected: bool,
    pub broker_blocked: bool,
    pub position: Option<String>,
    pub checkpoint_saved_at: Option<f64>,
    pub lag_seconds: f64,
    pub in_flight: i64,
    pub published: std::collections::BTreeMap<String, u64>,
    pub confirmed: u64,
    pub reconnects: std::collections::BTreeMap<String, u64>,
    pub last_error: Option<LastError>,
    pub bootstrap: Option<Bootstrap>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Bootstrap {
    pub request: i64,
    pub table: Option<String>,
    pub rows_read: i64,
    pub rows_expected: i64,
}

/// Reads `/status` from `address` once.
async fn fetch(address: &str, timeout: Duration) -> Result<Snapshot, String> {
    let (code, body) = crate::http::fetch(address, "/status", timeout).await?;
    if code != 200 {
        return Err(format!(
            "{address} answered /status with {code}: is it binlog-relay, version 0.1 or later?"
        ));
    }
    serde_json::from_str(&body)
        .map_err(|e| format!("{address}: /status is not what this version reads: {e}"))
}

/// `binlog-relay status`: one screen, with rates over `interval` (two readings); with
/// `watch`, a new screen every `interval` until interrupted.
pub fn command(address: &str, watch: bool, interval: Duration) -> ExitCode {
    let runtime = match super::small_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let terminal = std::io::stdout().is_terminal();
    runtime.block_on(async {
        let timeout = Duration::from_secs(5);
        let mut before = match fetch(address, timeout).await {
            Ok(s) => Some(s),
            Err(e) if !watch => {
                eprintln!("binlog-relay status: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => None,
        };
        loop {
            tokio::time::sleep(interval).await;
            let screen = match fetch(address, timeout).await {
                Ok(now) => {
                    let text = render(address, &now, before.as_ref(), terminal);
                    before = Some(now);
                    text
                }
                Err(e) if !watch => {
                    eprintln!("binlog-relay status: {e}");
                    return ExitCode::FAILURE;
                }
                Err(e) => format!("binlog-relay status: {e} (retrying)\n"),
            };
            let mut out = std::io::stdout().lock();
            let written = if watch && terminal {
                // Home and clear, then the screen: redrawn in place.
                write!(out, "\x1b[H\x1b[2J{screen}")
            } else if watch {
                writeln!(out, "{screen}")
            } else {
                write!(out, "{screen}")
            };
            // A reader that went away (`status --watch | head`) ends the watch.
            if written.and_then(|()| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            if !watch {
                return ExitCode::SUCCESS;
            }
        }
    })
}

/// The screen for `now`, with rates since `before` when there is one.
pub fn render(address: &str, now: &Snapshot, before: Option<&Snapshot>, terminal: bool) -> String {
    let mut s = String::new();
    let (bold, plain) = if terminal {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let state = match (now.role.as_str(), now.streaming) {
        ("leader", true) => "leader, streaming",
        ("leader", false) => "leader, NOT streaming",
        _ => "standby (waits for the lock; publishes nothing)",
    };
    let _ = writeln!(
        s,
        "{bold}binlog-relay {} at {address}: {state}{plain}",
        now.version
    );
    let saved = match now.checkpoint_saved_at {
        Some(at) => format!(" (saved {} ago)", ago(now.now - at)),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "position     {}{saved}",
        now.position.as_deref().unwrap_or("none saved yet")
    );
    let _ = writeln!(s, "lag          {:.1} s", now.lag_seconds);
    let rates = match before {
        Some(b) if now.now > b.now => {
            let secs = now.now - b.now;
            let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
            let mut parts: Vec<String> = now
                .published
                .iter()
                .map(|(kind, n)| {
                    let then = b.published.get(kind).copied().unwrap_or(0);
                    format!("{kind} {:.1}/s", rate(*n, then))
                })
                .collect();
            parts.push(format!(
                "confirmed {:.1}/s",
                rate(now.confirmed, b.confirmed)
            ));
            parts.join("  ")
        }
        _ => "(needs two readings)".into(),
    };
    let _ = writeln!(s, "rates        {rates}");
    let _ = writeln!(s, "in flight    {}", now.in_flight);
    let up = |ok: bool| if ok { "up" } else { "DOWN" };
    let _ = writeln!(
        s,
        "connections  source {}, sink {}, broker {}",
        up(now.source_connected),
        up(now.sink_connected),
        if now.broker_blocked {
            "BLOCKING (alarm)"
        } else {
            "not blocking"
        }
    );
    let reconnects: Vec<String> = now
        .reconnects
        .iter()
        .map(|(side, n)| format!("{side} {n}"))
        .collect();
    let _ = writeln!(s, "reconnects   {}", reconnects.join(", "));
    match &now.last_error {
        Some(e) => {
            let _ = writeln!(
                s,
                "last error   {} ago: {}",
                ago(now.now - e.at),
                printable(&e.message)
            );
        }
        None => {
            let _ = writeln!(s, "last error   none");
        }
    }
    match &now.bootstrap {
        Some(b) => {
            let table = printable(b.table.as_deref().unwrap_or("?"));
            let _ = writeln!(
                s,
                "bootstrap    #{} {table} {}",
                b.request,
                progress(b.rows_read, b.rows_expected)
            );
        }
        None => {
            let _ = writeln!(s, "bootstrap    none running");
        }
    }
    s
}

/// `[#######-------------]  35%  35,000 / 100,000 rows`; the count alone when the size is
/// unknown. Past 100% (the estimate was low) the bar stays full.
fn progress(read: i64, expected: i64) -> String {
    const WIDTH: usize = 20;
    if expected <= 0 {
        return format!("{} rows read", thousands(read));
    }
    let ratio = (read.max(0) as f64 / expected as f64).clamp(0.0, 1.0);
    let filled = (ratio * WIDTH as f64).round() as usize;
    format!(
        "[{}{}] {:>3.0}%  {} / {} rows",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        (read.max(0) as f64 / expected as f64 * 100.0).min(999.0),
        thousands(read),
        thousands(expected)
    )
}

/// `text` without control characters (a newline, an escape sequence from a table name):
/// each becomes a space, so the screen keeps its lines and the terminal its state.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            version: "0.1.0".into(),
            now: 1_000.0,
            role: "leader".into(),
            streaming: true,
            source_connected: true,
            sink_connected: true,
            broker_blocked: false,
            position: Some("mariadb-bin.000042:1234".into()),
            checkpoint_saved_at: Some(999.5),
            lag_seconds: 0.25,
            in_flight: 3,
            published: [("insert".to_owned(), 500), ("update".to_owned(), 20)].into(),
            confirmed: 517,
            reconnects: [("sink".to_owned(), 1), ("source".to_owned(), 0)].into(),
            last_error: Some(LastError {
                at: 700.0,
                message: "the broker closed the connection".into(),
            }),
            bootstrap: Some(Bootstrap {
                request: 7,
                table: Some("shop.orders".into()),
                rows_read: 35_000,
                rows_expected: 100_000,
            }),
        }
    }

    #[test]
    fn one_screen_with_rates_from_two_readings() {
        let now = snapshot();
        let mut before = snapshot();
        before.now = 998.0;
        before.published.insert("insert".into(), 300);
        before.confirmed = 317;
        let text = render("127.0.0.1:9187", &now, Some(&before), false);
        assert_eq!(
            text,
            "binlog-relay 0.1.0 at 127.0.0.1:9187: leader, streaming\n\
             position     mariadb-bin.000042:1234 (saved 0.5 s ago)\n\
             lag          0.2 s\n\
             rates        insert 100.0/s  update 0.0/s  confirmed 100.0/s\n\
             in flight    3\n\
             connections  source up, sink up, broker not blocking\n\
             reconnects   sink 1, source 0\n\
             last error   5 min ago: the broker closed the connection\n\
             bootstrap    #7 shop.orders [#######-------------]  35%  35,000 / 100,000 rows\n"
        );
        // Plain text off a terminal; emphasis on one.
        assert!(!text.contains('\x1b'));
        assert!(render("a", &now, None, true).starts_with("\x1b[1m"));
    }

    #[test]
    fn a_standby_without_state_says_so() {
        let mut now = snapshot();
        now.role = "standby".into();
        now.streaming = false;
        now.position = None;
        now.checkpoint_saved_at = None;
        now.last_error = None;
        now.bootstrap = None;
        let text = render("a", &now, None, false);
        for line in [
            "standby (waits for the lock; publishes nothing)",
            "position     none saved yet\n",
            "rates        (needs two readings)",
            "last error   none",
            "bootstrap    none running",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn progress_bars_and_counts() {
        assert_eq!(progress(0, 10), "[--------------------]   0%  0 / 10 rows");
        assert_eq!(
            progress(10, 10),
            "[####################] 100%  10 / 10 rows"
        );
        assert_eq!(
            progress(1_500, 1_000),
            "[####################] 150%  1,500 / 1,000 rows"
        );
        assert_eq!(progress(1_234_567, 0), "1,234,567 rows read");
        assert_eq!(thousands(-1_000), "-1,000");
    }

    #[test]
    fn control_characters_from_the_daemon_do_not_reach_the_terminal() {
        let mut now = snapshot();
        now.last_error = Some(LastError {
            at: 999.0,
            message: "bad\nline\x1b[2Jcleared".into(),
        });
        now.bootstrap.as_mut().unwrap().table = Some("shop.\x1b]0;x\x07t".into());
        let text = render("a", &now, None, false);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("bad line [2Jcleared"), "{text}");
        assert_eq!(text.lines().count(), 9, "{text}");
    }
}
