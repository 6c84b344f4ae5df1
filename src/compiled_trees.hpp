// Tree ensembles (scikit-learn trees/forests, LightGBM boosters) in one validated flat format.
//
// Input (untrusted, from the caller): per node feature, threshold (float64), left, right
// (-1/-1 for a leaf), missing-goes-left flag and a row of `width` leaf values; tree t owns the
// nodes [tree_starts[t], tree_starts[t + 1]) and its root is the first of them. A node goes
// left when x[feature] <= threshold (NaN: left when missing_left).
//
// Validation: every tree non-empty and inside the node array, children strictly after their
// parent and inside the tree, every node the child of at most one parent (so every path is
// finite and the structure is a tree), features in range, thresholds not NaN, leaf values
// finite. Anything else raises std::invalid_argument before a single row is read.
//
// Layouts built from it (kernels.hpp), chosen per tree and per call:
//   walk: breadth first, the two children of a node adjacent, a leaf pointing to itself; rows
//     step a tree `depth` times without a branch (every tree; the only one at the scalar level).
//   quickscorer: binned trees of at most 64 leaves, leaves numbered left to right, one
//     bitvector per internal node (AVX2 / AVX-512 levels, 64 rows per pass).
// Binned models read uint8 codes: a split sends a code right when code > floor(threshold); a
// split with threshold < 0 sends every code right and one with threshold >= 255 none, so both
// are removed when the layouts are built. Raw models read float32 features, compared in
// float64 (`!(x <= threshold)`), NaN right when !missing_left.
// Output: leaf values added in tree order for every row (the source libraries' order), then
// the mean (scikit-learn), sigmoid or softmax (LightGBM).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aligned.hpp"
#include "cpu.hpp"
#include "kernels.hpp"

namespace greenauto {

// n zeroed objects of the trivial type T started in the storage at p (a scratch buffer that
// held other elements before: reusing storage ends their lifetime). The non-allocating array
// form adds no overhead to the storage (CWG 2382).
template <typename T>
T* fresh(void* p, std::int64_t n) {
    return ::new (p) T[static_cast<std::size_t>(n)]();
}

enum class TreeOutput : int { kMean = 0, kSigmoid = 1, kSoftmax = 2 };

// Walk nodes per segment of a binned forest (TreeInfo::base): kMaxWalkNodesU8; tests lower it
// to build forests of several segments from small trees (a tree larger than the limit gets a
// segment of its own). Read when a forest is built.
inline std::atomic<std::int64_t>& walk_segment_limit() {
    static std::atomic<std::int64_t> limit{kMaxWalkNodesU8};
    return limit;
}

// The few-row path (RowPath, kernels.hpp) of one binned forest at the level in use, chosen by
// timing: its first calls go round the paths the level has and the forest allows, kTuneCalls
// each, and the least time per row of each path's calls picks the path of the later calls (the
// least: a call slowed by something else does not count). The paths add the same leaves in the
// same order, so the choice changes the time only. Which path is fastest depends on the CPU,
// the forest and even the process (one row through RF 100 x depth 10, 1 thread: on an AMD
// Zen 4, the walk from the roots 27 % faster than the Quickscorer top in one process and 3-12 %
// slower in another; on a Zen 5 the top 7-14 % faster; on an Intel Xeon the gather walk;
// forests of trees of <= 32 leaves: the top, whole, 1.3-2x faster everywhere measured).
// A switch of level (set_active_isa) starts the timing again; forced_row_path() overrides it.
class RowPathTuner {
   public:
    static constexpr int kTuneCalls = 8;
    struct Pick {
        RowPath path;
        bool timed;  // a tuning call: time it and record()
    };

    Pick next(const KernelTable& k, bool has_top) {
        const int forced = forced_row_path();
        if (forced >= 0) return {static_cast<RowPath>(forced), false};
        const unsigned paths = k.row_paths & (has_top ? ~0u : ~row_path_bit(RowPath::kTop));
        if ((paths & (paths - 1)) == 0) return {RowPath::kWalk, false};  // one path (the walk)
        const int d = decided_.load(std::memory_order_acquire);
        if (d >= 0 && d / kRowPaths == static_cast<int>(k.isa))
            return {static_cast<RowPath>(d % kRowPaths), false};
        std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
        if (!lock.owns_lock()) return {RowPath::kWalk, false};  // another call is tuning
        if (paths_ != paths || isa_ != k.isa) {  // first call, or another level
            isa_ = k.isa;
            paths_ = paths;
            best_.fill(std::numeric_limits<double>::infinity());
            calls_.fill(0);
        }
        int p = -1;  // the path with the fewest timed calls so far
        for (int q = 0; q < kRowPaths; ++q)
            if ((paths & (1u << q)) && (p < 0 || calls_[q] < calls_[p])) p = q;
        return {static_cast<RowPath>(p), true};
    }

    // A timed call of `rows` rows by `path` took `seconds`.
    void record(const KernelTable& k, RowPath path, double seconds, std::int64_t rows) {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (isa_ != k.isa) return;
        const int p = static_cast<int>(path);
        best_[p] = std::min(best_[p], seconds / static_cast<double>(rows));
        ++calls_[p];
        int fastest = -1;
        for (int q = 0; q < kRowPaths; ++q) {
            if (!(paths_ & (1u << q))) continue;
            if (calls_[q] < kTuneCalls) return;
            if (fastest < 0 || best_[q] < best_[fastest]) fastest = q;
        }
        decided_.store(static_cast<int>(isa_) * kRowPaths + fastest, std::memory_order_release);
    }

