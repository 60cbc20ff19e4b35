// "Did you mean …?": the nearest of a few known words by edit distance, for typos in option and
// command names.

/** Levenshtein distance with adjacent transpositions (optimal string alignment): "tmep" is 1 from "temp". */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known word nearest to `word`, if it is close enough to be a likely typo: within 2 edits
 * (1 for words of up to 4 letters), or a word that starts with it (`--thr` → `--threads`).
 * Ties go to the earlier word in `known`.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(w, k.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [k, dist];
  }
  const core = w.replace(/^-+/, '');
  const limit = core.length <= 4 ? 1 : 2;
  if (best !== undefined && bestDistance <= limit && bestDistance < core.length) return best;
  if (core.length >= 3) return known.find((k) => k.toLowerCase().startsWith(w) && k.length > w.length);
  return undefined;
}
