// Naive Bayes on bin codes (per-feature per-code log-probability tables) and brute-force KNN on
// uint8 codes.
//
// TableNB: score[c] = sum_j table_j[code_j, c] (features in order, starting from 0) + prior[c],
//   label = first class with the highest score. With CategoricalNB's feature_log_prob_ and
//   class_log_prior_ this is scikit-learn's own sum, term by term. A code at or past a
//   feature's table size contributes 0 (scikit-learn raises there instead). Probabilities:
//   exp(score - logsumexp(score)) with scikit-learn's own logsumexp (utils/_array_api.py:
//   the maxima apart, the other terms summed with numpy's pairwise summation).
// KnnBinned: the k nearest training rows under L1 or squared L2 on the codes, found with
//   exactly scikit-learn's ArgKmin max-heap (training rows in index order, a candidate enters
//   only when strictly closer than the current k-th), then the label with most neighbours,
//   ties to the lowest class index (scikit-learn's ArgKminClassMode); probabilities are the
//   neighbour shares count / k, as scikit-learn's predict_proba. Distances are integers,
//   so they equal scikit-learn's float64 ones exactly. On a CPU with AMX-INT8 (and Linux's
//   leave), L2 on codes below 128 takes 16 queries and 32 training rows at a time, every
//   feature at once, in tile dot products (knn_select_amx). Otherwise four queries at a time,
//   32 training rows at a time, over the features of highest variance first (byte SAD for L1,
//   16-bit multiply-add or, on codes below 128, a dot product for L2 over the first 16 or 32;
//   kernels_impl.hpp); only rows whose partial distance is under the bound are completed (on
//   the dot-product layout with at most 256 features, row by row from a row-major copy of the
//   features past the 32nd).
//   The labels need only the multiset of the neighbours' labels (uniform weights only):
//   knn_select (kernels.hpp) finds them without the heap, which it replays on its candidate
//   log only for a query whose rows at the k-th distance carry different labels and do not
//   all fit; a query whose log is incomplete (it overflowed, or the bound was lowered before
//   the rows were offered: the warm start of the dot-product layout) is searched again with
//   the heap (knn_search), in blocks of such queries.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace greenauto {

// numpy's pairwise summation of a contiguous double row (numpy/_core/src/umath/
// loops_utils.h.src): what np.sum(a, axis=1) computes for each row, bit for bit.
inline double pairwise_sum(const double* a, std::int64_t n) {
    if (n < 8) {
        double res = -0.0;
        for (std::int64_t i = 0; i < n; ++i) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j];
        std::int64_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += a[i];
        return res;
    }
    std::int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// proba[c] = exp(jll[c] - logsumexp(jll)), as scikit-learn's naive Bayes predict_proba.
// terms: k doubles of scratch.
inline void posterior_from_jll(const double* jll, std::int64_t k, double* terms, double* proba) {
    double amax = jll[0];
    for (std::int64_t c = 1; c < k; ++c) amax = std::max(amax, jll[c]);
    double m = 0.0;
    const double shift = std::isfinite(amax) ? amax : 0.0;
    for (std::int64_t c = 0; c < k; ++c) {
        const bool is_max = jll[c] == amax;
        m += is_max ? 1.0 : 0.0;
        terms[c] = is_max ? 0.0 : std::exp(jll[c] - shift);
    }
    double s = pairwise_sum(terms, k);
    s = (s == 0.0) ? s : s / m;
    const double out = (std::log1p(s) + std::log(m)) + amax;
    for (std::int64_t c = 0; c < k; ++c) proba[c] = std::exp(jll[c] - out);
}

// Each class's sum over a row's features of table_j[code_j, c], features in order (a code past
// feature j's table adds nothing), into acc (k values). Vectorised over the classes, so every
// sum is still added feature by feature in order: the same doubles at every width; cloned for
// the widths this CPU has (x86-64 Linux: glibc picks one at load time).
#if defined(__x86_64__) && defined(__linux__)
#define GREENAUTO_NB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GREENAUTO_NB_CLONES
#endif
GREENAUTO_NB_CLONES static void nb_row_sums(const std::uint8_t* row, const std::int32_t* features,
                                            const std::int32_t* n_codes,
                                            const std::int64_t* offsets, std::int64_t nf,
                                            const double* table, std::int64_t k,
                                            double* __restrict acc) {
    for (std::int64_t c = 0; c < k; ++c) acc[c] = 0.0;
    for (std::int64_t j = 0; j < nf; ++j) {
        const std::int32_t code = row[features[j]];
        if (code >= n_codes[j]) continue;
        const double* __restrict t = table + offsets[j] + code * k;
        for (std::int64_t c = 0; c < k; ++c) acc[c] += t[c];
    }
}
#undef GREENAUTO_NB_CLONES

