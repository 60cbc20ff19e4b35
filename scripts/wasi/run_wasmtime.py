#!/usr/bin/env python3
"""Runs a wisp kernel module's `_start` self-test under wasmtime (the Python binding), with the
shared `env.memory` the module imports, as any WASI runtime with threads would provide it.

usage: run_wasmtime.py KERNEL.wasm   (exit code = the module's)
"""
import sys

import wasmtime
from wasmtime import _ffi as ffi

# wasmtime-py 49: SharedMemory._as_extern wraps its pointer in a second ctypes.pointer, so
# defining a shared memory import fails; pass the pointer itself.
wasmtime.SharedMemory._as_extern = lambda self: ffi.wasmtime_extern_t(
    ffi.WASMTIME_EXTERN_SHAREDMEMORY, ffi.wasmtime_extern_union(sharedmemory=self.ptr()))


def main(path: str) -> int:
    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    config.wasm_simd = True
    # the relaxed flavours' modules; deterministic: the same results on every CPU
    config.wasm_relaxed_simd = True
    config.wasm_relaxed_simd_deterministic = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, path)
    for imp in module.imports:
        if imp.module == "env" and imp.name == "memory":
            limits = imp.type.limits
            memory = wasmtime.SharedMemory(engine, wasmtime.MemoryType(wasmtime.Limits(limits.min, limits.max), shared=True))
            linker.define(store, "env", "memory", memory)
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
