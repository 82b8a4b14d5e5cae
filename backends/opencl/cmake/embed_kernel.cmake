# cmake -DSRC=<file.cl> -DDST=<file.cpp> -DNAME=<op>/<stem> -DINC=<dir> -P embed_kernel.cmake
# Writes a .cpp that registers the kernel source as a raw string literal, so
# the plugin carries its kernels and needs no files at run time. A line
# `#include "common/kernels/<file>.cl"` is replaced by that file (relative to
# INC), so kernels share source (e.g. block decoding) without run-time lookup.
file(READ ${SRC} body)
string(REGEX MATCHALL "#include \"[^\"]+\"" includes "${body}")
foreach(inc ${includes})
  string(REGEX REPLACE "#include \"([^\"]+)\"" "\\1" path "${inc}")
  if(NOT EXISTS ${INC}/${path})
    message(FATAL_ERROR "${SRC}: included kernel source ${INC}/${path} not found")
  endif()
  file(READ ${INC}/${path} included)
  string(REPLACE "${inc}" "${included}" body "${body}")
endforeach()
string(FIND "${body}" ")rma_cl\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${SRC} contains the raw-string delimiter )rma_cl\"")
endif()
file(WRITE ${DST}.tmp "// Generated from ${SRC} by embed_kernel.cmake; do not edit.\n"
  "#include \"common/cl_op.h\"\n"
  "namespace {\n"
  "const bool registered = ::rma::opencl::register_source(\"${NAME}\", R\"rma_cl(${body})rma_cl\");\n"
  "}  // namespace\n")
file(COPY_FILE ${DST}.tmp ${DST} ONLY_IF_DIFFERENT)
file(REMOVE ${DST}.tmp)