class TableNB {
   public:
    static constexpr bool kFreeProba = false;  // exp and log per class
    // features: n_features indices into a code row; n_codes: table rows per feature; table:
    // sum(n_codes) x n_classes, feature-major; prior: n_classes.
    TableNB(const std::int32_t* features, const std::int64_t* n_codes, std::int64_t n_features,
            std::int64_t n_in, const double* table, std::int64_t table_rows, const double* prior,
            std::int64_t n_classes)
        : k_(n_classes) {
        if (n_classes < 1) throw std::invalid_argument("NB needs at least one class");
        std::int64_t rows = 0;
        for (std::int64_t j = 0; j < n_features; ++j) {
            if (features[j] < 0 || features[j] >= n_in)
                throw std::invalid_argument("NB feature " + std::to_string(features[j]) +
                                            " out of range for " + std::to_string(n_in));
            if (n_codes[j] < 1 || n_codes[j] > 256)
                throw std::invalid_argument("NB table of feature " + std::to_string(j) +
                                            " must have 1 to 256 rows");
            features_.push_back(features[j]);
            n_codes_.push_back(static_cast<std::int32_t>(n_codes[j]));
            offsets_.push_back(rows * n_classes);
            rows += n_codes[j];
        }
        if (rows != table_rows)
            throw std::invalid_argument("NB table has " + std::to_string(table_rows) +
                                        " rows, the per-feature sizes add up to " +
                                        std::to_string(rows));
        table_.assign(table, table + rows * n_classes);
        prior_.assign(prior, prior + n_classes);
        for (double v : table_)
            if (!std::isfinite(v)) throw std::invalid_argument("NB table value is not finite");
        for (double v : prior_)
            if (!std::isfinite(v)) throw std::invalid_argument("NB prior is not finite");
    }

    std::int64_t n_classes() const { return k_; }
    // Scratch needed per call, in doubles.
    std::int64_t scratch_doubles() const { return 2 * k_; }

    // proba: n x n_classes posteriors, or null for labels only.
    void predict(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                 std::int32_t* labels, double* proba, double* scratch) const {
        const std::int64_t nf = static_cast<std::int64_t>(features_.size());
        for (std::int64_t r = 0; r < n; ++r) {
            nb_row_sums(x + r * stride, features_.data(), n_codes_.data(), offsets_.data(), nf,
                        table_.data(), k_, scratch);
            std::int32_t best = 0;
            double best_v = scratch[0] + prior_[0];
            for (std::int64_t c = 1; c < k_; ++c) {
                const double v = scratch[c] + prior_[c];
                if (v > best_v) {
                    best_v = v;
                    best = static_cast<std::int32_t>(c);
                }
            }
            labels[r] = best;
            if (proba) {
                for (std::int64_t c = 0; c < k_; ++c) scratch[c] += prior_[c];
                posterior_from_jll(scratch, k_, scratch + k_, proba + r * k_);
            }
        }
    }

   private:
    std::int64_t k_;
    std::vector<std::int32_t> features_, n_codes_;
    std::vector<std::int64_t> offsets_;
    std::vector<double> table_, prior_;
};

