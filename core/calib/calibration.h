#pragma once
// Calibration data: `nsamples` windows of `seqlen` tokens drawn with a seed from
// a tokenized text, as GPTQ's loaders do (uniform random start positions), but
// with SplitMix64 so the draw is reproducible on any platform.
#include <cstdint>
#include <vector>

#include <QJsonObject>

namespace qs {

struct CalibOptions {
    int nsamples = 128;
    int seqlen = 2048;
    uint64_t seed = 0;
    QJsonObject toJson() const;
};

/// Returns nsamples*seqlen token ids (row-major windows). Throws qs::Error when
/// the text is shorter than one window.
std::vector<int> sampleCalibration(const std::vector<int>& tokens, const CalibOptions& opt);

}  // namespace qs
