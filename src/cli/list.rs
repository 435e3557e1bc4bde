//! `hull list`: every container under --root, as runc's table, JSON, or ids only.

use super::{CliError, Format, Globals};
use crate::container::Container;
use crate::state::OciState;
use std::os::unix::fs::MetadataExt;

/// Flags of `list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// select one of: table or json
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// display only container IDs
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs `list`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    let root = g.state_root();
    let ids = root
        .list()
        .map_err(crate::container::ContainerError::from)?;
    let mut rows = Vec::new();
    for id in ids {
        // A container deleted meanwhile, or a half-made one, is skipped, as runc does.
        let Ok(c) = Container::load(&root, &id) else {
            continue;
        };
        let mut s = c.oci_state(c.status());
        s.owner = owner(&c);
        rows.push(s);
    }
    let text = match (args.quiet, args.format) {
        (true, _) => rows.iter().map(|r| format!("{}\n", r.id)).collect(),
        (false, Format::Json) if rows.is_empty() => "null\n".to_string(),
        (false, Format::Json) => format!("{}\n", serde_json::to_string(&rows).unwrap_or_default()),
        (false, Format::Table) => table(&rows),
    };
    super::print(&text)?;
    Ok(0)
}

/// The user owning the container's state directory, as runc shows it.
fn owner(c: &Container) -> String {
    let Ok(meta) = std::fs::metadata(&c.dir) else {
        return String::new();
    };
    let uid = meta.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| format!("#{uid}"))
}

/// Go's tabwriter with minwidth 12, padding 3 (runc's settings): every column but the last is
/// as wide as its widest cell plus 3, and at least 12.
pub fn table(rows: &[OciState]) -> String {
    let mut lines: Vec<Vec<String>> = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .iter()
        .map(|s| s.to_string())
        .collect()];
    for r in rows {
        lines.push(vec![
            r.id.clone(),
            r.pid.to_string(),
            r.status.to_string(),
            r.bundle.display().to_string(),
            r.created.clone(),
            r.owner.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|col| {
            lines
                .iter()
                .map(|l| l[col].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        for (col, cell) in l.iter().enumerate() {
            match widths.get(col) {
                Some(w) => out.push_str(&format!("{cell:<w$}")),
                None => out.push_str(cell),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    #[test]
    fn table_matches_runc_layout() {
        assert_eq!(
            table(&[]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
        let row = OciState {
            oci_version: "1".into(),
            id: "t2".into(),
            pid: 2321,
            status: Status::Running,
            bundle: "/tmp/rs".into(),
            rootfs: "/tmp/rs/rootfs".into(),
            created: "2026-11-25T17:30:01.762947165Z".into(),
            owner: "root".into(),
            annotations: Default::default(),
        };
        let t = table(&[row]);
        assert_eq!(
            t.lines().nth(1).unwrap(),
            "t2          2321        running     /tmp/rs     2026-11-25T17:30:01.762947165Z   root"
        );
    }
}
