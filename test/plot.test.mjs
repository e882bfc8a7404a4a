// The SVG line plot: well-formed XML (parsed, not pattern-matched), axes, tick labels, axis
// titles, a legend naming every series, and every drawn point inside the plot frame.
import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { linePlot, linearTicks, formatTick } = require('../dist-apps/plot/svg.js');

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['g', 'line', 'text', 'polyline'].includes(name) });
const text = (t) => (typeof t === 'string' ? t : String(t['#text']));

function parse(svg) {
  expect(XMLValidator.validate(svg)).to.equal(true);
  return parser.parse(svg).svg;
}
const group = (root, cls) => root.g.find((g) => g.class === cls);

describe('plot: linePlot', function () {
  const curve = (f) => Array.from({ length: 50 }, (_, i) => [i * 20, f(i)]);
  const opts = {
    title: 'Adding problem, T = 100 <&>',
    xLabel: 'step', yLabel: 'MSE', logY: true,
    series: [{ name: 'LSTM', points: curve((i) => 0.17 * Math.exp(-i / 8)) }, { name: 'RNN "tanh"', points: curve(() => 0.167) }],
    references: [{ y: 0.167, name: 'predict the mean' }, { y: 0.01, name: 'solved' }],
  };

  it('is valid SVG with axes, tick labels, titles and a legend', function () {
    const svg = parse(linePlot(opts));
    expect(svg.xmlns).to.equal('http://www.w3.org/2000/svg');
    expect(Number(svg.width)).to.be.above(0);
    expect(svg.viewBox).to.equal(`0 0 ${svg.width} ${svg.height}`);
    expect(group(svg, 'axes').line).to.have.length(2);
    const ticks = group(svg, 'ticks').text;
    const yTicks = ticks.filter((t) => t.class === 'tick y').map(text);
    expect(yTicks).to.include.members(['0.001', '0.01', '0.1', '1']); // decades, data spans 1e-3..0.17
    expect(ticks.filter((t) => t.class === 'tick x').map(text)).to.include.members(['0', '1000']);
    const labels = svg.text.map((t) => [t.class, text(t)]);
    expect(labels).to.deep.include(['label x', 'step']);
    expect(labels).to.deep.include(['label y', 'MSE (log scale)']);
    expect(labels).to.deep.include(['title', 'Adding problem, T = 100 <&>']); // escaped in the file, text after parsing
    const legend = group(svg, 'legend').text.map(text);
    expect(legend).to.deep.equal(['LSTM', 'RNN "tanh"', 'predict the mean', 'solved']);
  });

  it('draws one polyline per series, every point inside the frame, log scale monotone', function () {
    const svg = parse(linePlot(opts));
    const lines = group(svg, 'series').polyline;
    expect(lines.map((l) => l['data-name'])).to.deep.equal(['LSTM', 'RNN "tanh"']);
    const [l, r, t, b] = [78, Number(svg.width) - 24, 44, Number(svg.height) - 58];
    const pts = lines[0].points.split(' ').map((p) => p.split(',').map(Number));
    expect(pts).to.have.length(50);
    for (const [x, y] of pts) {
      expect(x).to.be.within(l, r);
      expect(y).to.be.within(t, b);
    }
    // exp decay on a log axis is a straight line: equal y steps
    const dy = pts.slice(1).map((p, i) => p[1] - pts[i][1]);
    for (const d of dy) expect(d).to.be.closeTo(dy[0], 0.02);
  });

  it('skips points a log axis cannot show and rejects a plot with none', function () {
    const svg = parse(linePlot({ xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 'a', points: [[0, 1], [1, 0], [2, NaN], [3, 0.5]] }] }));
    expect(group(svg, 'series').polyline[0].points.split(' ')).to.have.length(2);
    expect(() => linePlot({ xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 'a', points: [[0, 0]] }] })).to.throw(RangeError, /y > 0/);
    expect(() => linePlot({ xLabel: 'x', yLabel: 'y', series: [] })).to.throw(TypeError, /series/);
  });

  it('a linear axis gets 1-2-5 ticks without float noise', function () {
    expect(linearTicks(0, 1)).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(0, 950)).to.deep.equal([0, 200, 400, 600, 800]);
    expect(formatTick(0.1 + 0.2)).to.equal('0.3');
    expect(formatTick(1e-5)).to.equal('1e-5');
    const svg = parse(linePlot({ xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[0, 0.1], [10, 0.7]] }] }));
    expect(group(svg, 'ticks').text.filter((t) => t.class === 'tick y').map(text)).to.deep.equal(['0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7']);
  });

  it('legend: false leaves a series out of the legend; auto puts the box in the corner that hides the fewest points', function () {
    const rows = (svg) => group(svg, 'legend').text.map(text);
    const seeds = { ...opts, series: [...opts.series, { name: 'LSTM', points: curve((i) => 0.2 * Math.exp(-i / 9)), color: '#0072b2', legend: false }] };
    const svg = parse(linePlot(seeds));
    expect(svg.g.find((g) => g.class === 'series').polyline).to.have.length(3);
    expect(rows(svg)).to.deep.equal(['LSTM', 'RNN "tanh"', 'predict the mean', 'solved']);
    const box = (svg) => { const r = group(svg, 'legend').rect; return [Number(r.x), Number(r.y)]; };
    // Lines from the top left to the bottom right: the bottom-left and top-right corners are empty; top-right wins ties.
    const diag = { ...opts, logY: false, references: [], series: [{ name: 'a', points: Array.from({ length: 101 }, (_, i) => [i, 100 - i]) }] };
    const topRight = box(parse(linePlot({ ...diag, legend: 'top-right' })));
    expect(box(parse(linePlot({ ...diag, legend: 'auto' })))).to.deep.equal(topRight);
    // A line along the top: the legend goes to the bottom left.
    const top = { ...diag, series: [{ name: 'a', points: Array.from({ length: 101 }, (_, i) => [i, 90]) }, { name: 'b', points: [[0, 0], [100, 0]] }] };
    expect(box(parse(linePlot({ ...top, legend: 'auto' })))).to.deep.equal(box(parse(linePlot({ ...top, legend: 'bottom-left' }))));
  });
});
