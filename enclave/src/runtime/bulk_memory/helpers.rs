//! The bodies of the added functions: a bounds check, then a loop of steps
//! of at most [`STEP_BYTES`], all arithmetic in `i64`.

use wasm_encoder::{BlockType, Function, InstructionSink, ValType};

use super::{Bulk, Memory, Plan, STEP_BYTES};

/// Locals of a helper beyond its three parameters, all `i64`.
const DST: u32 = 3;
const SRC: u32 = 4;
const LEN: u32 = 5;
const DST_END: u32 = 6;
const SRC_END: u32 = 7;

/// The body of the helper for `bulk` (see the module docs).
pub(super) fn helper(plan: &Plan, bulk: Bulk) -> Result<Function, String> {
    let mut f = Function::new([(5, ValType::I64)]);
    let mut s = f.instructions();
    let step = i64::from(STEP_BYTES);
    match bulk {
        Bulk::Fill { mem } => {
            let m = plan.memory(mem)?;
            widen(&mut s, 0, m.is64).local_set(DST);
            widen(&mut s, 2, m.is64).local_set(LEN);
            size_in_bytes(&mut s, mem, m).local_set(DST_END);
            out_of_bounds(&mut s, DST, DST_END).if_(BlockType::Empty);
            s.local_get(0)
                .local_get(1)
                .local_get(2)
                .memory_fill(mem)
                .return_()
                .end();
            s.block(BlockType::Empty).loop_(BlockType::Empty);
            s.local_get(LEN).i64_const(step).i64_le_u().br_if(1);
            narrow(s.local_get(DST), m.is64).local_get(1);
            constant(&mut s, STEP_BYTES, m.is64).memory_fill(mem);
            advance(&mut s, DST, step);
            advance(&mut s, LEN, -step).br(0).end().end();
            narrow(s.local_get(DST), m.is64).local_get(1);
            narrow(s.local_get(LEN), m.is64).memory_fill(mem);
        }
        Bulk::Copy { dst, src } => copy(&mut s, plan, dst, src)?,
    }
    s.end();
    Ok(f)
}

/// `memory.copy` in steps: forwards, or backwards when it overlaps upwards.
fn copy(s: &mut InstructionSink<'_>, plan: &Plan, dst: u32, src: u32) -> Result<(), String> {
    let (d, r) = (plan.memory(dst)?, plan.memory(src)?);
    let len64 = d.is64 && r.is64;
    let step = i64::from(STEP_BYTES);
    widen(s, 0, d.is64).local_set(DST);
    widen(s, 1, r.is64).local_set(SRC);
    widen(s, 2, len64).local_set(LEN);
    size_in_bytes(s, dst, d).local_set(DST_END);
    size_in_bytes(s, src, r).local_set(SRC_END);
    out_of_bounds(s, DST, DST_END);
    out_of_bounds(s, SRC, SRC_END)
        .i32_or()
        .if_(BlockType::Empty);
    s.local_get(0)
        .local_get(1)
        .local_get(2)
        .memory_copy(dst, src)
        .return_()
        .end();
    {
        // Backwards when the destination lies above the source, whatever the
        // memory indices: two indices may name one memory (a module can
        // import the same memory twice).
        s.local_get(DST)
            .local_get(SRC)
            .i64_gt_u()
            .if_(BlockType::Empty);
        s.block(BlockType::Empty).loop_(BlockType::Empty);
        s.local_get(LEN).i64_const(step).i64_le_u().br_if(1);
        // The top step: from SRC + LEN - step to DST + LEN - step.
        advance(s, LEN, -step);
        narrow(s.local_get(DST).local_get(LEN).i64_add(), d.is64);
        narrow(s.local_get(SRC).local_get(LEN).i64_add(), r.is64);
        constant(s, STEP_BYTES, len64).memory_copy(dst, src);
        s.br(0).end().end();
        last_copy(s, dst, src, d.is64, r.is64, len64);
        s.return_().end();
    }
    s.block(BlockType::Empty).loop_(BlockType::Empty);
    s.local_get(LEN).i64_const(step).i64_le_u().br_if(1);
    narrow(s.local_get(DST), d.is64);
    narrow(s.local_get(SRC), r.is64);
    constant(s, STEP_BYTES, len64).memory_copy(dst, src);
    advance(s, DST, step);
    advance(s, SRC, step);
    advance(s, LEN, -step).br(0).end().end();
    last_copy(s, dst, src, d.is64, r.is64, len64);
    Ok(())
}

fn last_copy(s: &mut InstructionSink<'_>, dst: u32, src: u32, d64: bool, s64: bool, len64: bool) {
    narrow(s.local_get(DST), d64);
    narrow(s.local_get(SRC), s64);
    narrow(s.local_get(LEN), len64).memory_copy(dst, src);
}

/// Pushes parameter `param` as an unsigned `i64`.
fn widen<'s, 'a>(
    s: &'s mut InstructionSink<'a>,
    param: u32,
    is64: bool,
) -> &'s mut InstructionSink<'a> {
    s.local_get(param);
    if !is64 {
        s.i64_extend_i32_u();
    }
    s
}

/// Turns the `i64` on the stack back into an address of a 32-bit memory.
fn narrow<'s, 'a>(s: &'s mut InstructionSink<'a>, is64: bool) -> &'s mut InstructionSink<'a> {
    if !is64 {
        s.i32_wrap_i64();
    }
    s
}

fn constant<'s, 'a>(
    s: &'s mut InstructionSink<'a>,
    value: u32,
    is64: bool,
) -> &'s mut InstructionSink<'a> {
    if is64 {
        s.i64_const(i64::from(value))
    } else {
        s.i32_const(i32::try_from(value).unwrap_or(i32::MAX))
    }
}

/// Pushes the byte size of memory `mem` as an `i64`.
fn size_in_bytes<'s, 'a>(
    s: &'s mut InstructionSink<'a>,
    mem: u32,
    m: Memory,
) -> &'s mut InstructionSink<'a> {
    s.memory_size(mem);
    if !m.is64 {
        s.i64_extend_i32_u();
    }
    s.i64_const(i64::from(m.page_shift)).i64_shl()
}

/// Pushes whether `[addr, addr + LEN)` leaves `[0, end)`, without overflow:
/// `addr > end || LEN > end - addr`.
fn out_of_bounds<'s, 'a>(
    s: &'s mut InstructionSink<'a>,
    addr: u32,
    end: u32,
) -> &'s mut InstructionSink<'a> {
    s.local_get(addr).local_get(end).i64_gt_u();
    s.local_get(LEN)
        .local_get(end)
        .local_get(addr)
        .i64_sub()
        .i64_gt_u();
    s.i32_or()
}

fn advance<'s, 'a>(
    s: &'s mut InstructionSink<'a>,
    local: u32,
    by: i64,
) -> &'s mut InstructionSink<'a> {
    s.local_get(local).i64_const(by).i64_add().local_set(local)
}
