// One benchmark implementation in its own process (forked by bench/run.mjs), so no library's
// threads (ONNX Runtime's spinning intra-op pool, tfjs-wasm, our pool) run beside another's.
// Messages: { cmd: 'load', w } -> { error } (checks the answer first, then builds and warms up,
// returning warmMs); { cmd: 'slice', ms, capMs } -> { times }; { cmd: 'exit' }.
import { check, makeRunner, setup } from './impls.mjs';

const impl = JSON.parse(process.argv[2]);
let runner = null;

process.on('message', async (m) => {
  try {
    if (m.cmd === 'load') {
      runner?.dispose?.();
      runner = null;
      await setup(impl);
      const error = await check(m.w, impl);
      if (error) return process.send({ error });
      runner = await makeRunner(m.w, impl);
      const t0 = performance.now();
      await runner.run();
      process.send({ warmMs: performance.now() - t0 });
    } else if (m.cmd === 'slice') {
      // A runner in another process (the PyTorch peer) times its own calls.
      if (runner.slice) return process.send({ times: await runner.slice(m.ms, m.capMs) });
      const times = [];
      const end = performance.now() + m.ms;
      do {
        const t0 = performance.now();
        if (runner.async) await runner.run(); else runner.run();
        const dt = performance.now() - t0;
        times.push(dt);
        if (dt > m.capMs) break;
      } while (performance.now() < end);
      process.send({ times });
    } else if (m.cmd === 'exit') {
      runner?.dispose?.();
      process.exit(0);
    }
  } catch (e) {
    process.send({ error: String(e?.stack ?? e) });
  }
});
process.send({ ready: true });