    // The path chosen for level isa, or -1 (still timing, or never called at that level).
    int chosen(Isa isa) const {
        const int d = decided_.load(std::memory_order_acquire);
        return d >= 0 && d / kRowPaths == static_cast<int>(isa) ? d % kRowPaths : -1;
    }

   private:
    std::mutex mutex_;
    std::atomic<int> decided_{-1};  // isa * kRowPaths + path, or -1
    Isa isa_ = Isa::kScalar;
    unsigned paths_ = 0;
    std::array<double, kRowPaths> best_{};  // seconds per row
    std::array<int, kRowPaths> calls_{};
};

struct ForestArrays {
    const std::int64_t* tree_starts;  // n_trees + 1
    std::int64_t n_trees;
    const std::int32_t* feature;
    const double* threshold;
    const std::int32_t* left;
    const std::int32_t* right;
    const std::uint8_t* missing_left;
    const double* values;  // n_nodes x width
    std::int64_t n_nodes;
    std::int64_t width;
    const std::int32_t* out_offset;  // per tree: first output its leaf row adds to
    std::int64_t n_outputs;
    std::int64_t n_features;
    TreeOutput output;
    double sigmoid;  // LightGBM's sigmoid parameter (kSigmoid only)
};

// Input kinds of a tree model.
struct BinNode {
    static constexpr bool kBinned = true;
};
struct RawNode {
    static constexpr bool kBinned = false;
};

template <typename Node>
class TreeEnsemble {
   public:
    using Input = std::conditional_t<Node::kBinned, std::uint8_t, float>;
    // Blocks of fewer rows than this are read in place, row by row (the latency path).
    static constexpr std::int64_t kRowPathBelow = 8;
    static constexpr std::int64_t kByteLeavesTrees = 257;  // 255 x 257 = 65535: see quantize()

    explicit TreeEnsemble(const ForestArrays& a)
        : n_trees_(a.n_trees), n_features_(a.n_features), width_(a.width),
          n_outputs_(a.n_outputs), output_(a.output), sigmoid_(a.sigmoid) {
        check_shapes(a);
        std::vector<std::uint8_t> parents(static_cast<std::size_t>(a.n_nodes), 0);
        for (std::int64_t t = 0; t < a.n_trees; ++t)
            for (std::int64_t i = a.tree_starts[t]; i < a.tree_starts[t + 1]; ++i)
                check_node(a, t, i, a.tree_starts[t + 1], parents);
        // the kernels read only the features some split uses, renumbered 0, 1, ... (all of
        // them, in place, when at least half are used: rows are then transposed as they are)
        compact_.assign(static_cast<std::size_t>(a.n_features), -1);
        for (std::int64_t i = 0; i < a.n_nodes; ++i)
            if (!is_leaf(a, i)) compact_[a.feature[i]] = 0;
        std::int64_t n_used = 0;
        for (std::int64_t f = 0; f < a.n_features; ++f) n_used += compact_[f] == 0;
        for (std::int64_t f = 0; f < a.n_features; ++f)
            if (compact_[f] == 0 || 2 * n_used >= a.n_features) {
                compact_[f] = static_cast<std::int32_t>(used_.size());
                used_.push_back(f);
            }
        identity_ = static_cast<std::int64_t>(used_.size()) == a.n_features;
        row_span_ = used_.empty() ? 0 : *std::max_element(used_.begin(), used_.end()) + 1;
        for (std::int64_t t = 0; t < a.n_trees; ++t) build_tree(a, t);
        if constexpr (Node::kBinned) build_row_top();
        quantize();
    }

    // Moving would leave view_ pointing into the moved-from vectors.
    TreeEnsemble(const TreeEnsemble&) = delete;
    TreeEnsemble& operator=(const TreeEnsemble&) = delete;

    // The few-row path (RowPath) chosen at level isa, or -1 (not chosen yet; a raw model).
    int row_path(Isa isa) const { return row_tuner_.chosen(isa); }

    std::int64_t n_outputs() const { return n_outputs_; }
    std::int64_t n_classes() const { return output_ == TreeOutput::kSigmoid ? 2 : n_outputs_; }

    // Scratch (float64 elements) predict needs for calls of up to `rows` rows: accumulators,
    // one output row, the accumulators of one row recomputed exactly, the rows' used features.
    std::int64_t scratch_doubles(std::int64_t rows) const {
        const std::int64_t blocks = std::clamp<std::int64_t>((rows + kBlockRows - 1) / kBlockRows, 1,
                                                             kMaxBlocks);
        // staging: labels twice (int32) and the input rows of up to every row of the call
        const std::int64_t staging =
            blocks * kBlockRows * (n_features_ * static_cast<std::int64_t>(sizeof(Input)) + 8);
        return layout(blocks).staging + staging / 8 + 3;
    }

