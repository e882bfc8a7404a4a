// The documentation runs and links as written (issue #25).
// - Every ```js / ```mjs / ```ts block of README.md, SECURITY.md and docs/*.md runs, each on its own
//   as an ES module in a fresh process from the repository root (so `import ... from 'cellstate'`
//   is the package itself; ts blocks are transpiled by TypeScript first). A console.log line
//   whose comment is `// => text` must print exactly `text`, in order. A block that cannot run
//   (a server, Python) says so in its fence, ```js no-run: <reason>; a no-run without a reason fails.
// - Every relative link and #anchor in those pages resolves (GitHub's anchor rules), and so does
//   every docs/<page>.md#anchor named in lib/ and apps/ (error messages and comments point there).
// - The performance tables are what bench/readme-table.mjs makes of the results file they name,
//   and the README stays 150-200 lines.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SUMMARY_ROWS, table } from '../bench/readme-table.mjs';
import { anchors, codeBlocks, isExternal, links, markdownPages, resolveLink, root } from './helpers/markdown.mjs';

const require = createRequire(import.meta.url);
const RUNNABLE = new Set(['js', 'javascript', 'mjs', 'ts', 'typescript']);
const NO_RUN = /(^|\s)no-run\b(.*)$/;
const read = (f) => fs.readFileSync(path.join(root, f), 'utf8');

/** The `// => text` expectations of a block, in order. */
function expectations(code) {
  return code.split('\n').filter((l) => /console\.log\(.*\/\/ => /.test(l)).map((l) => l.slice(l.indexOf('// => ') + 6).trimEnd());
}

function run(block) {
  let code = block.code;
  if (block.lang === 'ts' || block.lang === 'typescript') {
    const ts = require('typescript');
    code = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  }
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root, env: { ...process.env, CELLSTATE_QUIET: '1' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000,
  });
}

const pages = markdownPages();
const all = pages.flatMap((page) => codeBlocks(read(page)).filter((b) => RUNNABLE.has(b.lang)).map((b) => ({ page, ...b })));
const skipped = all.filter((b) => NO_RUN.test(b.info));

