/* Broken plugins the loader must skip with a clear reason, never crash on.
 * Built by build_and_check.sh in three variants:
 *   -DBAD_TABLE_ABI=99   returns OK with a table claiming ABI v99
 *   -DREFUSE_ABI=99      refuses with RMA_STATUS_ABI_MISMATCH, as a plugin
 *                        that needs a newer core should
 *   -DNO_ENTRY           exports no rma_plugin_open at all */
#include <stdio.h>
#include <string.h>

#include "rma/plugin.h"

#if defined(NO_ENTRY)
RMA_PLUGIN_EXPORT int not_an_rma_plugin(void) { return 42; }
#else
static rma_plugin_api g_api;

RMA_PLUGIN_EXPORT rma_status rma_plugin_open(uint32_t core_abi_version, const rma_host_api* host,
                                             const rma_plugin_api** out, rma_error* err) {
  (void)host;
#if defined(REFUSE_ABI)
  snprintf(err->message, sizeof(err->message),
           "badabi plugin needs ABI v%u; the core speaks up to v%u", (unsigned)REFUSE_ABI,
           (unsigned)core_abi_version);
  (void)out;
  return RMA_STATUS_ABI_MISMATCH;
#else
  (void)core_abi_version, (void)err;
  memset(&g_api, 0, sizeof(g_api));
  g_api.struct_size = sizeof(g_api);
  g_api.abi_version = BAD_TABLE_ABI;
  g_api.name = "badabi";
  *out = &g_api;
  return RMA_STATUS_OK;
#endif
}
#endif
