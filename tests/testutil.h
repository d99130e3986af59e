#pragma once
// Shared helpers for the Qt Test executables.
#include <QByteArray>
#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

#include "calib/calibration.h"
#include "model/model.h"

namespace qs::test {

/// ../shared next to the source tree, or an empty string when absent.
/// Tests that need it call QSKIP with a clear message when this is empty.
QString sharedDir();
/// tests/fixtures/<rel>
QString fixture(const QString& rel);
/// Reads a whole file (QFAIL-friendly: returns empty on error).
QByteArray readAll(const QString& path);

/// Calibration windows (seed 0) drawn from the first half of `ids`; the second
/// half held out for evaluation.
struct TokenSplit {
    qs::CalibOptions calib;
    std::vector<int> calibTokens, evalTokens;
};
TokenSplit splitHalves(const std::vector<int>& ids, int nsamples, int seqlen);

/// stories260K (../shared) with splitHalves of the TinyStories slice's tokens.
struct HeldOutSplit : TokenSplit {
    std::shared_ptr<qs::Model> model;
};
HeldOutSplit stories260KHeldOut(const QString& sharedDir, int nsamples, int seqlen);

/// Runs quantscope-cli with `args`; code -1 when it crashed or timed out.
struct CliRun {
    int code = -1;
    QByteArray out, err;
};
CliRun runCli(const QStringList& args, int timeoutMs = 900000);

}  // namespace qs::test

#define QS_REQUIRE_SHARED(dir)                                                              \
    const QString dir = qs::test::sharedDir();                                              \
    if (dir.isEmpty()) QSKIP("../shared is absent next to the source tree; real-data test skipped")
