//! `hull ps`: the processes of a container, as the host's `ps` table cut down to them, or as
//! a JSON array of pids (what containerd reads).

use super::{CliError, Format, Globals};

/// Flags of `ps`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// select one of: table or json
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// the container id, then options for ps(1) (default: -ef): everything after the id goes
    /// to ps, as with runc
    #[arg(
        value_name = "ID [PS_OPTIONS]",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub id_and_ps_args: Vec<String>,
}

/// Runs `ps`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    let root = g.state_root();
    let (id, ps_args) = args.id_and_ps_args.split_first().ok_or(CliError::BadArg {
        arg: "ps",
        reason: "a container id is required".into(),
    })?;
    let text = match args.format {
        Format::Json => json(&crate::container::pids(&root, id)?),
        Format::Table => crate::container::ps_table(&root, id, ps_args)?,
    };
    super::print(&text)?;
    Ok(0)
}

/// The pids as runc's encoder writes them: a JSON array, `null` when empty, then a newline.
fn json(pids: &[i32]) -> String {
    if pids.is_empty() {
        return "null\n".into();
    }
    format!("{}\n", serde_json::to_string(pids).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_like_go() {
        assert_eq!(json(&[3, 17]), "[3,17]\n");
        assert_eq!(json(&[]), "null\n");
    }
}
