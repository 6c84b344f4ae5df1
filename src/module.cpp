// The extension module greenauto._kernels: registration only.
#include "bindings.hpp"

NB_MODULE(_kernels, m) {
    m.doc() = "greenauto's compiled inference kernels (private; use the Python API).";
#if defined(GREENAUTO_OPENMP)
    m.attr("openmp") = true;
#else
    m.attr("openmp") = false;
#endif
    greenauto::bind_cpu(m);
    greenauto::bind_binning(m);
    greenauto::bind_compiled(m);
    greenauto::bind_encoding(m);
}
