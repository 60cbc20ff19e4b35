// The `attn` kernels (docs/KERNEL-ABI.md): RoPE, KV-cache append, and causal attention of query rows
// over a KV cache laid out head-major, [kvHead][cap][headDim] (f32, or f16 in the `_f16`
// variants; `cap` = the positions the cache was allocated for), so one head's keys (and values) are
// one contiguous run; with grouped-query heads and an online softmax: positions stream through, and a
// running maximum and sum per head rescale the output accumulated in `out` itself, so nothing of
// length nPos is stored.
import { f32_to_f16, halves_s_to_f32x4 } from '../lib/f16';
import { exp4, expf } from '../lib/math';
import { hmax_f32, hsum_f32 } from '../lib/simd';

// ---- RoPE ----------------------------------------------------------------------------------

/**
 * Rotates one head vector in place with the (cos, sin) pairs at cs. Adjacent pairs (x[2i], x[2i+1])
 * when !neox, halves (x[i], x[i + ropeDim/2]) when neox; dimensions past ropeDim are left alone.
 */
@inline function ropeHead(x: usize, cs: usize, ropeDim: i32, neox: bool): void {
  const half = ropeDim >> 1;
  if (!neox) {
    // four floats = two pairs: x' = x·[c0 c0 c1 c1] + swap(x)·[−s0 s0 −s1 s1]
    const flip = f32x4(-1.0, 1.0, -1.0, 1.0);
    let i = 0;
    for (; i + 2 <= half; i += 2) {
      const p = x + (<usize>i << 3);
      const v = v128.load(p);
      const t = v128.load(cs + (<usize>i << 3));
      const c = v128.shuffle<f32>(t, t, 0, 0, 2, 2);
      const s = f32x4.mul(v128.shuffle<f32>(t, t, 1, 1, 3, 3), flip);
      const sw = v128.shuffle<f32>(v, v, 1, 0, 3, 2);
      v128.store(p, f32x4.add(f32x4.mul(v, c), f32x4.mul(sw, s)));
    }
    for (; i < half; i++) {
      const p = x + (<usize>i << 3);
      const c = load<f32>(cs + (<usize>i << 3));
      const s = load<f32>(cs + (<usize>i << 3), 4);
      const x0 = load<f32>(p);
      const x1 = load<f32>(p, 4);
      store<f32>(p, x0 * c - x1 * s);
      store<f32>(p, x0 * s + x1 * c, 4);
    }
  } else {
    const hb = <usize>half << 2;
    let i = 0;
    for (; i + 4 <= half; i += 4) {
      const p = x + (<usize>i << 2);
      const t0 = v128.load(cs + (<usize>i << 3));
      const t1 = v128.load(cs + (<usize>i << 3), 16);
      const c = v128.shuffle<f32>(t0, t1, 0, 2, 4, 6);
      const s = v128.shuffle<f32>(t0, t1, 1, 3, 5, 7);
      const x0 = v128.load(p);
      const x1 = v128.load(p + hb);
      v128.store(p, f32x4.sub(f32x4.mul(x0, c), f32x4.mul(x1, s)));
      v128.store(p + hb, f32x4.add(f32x4.mul(x0, s), f32x4.mul(x1, c)));
    }
    for (; i < half; i++) {
      const p = x + (<usize>i << 2);
      const c = load<f32>(cs + (<usize>i << 3));
      const s = load<f32>(cs + (<usize>i << 3), 4);
      const x0 = load<f32>(p);
      const x1 = load<f32>(p + hb);
      store<f32>(p, x0 * c - x1 * s);
      store<f32>(p + hb, x0 * s + x1 * c);
    }
  }
}

/**
 * RoPE in place on nTok rows of nHeads·headDim floats; row t uses the ropeDim floats of cs row t:
 * ropeDim/2 pairs (cos θ_i, sin θ_i) for that row's position.
 */
export function rope_many(x: usize, cs: usize, nTok: i32, nHeads: i32, headDim: i32, ropeDim: i32, neox: i32): void {
  const headBytes = <usize>headDim << 2;
  for (let t = 0; t < nTok; t++) {
    const row = x + <usize>t * <usize>nHeads * headBytes;
    const c = cs + (<usize>t * <usize>ropeDim << 2);
    for (let h = 0; h < nHeads; h++) ropeHead(row + <usize>h * headBytes, c, ropeDim, neox != 0);
  }
}

