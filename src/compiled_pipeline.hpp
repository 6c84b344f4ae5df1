// CompiledPipeline: bin (uint8) -> gather selected columns -> 1 to 3 members -> combine, in
// one pass over row blocks; labels and probabilities come out of the same call.
//
// Binned mode: the pipeline owns a copy of a BinningKernel and bins the selected columns of each
// block of rows into a per-thread uint8 buffer; every member reads that buffer. Raw mode (no
// binner): members are raw-feature tree models reading float32 rows in place.
// Every member gives a class index and its own probabilities (trees: the library's
// mean/sigmoid/softmax; NB: posteriors; KNN: neighbour shares), mapped to pipeline classes by
// its class map (a member may know a subset). Combine:
//   one member: its label and its probabilities, unchanged;
//   soft vote: P = (P_0 + P_1 [+ P_2]) / n_members, summed in member order; label = the first
//     class with the highest P;
//   hard vote: each member votes its label; with V = votes per class and S = P_0 + P_1 [+ P_2]
//     (the soft vote's sum, before its division), q = (V + S / 4) / (1.25 n_members) and the
//     label is the first class with the highest q. As S <= 3 < 4, the class with most votes
//     wins; among equally voted classes, the one with the highest S (to rounding), then the
//     lowest index. q (vote shares refined by the members' probabilities; sums to 1) is what
//     predict_proba returns, so argmax(proba) == label here too.
// greenauto.ensemble.MajorityVoteClassifier computes the same, operation for operation.
// Threads: rows are split into one contiguous range per thread of the team OpenMP actually
// grants (it may grant fewer than asked); all buffers are allocated before the parallel region
// and nothing in it throws. Below kMinRowsPerThread rows per thread the call stays on the
// calling thread (one row pays no thread start-up).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "binning.hpp"
#include "compiled_nb_knn.hpp"
#include "compiled_trees.hpp"
#include "parallel.hpp"

#if defined(GREENAUTO_OPENMP)
#include <omp.h>
#endif

namespace greenauto {

enum class Vote : int { kHard = 0, kSoft = 1 };

// One member. predict_* write n labels (the member's class indices) and, when proba is not
// null, n x n_classes() probabilities. A member supports one input mode (binned() says which);
// the pipeline never calls the other (add() rejects a mismatch). Scratch is reused from call to
// call (it holds what the last call left): a member initialises what it reads.
struct Member {
    virtual ~Member() = default;
    virtual bool binned() const = 0;
    virtual std::int64_t n_classes() const = 0;
    virtual std::int64_t scratch_doubles(std::int64_t block) const = 0;
    virtual void predict_codes(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                               std::int32_t* labels, double* proba, double* scratch) const = 0;
    virtual void predict_raw(const float* x, std::int64_t stride, std::int64_t n,
                             std::int32_t* labels, double* proba, double* scratch) const = 0;
    // Its probabilities cost next to nothing beside its labels (the KNN's neighbour shares):
    // a hard vote asks for them on every row rather than predicting the tied rows again.
    virtual bool free_proba() const { return false; }
    // The few-row path (RowPath) a binned forest chose at the level in use; -1 otherwise.
    virtual int row_path() const { return -1; }
};

// The unsupported mode of a member: every row still gets a defined output.
inline void no_prediction(std::int64_t n, std::int64_t k, std::int32_t* labels, double* proba) {
    std::fill(labels, labels + n, 0);
    if (proba) std::fill(proba, proba + n * k, 0.0);
}

template <typename Node>
struct TreeMember final : Member {
    explicit TreeMember(const ForestArrays& a) : model(a) {}
    bool binned() const override { return Node::kBinned; }
    std::int64_t n_classes() const override { return model.n_classes(); }
    std::int64_t scratch_doubles(std::int64_t block) const override {
        return model.scratch_doubles(block);
    }
    void run(const typename TreeEnsemble<Node>::Input* x, std::int64_t stride, std::int64_t n,
             std::int32_t* labels, double* proba, double* scratch) const {
        model.predict(x, stride, n, labels, proba, scratch);
    }
    void predict_codes(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                       std::int32_t* labels, double* proba, double* scratch) const override {
        if constexpr (Node::kBinned) run(x, stride, n, labels, proba, scratch);
        else no_prediction(n, n_classes(), labels, proba);
    }
    void predict_raw(const float* x, std::int64_t stride, std::int64_t n, std::int32_t* labels,
                     double* proba, double* scratch) const override {
        if constexpr (!Node::kBinned) run(x, stride, n, labels, proba, scratch);
        else no_prediction(n, n_classes(), labels, proba);
    }
    int row_path() const override { return model.row_path(active_isa()); }
    TreeEnsemble<Node> model;
};

// NB and KNN read bin codes only.
template <typename Model>
struct CodesMember final : Member {
    explicit CodesMember(Model m) : model(std::move(m)) {}
    bool binned() const override { return true; }
    std::int64_t n_classes() const override { return model.n_classes(); }
    std::int64_t scratch_doubles(std::int64_t) const override { return model.scratch_doubles(); }
    void predict_codes(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                       std::int32_t* labels, double* proba, double* scratch) const override {
        model.predict(x, stride, n, labels, proba, scratch);
    }
    void predict_raw(const float*, std::int64_t, std::int64_t n, std::int32_t* labels,
                     double* proba, double*) const override {
        no_prediction(n, n_classes(), labels, proba);
    }
    bool free_proba() const override { return Model::kFreeProba; }
    Model model;
};
using NBMember = CodesMember<TableNB>;
using KnnMember = CodesMember<KnnBinned>;

class CompiledPipeline {
   public:
    static constexpr std::int64_t kBlock = 512;
    static constexpr std::size_t kMaxMembers = 3;

