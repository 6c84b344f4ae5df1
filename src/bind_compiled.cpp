// Python bindings of the compiled pipeline: dtype/shape checks and GIL handling only.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/vector.h>

#include <array>
#include <cstdint>
#include <cstring>
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


// ---- the fast path of CompiledPipeline.predict / predict_proba from Python ----------------
// One call and no nanobind ndarray conversion: X is read through the buffer protocol, the
// outputs are numpy.empty arrays the kernel writes into, labels already mapped to the classes.
// Anything but a numpy float32/float64 2-D array (or subclass) of the right width with rows (raw mode:
// float32 with contiguous columns) gives None, and the caller takes the general path (which
// converts the input or names the problem).

// Below this many rows the call keeps the GIL: releasing and taking it back would cost more
// than another Python thread could gain meanwhile.
constexpr std::int64_t kReleaseGilFrom = 256;

// numpy's PyArray_NewFromDescr (descr stolen), from numpy's C API.
using NewFromDescr = PyObject* (*)(PyTypeObject* type, PyObject* descr, int nd,
                                   const Py_ssize_t* dims, const Py_ssize_t* strides, void* data,
                                   int flags, PyObject* obj);
// The head of a numpy array object: its data pointer is the first field after the object
// header (PyArrayObject_fields::data, unchanged since NumPy 1.0).
struct ArrayHead {
    PyObject_HEAD
    char* data;
};

// numpy's ndarray type, numpy.empty, the int64 and float64 dtypes and, where numpy has its C
// API capsule, PyArray_NewFromDescr: looked up once and kept for the process's lifetime (never
// released: the interpreter may be gone when statics are destroyed). The C API is read from
// numpy's _ARRAY_API capsule at run time, as pybind11 does (the module builds against the
// stable ABI, without numpy's headers): slots 2 (PyArray_Type) and 94 (PyArray_NewFromDescr),
// fixed since NumPy 1.0 and kept by NumPy 2. Without it, outputs come from numpy.empty (and
// a buffer request for their data): about 0.15 us more per call.
struct Numpy {
    PyObject* ndarray;
    PyObject* empty;
    PyObject* int64;
    PyObject* float64;
    PyTypeObject* array_type = nullptr;
    NewFromDescr new_from_descr = nullptr;
};

bool numpy_c_api_on = true;  // tests switch it off to run the numpy.empty path (GIL held)
bool use_numpy_c_api() { return numpy_c_api_on; }
void set_use_numpy_c_api(bool yes) { numpy_c_api_on = yes; }

void** numpy_c_api() {
    for (const char* name : {"numpy._core.multiarray", "numpy.core.multiarray"}) {
        try {
            nb::object capsule = nb::module_::import_(name).attr("_ARRAY_API");
            void* api = PyCapsule_GetPointer(capsule.ptr(), nullptr);
            if (api != nullptr) return static_cast<void**>(api);
        } catch (const nb::python_error&) {
        }
        PyErr_Clear();
    }
    return nullptr;
}

const Numpy& numpy_refs() {
    static const Numpy refs = [] {
        nb::module_ np = nb::module_::import_("numpy");
        auto keep = [](nb::object o) { return o.release().ptr(); };
        Numpy r{keep(np.attr("ndarray")), keep(np.attr("empty")),
                keep(np.attr("dtype")("int64")), keep(np.attr("dtype")("float64"))};
        if (void** api = numpy_c_api();
            api != nullptr && api[2] == static_cast<void*>(r.ndarray)) {  // the same ndarray
            r.array_type = static_cast<PyTypeObject*>(api[2]);
            r.new_from_descr = reinterpret_cast<NewFromDescr>(api[94]);
        }
        return r;
    }();
    return refs;
}

// Bytes per value of a buffer format 'f' or 'd' in native byte order (optionally prefixed by
// '@', '=' or, on a little-endian target, '<'); 0 for any other format.
int float_size(const char* format) {
    if (format == nullptr) return 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    constexpr bool little = true;
#else
    constexpr bool little = false;
#endif
    if (format[0] == '@' || format[0] == '=' || (little && format[0] == '<')) ++format;
    if (format[0] == '\0' || format[1] != '\0') return 0;
    return format[0] == 'f' ? 4 : format[0] == 'd' ? 8 : 0;
}

// out[r] = classes[idx[r]], itemsize bytes each.
template <typename W>
void map_words(const std::int64_t* idx, std::int64_t n, const char* classes, char* out) {
    for (std::int64_t r = 0; r < n; ++r)
        std::memcpy(out + r * sizeof(W), classes + idx[r] * sizeof(W), sizeof(W));
}