    // Class indices of n rows (x: n rows of `stride` elements) and, when proba is not null,
    // n x n_classes probabilities, exactly as the source library computes them.
    void predict(const Input* x, std::int64_t stride, std::int64_t n, std::int32_t* labels,
                 double* proba, double* scratch) const {
        const KernelTable& k = active_kernels();
        // labels only: integer leaf values where the model has them (see quantize())
        const bool approx = proba == nullptr && !fine_.empty();
        constexpr std::int64_t kCall = kMaxBlocks * kBlockRows;
        const std::int64_t blocks = std::min<std::int64_t>((n + kBlockRows - 1) / kBlockRows,
                                                           kMaxBlocks);
        const Layout l = layout(blocks);
        for (std::int64_t r0 = 0; r0 < n; r0 += kCall) {
            const std::int64_t m = std::min(kCall, n - r0);
            const Input* xb = x + r0 * stride;
            if (approx) {
                integer_labels(k, coarse_.empty() ? fine_ : coarse_, xb, stride, m, blocks,
                               labels + r0, scratch);
                decide_close(k, xb, stride, m, blocks, labels + r0, scratch);
                continue;
            }
            double* acc = fresh<double>(scratch, acc_size(m, blocks));
            run_pass(k, view(), xb, stride, m, blocks, acc, scratch + l.cols);
            for (std::int64_t b0 = 0; b0 < m; b0 += kBlockRows) {
                double* pb = proba ? proba + (r0 + b0) * n_classes() : nullptr;
                finish(acc + (b0 / kBlockRows) * n_outputs_ * kBlockRows,
                       std::min(kBlockRows, m - b0), labels + r0 + b0, pb, scratch + l.row);
            }
        }
    }

   private:
    // Scratch of a call of `blocks` blocks, offsets in doubles: accumulators (float64, or
    // integer sums), one output row, the rows' used features, the staging of rows to decide
    // exactly (their input rows, then their labels).
    struct Layout {
        std::int64_t row, cols, staging;
    };
    Layout layout(std::int64_t blocks) const {
        // float64 accumulators, or uint32 ones (half a double each) with integer leaf values
        const std::int64_t acc = std::max(n_outputs_, (quantized_width(width_, false) + 1) / 2);
        // binned: cols and rows8, kBlockRows bytes per feature each per block
        const std::int64_t col = Node::kBinned ? 2 * kBlockRows / 8 : kBlockRows;
        Layout l{};
        l.row = blocks * acc * kBlockRows;
        l.cols = l.row + n_outputs_ + 1;
        l.staging = l.cols + blocks * n_used() * col;
        return l;
    }

    // Every tree over m rows of xb, adding to sums (the accumulators of ForestView v).
    void run_pass(const KernelTable& k, const ForestView& v, const Input* xb, std::int64_t stride,
                  std::int64_t m, std::int64_t blocks, void* sums, double* cols) const {
        const bool by_row = m < kRowPathBelow;
        if constexpr (Node::kBinned) {
            // bytes of a float64 buffer, written and read through unsigned char only
            auto* c = reinterpret_cast<std::uint8_t*>(cols);
            std::uint8_t* rows8 = c + blocks * kBlockRows * n_used();
            if (by_row) {
                gather(xb, stride, m, c, true);
                const RowPathTuner::Pick pick = row_tuner_.next(k, v.row_feature != nullptr);
                if (!pick.timed) return k.tree_rows_u8(v, c, n_used(), m, sums, pick.path);
                const auto start = std::chrono::steady_clock::now();
                k.tree_rows_u8(v, c, n_used(), m, sums, pick.path);
                const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
                row_tuner_.record(k, pick.path, took.count(), m);
                return;
            }
            if (k.quickscorer && has_qs_) {  // Quickscorer trees read cols
                if (identity_) k.transpose_u8(xb, stride, m, n_used(), c);
                else gather(xb, stride, m, c, false);
            }
            if (identity_) k.transpose8_u8(xb, stride, m, n_used(), rows8);
            else gather8(xb, stride, m, rows8);
            k.trees_u8(v, c, rows8, m, sums);
        } else {
            gather(xb, stride, m, cols, by_row);
            if (by_row) k.tree_rows_f64(v, cols, n_used(), m, sums);
            else k.trees_f64(v, cols, m, sums);
        }
    }

    // float64 accumulators a pass over m rows adds to: row-major, only its rows; else every
    // block whole (output-major, a Quickscorer tree adds 8 rows at a time).
    std::int64_t acc_size(std::int64_t m, std::int64_t blocks) const {
        return rows_major(width_) ? m * n_outputs_ : blocks * n_outputs_ * kBlockRows;
    }

    // One integer image of the leaf values (see quantize()).
    struct IntLeaves {
        LineVector<std::uint16_t> q16;  // scale 65535: uint32 sums
        LineVector<std::uint8_t> q8;    // scale 255: uint16 sums
        std::int64_t qwidth = 0;         // leaf-row width (kernels.hpp quantized_width)
        double margin = 0.0;
        bool empty() const { return q16.empty() && q8.empty(); }
    };

    // Labels of m rows from the integer sums of il where they are certain, -1 elsewhere.
    void integer_labels(const KernelTable& k, const IntLeaves& il, const Input* x,
                        std::int64_t stride, std::int64_t m, std::int64_t blocks,
                        std::int32_t* labels, double* scratch) const {
        const Layout l = layout(blocks);
        ForestView v = view();
        v.qwidth = il.qwidth;
        if (!il.q8.empty()) {
            v.quantized8 = il.q8.data();
            auto* sums = fresh<std::uint16_t>(scratch, m * il.qwidth);
            run_pass(k, v, x, stride, m, blocks, sums, scratch + l.cols);
            finish_certified(il, sums, m, labels);
        } else {
            v.quantized = il.q16.data();
            auto* sums = fresh<std::uint32_t>(scratch, m * il.qwidth);
            run_pass(k, v, x, stride, m, blocks, sums, scratch + l.cols);
            finish_certified(il, sums, m, labels);
        }
    }

