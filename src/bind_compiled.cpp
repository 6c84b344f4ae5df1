// Python bindings of the compiled pipeline: dtype/shape checks and GIL handling only.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "compiled_pipeline.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace greenauto {
namespace {

template <typename T, int D = 1>
using In = nb::ndarray<const T, nb::ndim<D>, nb::c_contig, nb::device::cpu>;
template <typename T>
using AnyX = nb::ndarray<const T, nb::ndim<2>, nb::device::cpu>;

void require(bool ok, const std::string& msg) {
    if (!ok) throw std::invalid_argument(msg);
}

std::int64_t len(std::size_t n) { return static_cast<std::int64_t>(n); }

void add_trees(CompiledPipeline& p, In<std::int64_t> tree_starts, In<std::int32_t> feature,
               In<double> threshold, In<std::int32_t> left, In<std::int32_t> right,
               In<std::uint8_t> missing_left, In<double, 2> values, In<std::int32_t> out_offset,
               std::int64_t n_outputs, int output, double sigmoid,
               std::vector<std::int32_t> class_map) {
    const std::int64_t n_nodes = len(feature.shape(0));
    require(tree_starts.shape(0) >= 2, "tree_starts needs at least two entries");
    const std::int64_t n_trees = len(tree_starts.shape(0)) - 1;
    require(len(threshold.shape(0)) == n_nodes && len(left.shape(0)) == n_nodes &&
                len(right.shape(0)) == n_nodes && len(missing_left.shape(0)) == n_nodes &&
                len(values.shape(0)) == n_nodes,
            "node arrays must all have " + std::to_string(n_nodes) + " entries");
    require(len(out_offset.shape(0)) == n_trees, "out_offset needs one entry per tree");
    require(output >= 0 && output <= 2, "output must be 0 (mean), 1 (sigmoid) or 2 (softmax)");
    ForestArrays a{tree_starts.data(), n_trees,  feature.data(),      threshold.data(),
                   left.data(),        right.data(), missing_left.data(), values.data(),
                   n_nodes,            len(values.shape(1)), out_offset.data(), n_outputs,
                   p.n_member_features(), static_cast<TreeOutput>(output), sigmoid};
    if (p.binned()) p.add(std::make_unique<TreeMember<BinNode>>(a), std::move(class_map));
    else p.add(std::make_unique<TreeMember<RawNode>>(a), std::move(class_map));
}

void add_table_nb(CompiledPipeline& p, In<std::int32_t> features, In<std::int64_t> n_codes,
                  In<double, 2> table, In<double> prior,
                  std::vector<std::int32_t> class_map) {
    require(features.shape(0) == n_codes.shape(0), "features and n_codes differ in length");
    require(table.shape(1) == prior.shape(0), "table columns and prior differ in length");
    p.add(std::make_unique<NBMember>(TableNB(
        features.data(), n_codes.data(), len(features.shape(0)), p.n_member_features(),
        table.data(), len(table.shape(0)), prior.data(), len(prior.shape(0)))),
          std::move(class_map));
}

void add_knn(CompiledPipeline& p, In<std::int32_t> features, In<std::uint8_t, 2> train,
             In<std::int32_t> labels, std::int64_t n_classes, std::int64_t k, int metric_p,
             std::vector<std::int32_t> class_map) {
    require(train.shape(1) == features.shape(0), "train columns and features differ");
    require(labels.shape(0) == train.shape(0), "one label per training row needed");
    require(train.shape(0) < (std::size_t{1} << 31), "too many training rows");
    p.add(std::make_unique<KnnMember>(
        KnnBinned(features.data(), len(features.shape(0)), p.n_member_features(), train.data(),
                  len(train.shape(0)), labels.data(), n_classes, k, metric_p)),
        std::move(class_map));
}

template <typename T>
nb::object predict(const CompiledPipeline& p, AnyX<T> X, bool with_proba, int n_threads) {
    const std::int64_t n_classes = p.n_classes();
    const std::int64_t n_rows = len(X.shape(0));
    require(len(X.shape(1)) == p.n_features_in(),
            "X has " + std::to_string(X.shape(1)) + " columns, the pipeline expects " +
                std::to_string(p.n_features_in()));
    require(n_rows > 0, "X has no rows");
    if (!p.binned())
        require(sizeof(T) == sizeof(float) && X.stride(1) == 1,
                "raw mode needs C-contiguous float32 X");
    auto* labels = new std::int64_t[n_rows];
    nb::capsule own_l(labels, [](void* q) noexcept { delete[] static_cast<std::int64_t*>(q); });
    double* proba = nullptr;
    nb::capsule own_p;
    if (with_proba) {
        proba = new double[n_rows * n_classes];
        own_p = nb::capsule(proba, [](void* q) noexcept { delete[] static_cast<double*>(q); });
    }
    {
        nb::gil_scoped_release release;
        p.predict<T>(X.data(), n_rows, X.stride(0), X.stride(1), labels, proba, n_threads);
    }
    auto out_l = nb::ndarray<nb::numpy, std::int64_t, nb::ndim<1>>(
        labels, {static_cast<std::size_t>(n_rows)}, own_l);
    if (!with_proba) return nb::cast(out_l);
    auto out_p = nb::ndarray<nb::numpy, double, nb::ndim<2>>(
        proba, {static_cast<std::size_t>(n_rows), static_cast<std::size_t>(n_classes)}, own_p);
    return nb::make_tuple(out_l, out_p);
}

}  // namespace

void bind_compiled(nb::module_& m) {
    nb::class_<CompiledPipeline>(m, "CompiledPipelineKernel",
                                 "Validated binner + selection + 1 to 3 members + vote; labels and probabilities.")
        .def(
            "__init__",
            [](CompiledPipeline* self, const BinningKernel* binner,
               std::vector<std::int64_t> columns, std::int64_t n_features_in,
               std::int64_t n_classes, int vote) {
                std::optional<BinningKernel> b;
                if (binner) b.emplace(*binner);
                new (self) CompiledPipeline(std::move(b), std::move(columns), n_features_in,
                                            n_classes, static_cast<Vote>(vote));
            },
            "binner"_a.none(), "columns"_a, "n_features_in"_a, "n_classes"_a, "vote"_a = 0)
        .def_prop_ro("binned", &CompiledPipeline::binned)
        .def_prop_ro("n_members", &CompiledPipeline::n_members)
        .def("add_trees", &add_trees, "tree_starts"_a.noconvert(), "feature"_a.noconvert(),
             "threshold"_a.noconvert(), "left"_a.noconvert(), "right"_a.noconvert(),
             "missing_left"_a.noconvert(), "values"_a.noconvert(), "out_offset"_a.noconvert(),
             "n_outputs"_a, "output"_a, "sigmoid"_a, "class_map"_a)
        .def("add_table_nb", &add_table_nb, "features"_a.noconvert(), "n_codes"_a.noconvert(),
             "table"_a.noconvert(), "prior"_a.noconvert(), "class_map"_a)
        .def("add_knn", &add_knn, "features"_a.noconvert(), "train"_a.noconvert(),
             "labels"_a.noconvert(), "n_classes"_a, "k"_a, "p"_a, "class_map"_a)
        .def("predict", &predict<float>, "X"_a.noconvert(), "with_proba"_a, "n_threads"_a)
        .def("predict", &predict<double>, "X"_a.noconvert(), "with_proba"_a, "n_threads"_a);
}

}  // namespace greenauto
