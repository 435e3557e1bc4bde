//! `hull` entry point.

fn main() {}
