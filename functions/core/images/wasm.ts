/**
 * Loading the image codecs' WASM modules: each is instantiated from bytes we read ourselves, because
 * the packages' own loaders try to `fetch` their .wasm, which fails in Node and in a Lambda bundle.
 * A module names only the assets it loads (decode.ts the decoders', codecs.ts the encoders'), so a
 * bundle that only decodes carries no encoder .wasm (infra/constructs/bff-function.ts copies the
 * files a bundle names; test/infra/bundle-budgets.test.ts checks it).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import createLibJpegTurboModule, {
  type LibJpegTurboModule,
} from '@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs';

export interface WasmAsset {
  /** The file's name, which is also its name next to a Lambda bundle. */
  fileName: string;
  /** The package specifier Node resolves when the file is not next to the running module. */
  specifier: string;
}

/** libjpeg-turbo decodes and encodes, so both sides load it. */
const JPEG_ASSET: WasmAsset = {
  fileName: 'libjpegturbowasm.wasm',
  specifier: '@cornerstonejs/codec-libjpeg-turbo-8bit/wasm',
};

/**
 * A codec's .wasm could not be found or compiled: a deployment fault, never the input's, so it must
 * not be mistaken for a corrupt image nor hidden by a fallback codec.
 */
export class WasmAssetError extends Error {
  override readonly name = 'WasmAssetError';
}

const moduleRequire = createRequire(import.meta.url);

/** Absolute paths of `assets` in node_modules (build time: the stack copies them beside a bundle). */
export function resolveWasmAssets(assets: readonly WasmAsset[]): string[] {
  return [JPEG_ASSET, ...assets].map((asset) => moduleRequire.resolve(asset.specifier));
}

const compiledModules = new Map<WasmAsset, WebAssembly.Module>();

export function loadWasmModule(asset: WasmAsset): WebAssembly.Module {
  const cached = compiledModules.get(asset);
  if (cached) return cached;
  // In a Lambda bundle the package is gone and the file was copied next to the bundle.
  const besideModule = path.join(path.dirname(fileURLToPath(import.meta.url)), asset.fileName);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = readFileSync(besideModule);
  } catch {
    try {
      bytes = readFileSync(moduleRequire.resolve(asset.specifier));
    } catch (error) {
      throw new WasmAssetError(`${asset.fileName} is neither next to ${besideModule} nor in node_modules`, {
        cause: error,
      });
    }
  }
  let compiled: WebAssembly.Module;
  try {
    compiled = new WebAssembly.Module(bytes);
  } catch (error) {
    throw new WasmAssetError(`${asset.fileName} does not compile on this runtime`, { cause: error });
  }
  compiledModules.set(asset, compiled);
  return compiled;
}

/** The Emscripten hook that replaces the loader's own fetch of the .wasm file. */
export function instantiateWith(compiled: WebAssembly.Module) {
  return (
    imports: WebAssembly.Imports,
    receiveInstance: (instance: WebAssembly.Instance, module?: WebAssembly.Module) => void,
  ): WebAssembly.Exports => {
    const instance = new WebAssembly.Instance(compiled, imports);
    receiveInstance(instance, compiled);
    return instance.exports;
  };
}

/**
 * A lazily created codec instance. A failed call drops it, because an Emscripten module can be left
 * unusable by an abort inside WASM; the next call then starts from a fresh instance.
 */
export class LazyCodec<T> {
  private instance: Promise<T> | undefined;
  constructor(private readonly create: () => Promise<T>) {}

  async use<R>(work: (codec: T) => R): Promise<R> {
    this.instance ??= this.create();
    const pending = this.instance;
    try {
      return work(await pending);
    } catch (error) {
      if (this.instance === pending) this.instance = undefined;
      throw error;
    }
  }
}

export interface EmscriptenOptions {
  noInitialRun?: boolean;
  instantiateWasm?: ReturnType<typeof instantiateWith>;
}

export type EmscriptenFactory<T> = (options: EmscriptenOptions) => Promise<T>;

/**
 * Whether an error is the codec refusing the data: libjpeg-turbo's C++ exceptions reach JS as
 * numbers, and a trap inside WASM as a RuntimeError. Anything else is a fault of ours or of the
 * deployment, which no fallback codec should hide.
 */
export function isCodecFailure(error: unknown): boolean {
  return typeof error === 'number' || error instanceof WebAssembly.RuntimeError;
}

export const jpegCodec = new LazyCodec<LibJpegTurboModule>(() => {
  const compiled = loadWasmModule(JPEG_ASSET);
  // This package's Emscripten glue is CommonJS and, in Node, evaluates `__dirname` (only to locate
  // the .wasm we hand it anyway). The CommonJS bundles have one; where the sources run as ES
  // modules (the local stack, the tests) the lookup would throw a ReferenceError, so give it one.
  if (typeof globalThis.__dirname === 'undefined') {
    Object.defineProperty(globalThis, '__dirname', {
      value: path.dirname(fileURLToPath(import.meta.url)),
      configurable: true,
      writable: true,
    });
  }
  return createLibJpegTurboModule({ instantiateWasm: instantiateWith(compiled) });
});

export function asUint8(data: Uint8Array | Uint8ClampedArray): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
