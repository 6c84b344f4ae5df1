// CompiledPipeline: bin (uint8) -> gather selected columns -> 1 to 3 members -> hard vote, in
// one pass over row blocks.
//
// Binned mode: the pipeline owns a copy of a BinningKernel and bins the selected columns of each
// block of rows into a per-thread uint8 buffer; every member reads that buffer. Raw mode (no
// binner): members are raw-feature tree models reading float32 rows in place.
// Vote: each member gives a class index; the class with most votes wins, ties to the lowest
// class index (as scikit-learn's VotingClassifier(voting="hard")). A single tree member can
// also give probabilities.
// Threads: rows are split into one contiguous range per thread; all buffers are allocated before
// the parallel region and nothing in it throws. Below kMinRowsPerThread rows per thread the
// call stays on the calling thread (one row pays no thread start-up).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "binning.hpp"
#include "compiled_nb_knn.hpp"
#include "compiled_trees.hpp"
#include "parallel.hpp"

namespace greenauto {

struct Member {
    virtual ~Member() = default;
    virtual bool binned() const = 0;
    virtual bool is_tree() const { return false; }
    virtual std::int64_t n_classes() const = 0;
    virtual std::int64_t scratch_doubles(std::int64_t block) const = 0;
    virtual void predict_codes(const std::uint8_t*, std::int64_t, std::int64_t, std::int32_t*,
                               double*, double*) const {}
    virtual void predict_raw(const float*, std::int64_t, std::int64_t, std::int32_t*, double*,
                             double*) const {}
};

template <typename Node>
struct TreeMember final : Member {
    explicit TreeMember(const ForestArrays& a) : model(a) {}
    bool binned() const override { return Node::kBinned; }
    bool is_tree() const override { return true; }
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
    }
    void predict_raw(const float* x, std::int64_t stride, std::int64_t n, std::int32_t* labels,
                     double* proba, double* scratch) const override {
        if constexpr (!Node::kBinned) run(x, stride, n, labels, proba, scratch);
    }
    TreeEnsemble<Node> model;
};

struct NBMember final : Member {
    explicit NBMember(TableNB m) : model(std::move(m)) {}
    bool binned() const override { return true; }
    std::int64_t n_classes() const override { return model.n_classes(); }
    std::int64_t scratch_doubles(std::int64_t) const override { return model.n_classes(); }
    void predict_codes(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                       std::int32_t* labels, double*, double* scratch) const override {
        model.predict(x, stride, n, labels, scratch);
    }
    TableNB model;
};

struct KnnMember final : Member {
    explicit KnnMember(KnnBinned m) : model(std::move(m)) {}
    bool binned() const override { return true; }
    std::int64_t n_classes() const override { return model.n_classes(); }
    std::int64_t scratch_doubles(std::int64_t) const override { return model.scratch_doubles(); }
    void predict_codes(const std::uint8_t* x, std::int64_t stride, std::int64_t n,
                       std::int32_t* labels, double*, double* scratch) const override {
        model.predict(x, stride, n, labels, scratch);
    }
    KnnBinned model;
};

class CompiledPipeline {
   public:
    static constexpr std::int64_t kBlock = 512;
    static constexpr std::size_t kMaxMembers = 3;

    // binner: std::nullopt for raw mode. columns: selected input columns (binned mode).
    CompiledPipeline(std::optional<BinningKernel> binner, std::vector<std::int64_t> columns,
                     std::int64_t n_features_in, std::int64_t n_classes)
        : binner_(std::move(binner)), columns_(std::move(columns)),
          n_features_in_(n_features_in), n_classes_(n_classes) {
        if (n_classes < 1) throw std::invalid_argument("n_classes must be at least 1");
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
    bool single_tree() const { return members_.size() == 1 && members_[0]->is_tree(); }

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
        for (std::int32_t c : class_map)
            if (c < 0 || c >= n_classes_)
                throw std::invalid_argument("class map entry " + std::to_string(c) +
                                            " out of range for " + std::to_string(n_classes_) +
                                            " classes");
        members_.push_back(std::move(m));
        class_maps_.push_back(std::move(class_map));
    }

    // Columns of predict's proba: the classes of the single tree member.
    std::int64_t proba_width() const { return members_.empty() ? 0 : members_[0]->n_classes(); }