describe('docs: every code block runs as written', function () {
  this.timeout(180000);

  it(`${all.length} js/ts blocks in ${pages.length} pages; ${skipped.length} marked no-run, each with a reason`, function () {
    expect(all.filter((b) => b.page === 'README.md' && !NO_RUN.test(b.info)).length, 'README runs a quick start').to.be.at.least(1);
    for (const b of skipped) {
      const reason = NO_RUN.exec(b.info)[2].replace(/^\s*:?\s*/, '');
      expect(reason.length, `${b.page}:${b.line} is no-run without a reason (\`\`\`js no-run: why)`).to.be.at.least(10);
    }
  });

  // A block that calls init() loads wasm/cellstate.wasm, which `npm run build:wasm` makes (with
  // clang's wasm32 target; the package ships it): a clone without that toolchain skips it, as the
  // wasm suite does, and CI (CELLSTATE_REQUIRE_WASM=1, module built) runs it.
  const hasWasm = fs.existsSync(path.join(root, 'wasm', 'cellstate.wasm'));
  for (const b of all.filter((x) => !NO_RUN.test(x.info))) {
    it(`${b.page}:${b.line} (${b.lang})`, function () {
      if (/\binit\(/.test(b.code) && !hasWasm) {
        if (process.env.CELLSTATE_REQUIRE_WASM === '1') throw new Error(`${b.page}:${b.line} calls init(): wasm/cellstate.wasm is missing (npm run build:wasm)`);
        this.skip(); // init() needs wasm/cellstate.wasm, not built in this clone (npm run build:wasm)
      }
      let out;
      try {
        out = run(b);
      } catch (e) {
        throw new Error(`${b.page}:${b.line} failed: ${e.stderr || e.message}`);
      }
      const lines = out.split('\n').map((l) => l.trimEnd());
      let at = 0;
      for (const want of expectations(b.code)) {
        const i = lines.indexOf(want, at);
        expect(i, `${b.page}:${b.line} should print ${JSON.stringify(want)}; it printed:\n${out}`).to.be.at.least(0);
        at = i + 1;
      }
    });
  }
});

// Shell blocks: a newcomer's `npm install` / `npm test` are what CI itself runs; every `cellstate`
// command line must name a command that exists and only flags its --help lists (the commands
// themselves run in test/cli.test.mjs).
const SHELL = new Set(['sh', 'bash', 'shell', 'console']);
const shellLines = pages.flatMap((page) => codeBlocks(read(page)).filter((b) => SHELL.has(b.lang))
  .flatMap((b) => b.code.split('\n').map((l, i) => ({ page, line: b.line + 1 + i, cmd: l.replace(/\s+#.*$/, '').trim() }))))
  .filter((l) => l.cmd);

describe('docs: every shell line is a real command', function () {
  this.timeout(60000);
  const KNOWN = /^(npm (install|test|ci|run [\w:-]+)\b|npx (-p \S+ )*cellstate |node bin\/cellstate\.js )/;

  it(`${shellLines.length} shell lines are npm set-up steps or cellstate commands`, function () {
    for (const l of shellLines) expect(KNOWN.test(l.cmd), `${l.page}:${l.line}: ${l.cmd}`).to.equal(true);
  });

  for (const l of shellLines.filter((x) => / cellstate(\.js)? /.test(x.cmd))) {
    it(`${l.page}:${l.line}: ${l.cmd}`, function () {
      const args = l.cmd.replace(/^.*cellstate(\.js)? /, '').split(/\s+/);
      const cmd = args.filter((a) => !a.startsWith('-') && !/^\d/.test(a)).slice(0, args[0] === 'experiment' ? 2 : 1);
      const help = execFileSync(process.execPath, [path.join(root, 'bin', 'cellstate.js'), ...cmd, '--help'], { encoding: 'utf8', env: { ...process.env, CELLSTATE_QUIET: '1' } });
      expect(help, `${l.page}:${l.line}: \`cellstate ${cmd.join(' ')} --help\``).to.match(/^Usage: cellstate /);
      for (const flag of args.filter((a) => /^--[a-z]/.test(a))) expect(help, `${l.page}:${l.line}: ${flag} is not in \`cellstate ${cmd.join(' ')} --help\``).to.match(new RegExp(`${flag}(?![\\w-])`));
    });
  }
});

describe('docs: links resolve', function () {
  const anchorCache = new Map();
  const anchorsOf = (file) => {
    if (!anchorCache.has(file)) anchorCache.set(file, anchors(fs.readFileSync(file, 'utf8')));
    return anchorCache.get(file);
  };
  const check = (from, target, where) => {
    const { file, anchor } = resolveLink(from, target);
    expect(fs.existsSync(file), `${where}: ${target}: no ${path.relative(root, file)}`).to.equal(true);
    if (anchor) {
      expect(file.endsWith('.md'), `${where}: ${target}: an anchor into a file that is not Markdown`).to.equal(true);
      expect([...anchorsOf(file)], `${where}: ${target}: no heading with anchor #${anchor}`).to.include(anchor);
    }
  };

  for (const page of pages) {
    it(`every relative link and anchor of ${page}`, function () {
      const found = links(read(page)).filter((l) => !isExternal(l.target));
      for (const { target, line } of found) {
        check(page, target, `${page}:${line}`);
      }
    });
  }

  it('every docs/<page>.md#anchor named in lib/ and apps/ (error messages, warnings, comments)', function () {
    const sources = (dir) => fs.readdirSync(path.join(root, dir), { recursive: true })
      .filter((f) => /\.(ts|mjs|js)$/.test(f)).map((f) => path.join(dir, f));
    const refs = [];
    for (const f of [...sources('lib'), ...sources('apps')]) {
      for (const m of read(f).matchAll(/docs\/([a-z0-9-]+\.md)(#[a-z0-9-]+)?/g)) refs.push({ f, target: `docs/${m[1]}${m[2] ?? ''}` });
    }
    expect(refs.filter((r) => r.target.includes('#')).length, 'error messages link to doc sections').to.be.at.least(5);
    for (const { f, target } of refs) check('README.md', target, f);
  });
});

describe('docs: README and the performance tables', function () {
  it('README.md is 150-200 lines', function () {
    const n = read('README.md').trimEnd().split('\n').length;
    expect(n).to.be.within(150, 200);
  });

  it('the tables of docs/performance.md (all rows) and README.md (a few) are what bench/readme-table.mjs makes of the results file they name', function () {
    for (const [page, only] of [['docs/performance.md', null], ['README.md', SUMMARY_ROWS]]) {
      const text = read(page);
      const inner = text.slice(text.indexOf('<!-- bench:begin -->') + 20, text.indexOf('<!-- bench:end -->')).trim();
      const file = /from `([^`]+\.json)`/.exec(inner)?.[1];
      expect(file, `${page}: the table names its results file`).to.be.a('string');
      const report = JSON.parse(read(file));
      expect(inner, page).to.equal(table(report, path.join(root, file), only));
      const rows = inner.split('\n').filter((l) => /^\| \S+ (infer|train|stream) /.test(l)).length;
      expect(rows, page).to.equal(only ? only.length : new Set(report.results.map((r) => r.workload)).size);
    }
  });
});
