// Python bindings of the table encoder's compiled part: a whole frame's columns to one float64
// matrix in one call (numeric columns converted, text columns mapped to category codes).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "encoding.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace greenauto {
namespace {

using Out = nb::ndarray<double, nb::ndim<2>, nb::device::cpu>;
using AnyColumn = nb::ndarray<nb::ro, nb::ndim<1>, nb::device::cpu>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename T>
void convert(const T* src, std::int64_t stride, std::int64_t n, double* dst, std::int64_t ds) {
    for (std::int64_t r = 0; r < n; ++r) dst[r * ds] = static_cast<double>(src[r * stride]);
}

// A numeric 1-D column of any integer, bool or float32/64 dtype into out[:, j].
void numeric_column(const AnyColumn& a, std::int64_t n, double* dst, std::int64_t ds,
                    std::size_t j) {
    const nb::dlpack::dtype t = a.dtype();
    const std::int64_t st = a.stride(0);
    const auto code = static_cast<nb::dlpack::dtype_code>(t.code);
    const void* p = a.data();
    using C = nb::dlpack::dtype_code;
    if (code == C::Float && t.bits == 64) return convert(static_cast<const double*>(p), st, n, dst, ds);
    if (code == C::Float && t.bits == 32) return convert(static_cast<const float*>(p), st, n, dst, ds);
    if ((code == C::Int && t.bits == 64)) return convert(static_cast<const std::int64_t*>(p), st, n, dst, ds);
    if ((code == C::Int && t.bits == 32)) return convert(static_cast<const std::int32_t*>(p), st, n, dst, ds);
    if ((code == C::Int && t.bits == 16)) return convert(static_cast<const std::int16_t*>(p), st, n, dst, ds);
    if ((code == C::Int && t.bits == 8)) return convert(static_cast<const std::int8_t*>(p), st, n, dst, ds);
    if ((code == C::UInt && t.bits == 64)) return convert(static_cast<const std::uint64_t*>(p), st, n, dst, ds);
    if ((code == C::UInt && t.bits == 32)) return convert(static_cast<const std::uint32_t*>(p), st, n, dst, ds);
    if ((code == C::UInt && t.bits == 16)) return convert(static_cast<const std::uint16_t*>(p), st, n, dst, ds);
    if ((code == C::UInt || code == C::Bool) && t.bits == 8)
        return convert(static_cast<const std::uint8_t*>(p), st, n, dst, ds);
    throw nb::type_error(("column " + std::to_string(j) + ": unsupported dtype").c_str());
}

// A 1-D numpy object array's element pointers (the caller keeps the array alive).
struct ObjectColumn {
    PyObject* const* items;
    std::int64_t n, stride;  // stride in elements
};

ObjectColumn object_column(nb::handle h, std::size_t j) {
    nb::dict ai = nb::borrow<nb::dict>(nb::getattr(h, "__array_interface__"));
    const std::string typestr = nb::cast<std::string>(ai["typestr"]);
    nb::tuple shape = nb::borrow<nb::tuple>(ai["shape"]);
    if (typestr != "|O" || shape.size() != 1)
        throw nb::type_error(("column " + std::to_string(j) + ": expected a 1-D object array")
                                 .c_str());
    ObjectColumn c{};
    c.items = reinterpret_cast<PyObject* const*>(
        nb::cast<std::uintptr_t>(nb::borrow<nb::tuple>(ai["data"])[0]));
    c.n = nb::cast<std::int64_t>(shape[0]);
    c.stride = 1;
    nb::object strides = ai["strides"];
    if (!strides.is_none())
        c.stride = nb::cast<std::int64_t>(nb::borrow<nb::tuple>(strides)[0]) /
                   static_cast<std::int64_t>(sizeof(PyObject*));
    return c;
}

bool is_missing(PyObject* o, PyObject* na) {
    if (o == Py_None || o == na) return true;
    if (PyFloat_Check(o)) return std::isnan(PyFloat_AsDouble(o));
    return false;
}

// Category codes of a column of Python strings into out[:, j]; missing -> NaN, a string that
// is not a category -> -1. Returns whether any was unknown. Raises TypeError on other objects.
bool string_column(const StringCategories& cats, const ObjectColumn& c, double* dst,
                   std::int64_t ds, PyObject* na, std::size_t j) {
    AddressCache cache(cats.size());
    bool unknown = false;
    for (std::int64_t r = 0; r < c.n; ++r) {
        PyObject* o = c.items[r * c.stride];
        double code;
        if (!cache.find(o, code)) {
            if (PyUnicode_Check(o)) {
                Py_ssize_t len = 0;
                const char* s = PyUnicode_AsUTF8AndSize(o, &len);
                if (s == nullptr) throw nb::python_error();
                // the UTF-8 buffer ends with a NUL byte: len + 1 bytes are readable
                const std::int32_t k = cats.code(s, static_cast<std::size_t>(len), s + len + 1);
                code = k < 0 ? -1.0 : static_cast<double>(k);
            } else if (is_missing(o, na)) {
                code = kNaN;
            } else {
                throw nb::type_error(("column " + std::to_string(j) +
                                      ": a value is neither a string nor missing")
                                         .c_str());
            }
            cache.insert(o, code);
        }
        unknown |= code == -1.0;
        dst[r * ds] = code;
    }
    return unknown;
}

// out[:, j] for every column j: numeric arrays converted, object arrays (tables[j] not None)
// mapped to codes, None left as it is (the caller fills that column). Returns the columns that hold unknown categories (their cells are -1).
std::vector<std::int64_t> encode_columns(Out out, nb::list arrays, nb::list tables,
                                         nb::handle na) {
    const std::int64_t n = static_cast<std::int64_t>(out.shape(0));
    const std::size_t p = out.shape(1);
    if (nb::len(arrays) != p || nb::len(tables) != p)
        throw nb::value_error("one array and one table entry per output column are needed");
    std::vector<std::int64_t> unknown;
    for (std::size_t j = 0; j < p; ++j) {
        double* dst = out.data() + static_cast<std::int64_t>(j) * out.stride(1);
        nb::handle a = arrays[j];
        nb::handle t = tables[j];
        if (a.is_none()) continue;  // filled by the caller
        if (t.is_none()) {
            AnyColumn col = nb::cast<AnyColumn>(a);
            if (static_cast<std::int64_t>(col.shape(0)) != n)
                throw nb::value_error(("column " + std::to_string(j) + " has the wrong length")
                                          .c_str());
            numeric_column(col, n, dst, out.stride(0), j);
            continue;
        }
        const ObjectColumn c = object_column(a, j);
        if (c.n != n)
            throw nb::value_error(("column " + std::to_string(j) + " has the wrong length").c_str());
        if (string_column(nb::cast<const StringCategories&>(t), c, dst, out.stride(0), na.ptr(), j))
            unknown.push_back(static_cast<std::int64_t>(j));
    }
    return unknown;
}

// Category codes of one Arrow string array (utf8 with int32 offsets, large_utf8 with int64)
// read straight from its buffers: value i (i from `offset`) is data[offsets[i], offsets[i+1]),
// missing where its validity bit is 0. Missing -> NaN, a string that is not a category -> -1.
// Returns whether any was unknown; every offset is checked against the data before use.
template <typename Off>
bool arrow_codes(const StringCategories& cats, const Off* offsets, std::int64_t n_offsets,
                 const std::uint8_t* data, std::int64_t n_data, const std::uint8_t* valid,
                 std::int64_t offset, std::int64_t n, double* dst) {
    if (offset < 0 || offset + n + 1 > n_offsets)
        throw nb::value_error("arrow_string_codes: the offsets are shorter than the array");
    bool unknown = false;
    for (std::int64_t r = 0; r < n; ++r) {
        const std::int64_t i = offset + r;
        if (valid != nullptr && ((valid[i >> 3] >> (i & 7)) & 1) == 0) {
            dst[r] = kNaN;
            continue;
        }
        const std::int64_t b = offsets[i], e = offsets[i + 1];
        if (b < 0 || e < b || e > n_data)
            throw nb::value_error("arrow_string_codes: an offset points outside the data");
        const char* text = reinterpret_cast<const char*>(data);
        const std::int32_t k =
            cats.code(text + b, static_cast<std::size_t>(e - b), text + n_data);
        unknown |= k < 0;
        dst[r] = k < 0 ? -1.0 : static_cast<double>(k);
    }
    return unknown;
}

using Bytes = nb::ndarray<const std::uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

bool arrow_string_codes(const StringCategories& cats, AnyColumn offsets, Bytes data,
                        std::optional<Bytes> validity, std::int64_t offset,
                        nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu> out) {
    const std::int64_t n = static_cast<std::int64_t>(out.shape(0));
    const std::int64_t n_off = static_cast<std::int64_t>(offsets.shape(0));
    if (offsets.stride(0) != 1)
        throw nb::value_error("arrow_string_codes: the offsets must be contiguous");
    if (validity && static_cast<std::int64_t>(validity->shape(0)) * 8 < offset + n)
        throw nb::value_error("arrow_string_codes: the validity bitmap is shorter than the array");
    const std::uint8_t* valid = validity ? validity->data() : nullptr;
    const std::int64_t n_data = static_cast<std::int64_t>(data.shape(0));
    const nb::dlpack::dtype t = offsets.dtype();
    if (t == nb::dtype<std::int32_t>())
        return arrow_codes(cats, static_cast<const std::int32_t*>(offsets.data()), n_off,
                           data.data(), n_data, valid, offset, n, out.data());
    if (t == nb::dtype<std::int64_t>())
        return arrow_codes(cats, static_cast<const std::int64_t*>(offsets.data()), n_off,
                           data.data(), n_data, valid, offset, n, out.data());
    throw nb::type_error("arrow_string_codes: offsets must be int32 or int64");
}

}  // namespace

void bind_encoding(nb::module_& m) {
    nb::class_<StringCategories>(m, "StringCategories",
                                 "Fitted text categories of one column (code = position).")
        .def(nb::init<const std::vector<std::string>&>(), "categories"_a)
        .def_prop_ro("size", &StringCategories::size);
    m.def("encode_columns", &encode_columns, "out"_a.noconvert(), "arrays"_a, "tables"_a,
          "na"_a,
          "Fill out[:, j] from arrays[j]: numeric arrays converted to float64, object arrays "
          "of strings mapped through tables[j] (missing -> NaN, unknown -> -1), None skipped. Returns the "
          "columns with unknown categories; raises TypeError on an object that is neither a "
          "string nor missing.");
    m.def("arrow_string_codes", &arrow_string_codes, "categories"_a, "offsets"_a, "data"_a,
          "validity"_a.none(), "offset"_a, "out"_a.noconvert(),
          "Fill out with the category codes of an Arrow string array given by its buffers "
          "(offsets int32 or int64, data bytes, validity bitmap or None, the array's offset): "
          "missing -> NaN, unknown -> -1. Returns whether any value was unknown.");
}

}  // namespace greenauto