// ---- KV cache append -----------------------------------------------------------------------

/** Byte offset of KV head h's vector at position pos in a head-major cache of `cap` positions. */
@inline function kvAt(h: i32, pos: i32, headDim: i32, cap: i32, eltShift: i32): usize {
  return (<usize>h * <usize>cap + <usize>pos) * <usize>headDim << <usize>eltShift;
}

/**
 * Copies the nKvHeads·headDim floats of src (head h at src + h·headDim floats) to position pos of
 * each head of an f32 cache: head h's vector lands at cache + ((h·cap + pos)·headDim)·4.
 */
export function kv_append_f32(src: usize, cache: usize, pos: i32, nKvHeads: i32, headDim: i32, cap: i32): void {
  for (let h = 0; h < nKvHeads; h++) {
    const s = src + (<usize>h * <usize>headDim << 2);
    const dst = cache + kvAt(h, pos, headDim, cap, 2);
    let i = 0;
    for (; i + 4 <= headDim; i += 4) v128.store(dst + (<usize>i << 2), v128.load(s + (<usize>i << 2)));
    for (; i < headDim; i++) store<f32>(dst + (<usize>i << 2), load<f32>(s + (<usize>i << 2)));
  }
}

/**
 * Stores the nKvHeads·headDim floats of src as halves (round to nearest even, as ggml) at position
 * pos of each head of an f16 cache: head h's vector lands at cache + ((h·cap + pos)·headDim)·2.
 */
export function kv_append_f16(src: usize, cache: usize, pos: i32, nKvHeads: i32, headDim: i32, cap: i32): void {
  for (let h = 0; h < nKvHeads; h++) {
    const s = src + (<usize>h * <usize>headDim << 2);
    const dst = cache + kvAt(h, pos, headDim, cap, 1);
    for (let i = 0; i < headDim; i++) store<u16>(dst + (<usize>i << 1), <u16>f32_to_f16(load<f32>(s + (<usize>i << 2))));
  }
}

// ---- attention -----------------------------------------------------------------------------

/** Four cache elements as an f32x4: T = f32 reads floats, T = u16 reads halves. */
@inline function load4<T>(p: usize): v128 {
  if (sizeof<T>() == 2) return halves_s_to_f32x4(v128.load16x4_s(p));
  return v128.load(p);
}

/** out = out·cv (if rescale) + p0·v0 + p1·v1 + p2·v2 + p3·v3 over headDim elements; v_i are cache rows. */
@inline function addRows4<T>(out: usize, v0: usize, v1: usize, v2: usize, v3: usize, p0: v128, p1: v128, p2: v128, p3: v128,
  headDim: i32, rescale: bool, cv: v128): void {
  const es = sizeof<T>();
  for (let d = 0; d < headDim; d += 4) {
    const po = out + (<usize>d << 2);
    const o = <usize>d * es;
    const sum = f32x4.add(
      f32x4.add(f32x4.mul(p0, load4<T>(v0 + o)), f32x4.mul(p1, load4<T>(v1 + o))),
      f32x4.add(f32x4.mul(p2, load4<T>(v2 + o)), f32x4.mul(p3, load4<T>(v3 + o))),
    );
    v128.store(po, f32x4.add(rescale ? f32x4.mul(v128.load(po), cv) : v128.load(po), sum));
  }
}

/**
 * Attention of one query vector q over positions [0, nPos) of one KV head: k and v point at position
 * 0's vector of that head, positions are `stride` bytes apart (headDim elements: contiguous in the
 * head-major cache). Writes headDim floats to out.
 */
