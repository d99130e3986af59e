#include "testutil.h"

#include "eval/textdata.h"
#include "model/hf_loader.h"
#include "model/tokenizer.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>

namespace qs::test {

QString sharedDir() {
    const QString env = qEnvironmentVariable("QUANTSCOPE_SHARED_DIR");
    const QString d = env.isEmpty() ? QDir::cleanPath(QStringLiteral(QS_SOURCE_DIR "/../shared")) : env;
    return QFileInfo(d + QStringLiteral("/models")).isDir() ? d : QString();
}

QString fixture(const QString& rel) { return QStringLiteral(QS_FIXTURES_DIR "/") + rel; }

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

TokenSplit splitHalves(const std::vector<int>& ids, int nsamples, int seqlen) {
    TokenSplit s;
    const size_t half = ids.size() / 2;
    s.calib.nsamples = nsamples;
    s.calib.seqlen = seqlen;
    s.calib.seed = 0;
    s.calibTokens = qs::sampleCalibration(std::vector<int>(ids.begin(), ids.begin() + long(half)), s.calib);
    s.evalTokens.assign(ids.begin() + long(half), ids.end());
    return s;
}

HeldOutSplit stories260KHeldOut(const QString& sharedDir, int nsamples, int seqlen) {
    HeldOutSplit s;
    s.model = qs::loadModel(sharedDir + QStringLiteral("/models/stories260K/stories260K.bin"));
    auto tok = qs::loadTokenizerFor(s.model->path, QString(), s.model->config);
    const std::vector<int> ids = tok->encodeForModel(qs::loadText(sharedDir + QStringLiteral("/data/tinystories/valid-slice.txt")));
    static_cast<TokenSplit&>(s) = splitHalves(ids, nsamples, seqlen);
    return s;
}

CliRun runCli(const QStringList& args, int timeoutMs) {
    QProcess p;
    p.start(QStringLiteral(QS_CLI_PATH), args);
    CliRun r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace qs::test
