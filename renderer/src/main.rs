// The `kiln` binary: runs the CLI and turns its outcome into an exit code, nothing else.

// Rendering allocates many small strings and maps on several threads; mimalloc halves the
// time glibc's allocator spent on them (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kiln::cli::main()
}
