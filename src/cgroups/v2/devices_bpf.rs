//! The eBPF device program for cgroup v2: the device state the rules reduce to (see
//! `cgroups::devices`) compiled into a BPF_PROG_TYPE_CGROUP_DEVICE program, one block per
//! exception and the default at the end. Pure; the test runs the program in a small
//! interpreter against the v1 controller's semantics.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! with access_type = access << 16 | type, and returns 1 to allow, 0 to deny.

use crate::cgroups::devices::{Access, DevType, Emulator};
use crate::sys::bpf::BpfInsn;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

// Opcodes (include/uapi/linux/bpf_common.h, bpf.h).
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_JNE_X: u8 = 0x5d;
const JMP_EXIT: u8 = 0x95;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// BPF_DEVCG_DEV_BLOCK / BPF_DEVCG_DEV_CHAR.
fn bpf_type(t: DevType) -> Option<i32> {
    match t {
        DevType::Block => Some(1),
        DevType::Char => Some(2),
        DevType::All => None,
    }
}

/// The program enforcing `state`.
pub fn program(state: &Emulator) -> Vec<BpfInsn> {
    let mut p = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0), // r2 = type
        insn(ALU32_AND_K, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3, R1, 0, 0), // r3 = access
        insn(ALU32_RSH_K, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4, 0), // r4 = major
        insn(LDX_MEM_W, R5, R1, 8, 0), // r5 = minor
    ];
    let result = i32::from(!state.default_allow);
    for r in state.exception_rules() {
        // Numbers beyond i32 cannot be compared as a sign-extended immediate, and no
        // device has them (majors have 12 bits, minors 20): such a rule never matches.
        let fits = |n: Option<u32>| n.is_none_or(|n| n <= i32::MAX as u32);
        if !fits(r.major) || !fits(r.minor) {
            continue;
        }
        p.extend(block(
            r.typ,
            r.major,
            r.minor,
            r.access,
            state.default_allow,
            result,
        ));
    }
    p.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(state.default_allow)));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// One exception: jumps past itself unless the request matches, else returns `result`.
