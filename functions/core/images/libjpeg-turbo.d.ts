// The package ships no types; these describe the subset of its Emscripten bindings that codecs.ts uses
// (see JPEGEncoder.hpp / JPEGDecoder.hpp in cornerstonejs/codecs, packages/libjpeg-turbo-8bit).
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs' {
  export interface FrameInfo {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned: boolean;
  }

  export interface JpegTurboDecoder {
    /** Sizes the input buffer inside WASM memory and returns a view to copy the JPEG bytes into. */
    getEncodedBuffer(encodedSize: number): Uint8Array;
    decode(): void;
    getFrameInfo(): FrameInfo;
    /**
     * The decoded RGB (or GRAY when componentCount is 1) pixels: a copy out of WASM memory, in an
     * ArrayBuffer of its own (a Uint8ClampedArray: measured on this package's 1.2.8, 2026-12, a
     * 12 MP decode gives a new 36,000,000-byte buffer at each call).
     */
    getDecodedBuffer(): Uint8Array | Uint8ClampedArray;
    delete(): void;
  }

  export interface JpegTurboEncoder {
    /** Sizes the pixel buffer inside WASM memory and returns a view to write the RGB pixels into. */
    getDecodedBuffer(frameInfo: FrameInfo): Uint8Array;
    setQuality(quality: number): void;
    setProgressive(progressive: number): void;
    /** TurboJPEG TJSAMP_* value: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0. */
    setSubSampling(subSampling: number): void;
    encode(): void;
    /** A copy of the encoded JPEG, outside WASM memory. */
    getEncodedBuffer(): Uint8ClampedArray;
    delete(): void;
  }

  export interface LibJpegTurboModule {
    JPEGDecoder: new () => JpegTurboDecoder;
    JPEGEncoder: new () => JpegTurboEncoder;
  }

  export interface LibJpegTurboModuleOptions {
    wasmBinary?: Uint8Array;
    instantiateWasm?: (
      imports: WebAssembly.Imports,
      receiveInstance: (instance: WebAssembly.Instance, module?: WebAssembly.Module) => void,
    ) => WebAssembly.Exports | Record<string, never>;
  }

  const createLibJpegTurboModule: (options?: LibJpegTurboModuleOptions) => Promise<LibJpegTurboModule>;
  export default createLibJpegTurboModule;
}
