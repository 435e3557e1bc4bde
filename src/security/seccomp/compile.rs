//! `linux.seccomp` -> a BPF program, in hull's parent before the fork (so the init only
//! installs bytes).
//!
//! The `libseccomp` crate (not `seccompiler`) does the compiling: it has the syscall tables of
//! every architecture, emits the architecture check that makes a filter listing x86_64, x86
//! and x32 safe (an x32 syscall number must not slip past an x86_64 rule), handles 64-bit
//! argument comparisons on 32-bit ABIs, and knows SCMP_ACT_NOTIFY; seccompiler has one
//! architecture per filter and no NOTIFY. Like runc, unknown syscall names are skipped (and
//! logged at debug level), rules whose action equals the default are dropped, and a rule with
//! several conditions on the same argument becomes one rule per condition.

use super::{Filter, Listener, SeccompError};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompArg, LinuxSeccompFilterFlag as F,
    LinuxSeccompOperator as Op,
};

const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;
const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// The libseccomp action for a spec action; `errno` is errnoRet (EPERM if unset).
pub fn action(a: A, errno: Option<u32>) -> ScmpAction {
    match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32),
        A::ScmpActNotify => ScmpAction::Notify,
        A::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
    }
}

/// The libseccomp architecture for a spec architecture.
pub fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The spec's name of an architecture (`SCMP_ARCH_S390X`).
fn arch_name(a: Arch) -> String {
    match serde_json::to_value(a) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{a:?}"),
    }
}

/// Whether libseccomp can filter `a` on this machine, with the reason when not: one filter
/// holds architectures of one byte order only (so s390x or ppc64 cannot join x86_64's), and
/// the linked libseccomp may predate the architecture (2.5 knows no loongarch64, m68k, sh).
pub fn check_arch(a: Arch) -> Result<(), String> {
    let add = || -> Result<(), libseccomp::error::SeccompError> {
        ScmpFilterContext::new(ScmpAction::Allow)?.add_arch(arch(a))?;
        Ok(())
    };
    add().map_err(|e| {
        format!(
            "{}: libseccomp cannot filter it on {} ({e})",
            arch_name(a),
            std::env::consts::ARCH
        )
    })
}

/// One argument condition.
pub fn condition(arg: &LinuxSeccompArg) -> ScmpArgCompare {
    let op = match arg.op() {
        Op::ScmpCmpNe => ScmpCompareOp::NotEqual,
        Op::ScmpCmpLt => ScmpCompareOp::Less,
        Op::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        Op::ScmpCmpEq => ScmpCompareOp::Equal,
        Op::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        Op::ScmpCmpGt => ScmpCompareOp::Greater,
        // The spec's MASKED_EQ: (arg & value) == valueTwo.
        Op::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
    };
    let datum = match arg.op() {
        Op::ScmpCmpMaskedEq => arg.value_two().unwrap_or(0),
        _ => arg.value(),
    };
    ScmpArgCompare::new(arg.index() as u32, op, datum)
}

/// The kernel's SECCOMP_FILTER_FLAG_* bits for the spec's flags.
pub fn flags(list: &[F]) -> u32 {
    list.iter().fold(0, |acc, f| {
        acc | match f {
            F::SeccompFilterFlagTsync => FLAG_TSYNC,
            F::SeccompFilterFlagLog => FLAG_LOG,
            F::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            F::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        }
    })
}

/// Whether a rule's conditions must be split (several on one argument: libseccomp refuses
/// them in one rule).
fn needs_split(args: &[LinuxSeccompArg]) -> bool {
    let mut seen = [0u8; 6];
    args.iter().any(|a| match seen.get_mut(a.index()) {
        Some(n) => {
            *n += 1;
            *n > 1
        }
        None => false,
    })
}

fn lib(field: String) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    move |source| SeccompError::Libseccomp {
        field,
        message: source.to_string(),
    }
}

/// Compiles the filter.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let default = action(s.default_action(), s.default_errno_ret());
    let mut ctx =
        ScmpFilterContext::new(default).map_err(lib("linux.seccomp.defaultAction".into()))?;
    // hull sets no_new_privs itself, as the spec's process.noNewPrivileges says.
    ctx.set_ctl_nnp(false)
        .map_err(lib("linux.seccomp".into()))?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        ctx.add_arch(arch(*a)).map_err(|_| SeccompError::Invalid {
            field: format!("linux.seccomp.architectures[{i}]"),
            reason: check_arch(*a).err().unwrap_or_else(|| arch_name(*a)),
        })?;
    }
    let mut notify = s.default_action() == A::ScmpActNotify;
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let act = action(rule.action(), rule.errno_ret());
        if act == default {
            continue;
        }
        notify |= rule.action() == A::ScmpActNotify;
        let args = rule.args().clone().unwrap_or_default();
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                crate::log::debug(&format!(
                    "linux.seccomp.syscalls[{i}]: unknown syscall {name:?} skipped"
                ));
                continue;
            };
            add_rule(&mut ctx, sc, act, &args, i, name)?;
        }
    }
    let listener = match (notify, s.listener_path()) {
        (true, Some(path)) => Some(Listener {
            path: path.clone(),
            metadata: s.listener_metadata().clone().unwrap_or_default(),
        }),
        (true, None) => {
            return Err(SeccompError::Invalid {
                field: "linux.seccomp.listenerPath".into(),
                reason: "SCMP_ACT_NOTIFY needs a listener socket".into(),
            })
        }
        (false, _) => None,
    };
    let program = export(&ctx)?;
    Ok(Filter {
        program,
        flags: flags(&s.flags().clone().unwrap_or_default()),
        listener,
    })
}