    // binner: std::nullopt for raw mode. columns: selected input columns (binned mode).
    CompiledPipeline(std::optional<BinningKernel> binner, std::vector<std::int64_t> columns,
                     std::int64_t n_features_in, std::int64_t n_classes, Vote vote)
        : binner_(std::move(binner)), columns_(std::move(columns)),
          n_features_in_(n_features_in), n_classes_(n_classes), vote_(vote) {
        if (n_classes < 1) throw std::invalid_argument("n_classes must be at least 1");
        if (vote != Vote::kHard && vote != Vote::kSoft)
            throw std::invalid_argument("vote must be 0 (hard) or 1 (soft)");
        if (binner_) {
            if (binner_->n_features() != n_features_in)
                throw std::invalid_argument("the binner has " +
                                            std::to_string(binner_->n_features()) +
                                            " features, the pipeline " +
                                            std::to_string(n_features_in));
            if (columns_.empty()) throw std::invalid_argument("no column selected");
            for (std::int64_t c : columns_)
                if (c < 0 || c >= n_features_in)
                    throw std::invalid_argument("selected column " + std::to_string(c) +
                                                " out of range for " +
                                                std::to_string(n_features_in) + " features");
        } else if (!columns_.empty()) {
            throw std::invalid_argument("raw mode takes no column selection");
        } else if (n_features_in < 1) {
            throw std::invalid_argument("n_features_in must be at least 1");
        }
    }

    CompiledPipeline(const CompiledPipeline&) = delete;
    CompiledPipeline& operator=(const CompiledPipeline&) = delete;

    bool binned() const { return binner_.has_value(); }
    std::int64_t n_features_in() const { return n_features_in_; }
    // Width of the rows members read: selected columns (binned) or input columns (raw).
    std::int64_t n_member_features() const {
        return binned() ? static_cast<std::int64_t>(columns_.size()) : n_features_in_;
    }
    std::int64_t n_classes() const { return n_classes_; }
    std::size_t n_members() const { return members_.size(); }
    // Member m's few-row path (Member::row_path).
    int row_path(std::size_t m) const { return members_.at(m)->row_path(); }

    // class_map[i]: the pipeline class of the member's class i (a member may know a subset).
    void add(std::unique_ptr<Member> m, std::vector<std::int32_t> class_map) {
        if (members_.size() >= kMaxMembers)
            throw std::invalid_argument("a pipeline holds at most 3 members");
        if (m->binned() != binned())
            throw std::invalid_argument(binned() ? "a binned pipeline takes binned members only"
                                                 : "a raw pipeline takes raw tree members only");
        if (static_cast<std::int64_t>(class_map.size()) != m->n_classes())
            throw std::invalid_argument("member predicts " + std::to_string(m->n_classes()) +
                                        " classes, its class map has " +
                                        std::to_string(class_map.size()));
        std::vector<std::uint8_t> seen(static_cast<std::size_t>(n_classes_), 0);
        for (std::int32_t c : class_map) {
            if (c < 0 || c >= n_classes_)
                throw std::invalid_argument("class map entry " + std::to_string(c) +
                                            " out of range for " + std::to_string(n_classes_) +
                                            " classes");
            if (seen[c]++) throw std::invalid_argument("class map repeats class " +
                                                       std::to_string(c));
        }
        members_.push_back(std::move(m));
        class_maps_.push_back(std::move(class_map));
    }

