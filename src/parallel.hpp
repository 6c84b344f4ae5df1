// Parallel loops shared by every kernel.
//
// Work is cut into blocks of rows (or parts); with OpenMP and more than one thread they are
// shared out by an OpenMP work-sharing loop, so every block runs exactly once whatever team size
// the runtime grants (OMP_DYNAMIC, OMP_THREAD_LIMIT, nested regions may give fewer threads than
// asked). Without OpenMP, or for batches too small to pay for thread start-up, they run in a
// plain loop on the calling thread. Kernels never throw and never allocate inside the loops: all
// validation and allocation happen before them.
#pragma once

#include <algorithm>
#include <cstdint>


namespace greenauto {

// Below this many rows a call stays on one thread: waking a team costs more than it saves.
inline constexpr std::int64_t kMinRowsPerThread = 4096;

template <typename Fn>
void parallel_for_rows(std::int64_t n_rows, std::int64_t block, int n_threads, Fn&& fn) {
    const std::int64_t n_blocks = (n_rows + block - 1) / block;
    const std::int64_t useful = std::max<std::int64_t>(1, n_rows / kMinRowsPerThread);
    const int threads = static_cast<int>(std::min<std::int64_t>(std::max(n_threads, 1), useful));
#if defined(GREENAUTO_OPENMP)
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t b = 0; b < n_blocks; ++b) {
            const std::int64_t begin = b * block;
            fn(begin, std::min(begin + block, n_rows));
        }
        return;
    }
#endif
    (void)threads;
    for (std::int64_t b = 0; b < n_blocks; ++b) {
        const std::int64_t begin = b * block;
        fn(begin, std::min(begin + block, n_rows));
    }
}

}  // namespace greenauto
