// Python bindings of the binning kernel: dtype/shape/index checks and GIL handling only.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "binning.hpp"
#include "bindings.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace greenauto {
namespace {

using EdgeArray = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using CountArray = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using OutArray = nb::ndarray<std::uint8_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
template <typename T>
using InArray = nb::ndarray<const T, nb::ndim<2>, nb::device::cpu>;

std::string shape_str(std::int64_t a, std::int64_t b) {
    return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

template <typename T>
void transform(const BinningKernel& k, InArray<T> X, CountArray columns, OutArray out,
               int n_threads) {
    const std::int64_t n_rows = static_cast<std::int64_t>(X.shape(0));
    const std::int64_t n_cols = static_cast<std::int64_t>(X.shape(1));
    const std::int64_t n_out = static_cast<std::int64_t>(columns.shape(0));
    if (n_cols != k.n_features())
        throw std::invalid_argument("X has " + std::to_string(n_cols) + " columns, the binner " +
                                    std::to_string(k.n_features()));
    if (static_cast<std::int64_t>(out.shape(0)) != n_rows ||
        static_cast<std::int64_t>(out.shape(1)) != n_out)
        throw std::invalid_argument("out must have shape " + shape_str(n_rows, n_out) + ", got " +
                                    shape_str(out.shape(0), out.shape(1)));
    const std::int64_t* cols = columns.data();
    for (std::int64_t i = 0; i < n_out; ++i)
        if (cols[i] < 0 || cols[i] >= n_cols)
            throw std::out_of_range("column index " + std::to_string(cols[i]) +
                                    " out of range for " + std::to_string(n_cols) + " features");
    if (n_rows == 0 || n_out == 0) return;
    nb::gil_scoped_release release;
    k.transform<T>(X.data(), n_rows, X.stride(0), X.stride(1), cols, n_out, out.data(),
                   n_threads);
}

}  // namespace

void bind_binning(nb::module_& m) {
    nb::class_<BinningKernel>(m, "BinningKernel",
                              "Validated bin edges; transform() bins float32/float64 rows to "
                              "uint8 with fused column selection.")
        .def(
            "__init__",
            [](BinningKernel* self, EdgeArray edges, CountArray n_bins) {
                if (n_bins.shape(0) != edges.shape(0))
                    throw std::invalid_argument(
                        "n_bins has " + std::to_string(n_bins.shape(0)) + " entries for " +
                        std::to_string(edges.shape(0)) + " features");
                new (self) BinningKernel(edges.data(), static_cast<std::int64_t>(edges.shape(0)),
                                         static_cast<std::int64_t>(edges.shape(1)),
                                         n_bins.data());
            },
            "edges"_a.noconvert(), "n_bins"_a.noconvert())
        .def_prop_ro("n_features", &BinningKernel::n_features)
        .def("transform", &transform<float>, "X"_a.noconvert(), "columns"_a.noconvert(),
             "out"_a.noconvert(), "n_threads"_a = 1)
        .def("transform", &transform<double>, "X"_a.noconvert(), "columns"_a.noconvert(),
             "out"_a.noconvert(), "n_threads"_a = 1);
}

}  // namespace greenauto
