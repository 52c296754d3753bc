// `sqlx::migrate!` embeds migrations/ at compile time but does not tell cargo to watch the
// folder: without this, a new migration file is missed by incremental builds.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