class KnnBinned {
   public:
    static constexpr bool kFreeProba = true;  // the neighbour counts of the vote, over k
    // train: n_train x n_features codes (row-major); labels: class index per training row.
    KnnBinned(const std::int32_t* features, std::int64_t n_features, std::int64_t n_in,
              const std::uint8_t* train, std::int64_t n_train, const std::int32_t* labels,
              std::int64_t n_classes, std::int64_t k, int p)
        : d_(n_features), groups_((n_features + 7) / 8), n_train_(n_train),
          n_classes_(n_classes), k_(k), p_(p) {
        if (p != 1 && p != 2) throw std::invalid_argument("KNN metric must be L1 (p=1) or L2");
        if (n_features < 1 || n_features > 65535)
            throw std::invalid_argument("KNN needs 1 to 65535 features");
        if (k < 1 || k > n_train)
            throw std::invalid_argument("KNN k=" + std::to_string(k) + " must be in [1, " +
                                        std::to_string(n_train) + "]");
        if (n_classes < 1) throw std::invalid_argument("KNN needs at least one class");
        if (n_train > std::numeric_limits<std::int32_t>::max())
            throw std::invalid_argument("KNN has " + std::to_string(n_train) +
                                        " training rows, at most 2^31 - 1 are supported");
        for (std::int64_t j = 0; j < n_features; ++j) {
            if (features[j] < 0 || features[j] >= n_in)
                throw std::invalid_argument("KNN feature " + std::to_string(features[j]) +
                                            " out of range for " + std::to_string(n_in));
            features_.push_back(features[j]);
        }
        for (std::int64_t i = 0; i < n_train; ++i)
            if (labels[i] < 0 || labels[i] >= n_classes)
                throw std::invalid_argument("KNN label of training row " + std::to_string(i) +
                                            " out of range");
        // features by decreasing variance (partial distances grow fastest, rows are dropped
        // sooner; the integer sum is the same in any order), then the layout of kernels.hpp
        std::vector<double> var(static_cast<std::size_t>(d_), 0.0);
        for (std::int64_t j = 0; j < d_; ++j) {
            double s1 = 0.0, s2 = 0.0;
            for (std::int64_t i = 0; i < n_train; ++i) {
                const double c = train[i * d_ + j];
                s1 += c;
                s2 += c * c;
            }
            var[j] = s2 - s1 * s1 / static_cast<double>(n_train);
        }
        order_.resize(static_cast<std::size_t>(d_));
        for (std::int64_t j = 0; j < d_; ++j) order_[j] = j;
        std::stable_sort(order_.begin(), order_.end(),
                         [&](std::int64_t a, std::int64_t b) { return var[a] > var[b]; });
        n_chunks_ = (n_train + kKnnChunk - 1) / kKnnChunk;
        // L2 on codes below 128: groups of 4 features and squared norms (the dot product)
        bool small = p == 2;
        for (std::int64_t i = 0; i < n_train * d_ && small; ++i) small = train[i] < 128;
        bytes_ = small ? 4 : 8;
        groups_ = (d_ + bytes_ - 1) / bytes_;
        // AMX steps of 16 groups: zero groups up to a multiple of 16 past the first 16 (at
        // most 256 features, as knn_select_amx's buffers)
        amx_groups_ = !small || groups_ > 64 ? 0
                      : groups_ <= 16     ? groups_
                                          : (groups_ + 15) / 16 * 16;
        qwidth_ = std::max(groups_, amx_groups_);
        const std::int64_t rows = n_chunks_ * kKnnChunk;
        train_.assign(static_cast<std::size_t>(qwidth_ * rows * bytes_), 0);
        for (std::int64_t i = 0; i < n_train; ++i)
            for (std::int64_t j = 0; j < d_; ++j)
                train_[((j / bytes_) * rows + i) * bytes_ + j % bytes_] = train[i * d_ + order_[j]];
        labels_.assign(labels, labels + n_train);
        if (small && d_ > 2 * kKnnStage) {  // the features past the first filter, row by row
            tail_stride_ = (d_ - 2 * kKnnStage + 63) / 64 * 64;
            tail_.assign(static_cast<std::size_t>(n_train * tail_stride_), 0);
            for (std::int64_t i = 0; i < n_train; ++i)
                for (std::int64_t j = 2 * kKnnStage; j < d_; ++j)
                    tail_[i * tail_stride_ + j - 2 * kKnnStage] = train[i * d_ + order_[j]];
        }
        if (small) {  // negated squared norms of every row over each 16 features (kernels.hpp)
            const std::int64_t stages = (groups_ + 3) / 4;
            yy_.assign(static_cast<std::size_t>(stages * rows), 0u);
            nyy_.assign(static_cast<std::size_t>(rows), 0);  // and over every feature (AMX)
            for (std::int64_t i = 0; i < n_train; ++i)
                for (std::int64_t j = 0; j < d_; ++j) {
                    const std::uint32_t b = train[i * d_ + order_[j]];
                    yy_[(j / kKnnStage) * rows + i] -= b * b;  // modulo 2^32: -yy as int32
                    nyy_[i] -= static_cast<std::int32_t>(b * b);
                }
        }
    }

