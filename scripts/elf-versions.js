// Which shared-library symbol versions an ELF file needs (readelf's .gnu.version_r), and which of
// them a prebuilt addon may not have: anything newer than GLIBC_2.28 (RHEL 8, Debian 10, Ubuntu
// 20.04 ship 2.28-2.31), any GLIBCXX_/CXXABI_ (libstdc++ is linked statically and kept local), a
// libgcc_s version newer than GCC 8's (GCC_7.0.0). Used by scripts/prebuild.js after each build
// and by test/prebuilt.test.mjs. Development only (not in the package).
//   node scripts/elf-versions.js FILE...   prints the needs and exits 1 on a violation
'use strict';
const { execFileSync } = require('node:child_process');

const LIMITS = { GLIBC: '2.28', GCC: '7.0.0' };

function cmp(a, b) {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** readelf -V text -> [{ file, version }] of the version-needs section. */
function parseVersionNeeds(text) {
  const needs = [];
  const at = text.indexOf("Version needs section '.gnu.version_r'");
  if (at < 0) return needs;
  let file = null;
  for (const line of text.slice(at).split('\n').slice(1)) {
    if (/^\s*$/.test(line) || /^Version (symbols|definition)/.test(line)) break;
    const f = /File: (\S+)/.exec(line);
    if (f) { file = f[1]; continue; }
    const n = /Name: (\S+)/.exec(line);
    if (n) needs.push({ file, version: n[1] });
  }
  return needs;
}

/** The needs that break the limits, each with a reason. */
function violations(needs) {
  const bad = [];
  for (const { file, version } of needs) {
    const m = /^(GLIBC|GLIBCXX|CXXABI|GCC)_([0-9.]+)$/.exec(version);
    if (!m) continue; // e.g. private version names of other libraries
    if (m[1] === 'GLIBCXX' || m[1] === 'CXXABI') bad.push(`${version} (${file}): libstdc++ must be linked statically`);
    else if (cmp(m[2], LIMITS[m[1]]) > 0) bad.push(`${version} (${file}): newer than ${m[1]}_${LIMITS[m[1]]}`);
  }
  return bad;
}

/** Symbols bound to a given version (readelf --dyn-syms), for messages. */
function symbolsOf(file, version) {
  const text = execFileSync('readelf', ['--dyn-syms', '--wide', file], { encoding: 'utf8' });
  return [...text.matchAll(/\s(\S+)@(\S+?)(?:\s|$)/g)].filter((m) => m[2] === version).map((m) => m[1]);
}

function check(file) {
  const needs = parseVersionNeeds(execFileSync('readelf', ['-V', '--wide', file], { encoding: 'utf8' }));
  const bad = violations(needs).map((v) => {
    const version = v.split(' ')[0];
    return `${v}; symbols: ${symbolsOf(file, version).join(', ') || '(none listed)'}`;
  });
  return { needs, bad };
}

module.exports = { LIMITS, cmp, parseVersionNeeds, violations, check };

if (require.main === module) {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const { needs, bad } = check(file);
    const newest = {};
    for (const { version } of needs) {
      const m = /^([A-Z]+)_([0-9.]+)$/.exec(version);
      if (m && (!newest[m[1]] || cmp(m[2], newest[m[1]]) > 0)) newest[m[1]] = m[2];
    }
    console.log(`${file}: newest needed ${Object.entries(newest).map(([k, v]) => `${k}_${v}`).join(', ')}`);
    for (const b of bad) console.log(`  not allowed: ${b}`);
    failed ||= bad.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
