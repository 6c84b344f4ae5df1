// Binning kernel: float32/float64 features -> uint8 bin indices, with optional fused column
// selection.
//
// Semantics (identical to numpy.searchsorted(inner_edges, x, side="right"), i.e. to
// scikit-learn's KBinsDiscretizer(encode="ordinal") for the same edges):
//   bin(x) = number of inner edges e with e <= x, in [0, n_bins - 1];
//   -inf -> 0, +inf -> n_bins - 1, NaN -> n_bins (a bin of its own).
//
// Search: a 16-ary search in at most two stages. Each feature's (at most 254) inner edges are
// laid out as 16 "splitters" (every 16th edge) and 16 blocks of 15 edges, padded with NaN. A
// stage compares x with 16 slots at once (one AVX-512, two AVX2 or four SSE compares; see
// kernels_impl.hpp) and, since the slots are sorted with the NaN padding last, the number of
// slots <= x is the number of set bits of the compare mask. Features with at most 16 bins need
// one stage. All reads stay inside the feature's own 16 or 16 + 256 slots, whatever the edges.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.hpp"
#include "parallel.hpp"

namespace greenauto {

inline constexpr int kMaxBins = 255;

class BinningKernel {
   public:
    // edges: row-major (n_features, width) float64; row j holds feature j's n_bins[j] - 1 inner
    // edges (non-decreasing, not NaN) followed by anything (ignored).
    BinningKernel(const double* edges, std::int64_t n_features, std::int64_t width,
                  const std::int64_t* n_bins)
        : n_features_(n_features) {
        if (n_features < 0 || width < 0) throw std::invalid_argument("negative shape");
        n_bins_.resize(n_features);
        offsets_.resize(n_features + 1);
        offsets_[0] = 0;
        for (std::int64_t j = 0; j < n_features; ++j) {
            const std::int64_t nb = n_bins[j];
            if (nb < 1 || nb > kMaxBins)
                throw std::invalid_argument("n_bins of feature " + std::to_string(j) +
                                            " must be in [1, 255], got " + std::to_string(nb));
            if (nb - 1 > width)
                throw std::invalid_argument("feature " + std::to_string(j) + " has " +
                                            std::to_string(nb) + " bins but the edge array has " +
                                            std::to_string(width) + " columns");
            n_bins_[j] = static_cast<std::uint8_t>(nb);
            offsets_[j + 1] = offsets_[j] + (nb <= 16 ? 16 : 16 + 256);
        }
        edges64_.assign(offsets_[n_features], std::numeric_limits<double>::quiet_NaN());
        edges32_.assign(offsets_[n_features], std::numeric_limits<float>::quiet_NaN());
        for (std::int64_t j = 0; j < n_features; ++j) {
            const double* row = edges + j * width;
            const int n_inner = n_bins_[j] - 1;
            for (int k = 0; k < n_inner; ++k) {
                const double e = row[k];
                if (std::isnan(e) || (k > 0 && e < row[k - 1]))
                    throw std::invalid_argument(
                        "inner edges of feature " + std::to_string(j) +
                        " must be non-decreasing and not NaN (position " + std::to_string(k) +
                        ")");
                for (std::int64_t slot : slots_of(k, n_bins_[j])) {
                    edges64_[offsets_[j] + slot] = e;
                    edges32_[offsets_[j] + slot] = round_up_to_float(e);
                }
            }
        }
        build_levels(edges, width);
    }

    std::int64_t n_features() const { return n_features_; }

    // X: n_rows x n_features_ with element strides (row_stride, col_stride); columns: the
    // n_out features to bin, in output order, each in [0, n_features_); out: C-contiguous
    // n_rows x n_out. Callers validate shapes and indices (see bind_binning.cpp).
    template <typename T>
    void transform(const T* X, std::int64_t n_rows, std::int64_t row_stride,
                   std::int64_t col_stride, const std::int64_t* columns, std::int64_t n_out,
                   std::uint8_t* out, int n_threads) const {
        const KernelTable& k = active_kernels();
        const BinView v = view();
        parallel_for_rows(n_rows, kBlockRows, n_threads, [&](std::int64_t r0, std::int64_t r1) {
            if constexpr (sizeof(T) == 4)
                k.bin_f32(v, X + r0 * row_stride, r1 - r0, row_stride, col_stride, columns, n_out,
                          out + r0 * n_out, n_out);
            else
                k.bin_f64(v, X + r0 * row_stride, r1 - r0, row_stride, col_stride, columns, n_out,
                          out + r0 * n_out, n_out);
        });
    }

