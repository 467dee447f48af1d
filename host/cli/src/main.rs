//! The `groupgate` binary: everything is in the library, `groupgate_cli`.

fn main() -> std::process::ExitCode {
    groupgate_cli::main()
}
