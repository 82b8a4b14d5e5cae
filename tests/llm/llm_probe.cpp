// llm_probe: runs the engine for the oracle tests and prints what they compare.
//
//   llm_probe MODEL DEVICE IDS N_GREEDY LOGITS_OUT [KV_DTYPE]
//
// IDS is a comma-separated prompt. Writes the logits of every prompt position
// (f32, [T, vocab], row-major) to LOGITS_OUT, then greedily generates N_GREEDY
// tokens (eos ignored) and prints one JSON object on stdout:
//   {"device": ..., "rows": T, "vocab": V, "greedy": [ids...]}
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rma/error.h"
#include "rma/llm/engine.h"

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: llm_probe MODEL DEVICE IDS N_GREEDY LOGITS_OUT [KV_DTYPE]\n";
    return 2;
  }
  try {
    std::vector<int32_t> ids;
    std::stringstream ss(argv[3]);
    for (std::string item; std::getline(ss, item, ',');) ids.push_back(std::stoi(item));
    const int n_greedy = std::stoi(argv[4]);

    rma::llm::EngineOptions options;
    options.device = argv[2];
    options.max_batch = 2;
    if (argc > 6) options.kv_dtype = rma::parse_dtype(argv[6]).value();
    auto engine = rma::llm::Engine::load(argv[1], options);

    const int32_t seq = engine->new_sequence();
    const rma::Tensor logits = engine->forward({seq}, {ids}, /*all_logits=*/true);
    engine->free_sequence(seq);
    const std::vector<float> host = logits.to_vector<float>();
    std::ofstream out(argv[5], std::ios::binary);
    out.write(reinterpret_cast<const char*>(host.data()),
              static_cast<std::streamsize>(host.size() * sizeof(float)));
    if (!out) throw std::runtime_error(std::string("cannot write ") + argv[5]);

    rma::llm::GenerationRequest request;
    request.prompt = ids;
    request.max_tokens = n_greedy;
    request.ignore_eos = true;
    const auto results = engine->generate({request});

    nlohmann::json j;
    j["device"] = engine->device().name();
    j["rows"] = logits.dim(0);
    j["vocab"] = logits.dim(1);
    j["greedy"] = results.at(0).tokens;
    std::cout << j.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "llm_probe: " << e.what() << "\n";
    return 1;
  }
}
