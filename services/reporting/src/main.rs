fn main() -> std::process::ExitCode {
    combipat_platform::cli::main::<combipat_reporting::Service>()
}
