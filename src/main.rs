//! The `scaivault` binary: parses the command line and hands it to `scaivault::cli`.

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers
/// (headers, JSON, audit rows), and glibc's malloc was about a sixth of the server's CPU time
/// under read load (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = scaivault::cli::parse();
    // Success returns from main (the runtime shuts down in order); only failures exit early.
    let code = scaivault::cli::run(cli).await;
    if code != 0 {
        std::process::exit(code);
    }
}