///
/// In deny-all mode an allow exception must cover every requested access; in allow-all
/// mode a deny exception matches if it shares any access, as the v1 controller decides
/// (runc's filter uses the first test for both, which lets an O_RDWR open through a
/// deny of `w` alone).
fn block(
    typ: DevType,
    major: Option<u32>,
    minor: Option<u32>,
    access: Access,
    default_allow: bool,
    result: i32,
) -> Vec<BpfInsn> {
    // Jump offsets are patched once the block's length is known: `off` = NEXT for now.
    const NEXT: i16 = i16::MIN;
    let mut b = Vec::new();
    if let Some(t) = bpf_type(typ) {
        b.push(insn(JMP_JNE_K, R2, 0, NEXT, t));
    }
    if access != Access::ALL {
        b.push(insn(ALU32_MOV_X, R1, R3, 0, 0));
        b.push(insn(ALU32_AND_K, R1, 0, 0, i32::from(access.0)));
        if default_allow {
            b.push(insn(JMP_JEQ_K, R1, 0, NEXT, 0));
        } else {
            b.push(insn(JMP_JNE_X, R1, R3, NEXT, 0));
        }
    }
    if let Some(m) = major {
        b.push(insn(JMP_JNE_K, R4, 0, NEXT, m as i32));
    }
    if let Some(m) = minor {
        b.push(insn(JMP_JNE_K, R5, 0, NEXT, m as i32));
    }
    b.push(insn(ALU64_MOV_K, R0, 0, 0, result));
    b.push(insn(JMP_EXIT, 0, 0, 0, 0));
    let len = b.len();
    for (i, ins) in b.iter_mut().enumerate() {
        if ins.off == NEXT {
            ins.off = (len - i - 1) as i16;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::rules_from_spec;
    use crate::cgroups::devices::tests::rule;

    /// Runs the subset of eBPF the generator emits.
    fn run(prog: &[BpfInsn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [access << 16 | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            pc += 1;
            let jump = |cond: bool, pc: &mut usize| {
                if cond {
                    *pc = (*pc as i64 + i64::from(i.off)) as usize;
                }
            };
            match i.code {
                LDX_MEM_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[dst] = (r[dst] as u32 >> i.imm) as u64,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                ALU64_MOV_K => r[dst] = imm,
                JMP_JEQ_K => jump(r[dst] == imm, &mut pc),
                JMP_JNE_K => jump(r[dst] != imm, &mut pc),
                JMP_JNE_X => jump(r[dst] != r[src], &mut pc),
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    /// Every combination of type, access and a few numbers gives the emulator's answer.
    fn check(state: &Emulator) {
        let prog = program(state);
        for (t, bt) in [(DevType::Block, 1), (DevType::Char, 2)] {
            for acc in 1..8u8 {
                for (maj, min) in [
                    (1, 3),
                    (1, 5),
                    (5, 2),
                    (136, 7),
                    (10, 200),
                    (8, 0),
                    (4095, 99),
                ] {
                    let want = state.allows(t, maj, min, Access(acc));
                    let got = run(&prog, bt, u32::from(acc), maj, min) == 1;
                    assert_eq!(got, want, "{t:?} {maj}:{min} {} in {state:?}", Access(acc));
                }
            }
        }
    }

    #[test]
    fn default_container_rules() {
        let state = Emulator::from_rules(&rules_from_spec(None).unwrap()).unwrap();
        check(&state);
        let prog = program(&state);
        assert_eq!(run(&prog, 2, 6, 1, 3), 1, "/dev/null rw");
        assert_eq!(run(&prog, 2, 6, 8, 0), 0, "c 8:0 rw");
        assert_eq!(run(&prog, 1, 1, 8, 0), 1, "mknod b 8:0");
        assert_eq!(run(&prog, 1, 2, 8, 0), 0, "read b 8:0");
    }

    #[test]
    fn allow_all_with_denies() {
        let state = Emulator::from_rules(&[
            rule(DevType::All, None, None, "rwm", true),
            rule(DevType::Char, Some(1), Some(5), "w", false),
            rule(DevType::Block, Some(8), None, "rwm", false),
        ])
        .unwrap();
        check(&state);
        let prog = program(&state);
        assert_eq!(run(&prog, 2, 2, 1, 5), 1, "read /dev/zero");
        assert_eq!(
            run(&prog, 2, 6, 1, 5),
            0,
            "O_RDWR /dev/zero must not pass a deny of w"
        );
    }

    #[test]
    fn deny_all_nothing_allowed() {
        let state = Emulator::default();
        let prog = program(&state);
        assert_eq!(prog.len(), 8);
        assert_eq!(run(&prog, 2, 2, 1, 3), 0);
        check(&state);
    }

    #[test]
    fn partial_wildcards_and_huge_numbers() {
        let state = Emulator::from_rules(&[
            rule(DevType::All, None, None, "rwm", false),
            rule(DevType::Char, None, Some(3), "r", true),
            rule(DevType::Char, Some(5), None, "rw", true),
            rule(DevType::Char, Some(u32::MAX), Some(1), "rwm", true),
        ])
        .unwrap();
        check(&state);
        assert_eq!(program(&state).len(), 6 + 7 + 7 + 2);
    }

    #[test]
    fn block_encoding() {
        let b = block(DevType::Char, Some(1), Some(3), Access::ALL, false, 1);
        assert_eq!(
            b,
            [
                insn(JMP_JNE_K, R2, 0, 4, 2),
                insn(JMP_JNE_K, R4, 0, 3, 1),
                insn(JMP_JNE_K, R5, 0, 2, 3),
                insn(ALU64_MOV_K, R0, 0, 0, 1),
                insn(JMP_EXIT, 0, 0, 0, 0),
            ]
        );
    }
}
