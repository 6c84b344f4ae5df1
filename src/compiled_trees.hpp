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
// Internal layout (rebuilt breadth first): the two children of a node are adjacent, so a step
// is `node = left + go_right`; a leaf points to itself and never goes right, so a block of rows
// can step a tree a fixed `depth` times without a branch per row (lleaves/treelite style, with
// several rows in flight to hide load latency).
//   binned model: uint8 codes; go_right = code > t with t = floor(threshold) (a split with
//     threshold < 0 sends every code right and is removed; >= 255 keeps t = 255: never right).
//   raw model: float32 features; go_right = x > t with t = the largest float32 <= threshold
//     (exactly `(double)x <= threshold` for every float32 x), NaN goes right when !missing_left.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace greenauto {

enum class TreeOutput : int { kMean = 0, kSigmoid = 1, kSoftmax = 2 };

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

struct BinNode {
    std::int32_t left;
    std::uint16_t feature;
    std::uint8_t threshold;
    std::uint8_t unused;
    static constexpr bool kBinned = true;
    bool go_right(const std::uint8_t* x) const { return x[feature] > threshold; }
    bool right_of(std::uint8_t v) const { return v > threshold; }
};

struct RawNode {
    std::int32_t left;
    std::int32_t feature;
    float threshold;
    std::uint32_t nan_right;
    static constexpr bool kBinned = false;
    bool go_right(const float* x) const { return right_of(x[feature]); }
    bool right_of(float v) const { return (v > threshold) | (nan_right & (v != v)); }
};

inline float round_down_to_float(double t) {
    if (std::isinf(t)) return static_cast<float>(t);
    constexpr double fmax = std::numeric_limits<float>::max();
    if (t >= fmax) return std::numeric_limits<float>::max();
    if (t < -fmax) return -std::numeric_limits<float>::infinity();
    float f = static_cast<float>(t);
    if (static_cast<double>(f) > t) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    return f;
}

template <typename Node>
class TreeEnsemble {
   public:
    using Input = std::conditional_t<Node::kBinned, std::uint8_t, float>;

    explicit TreeEnsemble(const ForestArrays& a)
        : n_trees_(a.n_trees), n_features_(a.n_features), width_(a.width),
          n_outputs_(a.n_outputs), output_(a.output),
          sigmoid_(a.sigmoid) {
        check_shapes(a);
        std::vector<std::uint8_t> parents(static_cast<std::size_t>(a.n_nodes), 0);
        for (std::int64_t t = 0; t < a.n_trees; ++t) build_tree(a, t, parents);
        max_depth_ = n_trees_ ? *std::max_element(depth_.begin(), depth_.end()) : 0;
    }

    std::int64_t n_outputs() const { return n_outputs_; }
    std::int64_t n_classes() const { return output_ == TreeOutput::kSigmoid ? 2 : n_outputs_; }
    std::int64_t n_trees() const { return n_trees_; }
    std::int64_t n_nodes() const { return static_cast<std::int64_t>(nodes_.size()); }
    std::int64_t max_depth() const { return max_depth_; }

    // acc: n x n_outputs, zeroed by the caller; x: n rows of `stride` elements. Leaves are
    // added in tree order for every row (the source libraries' summation order).
    void accumulate(const Input* x, std::int64_t stride, std::int64_t n, double* acc) const {
        std::int64_t r0 = 0;
        if (n >= kRows) {
            // kRows rows at a time, transposed to feature-major: a step reads
            // cols[feature * kRows + r] with r a constant after unrolling.
            std::vector<Input> cols(static_cast<std::size_t>(n_features_ * kRows));
            for (; r0 + kRows <= n; r0 += kRows) {
                for (std::int64_t r = 0; r < kRows; ++r) {
                    const Input* row = x + (r0 + r) * stride;
                    for (std::int64_t f = 0; f < n_features_; ++f) cols[f * kRows + r] = row[f];
                }
                rows_by_tree(cols.data(), acc + r0 * n_outputs_);
            }
        }
        for (; r0 < n; ++r0) trees_by_row(x + r0 * stride, acc + r0 * n_outputs_);
    }

    // Rows stepped together through one tree (kRows independent chains).
    static constexpr int kRows = 16;

