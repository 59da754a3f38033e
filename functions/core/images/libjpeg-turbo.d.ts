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
    /** View of the decoded RGB (or GRAY when componentCount is 1) pixels inside WASM memory. */
    getDecodedBuffer(): Uint8Array;
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
