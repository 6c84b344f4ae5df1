// Python bindings of the table encoder's compiled part: a whole frame's columns to one float64
// matrix in one call (numeric columns converted, text columns mapped to category codes).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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

// A numeric 1-D column read through the buffer protocol (no ndarray conversion: the per-column
// cost of a frame with many columns) into out[:, j]. False when the object's buffer is not a
// native-order number format this reads; the caller then takes numeric_column.
template <typename T>
bool convert_buffer(const Py_buffer& v, std::int64_t n, double* dst, std::int64_t ds) {
    if (v.strides[0] % static_cast<Py_ssize_t>(sizeof(T)) != 0) return false;
    convert(static_cast<const T*>(v.buf), v.strides[0] / static_cast<Py_ssize_t>(sizeof(T)), n,
            dst, ds);
    return true;
}

// The numeric format char of a buffer (native order), or 0.
char number_format(const Py_buffer& v) {
    const char* f = v.format == nullptr ? "B" : v.format;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (*f == '<') ++f;
#endif
    if (*f == '@' || *f == '=') ++f;
    if (f[0] == '\0' || f[1] != '\0') return 0;
    return std::strchr("bBhHiIlLqQnN?fd", f[0]) != nullptr ? f[0] : 0;
}

// A 1-D numeric buffer view of n items into dst (every ds-th double); false for a format or
// stride this does not read.
bool convert_view(const Py_buffer& v, std::int64_t n, double* dst, std::int64_t ds) {
    const char c = number_format(v);
    const Py_ssize_t size = v.itemsize;
    const bool sig = c == 'b' || c == 'h' || c == 'i' || c == 'l' || c == 'q' || c == 'n';
    if (c == 0) return false;
    if (c == 'd' && size == 8) return convert_buffer<double>(v, n, dst, ds);
    if (c == 'f' && size == 4) return convert_buffer<float>(v, n, dst, ds);
    if (c == 'd' || c == 'f') return false;
    if (sig && size == 8) return convert_buffer<std::int64_t>(v, n, dst, ds);
    if (sig && size == 4) return convert_buffer<std::int32_t>(v, n, dst, ds);
    if (sig && size == 2) return convert_buffer<std::int16_t>(v, n, dst, ds);
    if (sig && size == 1) return convert_buffer<std::int8_t>(v, n, dst, ds);
    if (!sig && size == 8) return convert_buffer<std::uint64_t>(v, n, dst, ds);
    if (!sig && size == 4) return convert_buffer<std::uint32_t>(v, n, dst, ds);
    if (!sig && size == 2) return convert_buffer<std::uint16_t>(v, n, dst, ds);
    if (!sig && size == 1) return convert_buffer<std::uint8_t>(v, n, dst, ds);
    return false;
}

bool buffer_column(nb::handle a, std::int64_t n, double* dst, std::int64_t ds) {
    Buffer b(a.ptr(), PyBUF_RECORDS_RO);
    return b.ok && b.view.ndim == 1 && b.view.shape[0] == n && convert_view(b.view, n, dst, ds);
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
            if (buffer_column(a, n, dst, out.stride(0))) continue;
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
        throw nb::value_error("Arrow text column: its offsets are shorter than the array");
    // every offset checked once, before any is used: from 0, non-decreasing, within the data
    bool bad = n > 0 && (offsets[offset] < 0 || offsets[offset + n] > n_data);
    for (std::int64_t i = offset; i < offset + n; ++i) bad |= offsets[i + 1] < offsets[i];
    if (bad) throw nb::value_error("Arrow text column: an offset points outside the data");
    return cats.codes(offsets, reinterpret_cast<const char*>(data), n_data, valid, offset, n, dst);
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

// ---- Arrow C stream interface (ABI-stable, https://arrow.apache.org/docs/format/CDataInterface.html)
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
struct ArrowSchema {
    const char* format;
    const char* name;
    const char* metadata;
    std::int64_t flags;
    std::int64_t n_children;
    struct ArrowSchema** children;
    struct ArrowSchema* dictionary;
    void (*release)(struct ArrowSchema*);
    void* private_data;
};
struct ArrowArray {
    std::int64_t length;
    std::int64_t null_count;
    std::int64_t offset;
    std::int64_t n_buffers;
    std::int64_t n_children;
    const void** buffers;
    struct ArrowArray** children;
    struct ArrowArray* dictionary;
    void (*release)(struct ArrowArray*);
    void* private_data;
};
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream*, struct ArrowSchema* out);
    int (*get_next)(struct ArrowArrayStream*, struct ArrowArray* out);
    const char* (*get_last_error)(struct ArrowArrayStream*);
    void (*release)(struct ArrowArrayStream*);
    void* private_data;
};
#endif