   private:
    void rows_by_tree(const Input* cols, double* acc) const {
        const Node* nodes = nodes_.data();
        for (std::int64_t t = 0; t < n_trees_; ++t) {
            const std::int32_t depth = depth_[t];
            const std::int64_t off = out_offset_[t];
            std::int32_t idx[kRows];
            for (int r = 0; r < kRows; ++r) idx[r] = roots_[t];
            for (std::int32_t s = 0; s < depth; ++s)
                for (int r = 0; r < kRows; ++r) {
                    const Node& nd = nodes[idx[r]];
                    const Input v = cols[static_cast<std::int64_t>(nd.feature) * kRows + r];
                    idx[r] = nd.left + static_cast<std::int32_t>(nd.right_of(v));
                }
            for (int r = 0; r < kRows; ++r) add_leaf(idx[r], acc + r * n_outputs_ + off);
        }
    }

    // One row, kTrees trees stepped together (the latency path for tiny batches).
    void trees_by_row(const Input* row, double* acc) const {
        constexpr int kTrees = 8;
        const Node* nodes = nodes_.data();
        std::int64_t t0 = 0;
        for (; t0 + kTrees <= n_trees_; t0 += kTrees) {
            std::int32_t idx[kTrees];
            std::int32_t depth = 0;
            for (int k = 0; k < kTrees; ++k) {
                idx[k] = roots_[t0 + k];
                depth = std::max(depth, depth_[t0 + k]);
            }
            for (std::int32_t s = 0; s < depth; ++s)
                for (int k = 0; k < kTrees; ++k) {
                    const Node& nd = nodes[idx[k]];
                    idx[k] = nd.left + static_cast<std::int32_t>(nd.go_right(row));
                }
            for (int k = 0; k < kTrees; ++k) add_leaf(idx[k], acc + out_offset_[t0 + k]);
        }
        for (; t0 < n_trees_; ++t0) {
            std::int32_t i = roots_[t0];
            for (std::int32_t s = 0; s < depth_[t0]; ++s) {
                const Node& nd = nodes[i];
                i = nd.left + static_cast<std::int32_t>(nd.go_right(row));
            }
            add_leaf(i, acc + out_offset_[t0]);
        }
    }

