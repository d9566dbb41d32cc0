//! Bulk memory in bounded steps: `memory.fill` and `memory.copy` rewritten
//! into loops before a component is compiled.
//!
//! A bulk-memory instruction is one wasm instruction however many bytes it
//! moves. wasmtime charges it fuel per byte and checks fuel and the epoch
//! once, before it starts; nothing is checked inside it. So a single
//! `memory.fill` of 16 MiB of fresh memory runs for milliseconds (faulting
//! in 4,096 pages) with no point at which the call can be paused for short
//! calls (`share.rs`) or stopped at its deadline.
//!
//! So every core module of a component is rewritten before it is compiled:
//! each `memory.fill` and `memory.copy` becomes a call to a function added to
//! the module that does the same work in steps of at most [`STEP_BYTES`].
//! wasmtime checks the epoch before each step and at the loop header between
//! steps, so a long fill can be paused or stopped every 4 KiB like any loop.
//! Fuel stays what it was: each step is charged per byte as before, plus the
//! loop's own dozen instructions per step (under 0.5 %).
//!
//! Semantics are kept exactly:
//! * bounds are checked first; an access out of bounds runs the original
//!   instruction with the original operands, which traps with wasmtime's own
//!   out-of-bounds trap and writes nothing, as the bulk-memory proposal says;
//! * an overlapping `memory.copy` within one memory copies backwards when the
//!   destination lies above the source, so each step reads bytes no earlier
//!   step overwrote (memmove semantics);
//! * 32- and 64-bit memories and custom page sizes are handled; arithmetic is
//!   done in 64 bits, where a 32-bit address cannot overflow and a 64-bit
//!   one is compared without adding.
//!
//! Modules without bulk-memory instructions are passed through byte for byte.
//! The measurement is always of the bytes the publisher shipped: the rewrite
//! is part of how the enclave compiles, deterministic, like compilation
//! itself. Function indices do not change (the helpers are appended after
//! every existing function), so exports, tables and names stay valid.

use std::borrow::Cow;
use std::collections::BTreeMap;

use wasm_encoder::reencode::{self, Reencode, ReencodeComponent};
use wasm_encoder::{
    BlockType, CodeSection, Component, ComponentSectionId, Function, FunctionSection, Instruction,
    InstructionSink, RawSection, TypeSection, ValType,
};
use wasmparser::{Operator, Parser, Payload, TypeRef, Validator, WasmFeatures};

/// Largest number of bytes one step of a rewritten fill or copy moves.
pub(crate) const STEP_BYTES: u32 = 4096;

/// Why a component could not be rewritten (it is then not a valid component).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RewriteError(String);

/// Rewrites every core module of `component` as the module docs say; a
/// component without bulk-memory instructions comes back as it was.
pub(crate) fn meter_component(component: &[u8]) -> Result<Cow<'_, [u8]>, RewriteError> {
    let fail = |e: &dyn std::fmt::Display| RewriteError(format!("rewriting bulk memory: {e}"));
    // The re-encoder expects well-formed input (it slices by the sizes the
    // input declares), so the bytes are validated first; which features the
    // engine accepts is for the compiler to say, afterwards.
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(component)
        .map_err(|e| fail(&e))?;
    if !has_bulk_instructions(component).map_err(|e| fail(&e))? {
        return Ok(Cow::Borrowed(component));
    }
    // Defence in depth: a re-encoder panic on input that validated is a bug
    // in it, and must not take the compile thread's answer with it.
    let rewritten = std::panic::catch_unwind(|| {
        let mut out = Component::new();
        ComponentMeter
            .parse_component(&mut out, Parser::new(0), component)
            .map(|()| out.finish())
    })
    .map_err(|_| RewriteError("rewriting bulk memory: the re-encoder failed".to_owned()))?;
    Ok(Cow::Owned(rewritten.map_err(|e| fail(&e))?))
}