[[noreturn]] void stream_error(ArrowArrayStream* s, const char* what) {
    const char* e = s->get_last_error ? s->get_last_error(s) : nullptr;
    throw std::runtime_error(std::string("Arrow stream: ") + what + (e ? std::string(": ") + e : ""));
}

// One chunk of a utf8 ("u", int32 offsets) or large_utf8 ("U", int64) array into dst.
template <typename Off>
bool chunk_codes(const StringCategories& cats, const ArrowArray& a, double* dst) {
    if (a.n_buffers != 3 || a.length < 0 || a.offset < 0)
        throw nb::value_error("Arrow stream: a string chunk needs 3 buffers");
    if (a.length == 0) return false;
    const auto* offsets = static_cast<const Off*>(a.buffers[1]);
    if (offsets == nullptr) throw nb::value_error("Arrow stream: a string chunk has no offsets");
    const auto* data = static_cast<const std::uint8_t*>(a.buffers[2]);
    const auto* valid =
        a.null_count == 0 ? nullptr : static_cast<const std::uint8_t*>(a.buffers[0]);
    // the data buffer's size is not part of the interface: values must end by the last offset
    const std::int64_t n_data = static_cast<std::int64_t>(offsets[a.offset + a.length]);
    if (n_data > 0 && data == nullptr)
        throw nb::value_error("Arrow stream: a string chunk has no data");
    return arrow_codes(cats, offsets, a.offset + a.length + 1, data, n_data, valid, a.offset,
                       a.length, dst);
}

// Codes of one Arrow array given by __arrow_c_array__ (schema and array capsules, owned by
// the producer, which releases them) into dst[0, n); as stream_codes.
int array_codes(const StringCategories& cats, nb::handle column, double* dst, std::int64_t n) {
    nb::tuple capsules = nb::borrow<nb::tuple>(column.attr("__arrow_c_array__")());
    if (capsules.size() != 2) throw nb::value_error("__arrow_c_array__ must give two capsules");
    auto* schema = static_cast<ArrowSchema*>(PyCapsule_GetPointer(capsules[0].ptr(), "arrow_schema"));
    if (schema == nullptr) throw nb::python_error();
    auto* array = static_cast<ArrowArray*>(PyCapsule_GetPointer(capsules[1].ptr(), "arrow_array"));
    if (array == nullptr) throw nb::python_error();
    const std::string format = schema->format ? schema->format : "";
    if (format != "u" && format != "U") return -1;
    if (array->length != n)
        throw nb::value_error(array->length > n ? "Arrow stream: more values than rows"
                                                : "Arrow stream: fewer values than rows");
    const bool unknown = format == "u" ? chunk_codes<std::int32_t>(cats, *array, dst)
                                       : chunk_codes<std::int64_t>(cats, *array, dst);
    return unknown ? 1 : 0;
}

