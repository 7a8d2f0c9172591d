//! The `beanworld` command; everything it does is in the library (`src/lib.rs`).

/// The allocator: the learners' tensors are allocated and freed many times per update, and the
/// system allocator gives those blocks back to the kernel and faults them in again each time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    beanworld_cli::main()
}
