// mimalloc, also in place of the C library's malloc ("override"), so that SQLite's own page and
// statement allocations use it too; "no_thp", because transparent huge pages swell its arenas
// (figures in BENCHMARKS.md, "Why the constants are what they are").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tessera::cli::run()
}
