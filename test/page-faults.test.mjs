// Page faults in long-running processes (docs/performance.md, "Page faults and GLIBC_TUNABLES"):
// memory the process has not touched yet costs a fault per 4 KB page on first write (about 5 µs
// on this project's VM), so the native backend keeps the memory its calls need from one call to
// the next. Each case runs in a child process, whose fault count is its own.
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { availableBackends } from 'cellstate';

const root = new URL('..', import.meta.url);
function child(code, env = {}) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: root, env: { ...process.env, ...env } });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout);
}

(availableBackends().includes('native') ? describe : describe.skip)('native: page faults per call', function () {
  this.timeout(120000);

  // The native backward's ∂A at long T ([T·B, 4H]: 137 MB at T = 4200, B = 32, H = 64) is bigger
  // than the addon's scratch cache; it used to be mapped afresh by every step, faulting in 33,600
  // pages (a T = 5000 step took 1.1 s instead of 0.4 s). Now it is kept for the next step and
  // freed once training has been idle for 3 s. Measured: step 3's page faults (17,300 with the
  // fix, 51,000 without; the rest are the step's fresh JS tensors) and the RSS given back after
  // the idle time (165-190 MB with the trim, 69 MB without).
  it('a long sequence\'s backward temporaries are reused by the next step and freed once training is idle', function () {
    const { faults, freedMB } = child(`
      import { Adam, LastStep, Linear, LSTM, Rng, Sequential, Tensor, Trainer, setThreads } from 'cellstate';
      setThreads(1, 'native');
      const T = 4200, B = 32, H = 64;
      const net = new Sequential([new LSTM({ inputSize: 2, hiddenSize: H, seed: 1, backend: 'native' }), new LastStep(), new Linear({ inFeatures: H, outFeatures: 1, seed: 2 })]);
      const trainer = new Trainer({ model: net, optimizer: new Adam(net, { lr: 0.01 }), loss: 'mse', clipNorm: 1, seed: 1 });
      const rng = new Rng(3);
      const x = new Tensor(Float32Array.from({ length: T * B * 2 }, () => rng.next()), [T, B, 2]);
      const y = new Tensor(Float32Array.from({ length: B }, () => rng.next()), [B, 1]);
      const faults = [];
      for (let i = 0; i < 3; i++) {
        const f0 = process.resourceUsage().minorPageFault;
        trainer.step({ x, targets: { values: y } });
        faults.push(process.resourceUsage().minorPageFault - f0);
      }
      gc();
      const busy = process.memoryUsage.rss();
      await new Promise((r) => setTimeout(r, 3600));
      gc();
      console.log(JSON.stringify({ faults, freedMB: (busy - process.memoryUsage.rss()) / 2 ** 20 }));`);
    const dAPages = (4200 * 32 * 256 * 4) / 4096;
    expect(faults[2], `page faults per step: ${faults}`).to.be.below(dAPages * 0.9);
    expect(freedMB, 'MB given back after 3 s idle').to.be.above(120);
  });

  // The addon fixes glibc's mmap threshold at 32 MB (and its trim threshold at 64 MB) when it
  // loads, so a call's JS output buffers of a few MB come from the heap, not from fresh mappings.
  // The loop collects garbage after every 10th call, so the outputs are freed at the same points
  // in every run: left to V8, when they are freed (and how far the heap grows before) depends on
  // the machine's timing, and a run on a slower machine saw 62 faults a call from heap growth in
  // a few calls. Measured here (M: B 32, T 50, I = H = 256, int8, 2 threads), faults counted
  // around the forwards only: 0.0-0.1 a call; with CELLSTATE_MALLOC_TUNING=0, 228-663 (glibc
  // trims the freed top of its heap, and the next outputs fault it in again).
  it('an int8 M forward in a loop pages in almost nothing (glibc thresholds set by the addon)', function () {
    const { perCall } = child(`
      import { LSTM, Tensor, setThreads } from 'cellstate';
      setThreads(2, 'native');
      const B = 32, T = 50, I = 256, H = 256;
      const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1, backend: 'native' }).quantize('int8');
      const x = new Tensor(Float32Array.from({ length: T * B * I }, (_, i) => Math.sin(i)), [T, B, I]);
      for (let i = 0; i < 20; i++) { m.forward(x); if (i % 10 === 9) gc(); }
      let faults = 0;
      for (let i = 0; i < 100; i++) {
        const f0 = process.resourceUsage().minorPageFault;
        m.forward(x);
        faults += process.resourceUsage().minorPageFault - f0;
        if (i % 10 === 9) gc();
      }
      console.log(JSON.stringify({ perCall: faults / 100 }));`);
    expect(perCall, 'page faults per call').to.be.below(20);
  });
});
