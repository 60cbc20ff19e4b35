// Recognising native code by its first bytes, so a bundle carries only what its target can load:
// ELF objects for the target's machine stay; ELF for another machine, Mach-O and PE are left out.
import { closeSync, openSync, readSync } from 'node:fs';

export type NativeKind =
  | { kind: 'elf'; machine: number }
  | { kind: 'macho' }
  | { kind: 'pe' };

const ELF_MAGIC = 0x7f454c46; // "\x7fELF"
const MACHO_MAGICS = new Set([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe]);
const MACHO_FAT = 0xcafebabe; // also a Java class file's magic: trusted only with a native file name
const NATIVE_NAME = /\.(node|so(\.\d+)*|dylib|dll|exe)$/;

/** ELF machine numbers we name in messages. */
export const ELF_MACHINES = new Map<number, string>([
  [0x03, 'x86'],
  [0x28, 'arm'],
  [0x3e, 'x86-64'],
  [0xb7, 'aarch64'],
  [0xf3, 'riscv'],
]);

/** What native code the bytes at the start of a file are, or undefined for anything else. */
export function nativeKindOf(head: Buffer, name: string): NativeKind | undefined {
  if (head.length < 4) return undefined;
  const magic = head.readUInt32BE(0);
  if (magic === ELF_MAGIC) {
    if (head.length < 20) return undefined;
    // e_machine at offset 18, in the byte order EI_DATA (offset 5) names: 1 little, 2 big endian
    return { kind: 'elf', machine: head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18) };
  }
  if (MACHO_MAGICS.has(magic)) return { kind: 'macho' };
  if (magic === MACHO_FAT && NATIVE_NAME.test(name)) return { kind: 'macho' };
  if (head[0] === 0x4d && head[1] === 0x5a && NATIVE_NAME.test(name)) return { kind: 'pe' }; // "MZ"
  return undefined;
}

/** Reads a file's first 64 bytes and classifies them. */
export function nativeKindOfFile(path: string): NativeKind | undefined {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    const n = readSync(fd, head, 0, head.length, 0);
    return nativeKindOf(head.subarray(0, n), path);
  } finally {
    closeSync(fd);
  }
}

export function describeNative(k: NativeKind): string {
  if (k.kind === 'elf') return `ELF ${ELF_MACHINES.get(k.machine) ?? `machine 0x${k.machine.toString(16)}`}`;
  return k.kind === 'macho' ? 'Mach-O (macOS)' : 'PE (Windows)';
}