    // The rows of m whose top two integer sums were too close (label -1), gathered: after
    // byte leaves, the 16-bit ones decide where they can; the float64 values the rest (in
    // blocks when there are enough rows).
    void decide_close(const KernelTable& k, const Input* xb, std::int64_t stride,
                      std::int64_t m, std::int64_t blocks, std::int32_t* labels,
                      double* scratch) const {
        const std::int64_t nf = std::count(labels, labels + m, -1);
        if (nf == 0) return;
        const Layout l = layout(blocks);
        // staging: their labels, their input rows (up to the last used feature), then the
        // labels of those the float64 sums decide
        const std::int64_t w = row_span_;
        auto* close = fresh<std::int32_t>(scratch + l.staging, nf);
        double* rows_at = scratch + l.staging + (nf * 4 + 7) / 8;
        Input* rows = fresh<Input>(rows_at, nf * w);
        const auto row_bytes = static_cast<std::int64_t>(sizeof(Input)) * w;
        auto* exact = fresh<std::int32_t>(rows_at + (nf * row_bytes + 7) / 8, nf);
        std::int64_t j = 0;
        for (std::int64_t r = 0; r < m; ++r)
            if (labels[r] < 0) std::copy_n(xb + r * stride, w, rows + w * j++);
        std::int64_t n_exact = nf;
        if (!coarse_.empty()) {  // the rows 16-bit leaves cannot decide, moved to the front
            integer_labels(k, fine_, rows, w, nf, blocks, close, scratch);
            n_exact = 0;
            for (j = 0; j < nf; ++j)
                if (close[j] < 0) std::copy_n(rows + w * j, w, rows + w * n_exact++);
        } else {
            std::fill(close, close + nf, -1);
        }
        if (n_exact > 0) {
            double* acc = fresh<double>(scratch, acc_size(n_exact, blocks));
            run_pass(k, view(), rows, w, n_exact, blocks, acc, scratch + l.cols);
            for (std::int64_t b0 = 0; b0 < n_exact; b0 += kBlockRows)
                finish(acc + (b0 / kBlockRows) * n_outputs_ * kBlockRows,
                       std::min(kBlockRows, n_exact - b0), exact + b0, nullptr, scratch + l.row);
            std::int64_t e = 0;
            for (j = 0; j < nf; ++j)
                if (close[j] < 0) close[j] = exact[e++];
        }
        j = 0;
        for (std::int64_t r = 0; r < m; ++r)
            if (labels[r] < 0) labels[r] = close[j++];
    }

    std::int64_t n_used() const { return static_cast<std::int64_t>(used_.size()); }

    // Mean outputs of probabilities (scikit-learn classifiers, width > 1): leaf values also as
    // integers q = round(v * s). Their sums are exact; the float64 sum S of the values (in
    // tree order, as scikit-learn adds them) lies within T * max|q / s - v| + T^2 2^-53 of
    // sum(q) / s (T trees, every partial sum <= T). So when the two largest integer sums
    // differ by more than the margin (that bound twice, plus room for the division by T to keep
    // the order), the label is certainly the class of the largest; otherwise the row's sums
    // are recomputed exactly. Four times less leaf memory to read; exact labels always.
    // Always s = 65535 with uint32 sums (fine_); with many classes (rows_major) and T <=
    // kByteLeavesTrees also s = 255 with uint16 sums (coarse_: half the leaf memory and 32
    // classes per AVX-512 add), which decides first: about 1.4 % of the rows of a 26-class
    // forest of 100 trees are left to fine_, whose table is then about as hot as the exact one
    // would be cold. Leaf rows padded to qwidth (kernels.hpp).
    void quantize() {
        if (output_ != TreeOutput::kMean || width_ < 2 || width_ != n_outputs_) return;
        if (n_trees_ > 65535) return;
        for (const TreeInfo& t : trees_)
            if (t.out != 0) return;
        for (double v : value_)
            if (!(v >= 0.0 && v <= 1.0)) return;
        fine_ = integer_leaves(false);
        if (rows_major(width_) && n_trees_ <= kByteLeavesTrees) coarse_ = integer_leaves(true);
    }

    IntLeaves integer_leaves(bool bytes) const {
        IntLeaves il;
        const double scale = bytes ? 255.0 : 65535.0;
        il.qwidth = quantized_width(width_, bytes);
        const std::size_t n_leaves = value_.size() / static_cast<std::size_t>(width_);
        const std::size_t size = n_leaves * static_cast<std::size_t>(il.qwidth);
        if (bytes) il.q8.assign(size, 0);
        else il.q16.assign(size, 0);
        double dev = 0.0;
        for (std::size_t i = 0; i < value_.size(); ++i) {
            const double q = std::nearbyint(value_[i] * scale);
            const std::size_t leaf = i / static_cast<std::size_t>(width_);
            const std::size_t col = i % static_cast<std::size_t>(width_);
            const std::size_t at = leaf * static_cast<std::size_t>(il.qwidth) + col;
            if (bytes) il.q8[at] = static_cast<std::uint8_t>(q);
            else il.q16[at] = static_cast<std::uint16_t>(q);
            dev = std::max(dev, std::abs(q / scale - value_[i]));
        }
        const double t = static_cast<double>(n_trees_);
        il.margin = scale * (2.0 * t * dev + 2.0 * t * t * 0x1p-53 + 4.0 * t * 0x1p-50) + 2.0;
        return il;
    }