function attendHead<T>(q: usize, k: usize, v: usize, out: usize, stride: usize, headDim: i32, nPos: i32, scale: f32): void {
  const es = sizeof<T>();
  for (let d = 0; d < headDim; d += 4) v128.store(out + (<usize>d << 2), f32x4.splat(0));
  if (nPos <= 0) return;
  let m: f32 = -Infinity; // running max of the scores
  let l: f32 = 0; // running sum of exp(score − m)
  const scv = f32x4.splat(scale);
  for (let t = 0; t < nPos; t += 4) {
    const n = min(4, nPos - t);
    // four scores; rows past nPos reread row t (in bounds) and are masked to −inf below
    const k0 = k + <usize>t * stride;
    const k1 = n > 1 ? k0 + stride : k0;
    const k2 = n > 2 ? k0 + 2 * stride : k0;
    const k3 = n > 3 ? k0 + 3 * stride : k0;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let d = 0; d < headDim; d += 4) {
      const qv = v128.load(q + (<usize>d << 2));
      const o = <usize>d * es;
      a0 = f32x4.add(a0, f32x4.mul(qv, load4<T>(k0 + o)));
      a1 = f32x4.add(a1, f32x4.mul(qv, load4<T>(k1 + o)));
      a2 = f32x4.add(a2, f32x4.mul(qv, load4<T>(k2 + o)));
      a3 = f32x4.add(a3, f32x4.mul(qv, load4<T>(k3 + o)));
    }
    // transpose-add: lane j = Σ lanes of a_j
    const u0 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
    const u1 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
    let s = f32x4.mul(f32x4.add(v128.shuffle<f32>(u0, u1, 0, 1, 4, 5), v128.shuffle<f32>(u0, u1, 2, 3, 6, 7)), scv);
    if (n < 4) {
      const live = i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
      s = v128.bitselect(s, f32x4.splat(-Infinity), live);
    }

    const mNew = max<f32>(m, hmax_f32(s));
    const p = exp4(f32x4.sub(s, f32x4.splat(mNew)));
    const p0 = f32x4.splat(f32x4.extract_lane(p, 0));
    const p1 = f32x4.splat(f32x4.extract_lane(p, 1));
    const p2 = f32x4.splat(f32x4.extract_lane(p, 2));
    const p3 = f32x4.splat(f32x4.extract_lane(p, 3));
    const v0 = v + <usize>t * stride;
    let c: f32 = 1;
    if (mNew > m) {
      c = expf(m - mNew); // 0 on the first block (m = −inf)
      m = mNew;
    }
    l = l * c + hsum_f32(p);
    if (n == 4) {
      const v1 = v0 + stride;
      const v2 = v1 + stride;
      const v3 = v2 + stride;
      // the rescale by c only where the maximum moved (a separate loop: no multiply by 1 in the common case)
      if (c == 1) addRows4<T>(out, v0, v1, v2, v3, p0, p1, p2, p3, headDim, false, f32x4.splat(1));
      else addRows4<T>(out, v0, v1, v2, v3, p0, p1, p2, p3, headDim, true, f32x4.splat(c));
    } else {
      // the last, partial block: rescale, then add the live rows one by one
      if (c != 1) {
        const cv = f32x4.splat(c);
        for (let d = 0; d < headDim; d += 4) {
          const po = out + (<usize>d << 2);
          v128.store(po, f32x4.mul(v128.load(po), cv));
        }
      }
      for (let j = 0; j < n; j++) {
        const pj = j == 0 ? p0 : j == 1 ? p1 : p2;
        const vj = v0 + <usize>j * stride;
        for (let d = 0; d < headDim; d += 4) {
          const po = out + (<usize>d << 2);
          v128.store(po, f32x4.add(v128.load(po), f32x4.mul(pj, load4<T>(vj + <usize>d * es))));
        }
      }
    }
  }
  const lv = f32x4.splat(l);
  for (let d = 0; d < headDim; d += 4) {
    const po = out + (<usize>d << 2);
    v128.store(po, f32x4.div(v128.load(po), lv));
  }
}

/** Lane j of the result is the sum of the four lanes of a_j. */
@inline function transposeAdd(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const u0 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
  const u1 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(u0, u1, 0, 1, 4, 5), v128.shuffle<f32>(u0, u1, 2, 3, 6, 7));
}

