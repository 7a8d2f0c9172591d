//! The `beanworld` command; everything it does is in the library (`src/lib.rs`).

fn main() -> std::process::ExitCode {
    beanworld_cli::main()
}
