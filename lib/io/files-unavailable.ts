// The error of every file-system call in a browser (./node-fs.browser.ts, ./atomic-write.browser.ts):
// which call it was, and the in-memory forms that do the same work without files.
export function filesUnavailable(call: string): TypeError {
  return new TypeError(
    `cellstate: ${call}: files are not available in a browser; use the in-memory forms: load(bytes), encodeModel(model), ` +
      'decodeSafetensors(bytes), encodeSafetensors(tensors), fromOnnx(bytes), toOnnx(model), loadTfjsModel({ modelJson, weights }), encodeTfjs(model)',
  );
}
