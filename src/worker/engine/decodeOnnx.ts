// protobufjs decodes a Node Buffer with `new Buffer(0)` for every empty bytes field, which prints Node's
// DEP0005 deprecation warning in the worker; a plain Uint8Array view of the same memory decodes without it.
import { onnx } from 'onnx-proto';

export function decodeOnnx(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes);
}