   private:
    // Rows per block: one block of a typical row (<= 100 float32 features) stays in L1 while
    // every selected column of it is binned.
    static constexpr std::int64_t kBlockRows = 64;

    BinView view() const {
        return BinView{n_bins_.data(),    offsets_.data(),  edges32_.data(),
                       edges64_.data(),   levels_.data(),   level_off_.data(),
                       level32_.data(),   sorted64_.data(), exact32_.data()};
    }

    // Level tables of the vectorised search and the sorted float64 edges (kernels.hpp).
    void build_levels(const double* edges, std::int64_t width) {
        levels_.resize(n_features_);
        level_off_.resize(n_features_);
        exact32_.assign(n_features_, 0);
        sorted64_.assign(static_cast<std::size_t>(256 * n_features_),
                         std::numeric_limits<double>::quiet_NaN());
        for (std::int64_t j = 0; j < n_features_; ++j) {
            const int m = n_bins_[j] - 1;  // inner edges
            int levels = 0;
            while ((1 << levels) - 1 < m) ++levels;
            levels_[j] = static_cast<std::uint8_t>(levels);
            level_off_[j] = static_cast<std::int64_t>(level32_.size());
            level32_.resize(level32_.size() + kLevelFloats,
                            std::numeric_limits<float>::quiet_NaN());
            float* t = level32_.data() + level_off_[j];
            for (int l = 0, off = 0; l < levels; off += std::max(16, 1 << l), ++l)
                for (int i = 0; i < (1 << l); ++i) {
                    const int slot = ((2 * i + 1) << (levels - 1 - l)) - 1;
                    if (slot < m) t[off + i] = round_up_to_float(edges[j * width + slot]);
                }
            bool exact = true;  // every edge a float32 value
            for (int k = 0; k < m; ++k) {
                const double e = edges[j * width + k];
                sorted64_[256 * j + k] = e;
                exact &= std::isfinite(e) && static_cast<double>(round_up_to_float(e)) == e;
            }
            exact32_[j] = exact ? 1 : 0;
        }
    }

    // Table slots holding inner edge k of a feature with nb bins: one slot when nb <= 16, else
    // its slot in block k / 16 and, for every 16th edge, a splitter slot too.
    static std::vector<std::int64_t> slots_of(int k, int nb) {
        if (nb <= 16) return {k};
        std::vector<std::int64_t> slots{16 + 16 * (k / 16) + (k % 16)};
        if (k % 16 == 15) slots.push_back(k / 16);
        return slots;
    }

    // Smallest float32 f with (double)f >= e, so that for every float32 x: x >= e <=> x >= f.
    static float round_up_to_float(double e) {
        constexpr double fmax = std::numeric_limits<float>::max();
        if (std::isinf(e)) return static_cast<float>(e);
        if (e > fmax) return std::numeric_limits<float>::infinity();
        if (e < -fmax) return -std::numeric_limits<float>::max();
        float f = static_cast<float>(e);
        if (static_cast<double>(f) < e) f = std::nextafter(f, std::numeric_limits<float>::infinity());
        return f;
    }

    std::int64_t n_features_;
    std::vector<std::uint8_t> n_bins_;
    std::vector<std::int64_t> offsets_;
    std::vector<double> edges64_;
    std::vector<float> edges32_;
    std::vector<std::uint8_t> levels_;
    std::vector<std::int64_t> level_off_;
    std::vector<float> level32_;
    std::vector<double> sorted64_;
    std::vector<std::uint8_t> exact32_;
};

}  // namespace greenauto
