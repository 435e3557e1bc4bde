//! `containerd-shim-hull-v2` entry point: containerd's shim v2 for hull (runtime name
//! `io.containerd.hull.v2`); everything is in `hull::shim`.

fn main() {
    hull::shim::run();
}
