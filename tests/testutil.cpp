#include "testutil.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

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

}  // namespace qs::test
