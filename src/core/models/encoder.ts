// Our own graphs (compressor, gate, classifiers): any ONNX model with 1-D
// per-row inputs, run in padded batches; the batch size is the throughput knob.
import * as ort from 'onnxruntime-node';
import { CancelledError, UserError } from '../types.js';
import { floatToHalf, toFloat32 } from './half.js';
import type { ProviderName } from './providers.js';
import { inputTypes, openSession, type SessionOptions } from './session.js';

/** One row's inputs: a 1-D sequence per input name (token ids, masks, features). */
export type EncoderRow = Record<string, ArrayLike<number>>;

/** One row's output: its slice of the batch, first dimension dropped. */
export interface RowOutput {
  dims: number[];
  data: Float32Array;
}

export interface EncoderLoadOptions extends SessionOptions {
  /** Rows per run (default 16): larger is faster per row on GPUs, costs memory. */
  batchSize?: number;
}

export class EncoderModel {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly file: string,
    readonly provider: ProviderName,
    readonly providerNote: string,
    readonly batchSize: number,
    private readonly types: Map<string, string>,
  ) {}

  static async load(file: string, opts: EncoderLoadOptions = {}): Promise<EncoderModel> {
    const o = await openSession(file, opts);
    const batch = opts.batchSize ?? 16;
    if (!Number.isInteger(batch) || batch < 1) throw new UserError(`batch size must be a positive integer, got ${batch}`);
    return new EncoderModel(o.session, file, o.provider, o.providerNote, batch, inputTypes(o.session));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** One raw run. */
  run(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    return this.session.run(feeds);
  }

  /**
   * Runs many rows: each batch is padded to its longest row (pad value per input,
   * default 0, so attention masks pad with 0), and outputs are split back per row.
   */
  async runBatch(
    rows: EncoderRow[],
    opts: { batchSize?: number; pad?: Record<string, number>; signal?: AbortSignal } = {},
  ): Promise<Array<Record<string, RowOutput>>> {
    const size = opts.batchSize ?? this.batchSize;
    const out: Array<Record<string, RowOutput>> = [];
    for (let start = 0; start < rows.length; start += size) {
      if (opts.signal?.aborted) throw new CancelledError('encoding cancelled');
      const batch = rows.slice(start, start + size);
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of this.session.inputNames) {
        const type = this.types.get(name) ?? 'float32';
        const seqs = batch.map((r, i) => {
          const v = r[name];
          if (!v) throw new UserError(`row ${start + i} has no input "${name}" for ${this.file}`);
          return v;
        });
        feeds[name] = padded(type, seqs, opts.pad?.[name] ?? 0, this.file, name);
      }
      const res = await this.session.run(feeds);
      for (let i = 0; i < batch.length; i++) {
        const row: Record<string, RowOutput> = {};
        for (const name of this.session.outputNames) {
          const t = res[name]!;
          const dims = t.dims.slice(1);
          const per = dims.reduce((a, b) => a * b, 1);
          const data = toFloat32(t.data, t.type);
          row[name] = { dims: [...dims], data: data.slice(i * per, (i + 1) * per) };
        }
        out.push(row);
      }
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function padded(type: string, seqs: Array<ArrayLike<number>>, pad: number, file: string, name: string): ort.Tensor {
  const len = Math.max(...seqs.map((s) => s.length));
  const flat = new Float64Array(seqs.length * len).fill(pad);
  seqs.forEach((s, r) => {
    for (let j = 0; j < s.length; j++) flat[r * len + j] = s[j]!;
  });
  const dims = [seqs.length, len];
  switch (type) {
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(flat, (x) => BigInt(Math.trunc(x))), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(flat), dims);
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(flat), dims);
    case 'float16':
      return new ort.Tensor('float16', Uint16Array.from(flat, floatToHalf), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(flat, (x) => (x ? 1 : 0)), dims);
    default:
      throw new UserError(`${file}: input "${name}" has unsupported type ${type}`);
  }
}
