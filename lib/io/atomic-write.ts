// Writing a file so that a crash at any point leaves either the old file or the new one in
// place, never a truncated mix: write a temporary file in the same folder, fsync it, rename it
// over the target (atomic on POSIX file systems), then fsync the folder so the rename itself is
// durable. The temporary file is removed if anything fails before the rename.

import * as fs from 'node:fs';
import * as path from 'node:path';

export function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += fs.writeSync(fd, c, off, c.length - off);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    throw e;
  }
  syncDir(dir);
}

function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open or fsync a folder; the rename is still atomic there.
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