    std::int64_t n_classes() const { return n_classes_; }
    // Scratch needed per call, in float64 elements: kBlock queries (bytes), heaps (32-bit
    // distances and indices, in as many elements as float64 ones), candidate buffers (64-bit),
    // class counts, and knn_select's first-filter scratch.
    static constexpr std::int64_t kBlock = std::max(kKnnQueries, kKnnAmxQueries);
    std::int64_t scratch_doubles() const {
        return kBlock * (qwidth_ + 2 * k_ + knn_cand_cap(k_)) + n_classes_ +
               (yy_.empty() ? 0 : (knn_part_size(n_chunks_) + 1) / 2);
    }

    // proba: n x n_classes neighbour shares, or null for labels only.
    void predict(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                 std::int32_t* labels, double* proba, double* scratch) const {
        // the queries are bytes of float64 storage, read and written as unsigned char only
        auto* queries = reinterpret_cast<std::uint8_t*>(scratch);
        // the heaps: 32-bit integers whose lifetime starts here, in float64 storage
        const std::int64_t heap = kBlock * k_;
        auto* dist = ::new (static_cast<void*>(scratch + kBlock * qwidth_))
            std::uint32_t[static_cast<std::size_t>(heap)];
        auto* index = ::new (static_cast<void*>(scratch + kBlock * qwidth_ + heap))
            std::int32_t[static_cast<std::size_t>(heap)];
        const std::int64_t cap = knn_cand_cap(k_);
        auto* cand = ::new (static_cast<void*>(scratch + kBlock * qwidth_ + 2 * heap))
            std::uint64_t[static_cast<std::size_t>(kBlock * cap)];
        double* counts = scratch + kBlock * (qwidth_ + cap) + 2 * heap;
        const KernelTable& kt = active_kernels();
        // knn_select's first-pass partial distances, 32-bit integers in float64 storage
        std::uint32_t* part = yy_.empty() ? nullptr
            : ::new (static_cast<void*>(counts + n_classes_))
                  std::uint32_t[static_cast<std::size_t>(knn_part_size(n_chunks_))];
        const KnnView v{train_.data(), yy_.empty() ? nullptr : yy_.data(), n_train_, n_chunks_,
                        groups_, k_, p_, tail_.empty() ? nullptr : tail_.data(), tail_stride_,
                        labels_.data(), cap, part, nyy_.empty() ? nullptr : nyy_.data(),
                        amx_groups_};
        // AMX: blocks of kKnnAmxQueries queries, every feature at once
        const bool amx = amx_groups_ > 0 && kt.knn_select_amx != nullptr && kt.knn_amx_ready();
        const std::int64_t block = amx ? kKnnAmxQueries : kKnnQueries;
        std::int64_t pending[kBlock];  // rows waiting for the heap replay
        std::int64_t n_pending = 0;
        const auto finish = [&](std::int64_t r, const std::int32_t* neighbours) {
            labels[r] = vote(neighbours, counts);
            if (proba)  // neighbour shares, as scikit-learn's predict_proba
                for (std::int64_t c = 0; c < n_classes_; ++c)
                    proba[r * n_classes_ + c] = counts[c] / static_cast<double>(k_);
        };
        // Whether rows[0, m) go to the tiles (loaded as their queries): the tiles cost the same
        // for 1 query as for 16, so a few queries take the vector kernels.
        const auto with_tiles = [&](const std::int64_t* rs, std::int64_t m) {
            if (!amx || m <= kKnnQueries) return false;
            load_queries(x, stride, rs, m, kKnnAmxQueries, 4 * amx_groups_, queries);
            return true;
        };
        // rows[0, m) through the vector kernels: fn(q0, n4) with rows[q0, q0 + n4) loaded
        const auto in_fours = [&](const std::int64_t* rs, std::int64_t m, auto&& fn) {
            for (std::int64_t q0 = 0; q0 < m; q0 += kKnnQueries) {
                const std::int64_t n4 = std::min(kKnnQueries, m - q0);
                load_queries(x, stride, rs + q0, n4, kKnnQueries, groups_ * bytes_, queries);
                fn(q0, n4);
            }
        };
        const auto replay = [&] {  // scikit-learn's heap, for the pending rows
            // above every distance (< 65536 * 255^2 < 2^32 - 1): scikit-learn's +inf
            std::fill(dist, dist + heap, std::numeric_limits<std::uint32_t>::max());
            if (!with_tiles(pending, n_pending) ||
                !kt.knn_search_amx(v, queries, n_pending, dist, index))
                in_fours(pending, n_pending, [&](std::int64_t q0, std::int64_t n4) {
                    kt.knn_search(v, queries, n4, dist + q0 * k_, index + q0 * k_);
                });
            for (std::int64_t q = 0; q < n_pending; ++q) finish(pending[q], index + q * k_);
            n_pending = 0;
        };
        for (std::int64_t r0 = 0; r0 < n; r0 += block) {
            const std::int64_t nq = std::min(block, n - r0);
            std::int64_t rows[kBlock];
            for (std::int64_t q = 0; q < nq; ++q) rows[q] = r0 + q;
            // neighbours' labels without the heap; the heap replayed only when its eviction
            // order picks among rows of different labels at the k-th distance (gathered into
            // blocks of their own)
            std::uint32_t need = 0;
            if (!with_tiles(rows, nq) || !kt.knn_select_amx(v, queries, nq, cand, index, &need)) {
                need = 0;  // (or a code >= 128)
                in_fours(rows, nq, [&](std::int64_t q0, std::int64_t n4) {
                    need |= kt.knn_select(v, queries, n4, cand, index + q0 * k_) << q0;
                });
            }
            for (std::int64_t q = 0; q < nq; ++q)
                if (!(need >> q & 1u)) finish(r0 + q, index + q * k_);
            for (std::int64_t q = 0; q < nq; ++q) {
                if (!(need >> q & 1u)) continue;
                pending[n_pending++] = r0 + q;
                if (n_pending == block) replay();
            }
        }
        if (n_pending) replay();
    }

