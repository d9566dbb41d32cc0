//! The rewritten module does exactly what the original did, bounds and
//! overlaps included, and pays fuel for every step.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "operands are handed to wasm as its own i32/i64: truncating and reinterpreting the bits is the point"
)]

use wasm_encoder::Function;
use wasmtime::{Config, Engine, Instance, Module, Store, Trap};

use super::*;

/// A module with one memory of `pages` pages and exports `fill(d, v, n)` and
/// `copy(d, s, n)`, for 32- or 64-bit addresses.
fn bulk_module(is64: bool, pages: u32) -> Vec<u8> {
    let (idx, addr) = if is64 { ("i64", "i64") } else { ("i32", "i32") };
    wat::parse_str(format!(
        r#"(module
            (memory (export "memory") {idx} {pages})
            (func (export "fill") (param {addr} i32 {addr})
                local.get 0 local.get 1 local.get 2 memory.fill)
            (func (export "copy") (param {addr} {addr} {addr})
                local.get 0 local.get 1 local.get 2 memory.copy))"#
    ))
    .unwrap()
}

fn engine() -> Engine {
    let mut config = Config::new();
    config.consume_fuel(true).wasm_memory64(true);
    Engine::new(&config).unwrap()
}

/// An instance of `bytes` whose memory holds a recognisable pattern.
fn instance(engine: &Engine, bytes: &[u8], fuel: u64) -> (Store<()>, Instance) {
    let mut store = Store::new(engine, ());
    store.set_fuel(fuel).unwrap();
    let module = Module::new(engine, bytes).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    for (i, byte) in memory.data_mut(&mut store).iter_mut().enumerate() {
        *byte = (i.wrapping_mul(31) % 251) as u8;
    }
    (store, instance)
}

/// Runs `export(args)` and returns the trap (if any) and the memory after.
fn run(bytes: &[u8], is64: bool, export: &str, args: [u64; 3]) -> (Option<Trap>, Vec<u8>) {
    let engine = engine();
    let (mut store, instance) = instance(&engine, bytes, u64::MAX);
    let func = instance.get_func(&mut store, export).unwrap();
    let arg = |v: u64, wide: bool| {
        if wide {
            wasmtime::Val::I64(v as i64)
        } else {
            wasmtime::Val::I32(v as u32 as i32)
        }
    };
    let params = match export {
        "fill" => [arg(args[0], is64), arg(args[1], false), arg(args[2], is64)],
        _ => args.map(|v| arg(v, is64)),
    };
    let trap = func
        .call(&mut store, &params, &mut [])
        .err()
        .map(|e| *e.downcast_ref::<Trap>().expect("a trap"));
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    (trap, memory.data(&store).to_vec())
}

fn rewritten(original: &[u8]) -> Vec<u8> {
    meter_module(original)
        .unwrap()
        .expect("the module has bulk instructions")
}

const STEP: u64 = STEP_BYTES as u64;
const PAGE: u64 = 65536;

/// Operands around every boundary: empty, one byte, one step, a step and a
/// byte, several steps, overlapping copies in both directions, the exact end
/// of memory, and out of bounds by one byte, by far and by overflow.
fn cases(size: u64, max: u64) -> Vec<(&'static str, [u64; 3])> {
    vec![
        ("fill", [0, 7, 0]),
        ("fill", [size, 7, 0]),
        ("fill", [5, 7, 1]),
        ("fill", [3, 9, STEP]),
        ("fill", [100, 9, STEP + 1]),
        ("fill", [1, 0xAB, 5 * STEP + 17]),
        ("fill", [size - 3 * STEP - 2, 0x1FF, 3 * STEP + 2]),
        ("fill", [size - 10, 1, 11]),
        ("fill", [size + 1, 1, 0]),
        ("fill", [max, 1, 2]),
        ("copy", [0, 0, 0]),
        ("copy", [10, 3 * STEP, 2 * STEP + 9]),
        ("copy", [7, 0, 3 * STEP + 100]),
        ("copy", [0, 7, 3 * STEP + 100]),
        ("copy", [STEP + 1, 1, 4 * STEP]),
        ("copy", [1, STEP + 1, 4 * STEP]),
        ("copy", [size - STEP - 5, 0, STEP + 5]),
        ("copy", [0, size - STEP - 5, STEP + 6]),
        ("copy", [size - STEP, 0, STEP + 1]),
        ("copy", [max, 0, 2]),
        ("copy", [0, max, 2]),
    ]
}

