#!/usr/bin/env python3
"""Golden data for wisp's ggml type table (test/ggml-types.test.ts), made with gguf-py.

For each type with a JS reference dequantizer it writes deterministic random *valid* blocks
(random bytes, with every f16 scale replaced by a finite, moderate half) and what
gguf.quants.dequantize() makes of them; plus f32 -> f16 and f32 -> bf16 conversions made with
gguf.quants.quantize(), which mirror ggml's rounding. The test reads only these files, so it
needs no Python.

    pip install gguf numpy        # made with gguf 0.19
    python3 scripts/golden/dequant_goldens.py [out_dir]   # default test/golden/dequant

Files (all little-endian): <name>.in.bin (block bytes / f32 or u16 inputs), <name>.out.bin
(f32 values / u16 bits), and manifest.json describing them.
"""
import json
import os
import sys
from importlib.metadata import version

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

SEED = 20240601
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden', 'dequant')

# Byte offsets of the f16 fields in each block (ggml-common.h layouts).
HALF_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],   # scales[16] qs[64] d dmin
    T.Q3_K: [108],      # hmask[32] qs[64] scales[12] d
    T.Q4_K: [0, 2],     # d dmin scales[12] qs[128]
    T.Q5_K: [0, 2],     # d dmin scales[12] qh[32] qs[128]
    T.Q6_K: [208],      # ql[128] qh[64] scales[16] d
}
N_ELEMENTS = 1024  # per type: 32 blocks of 32 or 4 super-blocks of 256


def moderate_halves(rng, n):
    """Finite halves: mostly +-[2^-10, 4), some zeros and subnormals."""
    mag = np.exp2(rng.uniform(-10, 2, n)) * rng.choice([-1.0, 1.0], n)
    h = mag.astype(np.float16)
    special = rng.random(n)
    h[special < 0.05] = np.float16(0.0)
    sub = special > 0.95
    h[sub] = (rng.integers(1, 1024, sub.sum()).astype(np.uint16)).view(np.float16)
    return h


def quant_blocks(rng, qtype):
    block, size = GGML_QUANT_SIZES[qtype]
    n_blocks = N_ELEMENTS // block
    data = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        data[:, off:off + 2] = moderate_halves(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return data.reshape(-1)


def all_kinds_of_halves(rng, n):
    """Half bit patterns of every kind: random, plus zeros, subnormals, max, infinities, NaNs."""
    bits = rng.integers(0, 65536, n, dtype=np.uint32).astype(np.uint16)
    edges = [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7c01, 0x7e00, 0xfe00, 0x7fff, 0x3c00]
    bits[:len(edges)] = edges
    return bits


def f32_inputs_for_f16(rng, n):
    """f32 values that exercise half rounding: ties, subnormal and overflow boundaries, random."""
    # Random values across (and a little beyond) the half range.
    vals = (np.exp2(rng.uniform(-27, 17, n)) * rng.choice([-1.0, 1.0], n)).astype(np.float32)
    # Exact midpoints between adjacent finite halves (ties), and values just off them.
    h = rng.integers(0, 0x7bff, n // 4, dtype=np.uint32).astype(np.uint16)
    lo = h.view(np.float16).astype(np.float32)
    hi = (h + 1).view(np.float16).astype(np.float32)
    mid = ((lo.astype(np.float64) + hi.astype(np.float64)) / 2).astype(np.float32)
    vals[: n // 4] = mid
    vals[n // 4: n // 2] = np.nextafter(mid, np.float32(np.inf))
    vals[n // 2: n // 2 + 32] = np.nextafter(mid[:32], np.float32(0))
    edges = np.array([0.0, -0.0, 65504.0, 65519.996, 65520.0, -65520.0, 1e10, np.inf, -np.inf,
                      2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 2.0**-26, 2.0**-14, 2.0**-14 * (1 - 2**-11),
                      5.960464477539063e-08, 1e-45, 1.0, -1.0, 0.1, 1 / 3],
                     dtype=np.float32)
    vals[-len(edges):] = edges
    return vals


def f32_inputs_for_bf16(rng, n):
    """Random f32 bit patterns (NaNs included), ties at bf16 midpoints, and edges."""
    bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    ties = rng.integers(0, 2**32, n // 4, dtype=np.uint64).astype(np.uint32)
    bits[: n // 4] = (ties & 0xFFFF0000) | 0x8000
    edges = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7F7FFFFF, 0x7F7F8000, 0x7FC00000,
                      0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x3F808000, 0x3F818000, 0x00000001],
                     dtype=np.uint32)
    bits[-len(edges):] = edges
    return bits.view(np.float32)


def write(name, arr):
    path = os.path.join(OUT, name)
    np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tofile(path)
    return name


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    cases = []

    halves = all_kinds_of_halves(rng, 2048)
    cases.append({'type': 'f16', 'id': int(T.F16), 'nElements': 2048,
                  'in': write('f16.in.bin', halves),
                  'out': write('f16.out.bin', dequantize(halves.view(np.uint8), T.F16).astype(np.float32))})
    bf = rng.integers(0, 65536, 2048, dtype=np.uint32).astype(np.uint16)
    cases.append({'type': 'bf16', 'id': int(T.BF16), 'nElements': 2048,
                  'in': write('bf16.in.bin', bf),
                  'out': write('bf16.out.bin', dequantize(bf.view(np.uint8), T.BF16).astype(np.float32))})

    for qtype in HALF_FIELDS:
        blocks = quant_blocks(rng, qtype)
        out = dequantize(blocks, qtype).astype(np.float32).reshape(-1)
        assert np.isfinite(out).all(), qtype.name
        name = qtype.name.lower().replace('_k', '_K')
        cases.append({'type': name, 'id': int(qtype), 'nElements': N_ELEMENTS,
                      'in': write(f'{name}.in.bin', blocks), 'out': write(f'{name}.out.bin', out)})

    f16_in = f32_inputs_for_f16(rng, 2048)
    bf16_in = f32_inputs_for_bf16(rng, 2048)
    with np.errstate(over='ignore'):  # some inputs overflow to infinity on purpose
        f16_out = quantize(f16_in, T.F16).view(np.uint16)
    conversions = [
        {'name': 'f32_to_f16', 'count': len(f16_in), 'in': write('f32_to_f16.in.bin', f16_in),
         'out': write('f32_to_f16.out.bin', f16_out)},
        {'name': 'f32_to_bf16', 'count': len(bf16_in), 'in': write('f32_to_bf16.in.bin', bf16_in),
         'out': write('f32_to_bf16.out.bin', quantize(bf16_in, T.BF16).view(np.uint16))},
    ]

    manifest = {
        'made_by': 'scripts/golden/dequant_goldens.py',
        'gguf': version('gguf'),
        'numpy': np.__version__,
        'seed': SEED,
        'dequantize': cases,
        'conversions': conversions,
        # gguf-py's (block size, type size) table, to cross-check wisp's.
        'quant_sizes': {t.name: list(GGML_QUANT_SIZES[t]) for t in GGML_QUANT_SIZES},
    }
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f'wrote {len(cases)} dequantize cases and {len(conversions)} conversions to {OUT} ({total} bytes)')


if __name__ == '__main__':
    main()