// Codes of one Arrow text column (an object with __arrow_c_stream__, else __arrow_c_array__)
// into dst[0, n): 1 when a value is not a category, 0 when none, -1 when it is not of (large)
// strings.
int stream_codes(const StringCategories& cats, nb::handle column, double* dst, std::int64_t n) {
    if (!nb::hasattr(column, "__arrow_c_stream__")) return array_codes(cats, column, dst, n);
    nb::object capsule = column.attr("__arrow_c_stream__")();
    auto* stream = static_cast<ArrowArrayStream*>(
        PyCapsule_GetPointer(capsule.ptr(), "arrow_array_stream"));
    if (stream == nullptr) throw nb::python_error();
    ArrowSchema schema{};
    if (stream->get_schema(stream, &schema) != 0) stream_error(stream, "no schema");
    const std::string format = schema.format ? schema.format : "";
    if (schema.release) schema.release(&schema);
    if (format != "u" && format != "U") return -1;
    std::int64_t start = 0;
    bool unknown = false;
    for (;;) {
        ArrowArray chunk{};
        if (stream->get_next(stream, &chunk) != 0) stream_error(stream, "cannot read a chunk");
        if (chunk.release == nullptr) break;  // end of the stream
        struct Release {
            ArrowArray* a;
            ~Release() { a->release(a); }
        } release{&chunk};
        if (chunk.length > n - start)
            throw nb::value_error("Arrow stream: more values than rows");
        unknown |= format == "u" ? chunk_codes<std::int32_t>(cats, chunk, dst + start)
                                 : chunk_codes<std::int64_t>(cats, chunk, dst + start);
        start += chunk.length;
    }
    if (start != n) throw nb::value_error("Arrow stream: fewer values than rows");
    return unknown ? 1 : 0;
}

// out[:, columns[i]] = codes of Arrow text column arrays[i] through tables[i], for every i, in
// one call. Returns the columns holding values that are not categories (their cells are -1),
// or None when a column is not of (large) strings (the caller then takes another path).
nb::object encode_arrow_text(Out out, std::vector<std::int64_t> columns, nb::list tables,
                             nb::list arrays) {
    const std::int64_t n = static_cast<std::int64_t>(out.shape(0));
    if (nb::len(tables) != columns.size() || nb::len(arrays) != columns.size())
        throw nb::value_error("one table and one array per column are needed");
    if (out.stride(0) != 1 && n > 1) throw nb::value_error("out must be column-major");
    nb::list unknown;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        const std::int64_t j = columns[i];
        if (j < 0 || j >= static_cast<std::int64_t>(out.shape(1)))
            throw nb::value_error(("column " + std::to_string(j) + " is out of range").c_str());
        double* dst = out.data() + j * out.stride(1);
        const int r = stream_codes(nb::cast<const StringCategories&>(tables[i]), arrays[i], dst, n);
        if (r < 0) return nb::none();
        if (r > 0) unknown.append(j);
    }
    return unknown;
}

// ---- a whole DataFrame in one call ---------------------------------------------------------
// The column kinds the encoder learnt in fit; which columns the caller needs the values of.
enum class Kind : int { kNumeric = 0, kText = 1, kOther = 2 };

// One column of a frame: its block (a 1-D array, or a 2-D numpy block whose row `loc` it is).
struct ColumnSource {
    nb::handle block;
    std::int64_t loc;
};

// Reads blknos[j] / blklocs[j] (intp arrays) as pandas' block manager lays a frame out.
struct IndexArray {
    Buffer view;
    explicit IndexArray(nb::handle a) : view(a.ptr(), PyBUF_RECORDS_RO) {}
    bool valid(std::size_t n) const {
        return view.ok && view.view.ndim == 1 && view.view.shape[0] == static_cast<Py_ssize_t>(n) &&
               view.view.itemsize == 8 && float_free_int(view.view.format);
    }
    static bool float_free_int(const char* f) {
        if (f == nullptr) return false;
        if (*f == '<' || *f == '@' || *f == '=') ++f;
        return (f[0] == 'l' || f[0] == 'q' || f[0] == 'n') && f[1] == '\0';
    }
    std::int64_t operator[](std::size_t j) const {
        std::int64_t v;
        std::memcpy(&v, static_cast<const char*>(view.view.buf) + j * view.view.strides[0], 8);
        return v;
    }
};