    // Labels from integer sums (row-major, il.qwidth apart) where certain, -1 where the exact
    // sums must decide. In integers: the difference of two integer sums exceeds the margin
    // exactly when it exceeds its floor; one pass keeps the largest (first of equals) and the
    // largest of the others, without branches.
    template <typename Sum>
    void finish_certified(const IntLeaves& il, const Sum* acc, std::int64_t m,
                          std::int32_t* labels) const {
        const std::int64_t k = n_outputs_;
        const double bound = std::floor(il.margin);
        const auto limit = bound >= 4294967296.0 ? std::uint64_t{1} << 32
                                                 : static_cast<std::uint64_t>(bound);
        for (std::int64_t r = 0; r < m; ++r) {
            const Sum* a = acc + r * il.qwidth;
            std::uint64_t best = a[0], second = 0;
            std::int32_t at = 0;
            for (std::int64_t c = 1; c < k; ++c) {
                const std::uint64_t v = a[c];
                const bool above = v > best;
                second = above ? best : std::max(second, v);
                best = above ? v : best;
                at = above ? static_cast<std::int32_t>(c) : at;
            }
            labels[r] = best - second > limit ? at : -1;
        }
    }

    // The used features of rows [0, m) of x: row by row (n_used per row) or in feature-major
    // blocks of kBlockRows rows (kernels.hpp; rows past m zeroed).
    template <typename C>
    void gather(const Input* x, std::int64_t stride, std::int64_t m, C* out, bool by_row) const {
        const std::int64_t nu = n_used();
        const std::int64_t* used = used_.data();
        if (by_row) {
            for (std::int64_t r = 0; r < m; ++r)
                for (std::int64_t j = 0; j < nu; ++j) out[r * nu + j] = x[r * stride + used[j]];
            return;
        }
        for (std::int64_t r = 0; r < m; ++r) {
            const Input* src = x + r * stride;
            C* dst = out + (r / kBlockRows) * nu * kBlockRows + r % kBlockRows;
            for (std::int64_t j = 0; j < nu; ++j) dst[j * kBlockRows] = src[used[j]];
        }
        const std::int64_t tail = m % kBlockRows;
        if (tail) {
            C* last = out + (m / kBlockRows) * nu * kBlockRows;
            for (std::int64_t j = 0; j < nu; ++j)
                std::fill(last + j * kBlockRows + tail, last + (j + 1) * kBlockRows, C(0));
        }
    }

    // The used features of rows [0, m) of x in groups of 8 rows (kernels.hpp).
    void gather8(const Input* x, std::int64_t stride, std::int64_t m, std::uint8_t* out) const {
        const std::int64_t nu = n_used();
        const std::int64_t* used = used_.data();
        const std::int64_t end = (m + 7) / 8 * 8;
        for (std::int64_t r = 0; r < end; ++r) {
            std::uint8_t* dst = out + (r / 8) * nu * 8 + r % 8;
            for (std::int64_t j = 0; j < nu; ++j)
                dst[j * 8] = r < m ? static_cast<std::uint8_t>(x[r * stride + used[j]]) : 0;
        }
    }

    // acc (n_outputs x kBlockRows, output-major) -> labels and probabilities of m rows.
    void finish(const double* acc, std::int64_t m, std::int32_t* labels, double* proba,
                double* a) const {
        const std::int64_t k = n_outputs_;
        for (std::int64_t r = 0; r < m; ++r) {
            if (rows_major(width_)) std::copy(acc + r * k, acc + (r + 1) * k, a);
            else for (std::int64_t c = 0; c < k; ++c) a[c] = acc[c * kBlockRows + r];
            if (output_ == TreeOutput::kSigmoid) {
                const double p = 1.0 / (1.0 + std::exp(-sigmoid_ * a[0]));
                labels[r] = (p > 1.0 - p) ? 1 : 0;
                if (proba) {
                    proba[2 * r] = 1.0 - p;
                    proba[2 * r + 1] = p;
                }
                continue;
            }
            if (output_ == TreeOutput::kMean) {
                const double d = static_cast<double>(n_trees_);
                for (std::int64_t c = 0; c < k; ++c) a[c] /= d;
            } else {  // LightGBM's Common::Softmax
                double wmax = a[0];
                for (std::int64_t c = 1; c < k; ++c) wmax = std::max(a[c], wmax);
                double wsum = 0.0;
                for (std::int64_t c = 0; c < k; ++c) {
                    a[c] = std::exp(a[c] - wmax);
                    wsum += a[c];
                }
                for (std::int64_t c = 0; c < k; ++c) a[c] /= wsum;
            }
            std::int32_t best = 0;
            for (std::int64_t c = 1; c < k; ++c)
                if (a[c] > a[best]) best = static_cast<std::int32_t>(c);
            labels[r] = best;
            if (proba) std::copy(a, a + k, proba + r * k);
        }
    }

    ForestView view() const {
        return ForestView{trees_.data(),         n_trees_,
                          n_used(),              n_outputs_,
                          nodes_u8_.data(),      nodes_f_.data(),
                          leaf_of_.data(),       qs_offset_.data(),
                          qs_threshold_.data(),  qs_mask_.data(),
                          top_walk_.data(),
                          width_,                value_.data(),
                          nullptr,               nullptr,
                          0,
                          row_feature_.empty() ? nullptr : row_feature_.data(),
                          row_threshold_.data(),
                          row_mask_.data(),
                          row_slots_,
                          row_whole_,
                          segment_ == 0};
    }

    static void fail(const std::string& msg) { throw std::invalid_argument(msg); }

