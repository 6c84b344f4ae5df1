// One registration function per kernel family; module.cpp calls them all.
#pragma once

#include <nanobind/nanobind.h>

namespace greenauto {
void bind_binning(nanobind::module_& m);
void bind_compiled(nanobind::module_& m);
void bind_cpu(nanobind::module_& m);
void bind_encoding(nanobind::module_& m);
}  // namespace greenauto
