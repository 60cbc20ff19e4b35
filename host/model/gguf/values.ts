// GGUF metadata values: the type tags, how each is held in JS, and helpers to make them.
//
// Scalars keep their exact GGUF type so that read -> write reproduces the file byte for byte.
// Numeric arrays are typed arrays (a 32k-entry scores array is one Float32Array, not 32k
// objects); 64-bit integers are bigints; an array of arrays holds GGUFArray values, each with
// its own item type, as in the file.
import { GGUFError } from './errors.js';

export enum GGUFValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export type GGUFNumberType =
  | GGUFValueType.UINT8
  | GGUFValueType.INT8
  | GGUFValueType.UINT16
  | GGUFValueType.INT16
  | GGUFValueType.UINT32
  | GGUFValueType.INT32
  | GGUFValueType.FLOAT32
  | GGUFValueType.FLOAT64;

export type GGUFBigIntType = GGUFValueType.UINT64 | GGUFValueType.INT64;

/** How the items of an array of each item type are held. */
export interface GGUFArrayItemsByType {
  [GGUFValueType.UINT8]: Uint8Array;
  [GGUFValueType.INT8]: Int8Array;
  [GGUFValueType.UINT16]: Uint16Array;
  [GGUFValueType.INT16]: Int16Array;
  [GGUFValueType.UINT32]: Uint32Array;
  [GGUFValueType.INT32]: Int32Array;
  [GGUFValueType.FLOAT32]: Float32Array;
  [GGUFValueType.BOOL]: boolean[];
  [GGUFValueType.STRING]: string[];
  [GGUFValueType.ARRAY]: GGUFArray[];
  [GGUFValueType.UINT64]: BigUint64Array;
  [GGUFValueType.INT64]: BigInt64Array;
  [GGUFValueType.FLOAT64]: Float64Array;
}

export type GGUFArrayItems = GGUFArrayItemsByType[GGUFValueType];

/** An array value; narrowing on itemType narrows value (STRING -> string[], FLOAT32 -> Float32Array ...). */
export type GGUFArray = {
  [K in GGUFValueType]: { type: GGUFValueType.ARRAY; itemType: K; value: GGUFArrayItemsByType[K] };
}[GGUFValueType];

export type GGUFValue =
  | { type: GGUFNumberType; value: number }
  | { type: GGUFBigIntType; value: bigint }
  | { type: GGUFValueType.BOOL; value: boolean }
  | { type: GGUFValueType.STRING; value: string }
  | GGUFArray;

/** Bytes one value of a fixed-size type takes in the file (STRING and ARRAY: their minimum). */
export const VALUE_SIZE: Readonly<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1,
  [GGUFValueType.INT8]: 1,
  [GGUFValueType.UINT16]: 2,
  [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4,
  [GGUFValueType.INT32]: 4,
  [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.BOOL]: 1,
  [GGUFValueType.STRING]: 8, // u64 length, then the bytes
  [GGUFValueType.ARRAY]: 12, // u32 item type, u64 count, then the items
  [GGUFValueType.UINT64]: 8,
  [GGUFValueType.INT64]: 8,
  [GGUFValueType.FLOAT64]: 8,
};