fn assert_same_behaviour(is64: bool) {
    let pages = 2;
    let original = bulk_module(is64, pages);
    let metered = rewritten(&original);
    let max = if is64 { u64::MAX } else { u64::from(u32::MAX) };
    let mut traps = 0;
    for (export, args) in cases(u64::from(pages) * PAGE, max) {
        let before = run(&original, is64, export, args);
        let after = run(&metered, is64, export, args);
        assert_eq!(before.0, after.0, "{export}{args:?}: trap differs");
        assert!(before.1 == after.1, "{export}{args:?}: memory differs");
        traps += usize::from(after.0.is_some());
    }
    // The out-of-bounds cases did trap, with the original trap.
    assert_eq!(traps, 7);
}

#[test]
fn a_rewritten_32_bit_module_fills_copies_and_traps_like_the_original() {
    assert_same_behaviour(false);
}

#[test]
fn a_rewritten_64_bit_module_fills_copies_and_traps_like_the_original() {
    assert_same_behaviour(true);
}

#[test]
fn an_out_of_bounds_fill_traps_out_of_bounds_and_writes_nothing() {
    let original = bulk_module(false, 1);
    let (trap, memory) = run(
        &rewritten(&original),
        false,
        "fill",
        [PAGE - STEP, 0, STEP + 1],
    );
    assert_eq!(trap, Some(Trap::MemoryOutOfBounds));
    let (_, pristine) = run(&original, false, "fill", [0, 0, 0]);
    assert!(memory == pristine, "the failed fill wrote to memory");
}

/// Runs `fill(0, 1, len)` on `bytes` and returns the fuel it took and how
/// many times it reached an epoch check.
fn fill_checks(bytes: &[u8], len: u64) -> (u64, u64) {
    let mut config = Config::new();
    config.consume_fuel(true).epoch_interruption(true);
    let engine = Engine::new(&config).unwrap();
    let (mut store, instance) = instance(&engine, bytes, u64::MAX);
    // The deadline is passed from the start, and the callback leaves it at
    // the current epoch: every check the call reaches calls it once.
    let checks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&checks);
    store.epoch_deadline_callback(move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(wasmtime::UpdateDeadline::Continue(0))
    });
    store.set_epoch_deadline(1);
    engine.increment_epoch();
    let func = instance
        .get_typed_func::<(i32, i32, i32), ()>(&mut store, "fill")
        .unwrap();
    func.call(&mut store, (0, 1, i32::try_from(len).unwrap()))
        .unwrap();
    let fuel = u64::MAX - store.get_fuel().unwrap();
    (fuel, checks.load(std::sync::atomic::Ordering::Relaxed))
}

#[test]
fn a_large_fill_reaches_an_epoch_check_every_step_for_the_same_fuel() {
    let original = bulk_module(false, 256);
    let metered = rewritten(&original);
    let len = 16 * 1024 * 1024;
    let (fuel_before, checks_before) = fill_checks(&original, len);
    let (fuel_after, checks_after) = fill_checks(&metered, len);
    // The instruction itself: checked only before it starts.
    assert!(checks_before <= 2, "{checks_before} checks");
    // Rewritten: a check for every step.
    assert!(checks_after >= len / STEP, "{checks_after} checks");
    // Fuel is charged per byte either way; the loop adds under 0.5 %.
    assert!(fuel_before >= len, "{fuel_before}");
    assert!(
        (fuel_before..fuel_before + fuel_before / 200).contains(&fuel_after),
        "{fuel_before} -> {fuel_after}"
    );
}

#[test]
fn a_bulk_instruction_with_a_small_constant_length_is_left_alone() {
    let module = |len: u32| {
        wat::parse_str(format!(
            r#"(module (memory 1) (func (export "f")
                i32.const 0 i32.const 0 i32.const {len} memory.fill
                i32.const 0 i32.const 9 i32.const {len} memory.copy))"#
        ))
        .unwrap()
    };
    assert!(meter_module(&module(STEP_BYTES)).unwrap().is_none());
    let rewritten = meter_module(&module(STEP_BYTES + 1)).unwrap().unwrap();
    assert_eq!(count_bodies(&rewritten), 3);
}

