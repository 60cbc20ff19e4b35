// The few WASI calls a kernel module's `_start` self-test needs, and nothing else: when serving,
// the host satisfies these imports with stubs that grant nothing.

@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: i32, iovs: usize, iovsLen: i32, nwritten: usize): i32;

@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: i32): void;

/** Scratch memory for self-tests: far above every family's static data and below nothing the host owns
 *  (a self-test only runs in a fresh memory of its own). */
export const SELFTEST_BASE: usize = 1 << 20;

let failures: i32 = 0;
let checks: i32 = 0;

/** Makes sure the memory reaches `end` bytes (a standalone run starts with the declared initial size). */
export function ensureMemory(end: usize): void {
  const have = <usize>memory.size() << 16;
  if (end > have) memory.grow(<i32>((end - have + 0xffff) >> 16));
}

export function print(s: string): void {
  const buf = SELFTEST_BASE - 4096;
  const len = String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, buf + 16);
  store<u32>(buf, <u32>(buf + 16));
  store<u32>(buf + 4, <u32>len);
  fd_write(1, buf, 1, buf + 8);
}

export function check(ok: bool, what: string): void {
  checks++;
  if (!ok) {
    failures++;
    print("FAIL " + what + "\n");
  }
}

/** Prints `<family>: N checks, M failed` and exits non-zero when anything failed. */
export function finish(family: string): void {
  print(family + ": " + checks.toString() + " checks, " + failures.toString() + " failed\n");
  proc_exit(failures == 0 ? 0 : 1);
}