export function isValueType(t: number): t is GGUFValueType {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

/** 'UINT32', or 'unknown type 13'. */
export function valueTypeName(t: number): string {
  return isValueType(t) ? GGUFValueType[t] : `unknown type ${t}`;
}

type TypedArrayCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigUint64ArrayConstructor
  | BigInt64ArrayConstructor;

/** The typed array class that holds items of each numeric type. */
export const TYPED_ARRAY_OF: Partial<Record<GGUFValueType, TypedArrayCtor>> = {
  [GGUFValueType.UINT8]: Uint8Array,
  [GGUFValueType.INT8]: Int8Array,
  [GGUFValueType.UINT16]: Uint16Array,
  [GGUFValueType.INT16]: Int16Array,
  [GGUFValueType.UINT32]: Uint32Array,
  [GGUFValueType.INT32]: Int32Array,
  [GGUFValueType.FLOAT32]: Float32Array,
  [GGUFValueType.FLOAT64]: Float64Array,
  [GGUFValueType.UINT64]: BigUint64Array,
  [GGUFValueType.INT64]: BigInt64Array,
};

/** Inclusive integer range of each integer type held as a number. */
const INT_RANGE: Partial<Record<GGUFValueType, [number, number]>> = {
  [GGUFValueType.UINT8]: [0, 0xff],
  [GGUFValueType.INT8]: [-0x80, 0x7f],
  [GGUFValueType.UINT16]: [0, 0xffff],
  [GGUFValueType.INT16]: [-0x8000, 0x7fff],
  [GGUFValueType.UINT32]: [0, 0xffffffff],
  [GGUFValueType.INT32]: [-0x80000000, 0x7fffffff],
};

const BIGINT_RANGE: Partial<Record<GGUFValueType, [bigint, bigint]>> = {
  [GGUFValueType.UINT64]: [0n, 0xffffffffffffffffn],
  [GGUFValueType.INT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

/**
 * Why `value` cannot be stored as a scalar of `type`, or undefined if it can. Used by the
 * helpers below and by the writer, so a bad value fails with its key instead of wrapping silently.
 */
export function scalarProblem(type: GGUFValueType, value: unknown): string | undefined {
  const name = GGUFValueType[type];
  const intRange = INT_RANGE[type];
  if (intRange) {
    if (typeof value !== 'number' || !Number.isInteger(value)) return `${name} needs an integer, got ${describe(value)}`;
    if (value < intRange[0] || value > intRange[1]) return `${value} is out of the ${name} range [${intRange[0]}, ${intRange[1]}]`;
    return undefined;
  }
  const bigRange = BIGINT_RANGE[type];
  if (bigRange) {
    if (typeof value !== 'bigint') return `${name} needs a bigint, got ${describe(value)}`;
    if (value < bigRange[0] || value > bigRange[1]) return `${value} is out of the ${name} range`;
    return undefined;
  }
  switch (type) {
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64:
      return typeof value === 'number' ? undefined : `${name} needs a number, got ${describe(value)}`;
    case GGUFValueType.BOOL:
      return typeof value === 'boolean' ? undefined : `BOOL needs a boolean, got ${describe(value)}`;
    case GGUFValueType.STRING:
      return typeof value === 'string' ? undefined : `STRING needs a string, got ${describe(value)}`;
    default:
      return `${valueTypeName(type)} is not a scalar type`;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}`;
  return `${typeof value} ${String(value)}`;
}

function scalar<T extends GGUFValue>(type: T['type'], value: T['value']): T {
  const problem = scalarProblem(type, value);
  if (problem) throw new GGUFError('value', `cannot make a ${GGUFValueType[type]} value: ${problem}`);
  return { type, value } as T;
}

type Num<T extends GGUFNumberType> = { type: T; value: number };
type Big<T extends GGUFBigIntType> = { type: T; value: bigint };

/** Makes one array value of itemType from JS values, converting plain arrays to the typed array the reader returns. */
function makeArray<K extends GGUFValueType>(itemType: K, values: ArrayLike<unknown>): Extract<GGUFArray, { itemType: K }> {
  if (!isValueType(itemType)) throw new GGUFError('value', `cannot make an array of ${valueTypeName(itemType)}`);
  const ctor = TYPED_ARRAY_OF[itemType];
  if (ctor && values instanceof ctor) return { type: GGUFValueType.ARRAY, itemType, value: values } as never;
  const items = Array.from(values);
  items.forEach((v, i) => {
    const problem =
      itemType === GGUFValueType.ARRAY
        ? isArrayValue(v) ? undefined : `ARRAY items must be array values (gv.arr(...)), got ${describe(v)}`
        : scalarProblem(itemType, itemType === GGUFValueType.UINT64 || itemType === GGUFValueType.INT64 ? toBigInt(v) : v);
    if (problem) throw new GGUFError('value', `cannot make an array of ${GGUFValueType[itemType]}: item ${i}: ${problem}`);
  });
  let value: GGUFArrayItems;
  if (itemType === GGUFValueType.UINT64) value = BigUint64Array.from(items, (v) => toBigInt(v) as bigint);
  else if (itemType === GGUFValueType.INT64) value = BigInt64Array.from(items, (v) => toBigInt(v) as bigint);
  else if (ctor) value = (ctor as Float64ArrayConstructor).from(items as number[]);
  else value = items as GGUFArrayItems;
  return { type: GGUFValueType.ARRAY, itemType, value } as never;
}

function toBigInt(v: unknown): unknown {
  return typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v;
}

function isArrayValue(v: unknown): v is GGUFArray {
  return typeof v === 'object' && v !== null && (v as GGUFArray).type === GGUFValueType.ARRAY;
}

/** Value constructors: gv.u32(512), gv.str('llama'), gv.arr(GGUFValueType.FLOAT32, scores) ... */
export const gv = {
  u8: (n: number) => scalar<Num<GGUFValueType.UINT8>>(GGUFValueType.UINT8, n),
  i8: (n: number) => scalar<Num<GGUFValueType.INT8>>(GGUFValueType.INT8, n),
  u16: (n: number) => scalar<Num<GGUFValueType.UINT16>>(GGUFValueType.UINT16, n),
  i16: (n: number) => scalar<Num<GGUFValueType.INT16>>(GGUFValueType.INT16, n),
  u32: (n: number) => scalar<Num<GGUFValueType.UINT32>>(GGUFValueType.UINT32, n),
  i32: (n: number) => scalar<Num<GGUFValueType.INT32>>(GGUFValueType.INT32, n),
  /** Rounded to f32 now, so the value equals what a read gives back. */
  f32: (x: number) => scalar<Num<GGUFValueType.FLOAT32>>(GGUFValueType.FLOAT32, Math.fround(x)),
  f64: (x: number) => scalar<Num<GGUFValueType.FLOAT64>>(GGUFValueType.FLOAT64, x),
  u64: (n: bigint | number) => scalar<Big<GGUFValueType.UINT64>>(GGUFValueType.UINT64, toBigInt(n) as bigint),
  i64: (n: bigint | number) => scalar<Big<GGUFValueType.INT64>>(GGUFValueType.INT64, toBigInt(n) as bigint),
  bool: (b: boolean) => scalar<{ type: GGUFValueType.BOOL; value: boolean }>(GGUFValueType.BOOL, b),
  str: (s: string) => scalar<{ type: GGUFValueType.STRING; value: string }>(GGUFValueType.STRING, s),
  /** An array; numeric items may be a typed array of the matching kind (kept, not copied) or plain numbers (validated). */
  arr: makeArray,
};

/** Deep equality of two values, types included (NaN equals NaN, +0 differs from -0 for floats). */
export function valuesEqual(a: GGUFValue, b: GGUFValue): boolean {
  if (a.type !== b.type) return false;
  if (a.type !== GGUFValueType.ARRAY) return Object.is(a.value, b.value);
  const bArr = b as GGUFArray;
  if (a.itemType !== bArr.itemType || a.value.length !== bArr.value.length) return false;
  for (let i = 0; i < a.value.length; i++) {
    const x = a.value[i];
    const y = bArr.value[i];
    if (a.itemType === GGUFValueType.ARRAY) {
      if (!valuesEqual(x as GGUFArray, y as GGUFArray)) return false;
    } else if (!Object.is(x, y)) return false;
  }
  return true;
}