    void check_shapes(const ForestArrays& a) {
        if (a.n_trees < 1) fail("a tree model needs at least one tree");
        if (a.n_nodes < 1 || a.n_nodes > std::numeric_limits<std::int32_t>::max() / 4)
            fail("node count " + std::to_string(a.n_nodes) + " out of range");
        if (a.width > (std::numeric_limits<std::int32_t>::max() / 4) / a.n_nodes)
            fail("leaf value table too large");
        if (a.width < 1 || a.n_outputs < 1 || a.width > a.n_outputs)
            fail("leaf width " + std::to_string(a.width) + " must be in [1, n_outputs=" +
                 std::to_string(a.n_outputs) + "]");
        if (a.n_outputs > 65535) fail("at most 65535 outputs");
        if (a.output == TreeOutput::kSigmoid && a.n_outputs != 1)
            fail("a sigmoid (binary) model has exactly one output");
        if (a.output == TreeOutput::kSoftmax && a.n_outputs < 2)
            fail("a softmax model needs at least two outputs");
        if (!std::isfinite(a.sigmoid)) fail("sigmoid parameter must be finite");
        if (a.n_features < 1 || a.n_features > 65535)
            fail("feature count " + std::to_string(a.n_features) + " out of range");
        if (a.tree_starts[0] != 0 || a.tree_starts[a.n_trees] != a.n_nodes)
            fail("tree_starts must begin at 0 and end at the node count");
        for (std::int64_t t = 0; t < a.n_trees; ++t) {
            if (a.tree_starts[t + 1] <= a.tree_starts[t])
                fail("tree " + std::to_string(t) + " is empty or tree_starts decreases");
            // WalkNodeU8::next holds a node index relative to its segment's base in 24 bits
            if (Node::kBinned && a.tree_starts[t + 1] - a.tree_starts[t] > kMaxWalkNodesU8)
                fail("tree " + std::to_string(t) + " has " +
                     std::to_string(a.tree_starts[t + 1] - a.tree_starts[t]) +
                     " nodes; a binned tree can have at most " +
                     std::to_string(kMaxWalkNodesU8) + " (8,388,608 leaves)");
            const std::int64_t o = a.out_offset[t];
            if (o < 0 || o + a.width > a.n_outputs)
                fail("tree " + std::to_string(t) + " writes outputs out of range");
        }
    }

    void check_node(const ForestArrays& a, std::int64_t t, std::int64_t i, std::int64_t end,
                    std::vector<std::uint8_t>& parents) const {
        // the message is built only on failure (this runs for every node of every model)
        auto where = [&] { return "tree " + std::to_string(t) + ", node " + std::to_string(i); };
        if (is_leaf(a, i)) {
            for (std::int64_t w = 0; w < a.width; ++w)
                if (!std::isfinite(a.values[i * a.width + w]))
                    fail(where() + ": leaf value is not finite");
            return;
        }
        for (const std::int64_t c : {static_cast<std::int64_t>(a.left[i]),
                                     static_cast<std::int64_t>(a.right[i])}) {
            if (c <= i || c >= end)
                fail(where() + ": child " + std::to_string(c) + " is not after its parent "
                               "inside the tree");
            if (parents[c]++) fail(where() + ": node " + std::to_string(c) + " has two parents");
        }
        if (a.feature[i] < 0 || a.feature[i] >= a.n_features)
            fail(where() + ": feature " + std::to_string(a.feature[i]) + " out of range for " +
                 std::to_string(a.n_features) + " features");
        if (std::isnan(a.threshold[i])) fail(where() + ": threshold is NaN");
    }

    static bool is_leaf(const ForestArrays& a, std::int64_t i) {
        return a.left[i] == -1 && a.right[i] == -1;
    }

    // Binned models: a split every code passes the same way is replaced by that child.
    static std::int64_t resolve(const ForestArrays& a, std::int64_t i) {
        if constexpr (Node::kBinned) {
            while (!is_leaf(a, i)) {
                if (a.threshold[i] < 0.0) i = a.right[i];
                else if (a.threshold[i] >= 255.0) i = a.left[i];
                else break;
            }
        }
        return i;
    }

    // In-order leaves and internal nodes of the resolved tree below `root` (iterative); with
    // max_depth, nodes at that depth count as its leaves.
    struct Shape {
        std::vector<std::int64_t> leaves;  // original node of each leaf, left to right
        std::vector<std::int64_t> inner;   // original internal nodes, pre-order
        std::vector<std::int32_t> first, count;  // per inner node: its left subtree's leaves
    };

    static Shape shape_of(const ForestArrays& a, std::int64_t root,
                          std::int32_t max_depth = std::numeric_limits<std::int32_t>::max()) {
        Shape s;
        struct Frame {
            std::int64_t node;
            std::int32_t inner_pos;  // -1: not yet expanded
            bool after_left;
            std::int32_t depth;
        };
        std::vector<Frame> stack{{root, -1, false, 0}};
        while (!stack.empty()) {
            Frame& fr = stack.back();
            if (is_leaf(a, fr.node) || fr.depth == max_depth) {
                s.leaves.push_back(fr.node);
                stack.pop_back();
                continue;
            }
            if (fr.inner_pos < 0) {
                fr.inner_pos = static_cast<std::int32_t>(s.inner.size());
                s.inner.push_back(fr.node);
                s.first.push_back(static_cast<std::int32_t>(s.leaves.size()));
                s.count.push_back(0);
                const std::int64_t l = resolve(a, a.left[fr.node]);
                stack.push_back({l, -1, false, fr.depth + 1});
                continue;
            }
            if (!fr.after_left) {
                fr.after_left = true;
                s.count[fr.inner_pos] =
                    static_cast<std::int32_t>(s.leaves.size()) - s.first[fr.inner_pos];
                const std::int64_t r = resolve(a, a.right[fr.node]);
                stack.push_back({r, -1, false, fr.depth + 1});
                continue;
            }
            stack.pop_back();
        }
        return s;
    }