#[test]
fn a_module_without_bulk_instructions_is_passed_through() {
    let module = wat::parse_str(r#"(module (memory 1) (func (export "f")))"#).unwrap();
    assert!(meter_module(&module).unwrap().is_none());
    let component = wat::parse_str(
        r#"(component (core module $m (memory 1) (func (export "f"))) (core instance (instantiate $m)))"#,
    )
    .unwrap();
    assert!(matches!(meter_component(&component).unwrap(), Cow::Borrowed(b) if b == component));
}

#[test]
fn every_core_module_of_a_component_is_rewritten() {
    let component = wat::parse_str(
        r#"(component
            (core module $a (memory 1) (func (export "f") i32.const 0 i32.const 0 i32.const 9000 memory.fill))
            (component $inner
                (core module $b (memory 1) (func (export "g") i32.const 0 i32.const 1 i32.const 9000 memory.copy)))
            (core instance (instantiate $a)))"#,
    )
    .unwrap();
    let metered = meter_component(&component).unwrap();
    let mut config = Config::new();
    config.wasm_component_model(true);
    wasmtime::component::Component::new(&Engine::new(&config).unwrap(), &metered).unwrap();
    let original_bodies_with_bulk = count_bodies_with_bulk(&component);
    let rewritten_bodies_with_bulk = count_bodies_with_bulk(&metered);
    assert_eq!(original_bodies_with_bulk, 2);
    // The two original functions no longer use bulk instructions; the two
    // helpers do.
    assert_eq!(rewritten_bodies_with_bulk, 2);
    assert_eq!(count_bodies(&metered), count_bodies(&component) + 2);
}

fn count_bodies(bytes: &[u8]) -> usize {
    Parser::new(0)
        .parse_all(bytes)
        .filter(|p| matches!(p, Ok(Payload::CodeSectionEntry(_))))
        .count()
}

fn count_bodies_with_bulk(bytes: &[u8]) -> usize {
    Parser::new(0)
        .parse_all(bytes)
        .filter_map(|p| match p {
            Ok(Payload::CodeSectionEntry(body)) => Some(body),
            _ => None,
        })
        .filter(|body| {
            body.get_operators_reader().unwrap().into_iter().any(|op| {
                matches!(
                    op.unwrap(),
                    Operator::MemoryFill { .. } | Operator::MemoryCopy { .. }
                )
            })
        })
        .count()
}

