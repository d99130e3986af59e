#include "testutil.h"

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
