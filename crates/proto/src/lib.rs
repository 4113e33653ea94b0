//! Rust types and gRPC stubs generated from `proto/` at the workspace root.
//!
//! One crate generates every contract so that services share one definition of each
//! message and the descriptor set served by gRPC reflection covers all of them.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod codec;

pub mod common {
    pub mod v1 {
        tonic::include_proto!("combipat.common.v1");
    }
}

pub mod audit {
    pub mod v1 {
        tonic::include_proto!("combipat.audit.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("combipat.events.v1");
    }
}

pub mod intake {
    pub mod v1 {
        tonic::include_proto!("combipat.intake.v1");
    }
}

pub mod router {
    pub mod v1 {
        tonic::include_proto!("combipat.router.v1");
    }
}

pub mod officequeue {
    pub mod v1 {
        tonic::include_proto!("combipat.officequeue.v1");
    }
}

pub mod notifier {
    pub mod v1 {
        tonic::include_proto!("combipat.notifier.v1");
    }
}

pub mod reminderscheduler {
    pub mod v1 {
        tonic::include_proto!("combipat.reminderscheduler.v1");
    }
}

pub mod reporting {
    pub mod v1 {
        tonic::include_proto!("combipat.reporting.v1");
    }
}

/// The encoded `FileDescriptorSet` of every package above, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/combipat_descriptor.bin"));