    void build_tree(const ForestArrays& a, std::int64_t t) {
        const std::int64_t start = a.tree_starts[t], end = a.tree_starts[t + 1];
        const std::int64_t root = resolve(a, start);
        const Shape s = shape_of(a, root);
        const std::int64_t n_leaves = static_cast<std::int64_t>(s.leaves.size());
        TreeInfo info{};
        info.out = a.out_offset[t];
        info.leaf_begin = static_cast<std::int32_t>(value_.size() / width_);
        if (Node::kBinned && n_leaves <= 64) {
            has_qs_ = true;
            info.qs_leaves = n_leaves <= 16 ? 16 : (n_leaves <= 32 ? 32 : 64);
            info.qs_begin = push_qs_nodes(a, s);
            info.qs_nodes = static_cast<std::int32_t>(s.inner.size());
        }
        // leaf ids: in-order, padded to the QS slot count
        std::vector<std::int32_t> leaf_id(static_cast<std::size_t>(end - start), -1);
        const std::int64_t slots = std::max<std::int64_t>(n_leaves, info.qs_leaves);
        for (std::int64_t l = 0; l < slots; ++l) {
            const std::int64_t orig = l < n_leaves ? s.leaves[l] : -1;
            if (orig >= 0) leaf_id[orig - start] = info.leaf_begin + static_cast<std::int32_t>(l);
            add_leaf_values(a, orig);
        }
        // a new segment when this tree's nodes (at most end - start) would pass 24-bit indices
        const std::int64_t limit = std::min(walk_segment_limit().load(), kMaxWalkNodesU8);
        if (Node::kBinned && walk_size() + (end - start) - segment_ > limit)
            segment_ = walk_size();
        info.root = static_cast<std::int32_t>(walk_size());
        info.base = static_cast<std::int32_t>(segment_);
        std::vector<std::int32_t> slot_of(static_cast<std::size_t>(end - start), -1);
        info.depth = build_walk(a, root, start, leaf_id, slot_of);
        if (Node::kBinned && info.qs_leaves == 0 && info.depth > kTopDepth) {
            const Shape top = shape_of(a, root, kTopDepth);
            has_qs_ = true;
            info.top_begin = push_qs_nodes(a, top);
            info.top_nodes = static_cast<std::int32_t>(top.inner.size());
            info.top_steps = info.depth - kTopDepth;
            info.top_entry = static_cast<std::int64_t>(top_walk_.size());
            for (std::int64_t orig : top.leaves)
                top_walk_.push_back(static_cast<std::uint32_t>(slot_of[orig - start] - info.base));
            top_walk_.resize(top_walk_.size() + (32 - top.leaves.size()), 0);  // never chosen
        }
        if (Node::kBinned && info.qs_leaves != 0 && info.qs_leaves <= 32) {
            // the few-row path's exit slot -> walk node of that leaf (slots past: never chosen)
            info.top_entry = static_cast<std::int64_t>(top_walk_.size());
            for (std::size_t l = 0; l < 32; ++l)
                top_walk_.push_back(l < s.leaves.size() ? static_cast<std::uint32_t>(
                                                              slot_of[s.leaves[l] - start] - info.base)
                                                        : 0u);
        }
        trees_.push_back(info);
    }

    // ForestView::row_feature, row_threshold, row_mask from the trees' Quickscorer nodes (the
    // top's, else the tree's own), left empty when the path does not apply: more than 128
    // used features, or a tree of 33-64 leaves (given a top, forests of them, LightGBM with 63
    // leaves, measured slower through the path than walked from the roots: Zen 5, letter 8.2
    // against 6.4 us a row).
    void build_row_top() {
        if (n_used() > 128 || n_trees_ == 0) return;
        for (const TreeInfo& t : trees_)
            if (t.top_steps == 0 && !(t.qs_leaves != 0 && t.qs_leaves <= 32)) return;
        auto nodes_of = [](const TreeInfo& t) {
            return t.top_steps ? std::pair<std::int64_t, std::int64_t>{t.top_begin, t.top_nodes}
                               : std::pair<std::int64_t, std::int64_t>{t.qs_begin, t.qs_nodes};
        };
        for (const TreeInfo& t : trees_) row_slots_ = std::max(row_slots_, nodes_of(t).second);
        row_whole_ = std::all_of(trees_.begin(), trees_.end(),
                                 [](const TreeInfo& t) { return t.top_steps == 0; });
        const std::size_t size =
            static_cast<std::size_t>((n_trees_ + 63) / 64 * std::max<std::int64_t>(row_slots_, 1) * 64);
        row_feature_.assign(size, 0);
        row_threshold_.assign(size, 0xFFFF);
        row_mask_.assign(size, ~0u);
        for (std::int64_t t = 0; t < n_trees_; ++t) {
            const auto [begin, count] = nodes_of(trees_[t]);
            for (std::int64_t i = 0; i < count; ++i) {
                const auto at = static_cast<std::size_t>(((t / 64) * row_slots_ + i) * 64 + t % 64);
                row_feature_[at] = static_cast<std::uint16_t>(qs_offset_[begin + i] / kBlockRows);
                row_threshold_[at] = qs_threshold_[begin + i];
                row_mask_[at] = static_cast<std::uint32_t>(qs_mask_[begin + i]);
            }
        }
    }