/// The BPF program as bytes (libseccomp 2.5 can only export to an fd: use a memfd).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, SeccompError> {
    use std::io::{Read, Seek};
    let io = |e: std::io::Error| SeccompError::Invalid {
        field: "linux.seccomp".into(),
        reason: format!("export filter: {e}"),
    };
    let fd = rustix::fs::memfd_create("hull-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| io(e.into()))?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file).map_err(lib("linux.seccomp".into()))?;
    file.rewind().map_err(io)?;
    let mut program = Vec::new();
    file.read_to_end(&mut program).map_err(io)?;
    Ok(program)
}

fn add_rule(
    ctx: &mut ScmpFilterContext,
    sc: ScmpSyscall,
    act: ScmpAction,
    args: &[LinuxSeccompArg],
    i: usize,
    name: &str,
) -> Result<(), SeccompError> {
    let field = || format!("linux.seccomp.syscalls[{i}] ({name})");
    if args.iter().any(|a| a.index() > 5) {
        return Err(SeccompError::Invalid {
            field: field(),
            reason: "argument index above 5".into(),
        });
    }
    let conds: Vec<ScmpArgCompare> = args.iter().map(condition).collect();
    if conds.is_empty() {
        ctx.add_rule(act, sc).map_err(lib(field()))?;
    } else if needs_split(args) {
        for c in conds {
            ctx.add_rule_conditional(act, sc, &[c])
                .map_err(lib(field()))?;
        }
    } else {
        ctx.add_rule_conditional(act, sc, &conds)
            .map_err(lib(field()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn maps_actions_with_errno() {
        assert_eq!(
            action(A::ScmpActErrno, None),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(action(A::ScmpActErrno, Some(38)), ScmpAction::Errno(38));
        assert_eq!(action(A::ScmpActKill, None), ScmpAction::KillThread);
        assert_eq!(action(A::ScmpActKillProcess, None), ScmpAction::KillProcess);
    }

    #[test]
    fn flags_map_to_kernel_bits() {
        assert_eq!(
            flags(&[F::SeccompFilterFlagTsync, F::SeccompFilterFlagLog]),
            0b11
        );
        assert_eq!(flags(&[F::SeccompFilterFlagSpecAllow]), 0b100);
    }

    #[test]
    fn splits_repeated_argument_conditions() {
        let a: Vec<LinuxSeccompArg> = serde_json::from_str(
            r#"[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]"#,
        )
        .unwrap();
        assert!(needs_split(&a));
        assert!(!needs_split(&a[..1]));
    }

    #[test]
    fn compiles_all_operators_and_skips_unknown_names() {
        let s = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
            "syscalls":[
              {"names":["mkdir","no_such_syscall_x"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
              {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[
                {"index":0,"value":8,"op":"SCMP_CMP_NE"},{"index":1,"value":1,"op":"SCMP_CMP_LT"},
                {"index":2,"value":1,"op":"SCMP_CMP_LE"},{"index":3,"value":1,"op":"SCMP_CMP_GE"},
                {"index":4,"value":1,"op":"SCMP_CMP_GT"},{"index":5,"value":255,"valueTwo":8,"op":"SCMP_CMP_MASKED_EQ"}]},
              {"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let f = compile(&s).unwrap();
        assert_eq!(f.program.len() % 8, 0);
        assert!(f.program.len() > 8 * 10, "a real program with arch checks");
        assert!(f.listener.is_none());
    }

    #[test]
    fn notify_needs_a_listener() {
        let s = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let e = compile(&s).unwrap_err().to_string();
        assert!(e.starts_with("linux.seccomp.listenerPath:"), "{e}");
        let s = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock","listenerMetadata":"m",
            "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let f = compile(&s).unwrap();
        assert_eq!(f.listener.unwrap().metadata, "m");
    }

    #[test]
    fn an_architecture_of_the_other_byte_order_is_named() {
        let e = check_arch(Arch::ScmpArchS390x).unwrap_err();
        assert!(
            e.starts_with("SCMP_ARCH_S390X: libseccomp cannot filter it"),
            "{e}"
        );
        check_arch(Arch::ScmpArchX32).unwrap();
        let s = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_PPC64"]}"#,
        );
        let e = compile(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.seccomp.architectures[1]: SCMP_ARCH_PPC64: libseccomp cannot"),
            "{e}"
        );
    }

    #[test]
    fn argument_index_above_five_is_refused() {
        let s = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO",
            "args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let e = compile(&s).unwrap_err().to_string();
        assert!(e.starts_with("linux.seccomp.syscalls[0] (mkdir):"), "{e}");
    }
}
