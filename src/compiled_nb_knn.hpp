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
//   so they equal scikit-learn's float64 ones exactly; a partial distance already at the heap
//   top ends the row early (it could not enter).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

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

class TableNB {
   public:
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
            const std::uint8_t* row = x + r * stride;
            for (std::int64_t c = 0; c < k_; ++c) scratch[c] = 0.0;
            for (std::int64_t j = 0; j < nf; ++j) {
                const std::int32_t code = row[features_[j]];
                if (code >= n_codes_[j]) continue;
                const double* t = table_.data() + offsets_[j] + code * k_;
                for (std::int64_t c = 0; c < k_; ++c) scratch[c] += t[c];
            }
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
    // train: n_train x n_features codes (row-major); labels: class index per training row.
    KnnBinned(const std::int32_t* features, std::int64_t n_features, std::int64_t n_in,
              const std::uint8_t* train, std::int64_t n_train, const std::int32_t* labels,
              std::int64_t n_classes, std::int64_t k, int p)
        : d_(n_features), n_train_(n_train), n_classes_(n_classes), k_(k), p_(p) {
        if (p != 1 && p != 2) throw std::invalid_argument("KNN metric must be L1 (p=1) or L2");
        if (n_features < 1 || n_features > 65535)
            throw std::invalid_argument("KNN needs 1 to 65535 features");
        if (k < 1 || k > n_train)
            throw std::invalid_argument("KNN k=" + std::to_string(k) + " must be in [1, " +
                                        std::to_string(n_train) + "]");
        if (n_classes < 1) throw std::invalid_argument("KNN needs at least one class");
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
        // chunk-major, then feature, then row in chunk: kChunk rows' feature j are contiguous
        const std::int64_t n_chunks = (n_train + kChunk - 1) / kChunk;
        train_.assign(static_cast<std::size_t>(n_chunks * d_ * kChunk), 0);
        for (std::int64_t i = 0; i < n_train; ++i)
            for (std::int64_t j = 0; j < d_; ++j)
                train_[((i / kChunk) * d_ + j) * kChunk + i % kChunk] = train[i * d_ + j];
        labels_.assign(labels, labels + n_train);
    }

    std::int64_t n_classes() const { return n_classes_; }
    // Scratch needed per call, in doubles.
    std::int64_t scratch_doubles() const { return (2 * k_ + n_classes_ + d_) / 2 + 8; }

    // proba: n x n_classes neighbour shares, or null for labels only.
    void predict(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                 std::int32_t* labels, double* proba, double* scratch) const {
        auto* dist = reinterpret_cast<std::uint32_t*>(scratch);
        auto* index = dist + k_;
        auto* counts = index + k_;
        auto* query = reinterpret_cast<std::uint8_t*>(counts + n_classes_);
        for (std::int64_t r = 0; r < n; ++r) {
            const std::uint8_t* row = x + r * stride;
            for (std::int64_t j = 0; j < d_; ++j) query[j] = row[features_[j]];
            for (std::int64_t h = 0; h < k_; ++h) {
                dist[h] = std::numeric_limits<std::uint32_t>::max();
                index[h] = 0;
            }
            if (p_ == 1) search<1>(query, dist, index);
            else search<2>(query, dist, index);
            for (std::int64_t c = 0; c < n_classes_; ++c) counts[c] = 0;
            for (std::int64_t h = 0; h < k_; ++h) ++counts[labels_[index[h]]];
            std::int32_t best = 0;
            for (std::int64_t c = 1; c < n_classes_; ++c)
                if (counts[c] > counts[best]) best = static_cast<std::int32_t>(c);
            labels[r] = best;
            if (proba)
                for (std::int64_t c = 0; c < n_classes_; ++c)
                    proba[r * n_classes_ + c] =
                        static_cast<double>(counts[c]) / static_cast<double>(k_);
        }
    }

   private:
    static constexpr std::int64_t kChunk = 32;

    // Training rows in index order, kChunk at a time: exact distances of the whole chunk
    // (vectorised over rows), then every row that could enter goes through the heap in order.
    template <int P>
    void search(const std::uint8_t* q, std::uint32_t* dist, std::uint32_t* index) const {
        std::uint32_t d[kChunk];
        const std::int64_t n_chunks = (n_train_ + kChunk - 1) / kChunk;
        for (std::int64_t c = 0; c < n_chunks; ++c) {
            if (!chunk_distances<P>(q, train_.data() + c * d_ * kChunk, d_, dist[0], d))
                continue;
            const std::int64_t base = c * kChunk;
            const std::int64_t n = std::min(kChunk, n_train_ - base);
            for (std::int64_t r = 0; r < n; ++r)
                if (d[r] < dist[0]) heap_push(dist, index, d[r], static_cast<std::uint32_t>(base + r));
        }
    }

    // Distances of one chunk's rows, kGroup features at a time; false as soon as no row's
    // partial distance is below `top` (then none can enter the heap: distances only grow).
    template <int P>
    __attribute__((target_clones("avx2", "default"))) static bool chunk_distances(
        const std::uint8_t* q, const std::uint8_t* y, std::int64_t n_features,
        std::uint32_t top, std::uint32_t* out) {
        constexpr std::int64_t kGroup = 4;
        std::uint32_t acc[kChunk] = {};
        for (std::int64_t j0 = 0; j0 < n_features; j0 += kGroup) {
            const std::int64_t j1 = std::min(j0 + kGroup, n_features);
            for (std::int64_t j = j0; j < j1; ++j) {
                const std::int32_t qj = q[j];
                const std::uint8_t* yj = y + j * kChunk;
                for (int r = 0; r < kChunk; ++r) {
                    const std::int32_t diff = static_cast<std::int32_t>(yj[r]) - qj;
                    acc[r] += static_cast<std::uint32_t>(P == 1 ? (diff < 0 ? -diff : diff)
                                                                : diff * diff);
                }
            }
            bool any = false;
            for (int r = 0; r < kChunk; ++r) any |= acc[r] < top;
            if (!any) return false;
        }
        for (int r = 0; r < kChunk; ++r) out[r] = acc[r];
        return true;
    }

    // scikit-learn's sklearn/utils/_heap.pyx heap_push, for a full max-heap of size k.
    void heap_push(std::uint32_t* values, std::uint32_t* indices, std::uint32_t val,
                   std::uint32_t val_idx) const {
        if (val >= values[0]) return;
        const std::int64_t size = k_;
        std::int64_t cur = 0;
        while (true) {
            const std::int64_t l = 2 * cur + 1, rr = l + 1;
            std::int64_t swap;
            if (l >= size) break;
            if (rr >= size) {
                if (values[l] > val) swap = l;
                else break;
            } else if (values[l] >= values[rr]) {
                if (val < values[l]) swap = l;
                else break;
            } else {
                if (val < values[rr]) swap = rr;
                else break;
            }
            values[cur] = values[swap];
            indices[cur] = indices[swap];
            cur = swap;
        }
        values[cur] = val;
        indices[cur] = val_idx;
    }

    std::int64_t d_, n_train_, n_classes_, k_;
    int p_;
    std::vector<std::int32_t> features_, labels_;
    std::vector<std::uint8_t> train_;
};

}  // namespace greenauto