/// Whether any function of any module in `bytes` has a bulk instruction.
fn has_bulk_instructions(bytes: &[u8]) -> Result<bool, wasmparser::BinaryReaderError> {
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::CodeSectionEntry(body) = payload? {
            for op in body.get_operators_reader()? {
                if bulk(&op?).is_some() {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// The bulk instruction `op` is, if it is one.
fn bulk(op: &Operator<'_>) -> Option<Bulk> {
    match *op {
        Operator::MemoryFill { mem } => Some(Bulk::Fill { mem }),
        Operator::MemoryCopy { dst_mem, src_mem } => Some(Bulk::Copy {
            dst: dst_mem,
            src: src_mem,
        }),
        _ => None,
    }
}

/// Rewrites one core module; returns `None` if it has nothing to rewrite.
pub(crate) fn meter_module(module: &[u8]) -> Result<Option<Vec<u8>>, RewriteError> {
    let plan =
        Plan::scan(module).map_err(|e| RewriteError(format!("rewriting bulk memory: {e}")))?;
    if plan.helpers.is_empty() {
        return Ok(None);
    }
    let mut out = wasm_encoder::Module::new();
    reencode::utils::parse_core_module(&mut ModuleMeter(plan), &mut out, Parser::new(0), module)
        .map_err(|e| RewriteError(format!("rewriting bulk memory: {e}")))?;
    Ok(Some(out.finish()))
}

/// The component layer: passes everything through except core modules.
struct ComponentMeter;

impl Reencode for ComponentMeter {
    type Error = String;
}

impl ReencodeComponent for ComponentMeter {
    fn parse_component_submodule(
        &mut self,
        component: &mut Component,
        _parser: Parser,
        module: &[u8],
    ) -> Result<(), reencode::Error<String>> {
        match meter_module(module).map_err(|e| reencode::Error::UserError(e.0))? {
            Some(rewritten) => component.section(&RawSection {
                id: ComponentSectionId::CoreModule as u8,
                data: &rewritten,
            }),
            None => component.section(&RawSection {
                id: ComponentSectionId::CoreModule as u8,
                data: module,
            }),
        };
        Ok(())
    }
}

/// A memory as the helpers need to know it.
#[derive(Debug, Clone, Copy)]
struct Memory {
    is64: bool,
    page_shift: u32,
}

impl From<wasmparser::MemoryType> for Memory {
    fn from(ty: wasmparser::MemoryType) -> Self {
        Self {
            is64: ty.memory64,
            page_shift: ty.page_size_log2.unwrap_or(16),
        }
    }
}

/// An instruction a helper replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bulk {
    Fill { mem: u32 },
    Copy { dst: u32, src: u32 },
}

/// What one module needs: its memories, where new types and functions go,
/// and one helper per distinct bulk instruction.
#[derive(Debug, Default)]
struct Plan {
    memories: Vec<Memory>,
    types: u32,
    functions: u32,
    /// Helper function index (relative to the first helper) per instruction.
    helpers: BTreeMap<Bulk, u32>,
}

impl Plan {
    fn scan(module: &[u8]) -> Result<Self, wasmparser::BinaryReaderError> {
        let mut plan = Self::default();
        for payload in Parser::new(0).parse_all(module) {
            match payload? {
                Payload::TypeSection(types) => {
                    for group in types {
                        plan.types += u32::try_from(group?.types().len()).unwrap_or(u32::MAX);
                    }
                }
                Payload::ImportSection(imports) => {
                    for import in imports.into_imports() {
                        match import?.ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_) => plan.functions += 1,
                            TypeRef::Memory(ty) => plan.memories.push(ty.into()),
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(functions) => plan.functions += functions.count(),
                Payload::MemorySection(memories) => {
                    for ty in memories {
                        plan.memories.push(ty?.into());
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    for op in body.get_operators_reader()? {
                        if let Some(bulk) = bulk(&op?) {
                            let next = u32::try_from(plan.helpers.len()).unwrap_or(u32::MAX);
                            plan.helpers.entry(bulk).or_insert(next);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(plan)
    }

    fn memory(&self, index: u32) -> Result<Memory, String> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.memories.get(i))
            .copied()
            .ok_or_else(|| {
                format!("bulk-memory instruction names memory {index}, which does not exist")
            })
    }

    /// The helpers in the order they are appended.
    fn in_order(&self) -> Vec<Bulk> {
        let mut helpers: Vec<_> = self.helpers.iter().map(|(b, i)| (*i, *b)).collect();
        helpers.sort_unstable();
        helpers.into_iter().map(|(_, b)| b).collect()
    }

    /// Parameter types of the helper for `bulk`: the operands of the
    /// instruction it replaces.
    fn params(&self, bulk: Bulk) -> Result<[ValType; 3], String> {
        let addr = |m: Memory| if m.is64 { ValType::I64 } else { ValType::I32 };
        Ok(match bulk {
            Bulk::Fill { mem } => {
                let m = self.memory(mem)?;
                [addr(m), ValType::I32, addr(m)]
            }
            Bulk::Copy { dst, src } => {
                let (d, s) = (self.memory(dst)?, self.memory(src)?);
                let len = if d.is64 && s.is64 {
                    ValType::I64
                } else {
                    ValType::I32
                };
                [addr(d), addr(s), len]
            }
        })
    }
}

/// The module layer: appends the helpers and redirects the instructions.
struct ModuleMeter(Plan);

impl Reencode for ModuleMeter {
    type Error = String;

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        reencode::utils::parse_type_section(self, types, section)?;
        for bulk in self.0.in_order() {
            let params = self.0.params(bulk).map_err(reencode::Error::UserError)?;
            types.ty().function(params, []);
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        reencode::utils::parse_function_section(self, functions, section)?;
        for (i, _) in self.0.in_order().iter().enumerate() {
            functions.function(self.0.types + u32::try_from(i).unwrap_or(u32::MAX));
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        reencode::utils::parse_code_section(self, code, section)?;
        for bulk in self.0.in_order() {
            code.function(&helper(&self.0, bulk).map_err(reencode::Error::UserError)?);
        }
        Ok(())
    }

    fn instruction<'a>(
        &mut self,
        op: Operator<'a>,
    ) -> Result<Instruction<'a>, reencode::Error<String>> {
        let Some(bulk) = bulk(&op) else {
            return reencode::utils::instruction(self, op);
        };
        let index = self.0.helpers.get(&bulk).ok_or_else(|| {
            reencode::Error::UserError("a bulk-memory instruction the scan missed".to_owned())
        })?;
        Ok(Instruction::Call(self.0.functions + index))
    }
}

/// Locals of a helper beyond its three parameters, all `i64`.
const DST: u32 = 3;
const SRC: u32 = 4;
const LEN: u32 = 5;
const DST_END: u32 = 6;
const SRC_END: u32 = 7;

/// The body of the helper for `bulk` (see the module docs).
fn helper(plan: &Plan, bulk: Bulk) -> Result<Function, String> {
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
    let step_args = |s: &mut InstructionSink<'_>| {
        narrow(s.local_get(DST), d.is64);
        narrow(s.local_get(SRC), r.is64);
        constant(s, STEP_BYTES, len64).memory_copy(dst, src);
    };
    if dst == src {
        // Backwards: the destination lies above the source.
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
    step_args(s);
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

#[cfg(test)]
mod tests;
