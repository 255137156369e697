// The `kiln` binary: runs the CLI and turns its outcome into an exit code, nothing else.

fn main() -> std::process::ExitCode {
    kiln::cli::main()
}
