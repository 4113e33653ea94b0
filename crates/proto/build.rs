//! Compiles every `.proto` under the workspace's `proto/` with protox (pure Rust, so no
//! system protoc is needed) and keeps the descriptor set for gRPC server reflection.

use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "combipat/common/v1/rules.proto",
    "combipat/common/v1/common.proto",
    "combipat/audit/v1/audit.proto",
    "combipat/events/v1/events.proto",
    "combipat/intake/v1/intake.proto",
    "combipat/router/v1/router.proto",
    "combipat/officequeue/v1/officequeue.proto",
    "combipat/notifier/v1/notifier.proto",
    "combipat/notifier/v1/avvisi.proto",
    "combipat/reminderscheduler/v1/reminderscheduler.proto",
    "combipat/reporting/v1/reporting.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());

    let mut compiler = protox::Compiler::new([&root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // Encoded by protox itself, which keeps the fields' custom options (the declared rules
    // the OpenAPI documents read); prost's own types would drop them.
    fs::write(
        out_dir.join("combipat_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let descriptors = compiler.file_descriptor_set();

    tonic_prost_build::configure()
        // A malformed request is the caller's mistake (INVALID_ARGUMENT), not INTERNAL.
        .codec_path("crate::codec::Codec")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