/**
 * Attention of g (1 to 4) query heads that share one KV head, two positions a step: each K and V
 * element is loaded (and, for f16, converted) once for all g heads, and the heads' scores, running
 * maxima and sums are the four lanes of one f32x4. Heads are headDim floats apart in q and out.
 * Lanes past g compute a copy of head 0 and are never stored. Each head's arithmetic does not depend
 * on g or on the other lanes (a rescale by exp(0) = 1 is exact), so any split of the heads gives the
 * same bytes.
 */
function attendGroup<T>(q: usize, k: usize, v: usize, out: usize, stride: usize, headDim: i32, nPos: i32, scale: f32, g: i32): void {
  const es = sizeof<T>();
  const hb = <usize>headDim << 2;
  const q1 = g > 1 ? q + hb : q;
  const q2 = g > 2 ? q + 2 * hb : q;
  const q3 = g > 3 ? q + 3 * hb : q;
  for (let d = 0; d < headDim; d += 4) {
    const o = out + (<usize>d << 2);
    v128.store(o, f32x4.splat(0));
    if (g > 1) v128.store(o + hb, f32x4.splat(0));
    if (g > 2) v128.store(o + 2 * hb, f32x4.splat(0));
    if (g > 3) v128.store(o + 3 * hb, f32x4.splat(0));
  }
  if (nPos <= 0) return;
  let m = f32x4.splat(-Infinity); // per head: running max of the scores
  let l = f32x4.splat(0); // per head: running sum of exp(score − m)
  const scv = f32x4.splat(scale);
  for (let t = 0; t < nPos; t += 2) {
    // two positions a step; an odd last position pairs with itself and gets weight 0
    const two = t + 1 < nPos;
    const ka = k + <usize>t * stride;
    const kb = two ? ka + stride : ka;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let b2 = f32x4.splat(0);
    let b3 = f32x4.splat(0);
    for (let d = 0; d < headDim; d += 4) {
      const kva = load4<T>(ka + <usize>d * es);
      const kvb = load4<T>(kb + <usize>d * es);
      const qo = <usize>d << 2;
      const qv0 = v128.load(q + qo);
      const qv1 = v128.load(q1 + qo);
      const qv2 = v128.load(q2 + qo);
      const qv3 = v128.load(q3 + qo);
      a0 = f32x4.add(a0, f32x4.mul(qv0, kva));
      a1 = f32x4.add(a1, f32x4.mul(qv1, kva));
      a2 = f32x4.add(a2, f32x4.mul(qv2, kva));
      a3 = f32x4.add(a3, f32x4.mul(qv3, kva));
      b0 = f32x4.add(b0, f32x4.mul(qv0, kvb));
      b1 = f32x4.add(b1, f32x4.mul(qv1, kvb));
      b2 = f32x4.add(b2, f32x4.mul(qv2, kvb));
      b3 = f32x4.add(b3, f32x4.mul(qv3, kvb));
    }
    const sa = f32x4.mul(transposeAdd(a0, a1, a2, a3), scv);
    let sb = f32x4.mul(transposeAdd(b0, b1, b2, b3), scv);
    if (!two) sb = f32x4.splat(-Infinity);

    const mNew = f32x4.max(m, f32x4.max(sa, sb));
    const pa = exp4(f32x4.sub(sa, mNew));
    const pb = exp4(f32x4.sub(sb, mNew));
    const va = v + <usize>t * stride;
    const vb = two ? va + stride : va;
    const pa0 = f32x4.splat(f32x4.extract_lane(pa, 0));
    const pa1 = f32x4.splat(f32x4.extract_lane(pa, 1));
    const pa2 = f32x4.splat(f32x4.extract_lane(pa, 2));
    const pa3 = f32x4.splat(f32x4.extract_lane(pa, 3));
    const pb0 = f32x4.splat(f32x4.extract_lane(pb, 0));
    const pb1 = f32x4.splat(f32x4.extract_lane(pb, 1));
    const pb2 = f32x4.splat(f32x4.extract_lane(pb, 2));
    const pb3 = f32x4.splat(f32x4.extract_lane(pb, 3));
    if (v128.any_true(f32x4.gt(mNew, m))) {
      // some head has a new maximum: rescale what it has so far (c = 0 on the first step)
      const c = exp4(f32x4.sub(m, mNew));
      m = mNew;
      l = f32x4.add(f32x4.mul(l, c), f32x4.add(pa, pb));
      const c0 = f32x4.splat(f32x4.extract_lane(c, 0));
      const c1 = f32x4.splat(f32x4.extract_lane(c, 1));
      const c2 = f32x4.splat(f32x4.extract_lane(c, 2));
      const c3 = f32x4.splat(f32x4.extract_lane(c, 3));
      for (let d = 0; d < headDim; d += 4) {
        const vo = <usize>d * es;
        const vva = load4<T>(va + vo);
        const vvb = load4<T>(vb + vo);
        const o = out + (<usize>d << 2);
        v128.store(o, f32x4.add(f32x4.mul(v128.load(o), c0), f32x4.add(f32x4.mul(pa0, vva), f32x4.mul(pb0, vvb))));
        if (g > 1) v128.store(o + hb, f32x4.add(f32x4.mul(v128.load(o + hb), c1), f32x4.add(f32x4.mul(pa1, vva), f32x4.mul(pb1, vvb))));
        if (g > 2) v128.store(o + 2 * hb, f32x4.add(f32x4.mul(v128.load(o + 2 * hb), c2), f32x4.add(f32x4.mul(pa2, vva), f32x4.mul(pb2, vvb))));
        if (g > 3) v128.store(o + 3 * hb, f32x4.add(f32x4.mul(v128.load(o + 3 * hb), c3), f32x4.add(f32x4.mul(pa3, vva), f32x4.mul(pb3, vvb))));
      }
    } else {
      l = f32x4.add(l, f32x4.add(pa, pb));
      for (let d = 0; d < headDim; d += 4) {
        const vo = <usize>d * es;
        const vva = load4<T>(va + vo);
        const vvb = load4<T>(vb + vo);
        const o = out + (<usize>d << 2);
        v128.store(o, f32x4.add(v128.load(o), f32x4.add(f32x4.mul(pa0, vva), f32x4.mul(pb0, vvb))));
        if (g > 1) v128.store(o + hb, f32x4.add(v128.load(o + hb), f32x4.add(f32x4.mul(pa1, vva), f32x4.mul(pb1, vvb))));
        if (g > 2) v128.store(o + 2 * hb, f32x4.add(v128.load(o + 2 * hb), f32x4.add(f32x4.mul(pa2, vva), f32x4.mul(pb2, vvb))));
        if (g > 3) v128.store(o + 3 * hb, f32x4.add(v128.load(o + 3 * hb), f32x4.add(f32x4.mul(pa3, vva), f32x4.mul(pb3, vvb))));
      }
    }
  }
  const l0 = f32x4.splat(f32x4.extract_lane(l, 0));
  const l1 = f32x4.splat(f32x4.extract_lane(l, 1));
  const l2 = f32x4.splat(f32x4.extract_lane(l, 2));
  const l3 = f32x4.splat(f32x4.extract_lane(l, 3));
  for (let d = 0; d < headDim; d += 4) {
    const o = out + (<usize>d << 2);
    v128.store(o, f32x4.div(v128.load(o), l0));
    if (g > 1) v128.store(o + hb, f32x4.div(v128.load(o + hb), l1));
    if (g > 2) v128.store(o + 2 * hb, f32x4.div(v128.load(o + 2 * hb), l2));
    if (g > 3) v128.store(o + 3 * hb, f32x4.div(v128.load(o + 3 * hb), l3));
  }
}

