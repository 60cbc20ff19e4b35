// A small ONNX graph builder over onnx-proto's generated protobuf classes: named values, nodes,
// initializers (raw little-endian bytes), and one call that encodes a ModelProto.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX TensorProto.DataType values wisp uses. */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** A dimension: a fixed size, or a symbolic name (e.g. 'n' tokens) fixed at run time. */
export type Dim = number | string;

export type Attr = { i: number } | { f: number } | { ints: number[] } | { s: string };

/** The operator sets the graphs import: ONNX 17 and ONNX Runtime's com.microsoft contrib ops. */
export const OPSETS = [
  { domain: '', version: 17 },
  { domain: 'com.microsoft', version: 1 },
];
const IR_VERSION = 8; // the IR of opset 17
/** A protobuf message is limited to 2 GiB; wisp does not write ONNX external data (yet). */
export const MAX_MODEL_BYTES = 2 ** 31 - 2 ** 24;

type INode = InstanceType<typeof onnx.NodeProto>;
type ITensor = InstanceType<typeof onnx.TensorProto>;
type IValueInfo = InstanceType<typeof onnx.ValueInfoProto>;

function valueInfo(name: string, type: DataType, dims: readonly Dim[]): IValueInfo {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

function attribute(name: string, a: Attr) {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
}

function bytesOf(data: Float32Array | Uint8Array | Int32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class GraphBuilder {
  private readonly nodes: INode[] = [];
  private readonly initializers: ITensor[] = [];
  private readonly inputs: IValueInfo[] = [];
  private readonly outputs: IValueInfo[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  /** Bytes of initializer data so far. */
  weightBytes = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with the given prefix. */
  fresh(prefix: string): string {
    let name = prefix;
    for (let i = 1; this.names.has(name); i++) name = `${prefix}_${i}`;
    this.names.add(name);
    return name;
  }

  input(name: string, type: DataType, dims: readonly Dim[]): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: value '${name}' defined twice`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Makes `value` a graph output called `name` (an Identity node renames it when needed). */
  output(value: string, name: string, type: DataType, dims: readonly Dim[]): void {
    if (value !== name) {
      if (this.names.has(name)) throw new Error(`graph ${this.name}: value '${name}' defined twice`);
      this.names.add(name);
      this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` }));
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A constant tensor (an initializer) with the given raw data. */
  tensor(prefix: string, type: DataType, dims: readonly number[], data: Float32Array | Uint8Array | Int32Array | BigInt64Array): string {
    const name = this.fresh(prefix);
    this.initializers.push(onnx.TensorProto.create({ name, dataType: type, dims: [...dims], rawData: bytesOf(data) }));
    this.weightBytes += data.byteLength;
    return name;
  }

  /** A 1-D int64 constant (shapes, axes), shared by every use of the same values. */
  ints(values: readonly number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.tensor('c_i64', DataType.INT64, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A scalar float constant. */
  scalar(value: number): string {
    const key = `f32:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.tensor('c_f32', DataType.FLOAT, [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  /** Adds a node; returns the names of its outputs ('' in inputs skips an optional input). */
  node(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, opts: { domain?: string; outputs?: number; name?: string } = {}): string[] {
    const base = opts.name ?? opType.toLowerCase();
    const outputs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.fresh(i === 0 ? base : `${base}_out${i}`));
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain: opts.domain ?? '',
        name: this.fresh(`n_${base}`),
        input: [...inputs],
        output: outputs,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outputs;
  }

  /** A node with one output. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, opts: { domain?: string; name?: string } = {}): string {
    return this.node(opType, inputs, attrs, opts)[0];
  }

  /** The ModelProto bytes (weights included as raw initializers). */
  encode(): Uint8Array {
    if (this.weightBytes > MAX_MODEL_BYTES) {
      throw new Error(`graph ${this.name} holds ${(this.weightBytes / 2 ** 30).toFixed(2)} GiB of weights; an ONNX model in one protobuf is limited to 2 GiB`);
    }
    const graph = onnx.GraphProto.create({
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    return onnx.ModelProto.encode({ irVersion: IR_VERSION, producerName: 'wisp', opsetImport: OPSETS, graph }).finish();
  }
}