   public:
    // Turns accumulated scores into labels and, when proba is not null, n x n_classes
    // probabilities, exactly as the source library does.
    void finish(double* acc, std::int64_t n, std::int32_t* labels, double* proba) const {
        const std::int64_t k = n_outputs_;
        for (std::int64_t r = 0; r < n; ++r) {
            double* a = acc + r * k;
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

   private:
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
        if (a.output == TreeOutput::kSigmoid && a.n_outputs != 1)
            fail("a sigmoid (binary) model has exactly one output");
        if (a.output == TreeOutput::kSoftmax && a.n_outputs < 2)
            fail("a softmax model needs at least two outputs");
        if (!std::isfinite(a.sigmoid)) fail("sigmoid parameter must be finite");
        if (a.n_features < 1 || (Node::kBinned && a.n_features > 65535))
            fail("feature count " + std::to_string(a.n_features) + " out of range");
        if (a.tree_starts[0] != 0 || a.tree_starts[a.n_trees] != a.n_nodes)
            fail("tree_starts must begin at 0 and end at the node count");
        for (std::int64_t t = 0; t < a.n_trees; ++t) {
            if (a.tree_starts[t + 1] <= a.tree_starts[t])
                fail("tree " + std::to_string(t) + " is empty or tree_starts decreases");
            const std::int64_t o = a.out_offset[t];
            if (o < 0 || o + a.width > a.n_outputs)
                fail("tree " + std::to_string(t) + " writes outputs out of range");
        }
    }

    bool is_leaf(const ForestArrays& a, std::int64_t i) const {
        return a.left[i] == -1 && a.right[i] == -1;
    }

    // Binned models: a split that sends every code right (threshold < 0) is skipped.
    std::int64_t resolve(const ForestArrays& a, std::int64_t i) const {
        if constexpr (Node::kBinned)
            while (!is_leaf(a, i) && a.threshold[i] < 0.0) i = a.right[i];
        return i;
    }

    void build_tree(const ForestArrays& a, std::int64_t t, std::vector<std::uint8_t>& parents) {
        const std::int64_t start = a.tree_starts[t], end = a.tree_starts[t + 1];
        for (std::int64_t i = start; i < end; ++i) check_node(a, t, i, end, parents);
        struct Item {
            std::int64_t orig;
            std::int32_t slot, depth;
        };
        std::vector<Item> queue;
        const std::int32_t root = static_cast<std::int32_t>(nodes_.size());
        nodes_.emplace_back();
        leaf_of_.push_back(-1);
        queue.push_back({resolve(a, start), root, 0});
        std::int32_t depth = 0;
        for (std::size_t q = 0; q < queue.size(); ++q) {
            const Item it = queue[q];
            depth = std::max(depth, it.depth);
            if (is_leaf(a, it.orig)) {
                make_leaf(nodes_[it.slot], it.slot);
                leaf_of_[it.slot] = static_cast<std::int32_t>(values_.size());
                values_.insert(values_.end(), a.values + it.orig * a.width,
                               a.values + (it.orig + 1) * a.width);
                continue;
            }
            const std::int32_t child = static_cast<std::int32_t>(nodes_.size());
            make_split(a, it.orig, child, nodes_[it.slot]);
            nodes_.emplace_back();
            nodes_.emplace_back();
            leaf_of_.push_back(-1);
            leaf_of_.push_back(-1);
            queue.push_back({resolve(a, a.left[it.orig]), child, it.depth + 1});
            queue.push_back({resolve(a, a.right[it.orig]), child + 1, it.depth + 1});
        }
        roots_.push_back(root);
        depth_.push_back(depth);
        out_offset_.push_back(a.out_offset[t]);
    }

    void check_node(const ForestArrays& a, std::int64_t t, std::int64_t i, std::int64_t end,
                    std::vector<std::uint8_t>& parents) const {
        const std::string where = "tree " + std::to_string(t) + ", node " + std::to_string(i);
        if (is_leaf(a, i)) {
            for (std::int64_t w = 0; w < a.width; ++w)
                if (!std::isfinite(a.values[i * a.width + w]))
                    fail(where + ": leaf value is not finite");
            return;
        }
        for (const std::int64_t c : {static_cast<std::int64_t>(a.left[i]),
                                     static_cast<std::int64_t>(a.right[i])}) {
            if (c <= i || c >= end)
                fail(where + ": child " + std::to_string(c) + " is not after its parent "
                             "inside the tree");
            if (parents[c]++) fail(where + ": node " + std::to_string(c) + " has two parents");
        }
        if (a.feature[i] < 0 || a.feature[i] >= a.n_features)
            fail(where + ": feature " + std::to_string(a.feature[i]) + " out of range for " +
                 std::to_string(a.n_features) + " features");
        if (std::isnan(a.threshold[i])) fail(where + ": threshold is NaN");
    }

    static void make_leaf(Node& nd, std::int32_t slot) {
        nd.left = slot;
        nd.feature = 0;
        if constexpr (Node::kBinned) {
            nd.threshold = 255;
            nd.unused = 0;
        } else {
            nd.threshold = std::numeric_limits<float>::infinity();
            nd.nan_right = 0;
        }
    }

    static void make_split(const ForestArrays& a, std::int64_t i, std::int32_t child, Node& nd) {
        nd.left = child;
        const double thr = a.threshold[i];
        if constexpr (Node::kBinned) {
            nd.feature = static_cast<std::uint16_t>(a.feature[i]);
            nd.threshold = static_cast<std::uint8_t>(std::min(255.0, std::floor(thr)));
            nd.unused = 0;
        } else {
            nd.feature = a.feature[i];
            nd.threshold = round_down_to_float(thr);
            nd.nan_right = a.missing_left[i] ? 0u : 1u;
        }
    }

    void add_leaf(std::int32_t node, double* out) const {
        const double* v = values_.data() + leaf_of_[node];
        for (std::int64_t w = 0; w < width_; ++w) out[w] += v[w];
    }

    std::int64_t n_trees_, n_features_, width_, n_outputs_;
    TreeOutput output_;
    double sigmoid_;
    std::int64_t max_depth_ = 0;
    std::vector<Node> nodes_;
    std::vector<std::int32_t> leaf_of_, roots_, depth_, out_offset_;
    std::vector<double> values_;
};

}  // namespace greenauto