/**
 * Query heads [h0, h1) (consecutive in q and out, head h0 at q and out) of one query position over
 * cache positions [first, first + nPos). Without GQA each head streams its KV head alone (attendHead, four
 * positions a block); with GQA (group > 1) the heads of a range that share a KV head go through
 * attendGroup four at a time. The choice depends on the model only, never on the range, so every split
 * of the heads over threads gives the same bytes.
 */
@inline function attendHeads<T>(
  q: usize, kCache: usize, vCache: usize, out: usize,
  group: i32, headDim: i32, first: i32, nPos: i32, cap: i32, scale: f32, h0: i32, h1: i32,
): void {
  const headBytes = <usize>headDim << 2;
  const stride = <usize>headDim * sizeof<T>(); // one position to the next within a head
  let h = h0;
  while (h < h1) {
    const kvh = h / group;
    const kvOff = (<usize>kvh * <usize>cap + <usize>first) * <usize>headDim * sizeof<T>(); // KV head kvh's position `first`
    const qo = <usize>(h - h0) * headBytes;
    if (group == 1) {
      attendHead<T>(q + qo, kCache + kvOff, vCache + kvOff, out + qo, stride, headDim, nPos, scale);
      h++;
    } else {
      const g = min(4, min(h1, (kvh + 1) * group) - h);
      attendGroup<T>(q + qo, kCache + kvOff, vCache + kvOff, out + qo, stride, headDim, nPos, scale, g);
      h += g;
    }
  }
}

