// A small builder of ONNX graphs over the generated protobuf messages (onnx_pb.ts, from ONNX's own
// onnx.proto by protoc-gen-es): named inputs, initializers, nodes and outputs, subgraphs for Scan, and the
// serialised ModelProto. It knows nothing of recurrent's models (the exporters in this folder do) and
// checks only what would otherwise give a file ONNX Runtime rejects without saying where: names used
// before they exist, a name defined twice.

import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttrType, AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema, TensorProto_DataType as DataType, TensorProtoSchema, TensorShapeProto_DimensionSchema, TensorShapeProtoSchema,
  TypeProto_TensorSchema, TypeProtoSchema, ValueInfoProtoSchema, type AttributeProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from './onnx_pb.js';

/** The opset every exported graph imports: ONNX 1.12's (IR version 8), which Debian's python3-onnx checks and ONNX Runtime 1.10+ runs. */
export const OPSET = 17;
export const IR_VERSION = 8;

export type ElemType = 'float' | 'int64' | 'int32' | 'bool';
const ELEM: { readonly [K in ElemType]: DataType } = { float: DataType.FLOAT, int64: DataType.INT64, int32: DataType.INT32, bool: DataType.BOOL };

/** A dimension: a fixed size or a symbolic name shared across inputs and outputs ('batch', 'time'). */
export type Dim = number | string;

/** Attribute values, tagged by kind (an ONNX attribute's type is part of the operator's contract). */
export type Attr =
  | { int: number }
  | { float: number }
  | { string: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { strings: readonly string[] }
  | { graph: Graph };

function attribute(name: string, a: Attr): AttributeProto {
  if ('int' in a) return create(AttributeProtoSchema, { name, type: AttrType.INT, i: BigInt(a.int) });
  if ('float' in a) return create(AttributeProtoSchema, { name, type: AttrType.FLOAT, f: a.float });
  if ('string' in a) return create(AttributeProtoSchema, { name, type: AttrType.STRING, s: new TextEncoder().encode(a.string) });
  if ('ints' in a) return create(AttributeProtoSchema, { name, type: AttrType.INTS, ints: a.ints.map((v) => BigInt(v)) });
  if ('floats' in a) return create(AttributeProtoSchema, { name, type: AttrType.FLOATS, floats: [...a.floats] });
  if ('strings' in a) return create(AttributeProtoSchema, { name, type: AttrType.STRINGS, strings: a.strings.map((s) => new TextEncoder().encode(s)) });
  return create(AttributeProtoSchema, { name, type: AttrType.GRAPH, g: a.graph.proto() });
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[] | null): ValueInfoProto {
  const shape = dims === null ? undefined : create(TensorShapeProtoSchema, {
    dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, {
      value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
    })),
  });
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: ELEM[type], shape }) } }),
  });
}

/** Unique value names across a model: a Scan body may read the outer graph's names but must not redefine them. */
class Names {
  private readonly used = new Set<string>();
  private n = 0;
  claim(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX graph: the name "${name}" is defined twice`);
    this.used.add(name);
    return name;
  }
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.n++}`; while (this.used.has(name));
    return this.claim(name);
  }
  has(name: string): boolean {
    return this.used.has(name);
  }
}

export class Graph {
  private readonly nodes: NodeProto[] = [];
  private readonly inits: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly consts = new Map<string, string>();

  private constructor(readonly name: string, private readonly names: Names, private readonly doc: string) {}

  static root(name: string, doc = ''): Graph {
    return new Graph(name, new Names(), doc);
  }

  /** A subgraph (a Scan body): its names share the model's namespace, and it may read the outer graph's values. */
  subgraph(name: string): Graph {
    return new Graph(name, this.names, '');
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.names.claim(name), type, dims));
    return name;
  }

  /** Exposes `value` as the output `name` (through an Identity when the value has another name). */
  output(name: string, value: string, type: ElemType, dims: readonly Dim[] | null): void {
    const v = value === name ? value : this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(v, type, dims));
  }

  /** A float32 initializer (weights), stored as raw little-endian bytes. */
  weight(hint: string, data: Float32Array, dims: readonly number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`ONNX graph: initializer ${hint} has ${data.length} values for shape [${dims.join(', ')}]`);
    const name = this.names.has(hint) ? this.names.fresh(hint) : this.names.claim(hint);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(); // NOTE: little-endian, as every platform recurrent runs on
    this.inits.push(create(TensorProtoSchema, { name, dims: dims.map((d) => BigInt(d)), dataType: DataType.FLOAT, rawData: bytes }));
    return name;
  }

  /** An int64 constant (shapes, axes, indices), shared when asked for twice. */
  ints(values: readonly number[], scalar = false): string {
    const key = `i${scalar ? 's' : ''}:${values.join(',')}`;
    const had = this.consts.get(key);
    if (had !== undefined) return had;
    const name = this.names.fresh('const');
    const dims = scalar ? [] : [BigInt(values.length)];
    this.inits.push(create(TensorProtoSchema, { name, dims, dataType: DataType.INT64, int64Data: values.map((v) => BigInt(v)) }));
    this.consts.set(key, name);
    return name;
  }

  /** A float32 constant, shared when asked for twice. */
  floats(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `f:${dims.join('x')}:${values.join(',')}`;
    const had = this.consts.get(key);
    if (had !== undefined) return had;
    const name = this.names.fresh('const');
    this.inits.push(create(TensorProtoSchema, { name, dims: dims.map((d) => BigInt(d)), dataType: DataType.FLOAT, floatData: [...values] }));
    this.consts.set(key, name);
    return name;
  }

  /** A node with one output; '' in `inputs` skips an optional input. Returns the output's name. */
  op(type: string, inputs: readonly string[], attrs: Readonly<Record<string, Attr>> = {}, outputName?: string): string {
    return this.opN(type, inputs, 1, attrs, outputName === undefined ? undefined : [outputName])[0];
  }

  /** A node with `n` outputs (e.g. LSTM's Y, Y_h, Y_c); '' for an output not wanted. */
  opN(type: string, inputs: readonly string[], n: number, attrs: Readonly<Record<string, Attr>> = {}, outputNames?: readonly string[]): string[] {
    for (const i of inputs) if (i !== '' && !this.names.has(i)) throw new Error(`ONNX graph: ${type} reads "${i}", which is not defined yet`);
    const outputs = Array.from({ length: n }, (_, k) => (outputNames?.[k] !== undefined ? this.names.claim(outputNames[k]) : this.names.fresh(type.toLowerCase())));
    this.nodes.push(create(NodeProtoSchema, {
      opType: type, name: this.names.fresh(`${type}_node`), input: [...inputs], output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    }));
    return outputs;
  }

  proto(): GraphProto {
    return create(GraphProtoSchema, {
      name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs, docString: this.doc,
    });
  }
}

/** The serialised ModelProto of a root graph, with `metadata` as its metadata_props. */
export function modelBytes(graph: Graph, metadata: Readonly<Record<string, string>>, producerVersion: string): Uint8Array {
  const model = create(ModelProtoSchema, {
    irVersion: BigInt(IR_VERSION),
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(OPSET) })],
    producerName: 'recurrent',
    producerVersion,
    graph: graph.proto(),
    metadataProps: Object.entries(metadata).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
  });
  return toBinary(ModelProtoSchema, model);
}
