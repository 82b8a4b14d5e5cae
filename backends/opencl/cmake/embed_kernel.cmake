# cmake -DSRC=<file.cl> -DDST=<file.cpp> -DNAME=<op>/<stem> -P embed_kernel.cmake
# Writes a .cpp that registers the kernel source as a raw string literal, so
# the plugin carries its kernels and needs no files at run time.
file(READ ${SRC} body)
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