#[test]
fn every_truncation_of_a_real_plugin_is_an_error_or_a_valid_rewrite() {
    let echo = crate::runtime::tests::plugin_bytes("echo");
    assert!(matches!(meter_component(&echo), Ok(Cow::Owned(_))));
    let mut errors = 0;
    for len in (0..echo.len()).step_by(499) {
        // A cut at a section boundary leaves a valid (smaller) component.
        match meter_component(&echo[..len]) {
            Ok(out) => {
                Validator::new_with_features(WasmFeatures::all())
                    .validate_all(&out)
                    .unwrap_or_else(|e| panic!("cut at {len}: rewritten output invalid: {e}"));
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors > echo.len() / 499 / 2, "{errors} errors");
}

#[test]
fn garbage_and_impossible_modules_are_errors_not_panics() {
    assert!(meter_component(b"\0asm garbage").is_err());
    assert!(meter_component(&[]).is_err());
    // memory.fill on a memory the module does not have (invalid wasm, so
    // built by hand: `wat` refuses it).
    let mut module = wasm_encoder::Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    f.instructions()
        .i32_const(0)
        .i32_const(0)
        .i32_const(100_000)
        .memory_fill(0)
        .end();
    code.function(&f);
    module.section(&code);
    let err = meter_module(&module.finish()).unwrap_err();
    assert!(
        err.to_string().contains("memory 0, which does not exist"),
        "{err}"
    );
}

/// Runs `export(args)` on an instance of `bytes` whose imports are made by
/// `imports`, and returns every exported memory's bytes after the call.
fn run_with_imports(
    bytes: &[u8],
    imports: impl FnOnce(&mut Store<()>) -> Vec<wasmtime::Extern>,
    export: &str,
    args: &[wasmtime::Val],
) -> Vec<Vec<u8>> {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    store.set_fuel(u64::MAX).unwrap();
    let imports = imports(&mut store);
    let module = Module::new(&engine, bytes).unwrap();
    let instance = Instance::new(&mut store, &module, &imports).unwrap();
    let memories: Vec<_> = module
        .exports()
        .filter(|e| e.ty().memory().is_some())
        .map(|e| e.name().to_owned())
        .collect();
    for (i, name) in memories.iter().enumerate() {
        let memory = instance.get_memory(&mut store, name).unwrap();
        for (j, byte) in memory.data_mut(&mut store).iter_mut().enumerate() {
            *byte = (j.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8;
        }
    }
    let func = instance.get_func(&mut store, export).unwrap();
    func.call(&mut store, args, &mut []).unwrap();
    memories
        .iter()
        .map(|name| {
            let memory = instance.get_memory(&mut store, name).unwrap();
            memory.data(&store).to_vec()
        })
        .collect()
}

/// Two memory indices naming one memory: an upward overlapping copy must
/// still go backwards (the first version chose the direction only when the
/// indices were equal, and shifted every step after the first).
#[test]
fn a_copy_between_two_imports_of_one_memory_keeps_memmove_semantics() {
    let original = wat::parse_str(
        r#"(module
            (import "e" "a" (memory 1))
            (import "e" "b" (memory 1))
            (export "memory" (memory 0))
            (func (export "copy") (param i32 i32 i32)
                local.get 0 local.get 1 local.get 2 memory.copy 0 1))"#,
    )
    .unwrap();
    let metered = rewritten(&original);
    let one_memory = |store: &mut Store<()>| {
        let ty = wasmtime::MemoryType::new(1, None);
        let memory = wasmtime::Memory::new(store, ty).unwrap();
        vec![memory.into(), memory.into()]
    };
    for (d, s) in [(1, 0), (0, 1), (STEP + 3, 2)] {
        let args = [d, s, 2 * STEP + 7].map(|v| wasmtime::Val::I32(v as i32));
        let before = run_with_imports(&original, one_memory, "copy", &args);
        let after = run_with_imports(&metered, one_memory, "copy", &args);
        assert!(before == after, "copy({d}, {s}): memory differs");
    }
}

/// A function import shifts every function index, and a copy between a
/// 64-bit and a 32-bit memory takes an `i32` length: the rewrite keeps both.
#[test]
fn function_imports_and_mixed_memories_are_rewritten_correctly() {
    let original = wat::parse_str(
        r#"(module
            (import "env" "answer" (func $answer (result i32)))
            (memory $a (export "a") i64 1)
            (memory $b (export "b") 1)
            (func (export "fill_a") (param i64 i32 i64)
                local.get 0 local.get 1 local.get 2 memory.fill $a)
            (func (export "copy_ab") (param i64 i32 i32)
                local.get 0 local.get 1 local.get 2 memory.copy $a $b)
            (func (export "copy_ba") (param i32 i64 i32)
                local.get 0 local.get 1 local.get 2 memory.copy $b $a)
            (func (export "answer") (result i32) call $answer))"#,
    )
    .unwrap();
    let metered = rewritten(&original);
    let answer = |store: &mut Store<()>| vec![wasmtime::Func::wrap(store, || 42_i32).into()];
    let (i32v, i64v) = (
        |v: u64| wasmtime::Val::I32(v as i32),
        |v: u64| wasmtime::Val::I64(v as i64),
    );
    let calls: [(&str, [wasmtime::Val; 3]); 3] = [
        ("fill_a", [i64v(5), i32v(0x5A), i64v(3 * STEP + 1)]),
        ("copy_ab", [i64v(100), i32v(7), i32v(2 * STEP + 9)]),
        ("copy_ba", [i32v(9), i64v(STEP), i32v(3 * STEP)]),
    ];
    for (export, args) in calls {
        let before = run_with_imports(&original, answer, export, &args);
        let after = run_with_imports(&metered, answer, export, &args);
        assert!(before == after, "{export}: memory differs");
    }
    // The export still calls the import, not a helper.
    let engine = engine();
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000).unwrap();
    let imports = answer(&mut store);
    let module = Module::new(&engine, &metered).unwrap();
    let instance = Instance::new(&mut store, &module, &imports).unwrap();
    let f = instance
        .get_typed_func::<(), i32>(&mut store, "answer")
        .unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap(), 42);
}

/// Re-encoding recurses once per level of nesting: a component nested past
/// [`MAX_NESTING`] is refused (10,000 levels overflowed the compile thread's
/// stack and aborted the process before the limit).
#[test]
fn components_nested_too_deep_are_refused() {
    let nest = |levels: usize| {
        let module = wat::parse_str(
            "(module (memory 1) (func i32.const 0 i32.const 0 i32.const 65536 memory.fill))",
        )
        .unwrap();
        let mut component = Component::new();
        component.section(&RawSection {
            id: ComponentSectionId::CoreModule as u8,
            data: &module,
        });
        for _ in 1..levels {
            let mut outer = Component::new();
            outer.section(&wasm_encoder::NestedComponentSection(&component));
            component = outer;
        }
        component.finish()
    };
    assert!(meter_component(&nest(MAX_NESTING - 1)).is_ok());
    let err = meter_component(&nest(2_000)).unwrap_err();
    assert!(err.to_string().contains("nested deeper than"), "{err}");
}