void map_labels(const std::int64_t* idx, std::int64_t n, const char* classes,
                std::size_t itemsize, char* out) {
    switch (itemsize) {
        case 8: return map_words<std::uint64_t>(idx, n, classes, out);
        case 4: return map_words<std::uint32_t>(idx, n, classes, out);
        case 2: return map_words<std::uint16_t>(idx, n, classes, out);
        case 1: return map_words<std::uint8_t>(idx, n, classes, out);
        default:
            for (std::int64_t r = 0; r < n; ++r)
                std::memcpy(out + r * itemsize, classes + idx[r] * itemsize, itemsize);
    }
}

// A new C-contiguous numpy array of shape dims[0] (nd 1) or dims[0] x dims[1] (nd 2) and
// dtype, uninitialised, and its data (the array owns the memory).
nb::object new_array(int nd, const Py_ssize_t* dims, PyObject* dtype, char*& data) {
    const Numpy& np = numpy_refs();
    if (np.new_from_descr != nullptr && use_numpy_c_api()) {
        Py_INCREF(dtype);  // stolen
        PyObject* a = np.new_from_descr(np.array_type, dtype, nd, dims, nullptr, nullptr, 0,
                                        nullptr);
        if (a == nullptr) throw nb::python_error();
        data = reinterpret_cast<ArrayHead*>(a)->data;
        return nb::steal(a);
    }
    nb::object shape = nd == 1 ? nb::object(nb::int_(dims[0]))
                               : nb::object(nb::make_tuple(dims[0], dims[1]));
    PyObject* args[] = {shape.ptr(), dtype};  // no argument tuple (nothing for the GC to track)
    nb::object out = nb::steal(PyObject_Vectorcall(np.empty, args, 2, nullptr));
    if (!out.is_valid()) throw nb::python_error();
    Buffer b(out.ptr(), PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS);
    if (!b.ok) throw std::runtime_error("numpy.empty gave an array without a writable buffer");
    data = static_cast<char*>(b.view.buf);
    return out;
}

template <typename T>
void run_kernel(const CompiledPipeline& p, const Py_buffer& x, std::int64_t* labels,
                double* proba, int n_threads) {
    const auto* data = static_cast<const T*>(x.buf);
    const std::int64_t n = x.shape[0];
    const std::int64_t rs = x.strides[0] / static_cast<Py_ssize_t>(sizeof(T));
    const std::int64_t cs = x.strides[1] / static_cast<Py_ssize_t>(sizeof(T));
    if (n < kReleaseGilFrom) return p.predict<T>(data, n, rs, cs, labels, proba, n_threads);
    nb::gil_scoped_release release;
    p.predict<T>(data, n, rs, cs, labels, proba, n_threads);
}

// The input the fast path takes (see above), as a buffer; or no buffer (ok false).
bool fast_input(const CompiledPipeline& p, const Buffer& x, int& size) {
    if (!x.ok || x.view.ndim != 2) return false;
    size = float_size(x.view.format);
    const Py_ssize_t* shape = x.view.shape;
    const Py_ssize_t* strides = x.view.strides;
    if (size == 0 || shape[1] != p.n_features_in() || shape[0] < 1 || strides[0] % size != 0 ||
        strides[1] % size != 0)
        return false;
    return p.binned() || (size == 4 && strides[1] == 4);
}

// The facts of a labels array predict_fast writes labels from: its data, itemsize and dtype.
// Kept for the last array seen (a model passes the same one on every call), with a reference
// that keeps it alive and its data in place (numpy refuses to resize a referenced array);
// looked up again for any other array. The GIL guards the cache.
struct Labels {
    nb::object array, dtype;
    const char* data = nullptr;
    std::size_t itemsize = 0;
    std::int64_t n = 0;
};

const Labels& label_facts(nb::handle classes, std::int64_t k) {
    static Labels* last = new Labels();  // never destroyed (the interpreter may be gone)
    if (last->array.is_valid() && last->array.ptr() == classes.ptr() && last->n == k) return *last;
    Buffer cls(classes.ptr(), PyBUF_FORMAT | PyBUF_C_CONTIGUOUS);
    if (!cls.ok || cls.view.ndim != 1 || cls.view.shape[0] != k ||
        std::strchr(cls.view.format, 'O') != nullptr)
        throw nb::value_error("classes must be a 1-D array of n_classes labels "
                              "without Python objects");
    Labels facts;
    facts.data = static_cast<const char*>(cls.view.buf);
    facts.itemsize = static_cast<std::size_t>(cls.view.itemsize);
    facts.n = k;
    facts.dtype = classes.attr("dtype");
    facts.array = nb::borrow(classes);
    *last = std::move(facts);
    return *last;
}

