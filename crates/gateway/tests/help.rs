//! `gateway --help` lists every setting but never a secret's value (issue 11.5).

use std::process::Command;

#[test]
fn help_never_prints_a_secret() {
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("--help")
        .env("DATABASE_URL", "postgres://u:hunter2@h/db")
        .env("JWT_SECRET", "jwt-secret-hunter2-0123456789abcdef")
        .env("REDIS_URL", "redis://:hunter2@h:6379/0")
        .output()
        .expect("run gateway --help");
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("DATABASE_URL"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"));
}

#[test]
fn a_bad_setting_stops_start_up_with_one_sentence() {
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .env("HTTP_REQUEST_TIMEOUT_SECS", "soon")
        .env("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/db")
        .output()
        .expect("run gateway");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`soon` is not a duration"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .env("ALLOWED_ORIGINS", "*")
        .env("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/db")
        .output()
        .expect("run gateway");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ALLOWED_ORIGINS=* is not supported"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
