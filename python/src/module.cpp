// rm_abstract._rma: the C++ core seen from Python. The public API is the
// Python package around it (python/rm_abstract); this module stays small.
#include "bindings.h"

NB_MODULE(_rma, m) {
  m.doc() = "rm_abstract's native core (use the rm_abstract package, not this module)";
  m.attr("__version__") = RMA_VERSION;
  rma::python::bind_errors(m);
  rma::python::bind_runtime(m);
  rma::python::bind_ops(m);
  rma::python::bind_llm(m);
  rma::python::bind_session(m);
}
