// The prebuilt binaries (npm run prebuilds -> prebuilds/<platform>-<arch>/cellstate.node) load on
// glibc 2.28 and need no libstdc++: every versioned symbol they need is read with readelf and none
// may be newer than GLIBC_2.28, none GLIBCXX_/CXXABI_, no libgcc_s newer than GCC 8's. Also the
// checker itself, on readelf output with known answers. With CELLSTATE_REQUIRE_PREBUILDS=1 (CI,
// after the prebuild) a missing linux-x64 or linux-arm64 binary fails.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { parseVersionNeeds, violations, check } = require('../scripts/elf-versions.js');
const hasReadelf = spawnSync('readelf', ['--version']).status === 0;
const MACHINE = { 'linux-x64': 'Advanced Micro Devices X86-64', 'linux-arm64': 'AArch64' };
const present = fs.existsSync(path.join(root, 'prebuilds'))
  ? fs.readdirSync(path.join(root, 'prebuilds')).filter((t) => t.startsWith('linux') && fs.existsSync(path.join(root, 'prebuilds', t, 'cellstate.node')))
  : [];

describe('prebuilt binaries: symbol versions a glibc 2.28 system has', function () {
  it('the checker reads readelf -V and flags what is too new', function () {
    const text = `Version symbols section '.gnu.version' contains 3 entries:
 ...
Version needs section '.gnu.version_r' contains 3 entries:
 Addr: 0x0000000000001bb8  Offset: 0x00001bb8  Link: 4 (.dynstr)
  000000: Version: 1  File: libm.so.6  Cnt: 1
  0x0010:   Name: GLIBC_2.27  Flags: none  Version: 5
  0x0020: Version: 1  File: libgcc_s.so.1  Cnt: 2
  0x0030:   Name: GCC_7.0.0  Flags: none  Version: 4
  0x0040:   Name: GCC_9.0.0  Flags: none  Version: 6
  0x0050: Version: 1  File: libc.so.6  Cnt: 3
  0x0060:   Name: GLIBC_2.28  Flags: none  Version: 3
  0x0070:   Name: GLIBC_2.34  Flags: none  Version: 2
  0x0080:   Name: GLIBC_2.2.5  Flags: none  Version: 7
  0x0090: Version: 1  File: libstdc++.so.6  Cnt: 1
  0x00a0:   Name: GLIBCXX_3.4.21  Flags: none  Version: 8
`;
    const needs = parseVersionNeeds(text);
    expect(needs).to.have.length(7);
    expect(needs[0]).to.deep.equal({ file: 'libm.so.6', version: 'GLIBC_2.27' });
    expect(violations(needs)).to.deep.equal([
      'GCC_9.0.0 (libgcc_s.so.1): newer than GCC_7.0.0',
      'GLIBC_2.34 (libc.so.6): newer than GLIBC_2.28',
      'GLIBCXX_3.4.21 (libstdc++.so.6): libstdc++ must be linked statically',
    ]);
    expect(violations([{ file: 'libc.so.6', version: 'GLIBC_2.28' }, { file: 'libc.so.6', version: 'GLIBC_2.3.4' }])).to.deep.equal([]);
  });

  it('CELLSTATE_REQUIRE_PREBUILDS=1: linux-x64 and linux-arm64 are both there', function () {
    if (process.env.CELLSTATE_REQUIRE_PREBUILDS !== '1') this.skip();
    expect(present).to.include.members(['linux-x64', 'linux-arm64']);
  });

  for (const tag of present) {
    it(`${tag}: the right machine, no symbol version newer than GLIBC_2.28, no libstdc++ or other unexpected library`, function () {
      if (!hasReadelf) this.skip();
      const file = path.join(root, 'prebuilds', tag, 'cellstate.node');
      expect(execFileSync('readelf', ['-h', file], { encoding: 'utf8' })).to.match(new RegExp(`Machine:\\s+${MACHINE[tag]}`));
      const { needs, bad } = check(file);
      expect(needs.length).to.be.greaterThan(5);
      expect(bad).to.deep.equal([]);
      const libs = [...execFileSync('readelf', ['-d', file], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]);
      expect(libs.filter((l) => !/^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libgcc_s\.so\.1|ld-linux-(x86-64|aarch64)\.so\.[12])$/.test(l))).to.deep.equal([]);
    });
  }
});
