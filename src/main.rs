// mimalloc, also in place of the C library's malloc ("override"), so that SQLite's own page and
// statement allocations use it: glibc's malloc was 13% of the SQLite thread's time in a code
// check, mimalloc 6% (BENCHMARKS.md). "no_thp": with transparent huge pages its arenas took the
// server's peak RSS from 48 to 106 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tessera::cli::run()
}
