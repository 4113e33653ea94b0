//! A gRPC call with arbitrary bytes as its message: what a broken or hostile client sends,
//! for the tests that check a service answers it with a clear error and stays up.

use bytes::{Buf as _, BufMut as _};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
struct RawEncoder;

#[derive(Debug, Clone, Copy, Default)]
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// Calls `path` (`/package.Service/Method`) with `message` as the request's bytes, as
/// `token`'s bearer; the response's bytes or the status.
pub async fn raw_call(
    channel: Channel,
    path: &str,
    message: Vec<u8>,
    token: &str,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let request = crate::with_token(message, token)
        .map_err(|error| Status::invalid_argument(error.to_string()))?;
    grpc.unary(
        request,
        http::uri::PathAndQuery::try_from(path.to_owned())
            .map_err(|error| Status::invalid_argument(format!("{path}: {error}")))?,
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}
