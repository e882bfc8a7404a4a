// The package loads as ESM and as CommonJS, both giving the same single instance.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import * as esm from 'cellstate';

const require = createRequire(import.meta.url);

describe('package entry points', function () {
  it('ESM named imports and CommonJS require give the same classes', function () {
    const cjs = require('cellstate');
    expect(esm.LSTM).to.be.a('function');
    expect(esm.LSTM).to.equal(cjs.LSTM);
    expect(esm.tensor).to.equal(cjs.tensor);
    expect(Object.keys(cjs).filter((k) => k !== '__esModule').sort()).to.deep.equal(Object.keys(esm).filter((k) => k !== 'default').sort());
  });
  it('backend() reports name, isa, threads and blas', function () {
    const info = esm.backend();
    expect(info).to.have.all.keys('name', 'isa', 'threads', 'blas');
    expect(['ts', 'native']).to.include(info.name);
    expect(info.threads).to.be.at.least(1);
  });
});
