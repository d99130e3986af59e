// libFuzzer target: qs::parseSafetensors on arbitrary bytes must either return a
// header whose every tensor lies inside the buffer, or throw qs::Error. Anything
// else (a crash, an ASan/UBSan report, another exception type) is a finding.
// Build and run: tests/fuzz/run.sh [seconds]
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "model/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Copy into an exactly-sized heap buffer so ASan sees any read past `size`.
    std::vector<uint8_t> buf(data, data + size);
    const uint8_t* base = buf.data();
    try {
        const qs::SafetensorsHeader h = qs::parseSafetensors(base, size, QStringLiteral("fuzz"));
        if (h.dataStart > size) std::abort();
        for (const auto& [name, t] : h.tensors) {
            // every accepted tensor lies inside the file and its size matches its shape
            if (t.nbytes > 0 && (t.data < base + h.dataStart || t.data + t.nbytes > base + size)) std::abort();
            if (t.nbytes != size_t(t.numel()) * qs::safetensorsItemSize(t.dtypeName)) std::abort();
            if (t.dtype && t.numel() > 0) {
                // convert the first and last few elements (reads the tensor's ends)
                float tmp[4];
                const size_t n = size_t(t.numel());
                const size_t c = n < 4 ? n : 4;
                t.toFloat(tmp, 0, c);
                t.toFloat(tmp, n - c, c);
            }
            (void)t.describe();
        }
        // no two non-empty tensors share a byte (parseSafetensors' contract)
        std::vector<std::pair<const uint8_t*, const uint8_t*>> spans;
        for (const auto& [name, t] : h.tensors)
            if (t.nbytes > 0) spans.emplace_back(t.data, t.data + t.nbytes);
        std::sort(spans.begin(), spans.end());
        for (size_t i = 1; i < spans.size(); ++i)
            if (spans[i].first < spans[i - 1].second) std::abort();
    } catch (const qs::Error&) {
        // rejected with a user-facing message: fine
    }
    return 0;
}