    // X: n_rows x n_features_in_ with element strides; labels: n_rows class indices; proba:
    // n_rows x n_classes() or null. Shapes are the caller's to check.
    template <typename T>
    void predict(const T* X, std::int64_t n_rows, std::int64_t row_stride,
                 std::int64_t col_stride, std::int64_t* labels, double* proba,
                 int n_threads) const {
        if (members_.empty()) throw std::invalid_argument("the pipeline has no member");
        const std::int64_t useful = std::max<std::int64_t>(1, n_rows / kMinRowsPerThread);
        const int threads =
            static_cast<int>(std::min<std::int64_t>(std::max(n_threads, 1), useful));
        // thread 0 reuses the pipeline's own buffers unless another call holds them (no
        // allocation and no zeroing for a small batch); other threads get fresh ones
        std::unique_lock<std::mutex> lock(cache_mutex_, std::try_to_lock);
        const bool cached = lock.owns_lock();
        std::vector<Buffers> own(static_cast<std::size_t>(threads - (cached ? 1 : 0)));
        auto buffers = [&](int tid) -> Buffers& {
            if (cached) return tid == 0 ? cache_ : own[static_cast<std::size_t>(tid - 1)];
            return own[static_cast<std::size_t>(tid)];
        };
        for (int t = 0; t < threads; ++t)
            allocate(buffers(t), std::min(kBlock, n_rows), proba != nullptr);
        // rows [n_rows * tid / team, n_rows * (tid + 1) / team): every row belongs to exactly
        // one thread of the team, whatever its size
        auto work = [&](int tid, int team) {
            const std::int64_t begin = n_rows * tid / team;
            const std::int64_t end = n_rows * (tid + 1) / team;
            for (std::int64_t r0 = begin; r0 < end; r0 += kBlock) {
                const std::int64_t n = std::min(kBlock, end - r0);
                run_block(X + r0 * row_stride, n, row_stride, col_stride, labels + r0,
                          proba ? proba + r0 * n_classes_ : nullptr, buffers(tid));
            }
        };
#if defined(GREENAUTO_OPENMP)
        if (threads > 1) {
#pragma omp parallel num_threads(threads)
            {
                const int team = std::min(omp_get_num_threads(), threads);
                const int tid = omp_get_thread_num();
                if (tid < team) work(tid, team);
            }
            return;
        }
#endif
        work(0, 1);
    }

   private:
    // An array left uninitialised (its users write every element they read): a call on a
    // few rows must not pay for zeroing buffers sized for kBlock rows.
    template <typename T>
    struct Uninit {  // on a cache-line boundary (aligned.hpp)
        LineArray<T> p;
        std::size_t capacity = 0;
        void resize(std::size_t n) {  // keeps its memory when large enough (kept buffers)
            if (n <= capacity) return;
            p = line_array<T>(n);
            capacity = n;
        }
        T* data() const { return p.get(); }
        T& operator[](std::size_t i) const { return p[i]; }
    };

    struct Buffers {
        Uninit<std::uint8_t> codes;
        Uninit<std::int32_t> votes;
        Uninit<double> member_proba;        // kMaxMembers x kBlock x max member classes
        std::vector<double> combined;       // rows x n_classes
        std::vector<double> votes_per_class;  // n_classes
        Uninit<double> scratch;
        // hard vote, labels only: the tied rows, gathered (codes or float32 rows)
        Uninit<std::int64_t> tied;
        Uninit<std::uint8_t> tied_codes;
        Uninit<float> tied_raw;
    };

    // Every member's probabilities for every row: asked for, or a soft vote. A hard vote
    // asked for labels only needs them for its tied rows alone (see hard_labels).
    bool all_proba(bool want_proba) const {
        return want_proba || (members_.size() > 1 && vote_ == Vote::kSoft);
    }

    std::int64_t max_member_classes() const {
        std::int64_t k = 1;
        for (const auto& m : members_) k = std::max(k, m->n_classes());
        return k;
    }