/**
 * Causal prefill: work item w = t·nHeads + h, query row t at position p = pos0 + t sees [0, p], or
 * with a window (> 0) the last `window` of those positions, [max(0, p − window + 1), p].
 */
@inline function attentionManyRange<T>(
  q: usize, kCache: usize, vCache: usize, out: usize,
  nTok: i32, pos0: i32, nHeads: i32, nKvHeads: i32, headDim: i32, cap: i32, scale: f32, window: i32, w0: i32, w1: i32,
): void {
  let w = w0;
  while (w < w1) {
    // the items of one query row: heads [h, hEnd) of row t
    const t = w / nHeads;
    const h = w - t * nHeads;
    const hEnd = min(nHeads, h + (w1 - w));
    const qo = <usize>w * <usize>headDim << 2; // row t, head h
    const p = pos0 + t;
    const first = window > 0 ? max(0, p - window + 1) : 0;
    attendHeads<T>(q + qo, kCache, vCache, out + qo, nHeads / nKvHeads, headDim, first, p + 1 - first, cap, scale, h, hEnd);
    w += hEnd - h;
  }
}

/**
 * Causal attention of nTok query rows at positions pos0.. over f32 caches, work items [w0, w1) =
 * t·nHeads + h (decode is one row: nTok 1, pos0 = the new position).
 */
export function attention_many_f32(
  q: usize, kCache: usize, vCache: usize, out: usize,
  nTok: i32, pos0: i32, nHeads: i32, nKvHeads: i32, headDim: i32, cap: i32, scale: f32, w0: i32, w1: i32,
): void {
  attentionManyRange<f32>(q, kCache, vCache, out, nTok, pos0, nHeads, nKvHeads, headDim, cap, scale, 0, w0, w1);
}

/** attention_many_f32 over f16 caches. */
export function attention_many_f16(
  q: usize, kCache: usize, vCache: usize, out: usize,
  nTok: i32, pos0: i32, nHeads: i32, nKvHeads: i32, headDim: i32, cap: i32, scale: f32, w0: i32, w1: i32,
): void {
  attentionManyRange<u16>(q, kCache, vCache, out, nTok, pos0, nHeads, nKvHeads, headDim, cap, scale, 0, w0, w1);
}

/**
 * attention_many_f32 over a sliding window: row t (position p = pos0 + t) sees positions
 * [max(0, p − window + 1), p], the last `window` of them (gemma3's local layers; llama.cpp masks
 * a key at p0 when p − p0 ≥ window). window ≥ 1.
 */
export function attention_window_f32(
  q: usize, kCache: usize, vCache: usize, out: usize,
  nTok: i32, pos0: i32, nHeads: i32, nKvHeads: i32, headDim: i32, cap: i32, scale: f32, window: i32, w0: i32, w1: i32,
): void {
  attentionManyRange<f32>(q, kCache, vCache, out, nTok, pos0, nHeads, nKvHeads, headDim, cap, scale, window, w0, w1);
}

/** attention_window_f32 over f16 caches. */
export function attention_window_f16(
  q: usize, kCache: usize, vCache: usize, out: usize,
  nTok: i32, pos0: i32, nHeads: i32, nKvHeads: i32, headDim: i32, cap: i32, scale: f32, window: i32, w0: i32, w1: i32,
): void {
  attentionManyRange<u16>(q, kCache, vCache, out, nTok, pos0, nHeads, nKvHeads, headDim, cap, scale, window, w0, w1);
}
