// Loads a GGUF with llama.cpp (libllama, built from llama.cpp's own sources by
// bench/llamacpp_check.sh) and measures its perplexity the way
// `quantscope-cli eval` does (the GPTQ protocol): the token ids given (QuantScope's
// `tokenize --json`, BOS included) cut into non-overlapping windows of SEQLEN, each
// window evaluated from an empty cache, every position but the last predicting the
// next token, ppl = exp(mean over windows of the window's mean loss).
// Also tokenizes the text with llama.cpp's tokenizer (the one embedded in the
// GGUF) and says whether its ids equal QuantScope's.
// Prints one JSON object. A reference tool, not part of QuantScope.
//
// usage: llama_window_ppl MODEL.gguf IDS.txt TEXT.txt SEQLEN [MAX_WINDOWS]
//   IDS.txt: whitespace-separated token ids
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char* text, void*) {
    if (level >= GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s MODEL.gguf IDS.txt TEXT.txt SEQLEN [MAX_WINDOWS]\n", argv[0]);
        return 2;
    }
    const int seqlen = std::atoi(argv[4]);
    const int maxWindows = argc > 5 ? std::atoi(argv[5]) : 0;
    std::vector<llama_token> ids;
    {
        std::ifstream f(argv[2]);
        for (long v; f >> v;) ids.push_back(llama_token(v));
    }
    std::string text;
    {
        std::ifstream f(argv[3], std::ios::binary);
        text.assign(std::istreambuf_iterator<char>(f), {});
    }
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    llama_model* model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        std::fprintf(stderr, "llama.cpp could not load %s\n", argv[1]);
        return 1;
    }
    const llama_vocab* vocab = llama_model_get_vocab(model);
    const int nVocab = llama_vocab_n_tokens(vocab);

    std::vector<llama_token> own(text.size() + 16);
    int n = llama_tokenize(vocab, text.data(), int32_t(text.size()), own.data(), int32_t(own.size()), true, false);
    if (n < 0) {
        own.resize(size_t(-n));
        n = llama_tokenize(vocab, text.data(), int32_t(text.size()), own.data(), int32_t(own.size()), true, false);
    }
    own.resize(size_t(std::max(n, 0)));
    size_t firstDiff = 0;
    while (firstDiff < own.size() && firstDiff < ids.size() && own[firstDiff] == ids[firstDiff]) ++firstDiff;

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = uint32_t(seqlen);
    cp.n_batch = uint32_t(seqlen);
    cp.n_ubatch = uint32_t(seqlen);
    cp.n_threads = cp.n_threads_batch = 2;
    llama_context* ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        std::fprintf(stderr, "llama.cpp could not create a context of %d tokens\n", seqlen);
        return 1;
    }
    int windows = int(ids.size() / size_t(seqlen));
    if (maxWindows > 0 && windows > maxWindows) windows = maxWindows;
    if (windows == 0) {
        std::fprintf(stderr, "%zu ids: fewer than one window of %d\n", ids.size(), seqlen);
        return 1;
    }
    double sum = 0;
    llama_batch batch = llama_batch_init(seqlen, 0, 1);
    for (int w = 0; w < windows; ++w) {
        llama_memory_clear(llama_get_memory(ctx), true);
        batch.n_tokens = seqlen;
        for (int i = 0; i < seqlen; ++i) {
            batch.token[i] = ids[size_t(w) * seqlen + i];
            batch.pos[i] = i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = i < seqlen - 1;
        }
        if (llama_decode(ctx, batch) != 0) {
            std::fprintf(stderr, "llama_decode failed on window %d\n", w);
            return 1;
        }
        double loss = 0;
        for (int i = 0; i < seqlen - 1; ++i) {
            const float* lg = llama_get_logits_ith(ctx, i);
            double mx = lg[0];
            for (int v = 1; v < nVocab; ++v) mx = std::max(mx, double(lg[v]));
            double z = 0;
            for (int v = 0; v < nVocab; ++v) z += std::exp(double(lg[v]) - mx);
            loss -= double(lg[ids[size_t(w) * seqlen + i + 1]]) - mx - std::log(z);
        }
        sum += loss / double(seqlen - 1);
    }
    llama_batch_free(batch);
    std::printf("{\"model\": \"%s\", \"seqlen\": %d, \"windows\": %d, \"ppl\": %.9g, \"ids\": %zu, "
                "\"llama_tokenizer_ids\": %zu, \"same_token_ids\": %s, \"first_differing_id\": %zu, \"n_vocab\": %d}\n",
                argv[1], seqlen, windows, std::exp(sum / windows), ids.size(), own.size(),
                own == ids ? "true" : "false", firstDiff, nVocab);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
