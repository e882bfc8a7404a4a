// The part of the WebAssembly JS API the wasm backend uses (./wasm.ts). TypeScript declares it in
// its DOM and webworker libs only; this project compiles against ES2022 + @types/node, which has
// none, and pulling in the DOM lib would let browser globals leak into code that runs in Node.
declare namespace WebAssembly {
  type ImportValue = ((...args: any[]) => unknown) | Memory;
  type ModuleImports = Record<string, ImportValue>;
  type Imports = Record<string, ModuleImports>;
  interface ModuleImportDescriptor { module: string; name: string; kind: string }
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
    static imports(m: Module): ModuleImportDescriptor[];
  }
  class Instance {
    constructor(m: Module, imports?: Imports);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  class RuntimeError extends Error {}
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
  function instantiate(m: Module, imports?: Imports): Promise<Instance>;
}