// Row `loc` of a 1-D or 2-D buffer as a 1-D view of n items: false when it is not one.
bool row_of(const Py_buffer& v, std::int64_t loc, std::int64_t n, Py_buffer& row) {
    row = v;
    if (v.ndim == 1) {
        if (loc != 0 || v.shape[0] != n) return false;
        return true;
    }
    if (v.ndim != 2 || loc < 0 || loc >= v.shape[0] || v.shape[1] != n) return false;
    row.buf = static_cast<char*>(v.buf) + loc * v.strides[0];
    row.ndim = 1;
    row.shape = v.shape + 1;
    row.strides = v.strides + 1;
    return true;
}

class FramePlan {
   public:
    FramePlan(std::vector<int> kinds, nb::list tables, std::vector<bool> used, nb::handle text_type,
              nb::handle categorical_type)
        : kinds_(std::move(kinds)), used_(std::move(used)),
          text_type_(nb::borrow(text_type)), categorical_type_(nb::borrow(categorical_type)) {
        if (nb::len(tables) != kinds_.size() || used_.size() != kinds_.size())
            throw nb::value_error("one kind, one table and one used flag per column are needed");
        for (std::size_t j = 0; j < kinds_.size(); ++j) {
            if (kinds_[j] < 0 || kinds_[j] > 2) throw nb::value_error("kinds must be 0, 1 or 2");
            tables_.push_back(tables[j].is_none()
                                  ? nullptr
                                  : &nb::cast<const StringCategories&>(tables[j]));
            if (kinds_[j] == 1 && tables_.back() == nullptr)
                throw nb::value_error("a text column needs its table");
        }
        keep_ = tables;
    }

    // out[:, j] of every used column the plan can read itself; unused columns whose type
    // matches their kind are filled with NaN, unread. Returns (columns holding values that are
    // not categories (cells -1), columns left to the caller), or None when blknos / blklocs are
    // not the frame's layout.
    nb::object encode(Out out, nb::list blocks, nb::handle blknos, nb::handle blklocs,
                      nb::handle na) const {
        const std::int64_t n = static_cast<std::int64_t>(out.shape(0));
        const std::size_t p = kinds_.size();
        if (out.shape(1) != p) throw nb::value_error("out must have one column per plan column");
        if (out.stride(0) != 1 && n > 1) throw nb::value_error("out must be column-major");
        IndexArray nos(blknos), locs(blklocs);
        if (!nos.valid(p) || !locs.valid(p)) return nb::none();
        const std::size_t n_blocks = nb::len(blocks);
        nb::list unknown, pending;
        for (std::size_t j = 0; j < p; ++j) {
            const std::int64_t k = nos[j];
            if (k < 0 || static_cast<std::size_t>(k) >= n_blocks) return nb::none();
            double* dst = out.data() + static_cast<std::int64_t>(j) * out.stride(1);
            const int r = column(j, ColumnSource{blocks[k], locs[j]}, n, dst, na.ptr());
            if (r == 1) unknown.append(j);
            else if (r == 2) pending.append(j);
        }
        return nb::make_tuple(unknown, pending);
    }

   private:
    // 0: done, 1: done with values that are not categories, 2: left to the caller.
    int column(std::size_t j, ColumnSource src, std::int64_t n, double* dst, PyObject* na) const {
        const Kind kind = static_cast<Kind>(kinds_[j]);
        PyObject* o = src.block.ptr();
        const bool arrow_text = Py_TYPE(o) == reinterpret_cast<PyTypeObject*>(text_type_.ptr());
        if (kind != Kind::kNumeric && (arrow_text || Py_TYPE(o) == reinterpret_cast<PyTypeObject*>(
                                                                  categorical_type_.ptr()))) {
            if (!used_[j]) return fill_nan(dst, n);
            if (!arrow_text || kind != Kind::kText) return 2;
            const int r = stream_codes(*tables_[j], src.block.attr("__arrow_array__")(), dst, n);
            return r < 0 ? 2 : r;
        }
        Buffer whole(o, PyBUF_RECORDS_RO);
        Py_buffer v{};
        if (!whole.ok || !row_of(whole.view, src.loc, n, v)) return 2;
        const char* f = v.format == nullptr ? "B" : v.format;
        const bool objects = f[0] == 'O' && f[1] == '\0';
        if (kind == Kind::kNumeric) {
            if (number_format(v) == 0) return 2;
            if (!used_[j]) return fill_nan(dst, n);
            return convert_view(v, n, dst, 1) ? 0 : 2;
        }
        if (!objects) return 2;  // numbers for a categorical column: the caller's messages
        if (!used_[j]) return fill_nan(dst, n);
        if (kind != Kind::kText) return 2;
        const ObjectColumn c{static_cast<PyObject* const*>(v.buf), n,
                             v.strides[0] / static_cast<Py_ssize_t>(sizeof(PyObject*))};
        try {
            return string_column(*tables_[j], c, dst, 1, na, j) ? 1 : 0;
        } catch (const nb::builtin_exception&) {
            return 2;  // an object that is neither text nor missing: the caller's path
        }
    }