    // The Quickscorer nodes of a shape (column offset, threshold, bitvector clearing the
    // leaves of the node's left subtree); returns the index of the first.
    std::int64_t push_qs_nodes(const ForestArrays& a, const Shape& s) {
        const auto begin = static_cast<std::int64_t>(qs_mask_.size());
        for (std::size_t q = 0; q < s.inner.size(); ++q) {
            const std::int64_t i = s.inner[q];
            const std::uint64_t span = s.count[q] >= 64 ? ~0ull : ((1ull << s.count[q]) - 1ull);
            qs_offset_.push_back(static_cast<std::uint32_t>(compact_[a.feature[i]] * kBlockRows));
            qs_threshold_.push_back(static_cast<std::uint8_t>(std::floor(a.threshold[i])));
            qs_mask_.push_back(~(span << s.first[q]));
        }
        return begin;
    }

    // One leaf's values (orig < 0: a padding slot, all zero).
    void add_leaf_values(const ForestArrays& a, std::int64_t orig) {
        for (std::int64_t w = 0; w < width_; ++w)
            value_.push_back(orig < 0 ? 0.0 : a.values[orig * width_ + w]);
    }

    std::int64_t walk_size() const {
        return static_cast<std::int64_t>(Node::kBinned ? nodes_u8_.size() : nodes_f_.size());
    }

    // Breadth-first walk layout of the tree below root; returns its depth.
    // slot_of: original node (minus start) -> its walk node (absolute).
    std::int32_t build_walk(const ForestArrays& a, std::int64_t root, std::int64_t start,
                            const std::vector<std::int32_t>& leaf_id,
                            std::vector<std::int32_t>& slot_of) {
        struct Item {
            std::int64_t orig;
            std::int32_t slot, depth;
        };
        const auto base = static_cast<std::int32_t>(segment_);  // indices count from it
        std::vector<Item> queue{{root, static_cast<std::int32_t>(walk_size()), 0}};
        push_walk_nodes(1);
        std::int32_t depth = 0;
        for (std::size_t q = 0; q < queue.size(); ++q) {
            const Item it = queue[q];
            depth = std::max(depth, it.depth);
            slot_of[it.orig - start] = it.slot;
            if (is_leaf(a, it.orig)) {
                set_leaf(it.slot, base, leaf_id[it.orig - start]);
                continue;
            }
            const std::int32_t child = static_cast<std::int32_t>(walk_size());
            push_walk_nodes(2);
            set_split(a, it.orig, it.slot, child - base);
            queue.push_back({resolve(a, a.left[it.orig]), child, it.depth + 1});
            queue.push_back({resolve(a, a.right[it.orig]), child + 1, it.depth + 1});
        }
        return depth;
    }

    void push_walk_nodes(int k) {
        for (int i = 0; i < k; ++i) {
            if constexpr (Node::kBinned) nodes_u8_.push_back(WalkNodeU8{0, 0});
            else nodes_f_.push_back(WalkNodeF{0, 0, 0.0});
            leaf_of_.push_back(-1);
        }
    }

    // A leaf points to itself (relative to its segment's base) and never goes right.
    void set_leaf(std::int32_t slot, std::int32_t base, std::int32_t id) {
        leaf_of_[slot] = id;
        const auto self = static_cast<std::uint32_t>(slot - base);
        if constexpr (Node::kBinned) nodes_u8_[slot] = WalkNodeU8{self << 8, 0};
        else nodes_f_[slot] = WalkNodeF{self, 0u, std::numeric_limits<double>::infinity()};
    }

    // left: the first child, relative to its segment's base.
    void set_split(const ForestArrays& a, std::int64_t i, std::int32_t slot, std::int32_t left) {
        const auto f = static_cast<std::uint32_t>(compact_[a.feature[i]]);
        const auto rel = static_cast<std::uint32_t>(left);
        if constexpr (Node::kBinned) {  // 0 <= threshold < 255 (resolve() removed the others)
            const auto thr = static_cast<std::uint32_t>(std::floor(a.threshold[i]));
            nodes_u8_[slot] = WalkNodeU8{(rel << 8) | (255u - thr), f * 8u};
        } else {
            nodes_f_[slot] = WalkNodeF{rel, (f << 1) | (a.missing_left[i] ? 0u : 1u),
                                       a.threshold[i]};
        }
    }

    std::int64_t n_trees_, n_features_, width_, n_outputs_;
    TreeOutput output_;
    double sigmoid_;
    std::vector<std::int32_t> compact_;  // input feature -> used-feature index (-1: unused)
    std::vector<std::int64_t> used_;     // used-feature index -> input feature
    bool identity_ = false;              // used_ is 0, 1, ..., n_features - 1
    std::int64_t row_span_ = 0;          // input elements of a row up to its last used one
    bool has_qs_ = false;                // some tree has a Quickscorer layout
    std::vector<TreeInfo> trees_;
    std::vector<WalkNodeU8> nodes_u8_;
    std::vector<WalkNodeF> nodes_f_;
    std::vector<std::int32_t> leaf_of_;
    std::vector<std::uint32_t> qs_offset_;
    std::vector<std::uint8_t> qs_threshold_;
    std::vector<std::uint64_t> qs_mask_;
    std::vector<std::uint32_t> top_walk_;
    std::int64_t segment_ = 0;  // first walk node of the segment being built (TreeInfo::base)
    // ForestView::row_*: the few-row path's Quickscorer across trees (binned models)
    std::int64_t row_slots_ = 0;
    bool row_whole_ = false;
    mutable RowPathTuner row_tuner_;  // binned forests' few-row path
    std::vector<std::uint16_t> row_feature_, row_threshold_;
    std::vector<std::uint32_t> row_mask_;
    std::vector<double> value_;
    IntLeaves fine_, coarse_;  // integer leaf values (both empty: no certified path)
};

}  // namespace greenauto