// what: 0 labels, 1 probabilities, 2 (labels, probabilities). classes: the labels as a 1-D
// numpy array of a dtype without Python objects (labels are written in its dtype), or None
// (labels are class indices, int64).
nb::object predict_fast(const CompiledPipeline& p, nb::handle X, int n_threads,
                        nb::handle classes, int what) {
    const Numpy& np = numpy_refs();
    if (Py_TYPE(X.ptr()) != reinterpret_cast<PyTypeObject*>(np.ndarray)) {
        const int is_array = PyObject_IsInstance(X.ptr(), np.ndarray);  // a subclass (memmap)
        if (is_array < 0) throw nb::python_error();
        if (is_array == 0) return nb::none();
    }
    Buffer x(X.ptr(), PyBUF_RECORDS_RO);
    int size = 0;
    if (!fast_input(p, x, size)) return nb::none();
    const std::int64_t n = x.view.shape[0];
    const std::int64_t k = p.n_classes();
    nb::object proba, labels;
    char* proba_data = nullptr;
    if (what != 0) {
        const Py_ssize_t dims[2] = {static_cast<Py_ssize_t>(n), static_cast<Py_ssize_t>(k)};
        proba = new_array(2, dims, np.float64, proba_data);
    }
    // class indices: written straight into the labels when they are indices, else here
    std::array<std::int64_t, kReleaseGilFrom> small;
    std::unique_ptr<std::int64_t[]> big;
    std::int64_t* idx = small.data();
    if (n > kReleaseGilFrom && !(what != 1 && classes.is_none())) {
        big.reset(new std::int64_t[n]);
        idx = big.get();
    }
    const char* class_data = nullptr;
    std::size_t itemsize = 0;
    char* label_data = nullptr;
    if (what != 1) {
        const Py_ssize_t count = static_cast<Py_ssize_t>(n);
        if (classes.is_none()) {
            labels = new_array(1, &count, np.int64, label_data);
            idx = reinterpret_cast<std::int64_t*>(label_data);
        } else {
            const Labels& cls = label_facts(classes, k);
            class_data = cls.data;
            itemsize = cls.itemsize;
            labels = new_array(1, &count, cls.dtype.ptr(), label_data);
        }
    }
    auto* pr = reinterpret_cast<double*>(proba_data);
    if (size == 4) run_kernel<float>(p, x.view, idx, pr, n_threads);
    else run_kernel<double>(p, x.view, idx, pr, n_threads);
    if (class_data != nullptr) map_labels(idx, n, class_data, itemsize, label_data);
    if (what == 0) return labels;
    if (what == 1) return proba;
    return nb::make_tuple(labels, proba);
}

}  // namespace

void bind_compiled(nb::module_& m) {
    m.def("_set_numpy_c_api", &exchange<use_numpy_c_api, set_use_numpy_c_api>, "yes"_a,
        "Tests only: make the compiled call's outputs with numpy's C API where it was found "
        "(True, the default) or with numpy.empty (False); returns the previous setting.");
    m.def("_numpy_c_api", [] { return numpy_refs().new_from_descr != nullptr; },
          "Whether numpy's C API (PyArray_NewFromDescr) was found.");
    m.def(
        "_set_walk_segment_limit",
        [](std::int64_t n) {
            if (n < 1) throw nb::value_error("the walk segment limit must be at least 1 node");
            return walk_segment_limit().exchange(n);
        },
        "n"_a,
        "Tests only: walk nodes per segment of binned forests built from now on (default and "
        "most 2**24); returns the previous limit.");
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
        .def(
            "row_paths",
            [](const CompiledPipeline& p) {
                nb::list out;
                for (std::size_t m = 0; m < p.n_members(); ++m) {
                    const int path = p.row_path(m);
                    out.append(path < 0 ? nb::none() : nb::object(nb::str(row_path_name(path))));
                }
                return out;
            },
            "Per member, the few-row path its forest chose at the level in use ('walk', 'top', "
            "'gather'), or None (not a binned forest, or still timing its first calls).")
        .def("add_trees", &add_trees, "tree_starts"_a.noconvert(), "feature"_a.noconvert(),
             "threshold"_a.noconvert(), "left"_a.noconvert(), "right"_a.noconvert(),
             "missing_left"_a.noconvert(), "values"_a.noconvert(), "out_offset"_a.noconvert(),
             "n_outputs"_a, "output"_a, "sigmoid"_a, "class_map"_a)
        .def("add_table_nb", &add_table_nb, "features"_a.noconvert(), "n_codes"_a.noconvert(),
             "table"_a.noconvert(), "prior"_a.noconvert(), "class_map"_a)
        .def("add_knn", &add_knn, "features"_a.noconvert(), "train"_a.noconvert(),
             "labels"_a.noconvert(), "n_classes"_a, "k"_a, "p"_a, "class_map"_a)
        .def("predict", &predict<float>, "X"_a.noconvert(), "with_proba"_a, "n_threads"_a)
        .def("predict", &predict<double>, "X"_a.noconvert(), "with_proba"_a, "n_threads"_a)
        .def("predict_fast", &predict_fast, "X"_a, "n_threads"_a, "classes"_a.none(), "what"_a,
             "Labels (what=0), probabilities (1) or both (2) of a numpy float32/float64 X of "
             "the right shape, labels written in the dtype of classes (None: int64 indices); "
             "None for any other X (the caller then converts it or reports the problem).");
}

}  // namespace greenauto
