// Python bindings of the instruction-set level choice (see cpu.hpp): for tests and benchmarks.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>

#include "bindings.hpp"
#include "cpu.hpp"
#include "kernels.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace greenauto {

namespace {
// A run-time switch set to `yes`; returns its previous setting.
template <bool (*Get)(), void (*Set)(bool)>
bool exchange(bool yes) {
    const bool before = Get();
    Set(yes);
    return before;
}
}  // namespace

void bind_cpu(nb::module_& m) {
    apply_isa_environment();
    m.def("isa", [] { return std::string(isa_name(active_isa())); },
          "Instruction-set level the kernels use now: 'scalar', 'avx2' or 'avx512'.");
    m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); },
          "Best instruction-set level this CPU and build support.");
    m.def(
        "set_isa",
        [](const std::string& name) {
            const std::string before = isa_name(active_isa());
            set_active_isa(parse_isa(name));
            return before;
        },
        "name"_a,
        "Use the given level from now on (for every thread); returns the previous one. Raises "
        "ValueError for an unknown name or a level this CPU lacks.");
    m.def(
        "knn_amx",
        [] {
            const KernelTable& kt = active_kernels();
            return kt.knn_select_amx != nullptr && kt.knn_amx_ready();
        },
        "Whether the KNN's L2 search on codes below 128 uses AMX tiles at the current level (the "
        "CPU has AMX-INT8, Linux grants it, and it is allowed: GREENAUTO_KNN_AMX is not '0' at "
        "load, or set_knn_amx).");
    m.def("set_knn_amx", &exchange<knn_amx_allowed, set_knn_amx_allowed>, "allowed"_a,
        "Allow or forbid AMX tiles in the KNN from now on (every thread); returns the previous "
        "setting. Allowing has no effect where the CPU or the OS lacks AMX.");
    m.def("fast_gathers", &fast_gathers,
          "Whether the AVX-512 kernels take their gather paths (a few rows through a forest; "
          "binning of strided columns): yes on Intel, no elsewhere (AMD Zen 4 / 5 gathers cost a "
          "load per lane), unless GREENAUTO_FAST_GATHERS=0/1 at load or set_fast_gathers.");
    m.def("set_fast_gathers", &exchange<fast_gathers, set_fast_gathers>, "yes"_a,
        "Take the gather paths (True) or the gather-free ones (False) from now on (every "
        "thread); returns the previous setting. Predictions are the same either way.");
}

}  // namespace greenauto
