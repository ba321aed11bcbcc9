"""Read and write the x86-64 SSE control register (MXCSR) of the calling thread.

NumPy and Numba have no call for it, and Python none either, so two LLVM intrinsics do it
(`llvm.x86.sse.stmxcsr` stores the register, `llvm.x86.sse.ldmxcsr` loads it), wrapped in
Numba functions. `scratch._denormals` uses them to switch the flush-to-zero (FTZ, bit 15)
and denormals-are-zero (DAZ, bit 6) modes around the engine's work. x86-64 only: the module
is imported only where `platform.machine()` says x86-64.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_VOID_OF_POINTER = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])


def _call_with_slot(builder, name: str, slot) -> None:
    """Call the intrinsic `name` (it takes the address of a 32-bit slot)."""
    function = cgutils.get_or_insert_function(builder.module, _VOID_OF_POINTER, name)
    builder.call(function, [builder.bitcast(slot, ir.IntType(8).as_pointer())])


@intrinsic
def _stmxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, _I32)
        _call_with_slot(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)
    return types.uint32(), codegen


@intrinsic
def _ldmxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, _I32)
        builder.store(args[0], slot)
        _call_with_slot(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()
    return types.none(types.uint32), codegen


@njit(cache=True)
def get_mxcsr():
    """This thread's MXCSR (uint32)."""
    return _stmxcsr()


@njit(cache=True)
def set_mxcsr(value):
    """Load `value` (uint32) into this thread's MXCSR."""
    _ldmxcsr(value)
