// Reading or writing a file the caller names: the one place that checks the path argument and
// names the call in file-system errors.
import { argTypeError } from '../errors';

const original = new WeakMap<Error, string>(); // a named error's message before any call named it

/**
 * Run `f` on `file`, which must be a non-empty path (a number would be taken as a file
 * descriptor). A file-system error (ENOENT, EACCES, EISDIR, ERR_FS_FILE_TOO_LARGE, …) keeps its
 * class and code; its message names the outermost such call (`where: file: ` + the original).
 */
export function fileCall<T>(where: string, file: unknown, f: () => T): T {
  if (typeof file !== 'string' || file === '') throw argTypeError(where, 'file', 'a file path', file);
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string') {
      if (!original.has(e)) original.set(e, e.message);
      e.message = `${where}: file: ${original.get(e)}`;
    }
    throw e;
  }
}
