// One registration function per kernel family (module.cpp calls them all), and what the
// bindings share.
#pragma once

#include <nanobind/nanobind.h>

#include <string>

namespace greenauto {

// A buffer of a Python object, released on scope exit; ok is false when the object gives none
// for these flags (the Python error is cleared: the caller falls back).
struct Buffer {
    Py_buffer view{};
    bool ok = false;
    Buffer(PyObject* o, int flags) {
        ok = PyObject_GetBuffer(o, &view, flags) == 0;
        if (!ok) PyErr_Clear();
    }
    ~Buffer() {
        if (ok) PyBuffer_Release(&view);
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
};

// A run-time switch set to `yes`; returns its previous setting (a binding's set_* function).
template <bool (*Get)(), void (*Set)(bool)>
bool exchange(bool yes) {
    const bool before = Get();
    Set(yes);
    return before;
}

// A named run-time setting set to the value `name` parses to; returns the previous one's name.
template <typename V, V (*Get)(), void (*Set)(V), V (*Parse)(const std::string&),
          const char* (*Name)(V)>
std::string exchange_named(const std::string& name) {
    std::string before = Name(Get());
    Set(Parse(name));
    return before;
}

void bind_binning(nanobind::module_& m);
void bind_compiled(nanobind::module_& m);
void bind_cpu(nanobind::module_& m);
void bind_encoding(nanobind::module_& m);
}  // namespace greenauto
