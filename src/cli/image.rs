//! `hull image`: `unpack` (an OCI layout or docker-save archive into a bundle, flat or as an
//! overlay of store layers), `diff` (a container's changes, as `docker diff` prints them),
//! `commit` (those changes as an OCI layer tar) and `gc` (store layers no bundle names).

use super::{CliError, Globals};
use crate::image::{self, UnpackOptions};
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The default layer store of `unpack --overlay`.
pub const DEFAULT_STORE: &str = "/var/lib/hull/store";

/// Show a progress line only for images at least this large (bytes of layer blobs).
const PROGRESS_MIN: u64 = 32 << 20;

/// Flags of `image`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image subcommand.
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// The `image` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// unpack an OCI image layout or a docker-save archive into a bundle
    Unpack(UnpackArgs),
    /// list the paths a container added (A), changed (C) or deleted (D)
    Diff(DiffArgs),
    /// write a container's changes as an OCI layer tar
    Commit(CommitArgs),
    /// remove the store layers that no unpacked bundle names any more
    Gc(GcArgs),
}

/// Flags of `image gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// the layer store
    #[arg(long, default_value = DEFAULT_STORE)]
    pub store: PathBuf,
    /// only list what would be removed
    #[arg(long)]
    pub dry_run: bool,
}

/// Flags of `image unpack`.
#[derive(Debug, clap::Args)]
pub struct UnpackArgs {
    /// the image to unpack: a ref name in the layout's index.json, or a tag of the archive
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// the layer store for --overlay
    #[arg(long, default_value = DEFAULT_STORE)]
    pub store: PathBuf,
    /// extract layers once into the store and make the bundle an overlay of them
    #[arg(long)]
    pub overlay: bool,
    /// network the container: bridge (hull's network hooks), none (only lo) or host
    #[arg(long, value_enum)]
    pub network: Option<super::spec::NetworkArg>,
    /// OCI image layout directory or docker-save tar archive
    pub src: PathBuf,
    /// bundle directory to create (absent or empty)
    pub bundle: PathBuf,
}

/// Flags of `image diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// container id
    pub id: String,
}

/// Flags of `image commit`.
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// file to write the layer tar to (must not exist)
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// compress the layer
    #[arg(long, value_enum, default_value_t = image::commit::Compress::None)]
    pub compress: image::commit::Compress,
    /// container id
    pub id: String,
}

/// Runs `image`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    match args.command {
        ImageCommand::Unpack(a) => unpack(a),
        ImageCommand::Diff(a) => {
            let changes = image::diff::container(&g.state_root(), &a.id)?;
            let text: String = changes.iter().map(|c| format!("{c}\n")).collect();
            super::print(&text)?;
            Ok(0)
        }
        ImageCommand::Gc(a) => {
            let store = image::store::Store::open_existing(&a.store)?;
            let r = image::gc::collect(&store, a.dry_run)?;
            let (verb, forget) = if a.dry_run {
                ("would remove", "would forget")
            } else {
                ("removed", "forgot")
            };
            let mut text = String::new();
            for b in &r.dropped_refs {
                text.push_str(&format!("{forget} bundle {}\n", b.display()));
            }
            for (id, size) in &r.removed {
                text.push_str(&format!("{verb} {id} ({} KiB)\n", size.div_ceil(1024)));
            }
            let total: u64 = r.removed.iter().map(|(_, s)| s).sum();
            text.push_str(&format!(
                "{verb} {} layers ({} MiB), kept {}\n",
                r.removed.len(),
                total.div_ceil(1 << 20),
                r.kept
            ));
            super::print(&text)?;
            Ok(0)
        }
        ImageCommand::Commit(a) => {
            let out = image::commit::container(&g.state_root(), &a.id, &a.output, a.compress)?;
            super::print(&format!(
                "digest {}\ndiff_id {}\nsize {}\n",
                out.digest, out.diff_id, out.size
            ))?;
            Ok(0)
        }
    }
}

fn unpack(a: UnpackArgs) -> Result<i32, CliError> {
    let progress = Arc::new(image::Progress::default());
    let opts = UnpackOptions {
        reference: a.reference,
        store: a.overlay.then_some(a.store),
        progress: Some(Arc::clone(&progress)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = rustix::termios::isatty(std::io::stderr()).then(|| {
        let (stop, progress) = (Arc::clone(&stop), Arc::clone(&progress));
        std::thread::spawn(move || show_progress(&stop, &progress))
    });
    let result = image::unpack(&a.src, &a.bundle, &opts);
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    result?;
    if let Some(net) = a.network {
        set_network(&a.bundle, net)?;
    }
    Ok(0)
}

/// Rewrites the unpacked bundle's config.json with the network namespace and hull's hooks
/// (`hull spec --network` does the same to the template).
fn set_network(bundle: &std::path::Path, net: super::spec::NetworkArg) -> Result<(), CliError> {
    let path = bundle.join(crate::spec::CONFIG_FILE);
    let io = |op, source| CliError::Io {
        op,
        path: path.clone(),
        source,
    };
    let text = std::fs::read(&path).map_err(|e| io("read", e))?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| io("parse", std::io::Error::other(e)))?;
    super::spec::add_network(&mut value, net, false)?;
    let out =
        serde_json::to_vec_pretty(&value).map_err(|e| io("encode", std::io::Error::other(e)))?;
    let tmp = bundle.join(".config.json.network");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| io("create", e))?;
    f.write_all(&out).map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io("rename", e))
}

/// A one-line progress display on the terminal, for large images only; erased at the end.
fn show_progress(stop: &AtomicBool, p: &image::Progress) {
    let mut shown = false;
    let mut err = std::io::stderr();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let total = p.total.load(Ordering::Relaxed);
        if total < PROGRESS_MIN {
            continue;
        }
        let done = p.done.load(Ordering::Relaxed).min(total);
        let mb = |b: u64| b as f64 / (1 << 20) as f64;
        let _ = write!(
            err,
            "\rhull: unpacking {:.0}/{:.0} MiB ({}%)",
            mb(done),
            mb(total),
            done * 100 / total
        );
        shown = true;
    }
    if shown {
        let _ = write!(err, "\r\x1b[K");
    }
}
