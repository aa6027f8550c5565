// Execution providers: CUDA when the CUDA build of onnxruntime-node and the CUDA
// libraries are present, CPU otherwise, with a report of which runs and why.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

export type ProviderName = 'cuda' | 'cpu';
export type ProviderPreference = 'auto' | ProviderName;

export interface CudaStatus {
  usable: boolean;
  /** Libraries (or onnxruntime-node files) that could not be loaded. */
  missing: string[];
  /** One line for people: why CUDA is (not) used and how to fix it. */
  message: string;
}

/** Libraries the CUDA 12 build of onnxruntime (1.2x/1.3x) loads: CUDA 12 and cuDNN 9. */
export const CUDA_LIBRARIES = [
  'libcuda.so.1',
  'libcudart.so.12',
  'libcublas.so.12',
  'libcublasLt.so.12',
  'libcufft.so.11',
  'libcurand.so.10',
  'libcudnn.so.9',
];

const INSTALL_ORT_CUDA =
  'fetch its CUDA provider: ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install (needs CUDA 12 and cuDNN 9; see docs/models.md)';
const LIB_HINT: Record<string, string> = {
  'libcuda.so.1': 'the NVIDIA driver (no NVIDIA GPU driver found)',
  'libcudart.so.12': 'the CUDA 12 runtime (apt install cuda-cudart-12-x, or pip install nvidia-cuda-runtime-cu12 and add its lib folder to LD_LIBRARY_PATH)',
  'libcublas.so.12': 'cuBLAS for CUDA 12 (apt install libcublas-12-x, or pip install nvidia-cublas-cu12)',
  'libcublasLt.so.12': 'cuBLAS for CUDA 12 (apt install libcublas-12-x, or pip install nvidia-cublas-cu12)',
  'libcufft.so.11': 'cuFFT for CUDA 12 (apt install libcufft-12-x, or pip install nvidia-cufft-cu12)',
  'libcurand.so.10': 'cuRAND for CUDA 12 (apt install libcurand-12-x, or pip install nvidia-curand-cu12)',
  'libcudnn.so.9': 'cuDNN 9 for CUDA 12 (apt install libcudnn9-cuda-12, or pip install nvidia-cudnn-cu12)',
};

/** The folder with onnxruntime-node's native binaries for this platform. */
export function ortBinaryDir(): string | null {
  try {
    const pkg = require.resolve('onnxruntime-node/package.json');
    return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** True when the dynamic loader finds `lib` (dlopen through Node; a plain library "did not self-register"). */
export function libraryLoads(lib: string): boolean {
  try {
    process.dlopen({ exports: {} }, lib);
    return true;
  } catch (err) {
    return /did not self-register/i.test(String((err as Error).message));
  }
}

let cachedCuda: CudaStatus | null = null;

/** Whether the CUDA execution provider can run here; cached for the process. */
export function detectCuda(refresh = false): CudaStatus {
  if (cachedCuda && !refresh) return cachedCuda;
  cachedCuda = probeCuda();
  return cachedCuda;
}

function probeCuda(): CudaStatus {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { usable: false, missing: [], message: `CUDA provider not offered on ${process.platform}/${process.arch}; running on CPU` };
  }
  const bin = ortBinaryDir();
  if (!bin) return { usable: false, missing: ['onnxruntime-node'], message: 'onnxruntime-node is not installed' };
  const ortFiles = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
  const missingOrt = ortFiles.filter((f) => !existsSync(join(bin, f)));
  if (missingOrt.length) {
    return {
      usable: false,
      missing: missingOrt,
      message: `onnxruntime-node has no CUDA provider (${missingOrt.join(', ')} missing in ${bin}); running on CPU. To use an NVIDIA GPU, ${INSTALL_ORT_CUDA}`,
    };
  }
  const missing = CUDA_LIBRARIES.filter((lib) => !libraryLoads(lib));
  if (missing.length) {
    const hints = [...new Set(missing.map((m) => `${m}: ${LIB_HINT[m] ?? 'install it'}`))];
    return {
      usable: false,
      missing,
      message: `CUDA provider installed but libraries are missing (${hints.join('; ')}); running on CPU`,
    };
  }
  return { usable: true, missing: [], message: 'CUDA provider available (CUDA 12, cuDNN 9)' };
}

/** Providers to ask for, best first, and why. */
export function chooseProviders(pref: ProviderPreference = 'auto', env: NodeJS.ProcessEnv = process.env): { providers: ProviderName[]; note: string } {
  const wanted = pref === 'auto' ? devicePreference(env) : pref;
  if (wanted === 'cpu') return { providers: ['cpu'], note: 'CPU requested' };
  const cuda = detectCuda();
  if (cuda.usable) return { providers: ['cuda', 'cpu'], note: cuda.message };
  return { providers: ['cpu'], note: wanted === 'cuda' ? `CUDA requested but not usable; running on CPU. ${cuda.message}` : cuda.message };
}

/** The user's device choice (`ENGRAM_DEVICE`: auto, cuda or cpu; the editor's `engram.device` setting). */
export function devicePreference(env: NodeJS.ProcessEnv = process.env): ProviderPreference {
  const device = env.ENGRAM_DEVICE?.trim().toLowerCase();
  return device === 'cpu' || device === 'cuda' ? device : 'auto';
}

/**
 * Intra-op threads for CPU sessions: `ENGRAM_THREADS`, else all cores up to 8
 * (decode of small models stops scaling around there, and the editor stays responsive).
 */
export function cpuThreads(env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env.ENGRAM_THREADS);
  if (Number.isInteger(set) && set > 0) return set;
  return Math.max(1, Math.min(8, availableParallelism()));
}
