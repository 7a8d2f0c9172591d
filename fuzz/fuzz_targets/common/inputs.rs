//! Where the targets that read files write their inputs: a folder of this process under
//! `$BEANWORLD_FUZZ_TMP`, else `/dev/shm` where the system has it, else the temporary folder.

use std::path::PathBuf;

/// A new folder named `beanworld-fuzz-NAME-<pid>` for the inputs.
pub fn folder(name: &str) -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = match std::env::var_os("BEANWORLD_FUZZ_TMP") {
        Some(dir) => PathBuf::from(dir),
        None if shm.is_dir() => shm,
        None => std::env::temp_dir(),
    };
    let dir = base.join(format!("beanworld-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder for the inputs");
    dir
}