   private:
    // The codes of rows[0 .. nq) as `slots` queries of `width` bytes in search order (zero
    // past the last feature; unused slots repeat the first).
    void load_queries(const std::uint8_t* x, std::int64_t stride, const std::int64_t* rows,
                      std::int64_t nq, std::int64_t slots, std::int64_t width,
                      std::uint8_t* queries) const {
        for (std::int64_t q = 0; q < slots; ++q) {
            const std::uint8_t* row = x + rows[q < nq ? q : 0] * stride;
            std::uint8_t* qr = queries + q * width;
            for (std::int64_t j = 0; j < d_; ++j) qr[j] = row[features_[order_[j]]];
            std::fill(qr + d_, qr + width, std::uint8_t{0});
        }
    }

    // The label with most neighbours, ties to the lowest class index.
    std::int32_t vote(const std::int32_t* index, double* counts) const {
        std::fill(counts, counts + n_classes_, 0.0);
        for (std::int64_t h = 0; h < k_; ++h)
            counts[labels_[static_cast<std::size_t>(index[h])]] += 1.0;
        std::int32_t best = 0;
        for (std::int64_t c = 1; c < n_classes_; ++c)
            if (counts[c] > counts[best]) best = static_cast<std::int32_t>(c);
        return best;
    }

    std::int64_t d_, groups_, n_train_, n_classes_, k_, n_chunks_ = 0, bytes_ = 8,
        tail_stride_ = 0, amx_groups_ = 0, qwidth_ = 0;
    int p_;
    std::vector<std::int32_t> features_, labels_;
    std::vector<std::int64_t> order_;  // search position -> member feature
    std::vector<std::uint8_t> train_, tail_;
    std::vector<std::uint32_t> yy_;
    std::vector<std::int32_t> nyy_;  // AMX: negated squared norms over every feature
};

}  // namespace greenauto
