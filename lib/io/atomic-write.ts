// Writing a file so that a crash at any point leaves either the old file or the new one in
// place, never a truncated mix: write a temporary file in the same folder, fsync it, rename it
// over the target (atomic on POSIX file systems), then fsync the folder so the rename itself is
// durable. The temporary file is removed if anything fails before the rename.
//
// A process killed mid-write leaves its temporary file behind. Each successful write removes the
// stale temporary files of the same target: names `.<target name>.tmp-<pid>-<ms>-<random>` (this
// module's pattern, nothing else) whose writer is gone: a pid that no longer runs, or this
// process's own pid in a file created before this process started (a restarted container often
// reuses the pid). A temporary file of a live writer (another process, or a thread of this one)
// is left alone.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** When this process started (ms since the epoch); process.uptime() is process-wide, workers included. */
const processStart = Date.now() - process.uptime() * 1000;

export function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): void {
  const dir = path.dirname(path.resolve(file));
  const prefix = `.${path.basename(file)}.tmp-`;
  const tmp = path.join(dir, `${prefix}${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`);
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
  removeStale(dir, prefix);
}

/** Remove the temporary files `prefix<pid>-<ms>-<random>` in dir whose writer is gone (best effort). */
function removeStale(dir: string, prefix: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^([1-9]\d{0,9})-([0-9a-z]{1,12})-[0-9a-z]{1,12}$/.exec(name.slice(prefix.length));
    if (!m || !writerGone(Number(m[1]), parseInt(m[2], 36))) continue;
    try { fs.unlinkSync(path.join(dir, name)); } catch { /* removed meanwhile, or not ours to remove */ }
  }
}

function writerGone(pid: number, createdMs: number): boolean {
  if (pid === process.pid) return createdMs < processStart;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH'; // EPERM: it exists (another user's)
  }
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
