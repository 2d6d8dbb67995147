mod synth;

fn main() {}
