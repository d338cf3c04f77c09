// `recurrent/onnx`: models as ONNX graphs, from code, in Node and in browsers — the same export as
// `recurrent export --format onnx`, returning bytes instead of writing files. Its one import outside the
// library is @bufbuild/protobuf (an ES module without dependencies), which writes the protobuf; so it is
// an entry of its own and `recurrent` itself stays free of packages.

export { toOnnx, checkpointToOnnx, onnxFileNames, onnxExportFormats, ONNX_EXPORTS, type OnnxGraph } from './onnx/export.js';
export { OPSET as ONNX_OPSET, IR_VERSION as ONNX_IR_VERSION } from './onnx/graph.js';
