//! What the CLI tests share: running the built `raftwire` binary.
#![allow(dead_code)]

pub mod hashicorp;
pub mod pcap;
pub mod rfw;

use std::ffi::OsStr;

use assert_cmd::Command;
use serde_json::Value;

/// The `raftwire` binary under test.
pub fn raftwire() -> Command {
    Command::cargo_bin("raftwire").unwrap()
}

/// `raftwire validate --format json ARGS...`: the exit status and the parsed report (`Null` when
/// nothing parseable was printed, e.g. on exit 2).
pub fn validate_json<S: AsRef<OsStr>>(args: &[S]) -> (i32, Value) {
    let out = raftwire()
        .arg("validate")
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}