    // Buffers for blocks of up to `rows` rows (votes and probabilities keep a kBlock stride).
    void allocate(Buffers& b, std::int64_t rows, bool want_proba) const {
        std::int64_t scratch = 0;
        for (const auto& m : members_) scratch = std::max(scratch, m->scratch_doubles(rows));
        const auto width = static_cast<std::size_t>(n_member_features());
        if (binned()) b.codes.resize(static_cast<std::size_t>(rows) * width);
        b.votes.resize(static_cast<std::size_t>(kBlock * kMaxMembers));
        if (want_proba || members_.size() > 1) {
            b.member_proba.resize(
                static_cast<std::size_t>(kMaxMembers * kBlock * max_member_classes()));
            b.combined.resize(static_cast<std::size_t>(rows * n_classes_));
            b.votes_per_class.resize(static_cast<std::size_t>(n_classes_));
        }
        if (!all_proba(want_proba) && members_.size() > 1) {
            b.tied.resize(static_cast<std::size_t>(rows));
            if (binned()) b.tied_codes.resize(static_cast<std::size_t>(rows) * width);
            else b.tied_raw.resize(static_cast<std::size_t>(rows) * width);
        }
        b.scratch.resize(static_cast<std::size_t>(scratch));
    }

    // Every member on n rows (codes, or float32 rows of `stride` elements): class indices into
    // b.votes and, when with_p, probabilities into b.member_proba; the probabilities of the
    // members whose are free too when there are several members (a hard vote's ties need
    // them), and `tied_rerun`: the other members only (hard_labels).
    template <typename In>
    void run_members(const In* x, std::int64_t stride, std::int64_t n, bool with_p,
                     Buffers& b, bool tied_rerun = false) const {
        const std::int64_t pstride = kBlock * max_member_classes();
        for (std::size_t m = 0; m < members_.size(); ++m) {
            const bool cheap = members_.size() > 1 && members_[m]->free_proba();
            if (tied_rerun && cheap) continue;
            std::int32_t* votes = b.votes.data() + m * kBlock;
            double* mp = with_p || cheap ? b.member_proba.data() + m * pstride : nullptr;
            if constexpr (std::is_same_v<In, std::uint8_t>)
                members_[m]->predict_codes(x, stride, n, votes, mp, b.scratch.data());
            else members_[m]->predict_raw(x, stride, n, votes, mp, b.scratch.data());
        }
    }

    template <typename T>
    void run_block(const T* X, std::int64_t n, std::int64_t row_stride, std::int64_t col_stride,
                   std::int64_t* labels, double* proba, Buffers& b) const {
        const bool with_p = all_proba(proba != nullptr);
        const std::int64_t width = n_member_features();
        if (binned()) {
            binner_->transform<T>(X, n, row_stride, col_stride, columns_.data(), width,
                                  b.codes.data(), 1);
            run_members(b.codes.data(), width, n, with_p, b);
        } else if constexpr (sizeof(T) == sizeof(float)) {
            run_members(X, row_stride, n, with_p, b);
        } else {
            return;  // raw mode reads float32 only (the binding checks)
        }
        if (members_.size() == 1) single(n, labels, proba, b);
        else if (with_p) combine(n, labels, proba, b);
        else hard_labels(X, n, row_stride, labels, b);
    }

    // Hard vote, labels only: a row with a strict majority needs no probability; the tied rows
    // are gathered and every member predicts them again with probabilities, which decide as in
    // combine() (one vote outweighs any summed probability, so the result is the same).
    template <typename T>
    void hard_labels(const T* X, std::int64_t n, std::int64_t row_stride, std::int64_t* labels,
                     Buffers& b) const {
        const std::size_t n_members = members_.size();
        std::int64_t n_tied = 0;
        for (std::int64_t r = 0; r < n; ++r) {
            std::int32_t cand[kMaxMembers];
            int votes[kMaxMembers] = {0, 0, 0};
            for (std::size_t m = 0; m < n_members; ++m)
                cand[m] = class_maps_[m][b.votes[m * kBlock + r]];
            std::size_t best = 0;
            for (std::size_t m = 0; m < n_members; ++m) {
                for (std::size_t o = 0; o < n_members; ++o) votes[m] += cand[o] == cand[m];
                if (votes[m] > votes[best]) best = m;
            }
            bool tie = false;
            for (std::size_t m = 0; m < n_members; ++m)
                tie |= votes[m] == votes[best] && cand[m] != cand[best];
            if (tie) b.tied[n_tied++] = r;
            else labels[r] = cand[best];
        }
        if (n_tied == 0) return;
        const std::int64_t width = n_member_features();
        for (std::int64_t i = 0; i < n_tied; ++i) {
            const std::int64_t r = b.tied[i];
            if (binned()) {
                std::copy_n(b.codes.data() + r * width, width, b.tied_codes.data() + i * width);
            } else if constexpr (sizeof(T) == sizeof(float)) {
                std::copy_n(X + r * row_stride, width, b.tied_raw.data() + i * width);
            }
        }
        // the members with free probabilities have them for every row: tied row i takes row
        // tied[i]'s (tied[i] >= i, rising: nothing is overwritten before it is read)
        const std::int64_t pstride = kBlock * max_member_classes();
        for (std::size_t m = 0; m < members_.size(); ++m) {
            if (!members_[m]->free_proba()) continue;
            const std::int64_t k = members_[m]->n_classes();
            std::int32_t* votes = b.votes.data() + m * kBlock;
            double* mp = b.member_proba.data() + m * pstride;
            for (std::int64_t i = 0; i < n_tied; ++i) {
                votes[i] = votes[b.tied[i]];
                std::copy_n(mp + b.tied[i] * k, k, mp + i * k);
            }
        }
        if (binned()) run_members(b.tied_codes.data(), width, n_tied, true, b, true);
        else run_members(b.tied_raw.data(), width, n_tied, true, b, true);
        combine(n_tied, labels, nullptr, b, b.tied.data());
    }

