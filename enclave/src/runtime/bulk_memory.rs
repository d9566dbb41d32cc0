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
//! A bulk instruction whose length is a constant of at most [`STEP_BYTES`]
//! pushed right before it is one step already and is left as it is (wasmtime
//! compiles short constant copies inline).
//!
//! Semantics are kept exactly:
//! * bounds are checked first; an access out of bounds runs the original
//!   instruction with the original operands, which traps with wasmtime's own
//!   out-of-bounds trap and writes nothing, as the bulk-memory proposal says;
//! * a `memory.copy` copies backwards when the destination lies above the
//!   source, so where the two overlap each step reads bytes no earlier step
//!   overwrote (memmove semantics), also when two memory indices name one
//!   memory;
//! * one difference: running out of fuel half-way through a long fill or
//!   copy leaves the steps already done written, where the instruction
//!   would have trapped before writing anything. Nothing can observe it:
//!   a trap ends the call and its instance is thrown away.
//! * 32- and 64-bit memories and custom page sizes are handled; arithmetic is
//!   done in 64 bits, where a 32-bit address cannot overflow and a 64-bit
//!   one is compared without adding.
//!
//! A component without bulk-memory instructions is passed through byte for
//! byte; otherwise it is re-encoded, and each of its modules without them is
//! copied unchanged. Components nested deeper than [`MAX_NESTING`] are
//! refused: re-encoding recurses once per level.
//! The measurement is always of the bytes the publisher shipped: the rewrite
//! is part of how the enclave compiles, deterministic, like compilation
//! itself. Function indices do not change (the helpers are appended after
//! every existing function), so exports, tables and names stay valid.

use std::borrow::Cow;
use std::collections::BTreeMap;

use wasm_encoder::reencode::{self, Reencode, ReencodeComponent};
use wasm_encoder::{
    CodeSection, Component, ComponentSectionId, FunctionSection, Instruction, RawSection,
    TypeSection, ValType,
};
use wasmparser::{Operator, Parser, Payload, TypeRef, Validator, WasmFeatures};

/// Deepest nesting of components and modules the rewrite accepts (a Rust
/// plugin has two levels).
pub(crate) const MAX_NESTING: usize = 32;

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
/// Also refuses components nested deeper than [`MAX_NESTING`].
fn has_bulk_instructions(bytes: &[u8]) -> Result<bool, String> {
    let mut depth = 0_usize;
    let mut found = false;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "components nested deeper than {MAX_NESTING} levels"
                    ));
                }
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CodeSectionEntry(body) if !found => {
                let mut after_small = false;
                for op in body.get_operators_reader().map_err(|e| e.to_string())? {
                    let op = op.map_err(|e| e.to_string())?;
                    found |= !after_small && bulk(&op).is_some();
                    after_small = is_small_length(&op);
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Whether `op` pushes a constant of at most [`STEP_BYTES`]: right before a
/// bulk instruction, that constant is its length, and the instruction is
/// left alone (it is one step already, and wasmtime inlines short constant
/// copies).
fn is_small_length(op: &Operator<'_>) -> bool {
    match *op {
        Operator::I32Const { value } => u32::try_from(value).is_ok_and(|v| v <= STEP_BYTES),
        Operator::I64Const { value } => {
            u64::try_from(value).is_ok_and(|v| v <= u64::from(STEP_BYTES))
        }
        _ => false,
    }
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
    reencode::utils::parse_core_module(
        &mut ModuleMeter {
            plan,
            after_small: false,
        },
        &mut out,
        Parser::new(0),
        module,
    )
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
                    let mut after_small = false;
                    for op in body.get_operators_reader()? {
                        let op = op?;
                        if let Some(bulk) = bulk(&op).filter(|_| !after_small) {
                            let next = u32::try_from(plan.helpers.len()).unwrap_or(u32::MAX);
                            plan.helpers.entry(bulk).or_insert(next);
                        }
                        after_small = is_small_length(&op);
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
struct ModuleMeter {
    plan: Plan,
    /// Whether the previous instruction was a small constant length.
    after_small: bool,
}

impl Reencode for ModuleMeter {
    type Error = String;

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        reencode::utils::parse_type_section(self, types, section)?;
        for bulk in self.plan.in_order() {
            let params = self.plan.params(bulk).map_err(reencode::Error::UserError)?;
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
        for (i, _) in self.plan.in_order().iter().enumerate() {
            functions.function(self.plan.types + u32::try_from(i).unwrap_or(u32::MAX));
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        reencode::utils::parse_code_section(self, code, section)?;
        for bulk in self.plan.in_order() {
            code.function(&helper(&self.plan, bulk).map_err(reencode::Error::UserError)?);
        }
        Ok(())
    }

    fn instruction<'a>(
        &mut self,
        op: Operator<'a>,
    ) -> Result<Instruction<'a>, reencode::Error<String>> {
        let after_small = std::mem::replace(&mut self.after_small, is_small_length(&op));
        let Some(bulk) = bulk(&op).filter(|_| !after_small) else {
            return reencode::utils::instruction(self, op);
        };
        let index = self.plan.helpers.get(&bulk).ok_or_else(|| {
            reencode::Error::UserError("a bulk-memory instruction the scan missed".to_owned())
        })?;
        Ok(Instruction::Call(self.plan.functions + index))
    }
}

mod helpers;
use helpers::helper;

#[cfg(test)]
mod tests;
