// Reading the repository's Markdown as GitHub renders it: fenced code blocks (with their info
// string), headings and the anchors GitHub gives them, and the links of the text outside code.
// Used by test/docs.test.mjs (README.md and docs/*.md run and link as written) and by
// test/e2e.test.mjs (the HTTP server of docs/serving.md).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Markdown pages whose code must run and whose links must resolve: README.md, SECURITY.md and docs/*.md. */
export function markdownPages() {
  const docs = fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`);
  return ['README.md', 'SECURITY.md', ...docs];
}

/**
 * The fenced code blocks of `text` (``` fences at the start of a line): { lang, info, code, line }, where
 * `info` is the whole info string (```js no-run: why -> lang 'js', info 'js no-run: why') and `line`
 * the 1-based line of the opening fence.
 */
export function codeBlocks(text) {
  const blocks = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1], info = open[2].trim();
    let j = i + 1;
    while (j < lines.length && !(lines[j].startsWith(fence) && lines[j].slice(fence.length).trim() === '')) j++;
    blocks.push({ lang: info.split(/\s+/)[0].toLowerCase(), info, code: lines.slice(i + 1, j).join('\n') + '\n', line: i + 1 });
    i = j;
  }
  return blocks;
}

/** `text` with every fenced block's lines blanked (line numbers kept) and inline code spans removed. */
function prose(text) {
  const lines = text.split('\n');
  for (const b of codeBlocks(text)) {
    const n = b.code.split('\n').length; // the code's lines plus the closing fence
    for (let k = b.line - 1; k < b.line + n; k++) lines[k] = '';
  }
  return lines.map((l) => l.replace(/(`+)[^`]*?\1/g, '')).join('\n');
}

/** GitHub's anchor for a heading's text: formatting dropped, lower case, punctuation removed, spaces to '-'. */
export function slug(heading) {
  const textOnly = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/[`*]/g, ''); // code spans and emphasis markers
  return textOnly.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor the headings of `text` get, with GitHub's -1, -2, ... suffixes for repeats. */
export function anchors(text) {
  const seen = new Map();
  const out = new Set();
  const lines = text.split('\n');
  const inCode = new Set();
  for (const b of codeBlocks(text)) for (let k = b.line - 1; k < b.line + b.code.split('\n').length; k++) inCode.add(k);
  lines.forEach((l, k) => {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!h || inCode.has(k)) return;
    const base = slug(h[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  });
  return out;
}

/** The links and images of `text` outside code: { target, line }. */
export function links(text) {
  const out = [];
  prose(text).split('\n').forEach((l, k) => {
    for (const m of l.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], line: k + 1 });
  });
  return out;
}

/** Where a relative link from `page` points: { file (absolute), anchor } (anchor '' when none). */
export function resolveLink(page, target) {
  const hash = target.indexOf('#');
  const file = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? '' : decodeURIComponent(target.slice(hash + 1));
  return { file: file === '' ? path.join(root, page) : path.resolve(path.dirname(path.join(root, page)), decodeURIComponent(file)), anchor };
}

/** True for links that leave the repository (http, https, mailto). */
export const isExternal = (target) => /^[a-z][a-z0-9+.-]*:/i.test(target);
