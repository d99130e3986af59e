#include "calib/calibration.h"

#include "util/error.h"
#include "util/rng.h"

namespace qs {

QJsonObject CalibOptions::toJson() const {
    return QJsonObject{{QStringLiteral("nsamples"), nsamples},
                       {QStringLiteral("seqlen"), seqlen},
                       {QStringLiteral("seed"), QString::number(seed)}};
}

std::vector<int> sampleCalibration(const std::vector<int>& tokens, const CalibOptions& opt) {
    if (opt.nsamples < 1) throw Error(QStringLiteral("--nsamples must be at least 1 (found %1)").arg(opt.nsamples));
    if (opt.seqlen < 2) throw Error(QStringLiteral("calibration --seqlen must be at least 2 (found %1)").arg(opt.seqlen));
    if (tokens.size() <= size_t(opt.seqlen))
        throw Error(QStringLiteral("the calibration text has %1 tokens; a calibration window needs more than %2")
                        .arg(tokens.size()).arg(opt.seqlen));
    SplitMix64 rng(opt.seed ^ 0x63616c6962ull);
    const uint64_t starts = uint64_t(tokens.size() - size_t(opt.seqlen));  // start in [0, len - seqlen - 1]
    std::vector<int> out;
    out.reserve(size_t(opt.nsamples) * size_t(opt.seqlen));
    for (int i = 0; i < opt.nsamples; ++i) {
        const size_t s = size_t(rng.next() % starts);
        out.insert(out.end(), tokens.begin() + ptrdiff_t(s), tokens.begin() + ptrdiff_t(s + size_t(opt.seqlen)));
    }
    return out;
}

}  // namespace qs
