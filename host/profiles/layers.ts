// Layer specs of routing rules: comma-separated items, each `N`, `N-M` (inclusive), `N-` (to the
// last layer), `all`, `even` or `odd`; layers count from 0. The syntax is checked when a profile
// loads; the bounds when a plan is made for a model with a known layer count.

export type LayerItem =
  | { kind: 'all' | 'even' | 'odd' }
  | { kind: 'range'; from: number; to: number | null; text: string };

const ITEM = /^(?:(all|even|odd)|(\d+)(?:\s*(-)\s*(\d*))?)$/;

/** Parses a layer spec; throws an Error whose message says what is wrong with it. */
export function parseLayerSpec(spec: string): LayerItem[] {
  const items: LayerItem[] = [];
  for (const raw of spec.split(',')) {
    const text = raw.trim();
    const m = ITEM.exec(text);
    if (!m) {
      throw new Error(`${JSON.stringify(spec)} is not a layer spec (items like "0-7", "8-", "even", "odd", "all", "0,2,4")`);
    }
    if (m[1]) {
      items.push({ kind: m[1] as 'all' | 'even' | 'odd' });
      continue;
    }
    const from = Number(m[2]);
    const to = m[3] ? (m[4] ? Number(m[4]) : null) : from;
    if (to !== null && to < from) throw new Error(`${JSON.stringify(spec)}: the range ${text} runs backwards`);
    items.push({ kind: 'range', from, to, text });
  }
  return items;
}

/**
 * The layers a spec selects in a model of `nLayers` layers, ascending. Throws when an item reaches
 * past the last layer: a profile that routes layer 40 of a 12-layer model is a mistake to report
 * at load, not a rule to ignore.
 */
export function selectLayers(spec: string, nLayers: number): number[] {
  const picked = new Set<number>();
  for (const item of parseLayerSpec(spec)) {
    if (item.kind === 'range') {
      const last = item.to ?? nLayers - 1;
      if (item.from > nLayers - 1 || last > nLayers - 1) {
        const n = `${nLayers} layer${nLayers === 1 ? '' : 's'}`;
        const what = spec.trim() === item.text ? JSON.stringify(spec) : `${JSON.stringify(spec)} (item ${item.text})`;
        throw new Error(`${what} is past the model's ${n} (${nLayers === 1 ? '0' : `0-${nLayers - 1}`})`);
      }
      for (let l = item.from; l <= last; l++) picked.add(l);
    } else {
      for (let l = 0; l < nLayers; l++) {
        if (item.kind === 'all' || (item.kind === 'even') === (l % 2 === 0)) picked.add(l);
      }
    }
  }
  return [...picked].sort((a, b) => a - b);
}