    // X: n_rows x n_features_in_ with element strides; labels: n_rows class indices; proba:
    // n_rows x n_classes or null (single tree member only). Shapes are the caller's to check.
    template <typename T>
    void predict(const T* X, std::int64_t n_rows, std::int64_t row_stride,
                 std::int64_t col_stride, std::int64_t* labels, double* proba,
                 int n_threads) const {
        if (members_.empty()) throw std::invalid_argument("the pipeline has no member");
        if (proba && !single_tree())
            throw std::invalid_argument("probabilities need exactly one tree member");
        const std::int64_t useful = std::max<std::int64_t>(1, n_rows / kMinRowsPerThread);
        const int threads =
            static_cast<int>(std::min<std::int64_t>(std::max(n_threads, 1), useful));
        std::vector<Buffers> buf(threads);
        for (auto& b : buf) allocate(b, std::min(kBlock, n_rows));
        // every part once, on whichever thread the runtime grants (parallel.hpp)
        parallel_parts(threads, [&](int part, int slot) {
            const std::int64_t begin = n_rows * part / threads;
            const std::int64_t end = n_rows * (part + 1) / threads;
            for (std::int64_t r0 = begin; r0 < end; r0 += kBlock) {
                const std::int64_t n = std::min(kBlock, end - r0);
                run_block(X + r0 * row_stride, n, row_stride, col_stride, labels + r0,
                          proba ? proba + r0 * proba_width() : nullptr, buf[slot]);
            }
        });
    }

   private:
    struct Buffers {
        std::vector<std::uint8_t> codes;
        std::vector<std::int32_t> votes;
        std::vector<double> scratch;
    };

    // Buffers for blocks of up to `rows` rows (votes keep the kBlock member stride).
    void allocate(Buffers& b, std::int64_t rows) const {
        std::int64_t scratch = 0;
        for (const auto& m : members_) scratch = std::max(scratch, m->scratch_doubles(rows));
        if (binned()) b.codes.resize(static_cast<std::size_t>(rows * columns_.size()));
        b.votes.resize(static_cast<std::size_t>(kBlock * kMaxMembers));
        b.scratch.resize(static_cast<std::size_t>(scratch));
    }

    template <typename T>
    void run_block(const T* X, std::int64_t n, std::int64_t row_stride, std::int64_t col_stride,
                   std::int64_t* labels, double* proba, Buffers& b) const {
        const std::size_t n_members = members_.size();
        for (std::size_t m = 0; m < n_members; ++m) {
            std::int32_t* votes = b.votes.data() + m * kBlock;
            if (binned()) {
                if (m == 0)
                    binner_->transform<T>(X, n, row_stride, col_stride, columns_.data(),
                                          static_cast<std::int64_t>(columns_.size()),
                                          b.codes.data(), 1);
                members_[m]->predict_codes(b.codes.data(),
                                           static_cast<std::int64_t>(columns_.size()), n, votes,
                                           proba, b.scratch.data());
            } else if constexpr (sizeof(T) == sizeof(float)) {
                members_[m]->predict_raw(X, row_stride, n, votes, proba, b.scratch.data());
            }
            const std::int32_t* map = class_maps_[m].data();
            for (std::int64_t r = 0; r < n; ++r) votes[r] = map[votes[r]];
        }
        const std::int32_t* v = b.votes.data();
        if (n_members == 1) {
            for (std::int64_t r = 0; r < n; ++r) labels[r] = v[r];
            return;
        }
        for (std::int64_t r = 0; r < n; ++r) {
            std::int32_t cand[kMaxMembers];
            int count[kMaxMembers] = {0, 0, 0};
            for (std::size_t m = 0; m < n_members; ++m) cand[m] = v[m * kBlock + r];
            for (std::size_t m = 0; m < n_members; ++m)
                for (std::size_t o = 0; o < n_members; ++o) count[m] += cand[o] == cand[m];
            std::size_t best = 0;
            for (std::size_t m = 1; m < n_members; ++m)
                if (count[m] > count[best] || (count[m] == count[best] && cand[m] < cand[best]))
                    best = m;
            labels[r] = cand[best];
        }
    }

    std::optional<BinningKernel> binner_;
    std::vector<std::int64_t> columns_;
    std::int64_t n_features_in_, n_classes_;
    std::vector<std::unique_ptr<Member>> members_;
    std::vector<std::vector<std::int32_t>> class_maps_;
};

}  // namespace greenauto
