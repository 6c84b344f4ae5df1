// Binning kernel: float32/float64 features -> uint8 bin indices, with optional fused column
// selection.
//
// Semantics (identical to numpy.searchsorted(inner_edges, x, side="right"), i.e. to
// scikit-learn's KBinsDiscretizer(encode="ordinal") for the same edges):
//   bin(x) = number of inner edges e with e <= x, in [0, n_bins - 1];
//   -inf -> 0, +inf -> n_bins - 1, NaN -> n_bins (a bin of its own).
//
// Each feature's inner edges are stored padded with NaN to 2^steps - 1 slots, and the search is
// a branch-free descent of `steps` comparisons. NaN padding compares false, so the descent
// never passes the last real edge and never reads past the feature's own slots.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

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
        steps_.resize(n_features);
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
            int steps = 0;
            while ((std::int64_t{1} << steps) < nb) ++steps;
            n_bins_[j] = static_cast<std::uint8_t>(nb);
            steps_[j] = static_cast<std::uint8_t>(steps);
            offsets_[j + 1] = offsets_[j] + ((std::int64_t{1} << steps) - 1);
        }
        const double nan = std::numeric_limits<double>::quiet_NaN();
        edges64_.assign(offsets_[n_features], nan);
        edges32_.assign(offsets_[n_features], std::numeric_limits<float>::quiet_NaN());
        for (std::int64_t j = 0; j < n_features; ++j) {
            const double* row = edges + j * width;
            for (std::int64_t k = 0; k + 1 < n_bins_[j]; ++k) {
                const double e = row[k];
                if (std::isnan(e) || (k > 0 && e < row[k - 1]))
                    throw std::invalid_argument(
                        "inner edges of feature " + std::to_string(j) +
                        " must be non-decreasing and not NaN (position " + std::to_string(k) +
                        ")");
                edges64_[offsets_[j] + k] = e;
                edges32_[offsets_[j] + k] = round_up_to_float(e);
            }
        }
    }

    std::int64_t n_features() const { return n_features_; }
    const std::vector<std::uint8_t>& n_bins() const { return n_bins_; }

    // X: n_rows x n_features_ with element strides (row_stride, col_stride); columns: the
    // n_out features to bin, in output order, each in [0, n_features_); out: C-contiguous
    // n_rows x n_out. Callers validate shapes and indices (see bind_binning.cpp).
    template <typename T>
    void transform(const T* X, std::int64_t n_rows, std::int64_t row_stride,
                   std::int64_t col_stride, const std::int64_t* columns, std::int64_t n_out,
                   std::uint8_t* out, int n_threads) const {
        const T* edges = edge_data<T>();
        parallel_for_rows(n_rows, kBlockRows, n_threads, [&](std::int64_t r0, std::int64_t r1) {
            for (std::int64_t i = 0; i < n_out; ++i) {
                const std::int64_t c = columns[i];
                const T* x = X + c * col_stride;
                const T* e = edges + offsets_[c];
                std::uint8_t* o = out + i;
                switch (steps_[c]) {
                    case 0: column<T, 0>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    case 1: column<T, 1>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    case 2: column<T, 2>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    case 3: column<T, 3>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    case 4: column<T, 4>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    case 5: column<T, 5>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    case 6: column<T, 6>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    case 7: column<T, 7>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                    default: column<T, 8>(x, row_stride, e, n_bins_[c], r0, r1, o, n_out); break;
                }
            }
        });
    }

   private:
    // Rows per block: one block of a typical row (<= 100 float32 features) stays in L1 while
    // every selected column of it is binned.
    static constexpr std::int64_t kBlockRows = 64;

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

    template <typename T>
    const T* edge_data() const {
        if constexpr (sizeof(T) == 4) return edges32_.data();
        else return edges64_.data();
    }

    template <typename T, int Steps>
    static void column(const T* x, std::int64_t row_stride, const T* e, std::uint8_t nan_bin,
                       std::int64_t r0, std::int64_t r1, std::uint8_t* out,
                       std::int64_t out_stride) {
        for (std::int64_t r = r0; r < r1; ++r) {
            const T v = x[r * row_stride];
            unsigned pos = 0;
            for (int s = Steps - 1; s >= 0; --s) {
                const unsigned step = 1u << s;
                pos += (v >= e[pos + step - 1]) ? step : 0u;
            }
            out[r * out_stride] = (v != v) ? nan_bin : static_cast<std::uint8_t>(pos);
        }
    }

    std::int64_t n_features_;
    std::vector<std::uint8_t> n_bins_, steps_;
    std::vector<std::int64_t> offsets_;
    std::vector<double> edges64_;
    std::vector<float> edges32_;
};

}  // namespace greenauto
