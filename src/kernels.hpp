// Plain views of validated model data, and the table of hot loops compiled once per
// instruction-set level (kernels_impl.hpp, instantiated by kernels_<level>.cpp).
//
// The models (compiled_trees.hpp, binning.hpp, compiled_nb_knn.hpp) validate their input, build
// these layouts once, and hand the kernels raw pointers only: a kernel never allocates, never
// throws and reads nothing outside the arrays described here. Every level computes exactly the
// same numbers (same comparisons, same additions in the same order); only the speed differs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu.hpp"

namespace greenauto {

// Rows a tree kernel handles together: a call takes up to kMaxBlocks blocks of kBlockRows rows,
// block b feature-major (feature f of its row r at cols[(b * n_features + f) * kBlockRows + r]),
// and runs every tree over all its blocks before the next tree (the tree stays in L1).
inline constexpr std::int64_t kBlockRows = 64;
inline constexpr std::int64_t kMaxBlocks = 8;

// --- tree ensembles --------------------------------------------------------------------------
// Walk layout: the two children of a node are adjacent (right = left + 1) and a leaf points to
// itself and never goes right, so every row steps a tree exactly `depth` times, branch-free.
// Node indices are relative to the tree's root (TreeInfo::root). Features are those the model
// uses, renumbered from 0.
struct WalkNodeU8 {          // binned model: one 8-byte word
    std::uint32_t next;      // left << 8 | (255 - threshold): (next + code) >> 8 is the child a
                             // code goes to (code > threshold: left + 1); a leaf: self << 8
                             // (left, self: relative to TreeInfo::base)
    std::uint32_t feature8;  // 8 x the feature (its offset in a group of 8 rows, kernels_impl.hpp)
};
inline constexpr std::int64_t kMaxWalkNodesU8 = std::int64_t{1} << 24;  // per segment: 24-bit left
// The walk reads a node in one 8-byte load (kernels_impl.hpp step_u8).
static_assert(sizeof(WalkNodeU8) == 8 && offsetof(WalkNodeU8, feature8) == 4,
              "WalkNodeU8: next, feature8 in 8 bytes");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the walk reads nodes little-endian");
struct WalkNodeF {         // raw model (float32 features, compared in float64)
    std::uint32_t left;    // relative to the tree's root
    std::uint32_t word;    // feature << 1 | nan_goes_right
    double threshold;      // go right when !(x <= threshold) for x not NaN (leaf: +inf)
};

// Quickscorer layout (binned trees with at most 64 leaves, leaves numbered left to right): a
// node whose test is false (code > threshold) removes the leaves of its left subtree from the
// row's bitvector; the exit leaf is the lowest bit left set.
struct TreeInfo {
    std::int32_t root;         // walk layout: root node (absolute; the tree's nodes follow it)
    // Walk node indices of the tree (WalkNode*::next / left, walk starts, top_walk) count from
    // node `base`, the first of its segment: trees in a row whose nodes fit 24-bit indices
    // (binned; raw trees: one segment). Nearly every forest is one segment, base 0, so that
    // walks step by absolute indices (no root added per step).
    std::int32_t base;
    std::int32_t depth;        // walk layout: steps from the root to the deepest leaf
    std::int32_t out;          // first output this tree's leaf values add to
    std::int32_t leaf_begin;   // global id of its leftmost leaf (leaf ids of a tree: consecutive)
    std::int32_t qs_leaves;    // 0: walk only; else 16, 32 or 64: leaf slots of its QS layout
    std::int32_t qs_nodes;     // QS nodes (internal nodes that can be false)
    std::int64_t qs_begin;     // first QS node
    // Walked trees deeper than kTopDepth: their top kTopDepth levels also in the Quickscorer
    // layout (nodes at depth kTopDepth as its leaves), whose exit slot e starts the walk at
    // node top_walk[top_entry + e] (relative to base) for top_steps steps. top_steps 0: no top
    // layout; a Quickscorer tree of at most 32 leaves then has top_walk[top_entry + e], the
    // walk node of its leaf e (the few-row path, ForestView::row_feature).
    std::int32_t top_nodes;
    std::int32_t top_steps;
    std::int64_t top_begin;    // first QS node of the top
    std::int64_t top_entry;
};
inline constexpr std::int32_t kTopDepth = 5;  // at most 32 top leaves

struct ForestView {
    const TreeInfo* trees;
    std::int64_t n_trees;
    std::int64_t n_features;      // features used (row width of cols and of rows)
    std::int64_t n_outputs;
    const WalkNodeU8* nodes_u8;   // binned models
    const WalkNodeF* nodes_f;     // raw models
    const std::int32_t* leaf_of;  // walk node (absolute: base + relative) -> global leaf id
    // QS nodes: column offset (feature * kBlockRows), threshold, bitvector
    const std::uint32_t* qs_offset;
    const std::uint8_t* qs_threshold;
    const std::uint64_t* qs_mask;
    const std::uint32_t* top_walk;  // TreeInfo::top_entry
    // leaf values: value[leaf * width + w] (a QS tree's leaf slots padded to qs_leaves)
    std::int64_t width;
    const double* value;
    // Labels only, width > 1: the values as integers round(v * scale), added instead of value
    // to integer accumulators (the caller checks a margin and recomputes close rows exactly):
    // quantized (scale 65535) into uint32 sums, or quantized8 (scale 255, at most 257 trees)
    // into uint16 sums; at most one is not null. Leaf rows qwidth apart (width, or for
    // rows_major(width) padded with zeros to a multiple of 8, of 16 for quantized8).
    const std::uint16_t* quantized;
    const std::uint8_t* quantized8;
    std::int64_t qwidth;
    // A few rows of a binned model (AVX-512): Quickscorer across trees, a lane per tree, for the
    // top of every tree (its whole layout when it has at most 32 leaves). Per group of 64
    // trees (tree 64g + k in lane k) and node slot s < row_slots, at [(g * row_slots + s) * 64
    // + k]: the node's used feature, threshold (16-bit; a padding slot 0xFFFF, never true)
    // and bitvector. Exit slot e of tree t then starts its walk at node top_walk[t.top_entry
    // + e] (relative to its base) for t.top_steps steps (0: a Quickscorer tree, the node is
    // its leaf). Null when more than 128 features are used or a tree has 33-64 leaves.
    const std::uint16_t* row_feature = nullptr;
    const std::uint16_t* row_threshold = nullptr;
    const std::uint32_t* row_mask = nullptr;
    std::int64_t row_slots = 0;
    bool row_whole = false;  // the path is set and does every tree whole (none walked below)
    bool one_segment = true;  // every TreeInfo::base is 0: walk indices are absolute
};

// Leaf rows wider than this are added to row-major accumulators (one vector add per row);
// narrower ones to output-major accumulators.
inline constexpr std::int64_t kNarrowWidth = 4;
// static: every instruction-set file keeps its own copy (no shared out-of-line code).
static inline bool rows_major(std::int64_t width) { return width > kNarrowWidth; }

// Padded leaf-row width of the integer leaf values (see ForestView::quantized).
static inline std::int64_t quantized_width(std::int64_t width, bool bytes) {
    if (!rows_major(width)) return width;
    return bytes ? (width + 15) / 16 * 16 : (width + 7) / 8 * 8;
}

// Walked trees read rows in groups of 8, feature-major inside a group: feature f of row r at
// rows8[((r / 8) * n_features + f) * 8 + r % 8] (one load per step: a node holds 8 f).
// n rows (at most kMaxBlocks * kBlockRows) in blocks: cols as above (bytes or float64), acc per
// block kBlockRows x n_outputs float64 at acc + b * n_outputs * kBlockRows, output-major
// (acc[o * kBlockRows + r]) or, when rows_major(width), row-major (acc[r * n_outputs + o]);
// leaf values added in tree order for every row. With integer leaves, acc holds uint32 (uint16
// with f.quantized8) instead, kBlockRows x qwidth per block, row-major (acc[r * qwidth + o]).
using TreesU8Fn = void (*)(const ForestView& f, const std::uint8_t* cols,
                           const std::uint8_t* rows8, std::int64_t n, void* acc);
using TreesF64Fn = void (*)(const ForestView& f, const double* cols, std::int64_t n, void* acc);
// The ways a few binned rows go through a forest (TreeRowsU8Fn): every tree walked from its
// root as independent scalar chains (every level); the tops of 64 trees at a time by
// Quickscorer across the trees, then the walk (AVX-512, where ForestView::row_feature is set);
// 64 trees walked at a time by vector gathers (AVX-512). They add the same leaves in the same
// order (the same results); which is fastest depends on the CPU and the forest, so
// TreeEnsemble times them on its first calls (RowPathTuner).
enum class RowPath : int { kWalk = 0, kTop = 1, kGather = 2 };
inline constexpr int kRowPaths = 3;
inline constexpr unsigned row_path_bit(RowPath p) { return 1u << static_cast<int>(p); }

// A few rows, row-major (row stride in elements), trees interleaved: the latency path, by
// `path` where the level has it (KernelTable::row_paths) and the forest allows it, else by the
// walk. The bytes of x are readable up to 3 past the last row's last code (4-byte gathers).
using TreeRowsU8Fn = void (*)(const ForestView& f, const std::uint8_t* x, std::int64_t stride,
                              std::int64_t n, void* acc, RowPath path);
using TreeRowsF64Fn = void (*)(const ForestView& f, const double* x, std::int64_t stride,
                               std::int64_t n, void* acc);

// Rows [0, m) of x (row-major bytes: the first nf of each row, rows `stride` apart) into
// the feature-major blocks above, rows past m zeroed.
using TransposeU8Fn = void (*)(const std::uint8_t* x, std::int64_t stride, std::int64_t m,
                               std::int64_t nf, std::uint8_t* out);
// The same rows in the groups of 8 of walked trees (rows past m zeroed up to a multiple of 8).
using Transpose8U8Fn = TransposeU8Fn;

// --- binning -----------------------------------------------------------------------------
// Per feature f (all validated by BinningKernel):
//   two-stage 16-ary layout at edges32/edges64 + offsets[f]: 16 splitters, then (more than 16
//     bins) 16 blocks of 16 sorted edges, NaN-padded; the per-value search.
//   level tables at level32 + level_off[f], levels[f] = L levels: the sorted edges padded with
//     NaN to 2^L - 1 slots, level l holding slots (2i + 1) 2^(L-1-l) - 1 for i < 2^l, in
//     max(16, 2^l) floats; the branch-free binary search of 16 rows at once.
//   sorted64 + 256 f: the sorted float64 edges, NaN-padded (float64 input: exact correction).
// float32 tables hold the smallest float32 >= each edge, so a float32 x bins as it would in
// float64. bin(x) = number of edges <= x; NaN -> n_bins[f].
struct BinView {
    const std::uint8_t* n_bins;
    const std::int64_t* offsets;
    const float* edges32;
    const double* edges64;
    const std::uint8_t* levels;
    const std::int64_t* level_off;
    const float* level32;
    const double* sorted64;
    // 1 where every inner edge of the feature is a float32 value: a float64 x is then binned
    // exactly by its float32 rounding down (e <= x <=> e <= that value), without correction.
    const std::uint8_t* exact32;
};
inline constexpr std::int64_t kLevelFloats = 304;  // tables of 8 levels: 4 x 16 + 16 + 32 + 64 + 128
// Rows [0, n) of X (element strides row_stride, col_stride), output columns i < n_out reading
// input column columns[i], bins to out[r * out_stride + i].
using BinRowsF32Fn = void (*)(const BinView& v, const float* X, std::int64_t n,
                              std::int64_t row_stride, std::int64_t col_stride,
                              const std::int64_t* columns, std::int64_t n_out, std::uint8_t* out,
                              std::int64_t out_stride);
using BinRowsF64Fn = void (*)(const BinView& v, const double* X, std::int64_t n,
                              std::int64_t row_stride, std::int64_t col_stride,
                              const std::int64_t* columns, std::int64_t n_out, std::uint8_t* out,
                              std::int64_t out_stride);

// --- KNN on codes ------------------------------------------------------------------------
// Training rows in chunks of kKnnChunk rows and features in groups of B bytes (B = 8, or 4 on
// the dot-product layout), group-major: byte k of row i (padded to whole chunks) in group g is
// train[(g * n_chunks * kKnnChunk + i) * B + k] (features and rows past the last are 0). The
// first groups of every row are read first and are small.
inline constexpr std::int64_t kKnnChunk = 32;
inline constexpr std::int64_t kKnnStage = 16;  // features per stage of the dot-product layout
struct KnnView {
    const std::uint8_t* train;
    // dot-product layout (p = 2, every training code below 128, B = 4): for every 16 features s
    // and row i, yy[s * n_chunks * kKnnChunk + i] minus the sum of its squared codes (an int32
    // in two's complement); null: B = 8
    const std::uint32_t* yy;
    std::int64_t n_train, n_chunks, groups;
    std::int64_t k;
    int p;  // 1: L1, 2: squared L2
    // dot-product layout with more than 32 features: the features from the 33rd on of training
    // row i at tail + i * tail_stride, row-major (the rows still under their heap top after the
    // first 32 features are completed one by one); tail_stride a multiple of 64, zero padded.
    // Null otherwise.
    const std::uint8_t* tail = nullptr;
    std::int64_t tail_stride = 0;
    // knn_select only: the class index of every training row, and the capacity of each query's
    // candidate buffer (knn_cand_cap(k)).
    const std::int32_t* labels = nullptr;
    std::int64_t cand_cap = 0;
    // knn_select and knn_select_amx: scratch for the distances (first filter) of the first
    // chunks, their warm start, knn_part_size(n_chunks) values; null: no warm start.
    std::uint32_t* part = nullptr;
    // AMX (knn_select_amx): every row's negated squared norm over all its features (n_chunks *
    // kKnnChunk, 0 past the last row), and the groups of 4 bytes of a query: groups, or a
    // multiple of 16 past 16 (the layout holds that many, zero past the last feature).
    const std::int32_t* nyy = nullptr;
    std::int64_t amx_groups = 0;
};
inline constexpr std::int64_t kKnnAmxQueries = 16;
inline constexpr std::int64_t kKnnWarmChunks = 32;     // knn_scan_folded (4 queries)
inline constexpr std::int64_t kKnnAmxWarmChunks = 16;  // knn_select_amx (16 queries)
// The k nearest training rows of nq <= kKnnQueries queries (query q: groups * 8 bytes at
// queries + q * groups * 8, in the training layout's feature order; all kKnnQueries slots
// readable): scikit-learn's max-heap (sklearn/utils/_heap.pyx) fed the rows in index order, so
// the heap of query q (k distances at dist + q * k, 2^32 - 1 on entry, and as many indices at
// index + q * k) ends as scikit-learn's would. Rows are compared 32 at a time over their
// first min(groups, kKnnFirstGroups) feature groups; a row whose partial distance already
// reaches the heap top is skipped (its full distance could only be larger: it would not enter),
// the others are completed and offered to the heap. Distances are integers below
// 65536 * 255^2 < 2^32 - 1 (scikit-learn's float64 ones are the same integers, and its +inf
// start is above every one of them as 2^32 - 1 is here).
inline constexpr std::int64_t kKnnQueries = 4;
inline constexpr std::int64_t kKnnFirstGroups = 2;  // of 8 bytes (of 4 bytes: twice as many)
using KnnSearchFn = void (*)(const KnnView& v, const std::uint8_t* queries, std::int64_t nq,
                             std::uint32_t* dist, std::int32_t* index);
// The same search without the heap: after scikit-learn's heap has seen every row, with D* its
// largest distance, it holds every row closer than D* and fills its other slots with rows at
// exactly D* (which ones: the heap's eviction order). So only the labels of the rows at D*
// that fill those slots can depend on that order. knn_select logs, per query, every row within
// the k-th smallest distance offered so far (kept sorted in a register for k up to 16 at
// AVX-512, 8 at AVX2; else bounded by the compactions), in index order: a superset of the
// rows the heap takes (v.cand_cap packed distance << 32 | index values at cand +
// q * v.cand_cap). It writes to index + q * k k training rows with the neighbours' labels:
// those closer than D*, then rows at D* (all of them when they fit, else any when they share
// one label); else scikit-learn's heap replayed on the log when the log is complete. When the
// log fills up it is compacted (rows past the bound dropped, rows at it counted with whether
// their labels differ) and is no longer a replay's input; so is a log whose query's bound was
// lowered before its rows were offered (the warm start on the dot-product layout, v.part).
// Returns bit q set for each query whose rows at D* carry different labels, are more than its
// free slots and whose log was compacted: its labels need knn_search (a second scan with the
// heap).
inline constexpr std::int64_t kKnnCandSlack = 256;  // log entries past k before a compaction
// (then a chunk's rows, and room for k rows at the bound)
inline std::int64_t knn_cand_cap(std::int64_t k) { return 2 * k + kKnnCandSlack + kKnnChunk; }
inline std::int64_t knn_part_size(std::int64_t n_chunks) {
    const std::int64_t scan = kKnnQueries * (n_chunks < kKnnWarmChunks ? n_chunks : kKnnWarmChunks);
    const std::int64_t amx =
        kKnnAmxQueries * (n_chunks < kKnnAmxWarmChunks ? n_chunks : kKnnAmxWarmChunks);
    return (scan > amx ? scan : amx) * kKnnChunk;
}
using KnnSelectFn = std::uint32_t (*)(const KnnView& v, const std::uint8_t* queries,
                                      std::int64_t nq, std::uint64_t* cand, std::int32_t* index);

using KnnSelectAmxFn = bool (*)(const KnnView& v, const std::uint8_t* queries, std::int64_t nq,
                                std::uint64_t* cand, std::int32_t* index, std::uint32_t* need);

using KnnSearchAmxFn = bool (*)(const KnnView& v, const std::uint8_t* queries, std::int64_t nq,
                                std::uint32_t* dist, std::int32_t* index);

struct KernelTable {
    Isa isa;
    TreesU8Fn trees_u8;
    TreesF64Fn trees_f64;
    TreeRowsU8Fn tree_rows_u8;
    unsigned row_paths;  // bits (row_path_bit) of the RowPaths tree_rows_u8 has at this level
    TreeRowsF64Fn tree_rows_f64;
    TransposeU8Fn transpose_u8;
    Transpose8U8Fn transpose8_u8;
    bool quickscorer;  // trees_u8 reads cols (Quickscorer trees); else only rows8
    BinRowsF32Fn bin_f32;
    BinRowsF64Fn bin_f64;
    KnnSearchFn knn_search;
    KnnSelectFn knn_select;
    // knn_select on the dot-product layout with AMX tiles, kKnnAmxQueries queries of
    // v.amx_groups groups of 4 bytes (null at the levels without it); usable only when
    // knn_amx_ready() (the CPU has AMX and the OS grants it to this process). Returns false,
    // having done nothing, when a query code is 128 or more (then knn_select).
    KnnSelectAmxFn knn_select_amx;
    // knn_search the same way (nq <= kKnnAmxQueries heaps at dist, index); false as above.
    KnnSearchAmxFn knn_search_amx;
    bool (*knn_amx_ready)();
};

// The table of one level (scalar always exists; others only in x86 builds).
const KernelTable& kernel_table(Isa isa);
// The table of the level in use.
static inline const KernelTable& active_kernels() { return kernel_table(active_isa()); }

namespace kern_scalar {
extern const KernelTable table;
}
namespace kern_avx2 {
extern const KernelTable table;
}
namespace kern_avx512 {
extern const KernelTable table;
}

}  // namespace greenauto
