// libFuzzer target: qs::parseHfTokenizer on arbitrary tokenizer.json bytes must
// either return a working tokenizer or throw qs::Error. When it parses, a few
// strings are encoded and decoded (ids must be in range) and out-of-range ids
// must be rejected with qs::Error. Anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <QByteArray>

#include "model/tokenizer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const QByteArray json(reinterpret_cast<const char*>(data), qsizetype(size));
    std::unique_ptr<qs::Tokenizer> tok;
    try {
        tok = qs::parseHfTokenizer(json, QByteArray(), QStringLiteral("fuzz"));
    } catch (const qs::Error&) {
        return 0;
    }
    if (!tok) std::abort();
    const int vocab = tok->vocabSize();
    if (vocab < 0) std::abort();
    static const char* const texts[] = {
        "Hello world", " the  quick\nbrown\tfox's 123 jumps!", "", "\xc3\xa9t\xc3\xa9 \xe2\x96\x81 \xf0\x9f\x98\x80",
        "\xff\xfe invalid utf8 \xc3", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (const char* t : texts) {
        try {
            const std::vector<int> ids = tok->encode(t);
            for (int id : ids)
                if (id < 0 || id >= vocab) std::abort();  // encode produced an id outside the vocabulary
            (void)tok->decode(ids);
            (void)tok->encodeForModel(t);
        } catch (const qs::Error&) {
            // e.g. a character with no token and no byte fallback: reported, not a crash
        }
    }
    for (int id : {0, vocab / 2, vocab - 1}) {
        if (id < 0 || id >= vocab) continue;
        try {
            (void)tok->decodeToken(id);
            (void)tok->decode({id});
        } catch (const qs::Error&) {
        }
    }
    for (int id : {-1, vocab}) {
        try {
            (void)tok->decode({id});
            std::abort();  // out-of-range id accepted
        } catch (const qs::Error&) {
        }
    }
    return 0;
}