    static int fill_nan(double* dst, std::int64_t n) {
        std::fill(dst, dst + n, kNaN);
        return 0;
    }

    std::vector<int> kinds_;
    std::vector<bool> used_;
    std::vector<const StringCategories*> tables_;
    nb::object keep_;  // the tables' Python objects
    nb::object text_type_, categorical_type_;
};

}  // namespace

void bind_encoding(nb::module_& m) {
    nb::class_<StringCategories>(m, "StringCategories",
                                 "Fitted text categories of one column (code = position).")
        .def(nb::init<const std::vector<std::string>&>(), "categories"_a)
        .def_prop_ro("size", &StringCategories::size)
        .def_prop_ro("displaced", &StringCategories::displaced,
                     "How many categories lie away from their home slot of the hash table.");
    nb::class_<FramePlan>(m, "FramePlan",
                          "How TabularEncoder reads a DataFrame's columns in one call.")
        .def(nb::init<std::vector<int>, nb::list, std::vector<bool>, nb::handle, nb::handle>(),
             "kinds"_a, "tables"_a, "used"_a, "text_type"_a, "categorical_type"_a,
             "kinds[j]: 0 numeric, 1 text (tables[j] its StringCategories), 2 other "
             "categorical; used[j]: whether column j's values are needed (else it is filled "
             "with NaN once its type matches its kind). text_type: pandas' Arrow string array "
             "type, categorical_type: pandas.Categorical.")
        .def("encode", &FramePlan::encode, "out"_a.noconvert(), "blocks"_a, "blknos"_a,
             "blklocs"_a, "na"_a,
             "Fill out[:, j] (column-major) from column j, found as row blklocs[j] of "
             "blocks[blknos[j]] (or that whole 1-D array). Returns (columns with values that are "
             "not categories, their cells -1; columns left to the caller) or None when the "
             "layout arrays do not fit.");
    m.def("encode_columns", &encode_columns, "out"_a.noconvert(), "arrays"_a, "tables"_a,
          "na"_a,
          "Fill out[:, j] from arrays[j]: numeric arrays converted to float64, object arrays "
          "of strings mapped through tables[j] (missing -> NaN, unknown -> -1), None skipped. Returns the "
          "columns with unknown categories; raises TypeError on an object that is neither a "
          "string nor missing.");
    m.def("encode_arrow_text", &encode_arrow_text, "out"_a.noconvert(), "columns"_a, "tables"_a,
          "arrays"_a,
          "Fill out[:, columns[i]] (out column-major) with the codes of Arrow text column "
          "arrays[i] (read through the Arrow C stream or array interface) through "
          "tables[i]: missing -> NaN, unknown -> -1. Returns the columns with unknown values, "
          "or None when a column is not of (large) strings.");
    m.def("arrow_string_codes", &arrow_string_codes, "categories"_a, "offsets"_a, "data"_a,
          "validity"_a.none(), "offset"_a, "out"_a.noconvert(),
          "Fill out with the category codes of an Arrow string array given by its buffers "
          "(offsets int32 or int64, data bytes, validity bitmap or None, the array's offset): "
          "missing -> NaN, unknown -> -1. Returns whether any value was unknown.");
}

}  // namespace greenauto