    void single(std::int64_t n, std::int64_t* labels, double* proba, Buffers& b) const {
        const std::int32_t* map = class_maps_[0].data();
        const std::int32_t* v = b.votes.data();
        for (std::int64_t r = 0; r < n; ++r) labels[r] = map[v[r]];
        if (!proba) return;
        const std::int64_t k = members_[0]->n_classes();
        const double* mp = b.member_proba.data();
        for (std::int64_t r = 0; r < n; ++r) {
            double* out = proba + r * n_classes_;
            std::fill(out, out + n_classes_, 0.0);
            for (std::int64_t c = 0; c < k; ++c) out[map[c]] = mp[r * k + c];
        }
    }

    // S[r, c] = 0 + P_0[r, c] + P_1[r, c] (+ P_2[r, c]), in member order.
    void summed_proba(std::int64_t n, Buffers& b) const {
        const std::int64_t pstride = kBlock * max_member_classes();
        std::fill(b.combined.begin(), b.combined.begin() + n * n_classes_, 0.0);
        for (std::size_t m = 0; m < members_.size(); ++m) {
            const std::int64_t k = members_[m]->n_classes();
            const std::int32_t* map = class_maps_[m].data();
            const double* mp = b.member_proba.data() + m * pstride;
            for (std::int64_t r = 0; r < n; ++r) {
                double* s = b.combined.data() + r * n_classes_;
                for (std::int64_t c = 0; c < k; ++c) s[map[c]] += mp[r * k + c];
            }
        }
    }

    // Row i's label goes to labels[rows ? rows[i] : i] (rows: the tied rows' places).
    void combine(std::int64_t n, std::int64_t* labels, double* proba, Buffers& b,
                 const std::int64_t* rows = nullptr) const {
        summed_proba(n, b);
        const std::size_t n_members = members_.size();
        const double count = static_cast<double>(n_members);
        for (std::int64_t r = 0; r < n; ++r) {
            double* s = b.combined.data() + r * n_classes_;
            if (vote_ == Vote::kSoft) {
                for (std::int64_t c = 0; c < n_classes_; ++c) s[c] /= count;
                std::int64_t best = 0;
                for (std::int64_t c = 1; c < n_classes_; ++c)
                    if (s[c] > s[best]) best = c;
                labels[rows ? rows[r] : r] = best;
                if (proba) std::copy(s, s + n_classes_, proba + r * n_classes_);
                continue;
            }
            // q = (votes + S / 4) / (1.25 n_members): one vote outweighs any S (S <= 3)
            std::fill(b.votes_per_class.begin(), b.votes_per_class.end(), 0.0);
            for (std::size_t m = 0; m < n_members; ++m)
                b.votes_per_class[class_maps_[m][b.votes[m * kBlock + r]]] += 1.0;
            const double scale = 1.25 * count;
            std::int64_t best = 0;
            for (std::int64_t c = 0; c < n_classes_; ++c) {
                const double quarter = 0.25 * s[c];
                s[c] = (b.votes_per_class[c] + quarter) / scale;
                if (s[c] > s[best]) best = c;
            }
            labels[rows ? rows[r] : r] = best;
            if (proba) std::copy(s, s + n_classes_, proba + r * n_classes_);
        }
    }

    std::optional<BinningKernel> binner_;
    std::vector<std::int64_t> columns_;
    std::int64_t n_features_in_, n_classes_;
    Vote vote_;
    std::vector<std::unique_ptr<Member>> members_;
    std::vector<std::vector<std::int32_t>> class_maps_;
    mutable std::mutex cache_mutex_;  // guards cache_
    mutable Buffers cache_;           // thread 0's buffers, kept between calls
};

}  // namespace greenauto
