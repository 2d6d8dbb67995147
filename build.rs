//! Sets `cfg(corpus)` when the public test corpus (`../shared/corpus` from this
//! crate) is present, so the tests that read it run; without it they are
//! ignored with the reason "needs ../shared/corpus beside the repository"
//! instead of panicking.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(corpus)");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    println!("cargo::rerun-if-changed={}", dir.display());
    if dir.is_dir() {
        println!("cargo::rustc-cfg=corpus");
    }
}
