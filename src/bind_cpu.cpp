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

void bind_cpu(nb::module_& m) {
    apply_isa_environment();
    m.def("isa", [] { return std::string(isa_name(active_isa())); },
          "Instruction-set level the kernels use now: 'scalar', 'avx2' or 'avx512'.");
    m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); },
          "Best instruction-set level this CPU and build support.");
    m.def("set_isa", &exchange_named<Isa, active_isa, set_active_isa, parse_isa, isa_name>,
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
          "Whether the AVX-512 binning of strided columns takes its gather path: yes on Intel, "
          "no elsewhere (AMD Zen 4 / 5 gathers cost a load per lane), unless "
          "GREENAUTO_FAST_GATHERS=0/1 at load or set_fast_gathers.");
    m.def("set_fast_gathers", &exchange<fast_gathers, set_fast_gathers>, "yes"_a,
        "Take the gather path (True) or the gather-free one (False) from now on (every "
        "thread); returns the previous setting. Results are the same either way.");
    m.def("row_path", [] { return std::string(row_path_name(forced_row_path())); },
          "The few-row path every binned forest takes ('walk', 'top' or 'gather'), or 'auto' "
          "(the default: each forest times the paths its level has on its first calls and "
          "keeps the fastest). GREENAUTO_ROW_PATH at load, or set_row_path.");
    m.def("set_row_path",
        &exchange_named<int, forced_row_path, set_forced_row_path, parse_row_path, row_path_name>,
        "name"_a,
        "Force a few-row path ('walk', 'top', 'gather'; a path the level or the forest lacks "
        "falls back to 'walk') or 'auto', from now on (every thread); returns the previous "
        "setting. Results are the same on every path.");
}

}  // namespace greenauto
