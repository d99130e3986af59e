#include "bench_common.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <cstring>
#include <ctime>
#include <thread>

#include <sys/statvfs.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>

#include <Eigen/Core>

#include "compute/threads.h"
#include "model/hf_loader.h"
#include "util/error.h"
#include "util/rng.h"

namespace qs::bench {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double cpuSeconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int toInt(const std::string& flag, const char* v) {
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (!end || *end || x < 0 || x > 1000000000)
        throw Error(QStringLiteral("%1: expected a non-negative integer, found '%2'").arg(QString::fromStdString(flag), QString::fromUtf8(v)));
    return int(x);
}

double toDouble(const std::string& flag, const char* v) {
    char* end = nullptr;
    const double x = std::strtod(v, &end);
    if (!end || *end || !(x >= 0) || x > 1e12)
        throw Error(QStringLiteral("%1: expected a non-negative number, found '%2'").arg(QString::fromStdString(flag), QString::fromUtf8(v)));
    return x;
}

ProcStatus readProcStatus() {
    ProcStatus s;
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return s;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        long long kb = 0;
        if (std::sscanf(line, "VmHWM: %lld kB", &kb) == 1) s.vmHwm = kb * 1024;
        else if (std::sscanf(line, "VmRSS: %lld kB", &kb) == 1) s.vmRss = kb * 1024;
        else if (std::sscanf(line, "RssAnon: %lld kB", &kb) == 1) s.rssAnon = kb * 1024;
        else if (std::sscanf(line, "RssFile: %lld kB", &kb) == 1) s.rssFile = kb * 1024;
        else if (std::sscanf(line, "RssShmem: %lld kB", &kb) == 1) s.rssShmem = kb * 1024;
    }
    std::fclose(f);
    return s;
}

bool resetPeakRss() {
    FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return (std::fclose(f) == 0) && ok;
}

std::string firstLine(const char* path) {
    FILE* f = std::fopen(path, "r");
    if (!f) return {};
    char buf[512] = {0};
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
    std::string s = buf;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

std::string loadavg() { return firstLine("/proc/loadavg"); }

std::string cpuModel() {
    FILE* f = std::fopen("/proc/cpuinfo", "r");
    if (!f) return {};
    char line[512];
    std::string m;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "model name", 10) == 0) {
            const char* c = std::strchr(line, ':');
            if (c) m = c + 2;
            break;
        }
    }
    std::fclose(f);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

int64_t memTotalBytes() {
    FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
    std::fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

int64_t freeDiskBytes(const QString& path) {
    QFileInfo fi(path);
    QString p = fi.absoluteFilePath();
    while (!QFileInfo::exists(p) && p != QLatin1String("/")) p = QFileInfo(p).absolutePath();
    struct statvfs sv;
    if (statvfs(QFile::encodeName(p).constData(), &sv) != 0) return -1;
    return int64_t(sv.f_bavail) * int64_t(sv.f_frsize);
}

QJsonObject machineJson() {
    QJsonObject m;
    m.insert(QStringLiteral("cpu"), QString::fromStdString(cpuModel()));
    m.insert(QStringLiteral("hardware_threads"), int(std::thread::hardware_concurrency()));
    m.insert(QStringLiteral("mem_total_bytes"), double(memTotalBytes()));
    m.insert(QStringLiteral("eigen_simd"), QString::fromLatin1(Eigen::SimdInstructionSetsInUse()));
    m.insert(QStringLiteral("quantscope_version"), QStringLiteral(QUANTSCOPE_VERSION));
    return m;
}

QJsonObject sourceJson() {
    const QString root = QStringLiteral(QS_SOURCE_DIR);
    auto git = [&](const QStringList& args) {
        QProcess p;
        p.start(QStringLiteral("git"), QStringList{QStringLiteral("-C"), root} + args);
        if (!p.waitForFinished(10000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) return QString();
        return QString::fromUtf8(p.readAllStandardOutput()).trimmed();
    };
    QJsonObject o;
    o.insert(QStringLiteral("git_head"), git({QStringLiteral("rev-parse"), QStringLiteral("HEAD")}));
    QJsonArray dirty;
    const QString st = git({QStringLiteral("status"), QStringLiteral("--porcelain"), QStringLiteral("--"), QStringLiteral("core"),
                            QStringLiteral("app")});
    for (const QString& line : st.split(QLatin1Char('\n'), Qt::SkipEmptyParts)) dirty.append(line.trimmed());
    o.insert(QStringLiteral("uncommitted_core_app_changes"), dirty);
    return o;
}

std::vector<int> randomTokens(size_t n, int vocab, uint64_t seed) {
    SplitMix64 r(seed);
    std::vector<int> t(n);
    for (auto& x : t) x = int(r.next() % uint64_t(vocab));
    return t;
}

DType parseDtype(const std::string& s) {
    auto d = dtypeFromName(s);
    if (!d) throw Error(QStringLiteral("--dtype must be F32, F16 or BF16 (found '%1')").arg(QString::fromStdString(s)));
    return *d;
}

SyntheticShape parseShape(const std::string& s) {
    auto sh = syntheticShape(s);
    if (!sh)
        throw Error(QStringLiteral("--shape: unknown shape '%1'; expected one of %2")
                        .arg(QString::fromStdString(s), QString::fromStdString(syntheticShapeNames())));
    return *sh;
}

SyntheticShape shapeOfModel(const Model& m) {
    SyntheticShape s;
    s.name = "(checkpoint)";
    s.hidden = m.config.hiddenSize;
    s.layers = m.config.numLayers;
    s.heads = m.config.numHeads;
    s.kvHeads = m.config.numKvHeads;
    s.intermediate = m.config.intermediateSize;
    s.vocab = m.config.vocabSize;
    s.maxPositions = m.config.maxPositions;
    s.tied = m.config.tiedEmbeddings;
    return s;
}

QJsonObject configJson(const SyntheticShape& s) {
    QJsonObject o;
    o.insert(QStringLiteral("name"), QString::fromStdString(s.name));
    o.insert(QStringLiteral("hidden"), s.hidden);
    o.insert(QStringLiteral("layers"), s.layers);
    o.insert(QStringLiteral("heads"), s.heads);
    o.insert(QStringLiteral("kv_heads"), s.kvHeads);
    o.insert(QStringLiteral("intermediate"), s.intermediate);
    o.insert(QStringLiteral("vocab"), s.vocab);
    o.insert(QStringLiteral("max_positions"), s.maxPositions);
    o.insert(QStringLiteral("tied"), s.tied);
    o.insert(QStringLiteral("params"), double(s.totalParams()));
    o.insert(QStringLiteral("linear_params"), double(s.linearParams()));
    return o;
}

QJsonObject resultHeader(const std::string& mode) {
    QJsonObject out;
    out.insert(QStringLiteral("mode"), QString::fromStdString(mode));
    out.insert(QStringLiteral("timestamp_utc"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate));
    out.insert(QStringLiteral("machine"), machineJson());
    out.insert(QStringLiteral("threads"), threads());
    out.insert(QStringLiteral("loadavg_start"), QString::fromStdString(loadavg()));
    out.insert(QStringLiteral("source"), sourceJson());
    return out;
}

QJsonObject BenchModel::json() const {
    QJsonObject ck;
    ck.insert(QStringLiteral("path"), tmp ? QStringLiteral("(temporary, deleted)") : path);
    ck.insert(QStringLiteral("dtype"), QString::fromStdString(dtype));
    ck.insert(QStringLiteral("stored_bytes"), double(model->storedBytes()));
    ck.insert(QStringLiteral("write_seconds"), writeSeconds);
    ck.insert(QStringLiteral("load_seconds"), loadSeconds);
    ck.insert(QStringLiteral("shape"), configJson(shape));
    return ck;
}

BenchModel openBenchModel(const QString& checkpoint, const std::string& shapeName, const std::string& dtypeName, uint64_t seed,
                          bool progress, int fillThreads, bool resetPeakRssAfterWrite) {
    BenchModel m;
    m.path = checkpoint;
    m.dtype = dtypeName;
    if (checkpoint.isEmpty()) {
        const DType dtype = parseDtype(dtypeName);
        m.shape = parseShape(shapeName);
        m.tmp = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/quantscope-bench-XXXXXX"));
        if (!m.tmp->isValid()) throw Error(QStringLiteral("cannot create a temporary directory: %1").arg(m.tmp->errorString()));
        const int64_t need = int64_t(m.shape.dataBytes(dtype)) + (int64_t(1) << 30);
        const int64_t freeB = freeDiskBytes(m.tmp->path());
        if (freeB >= 0 && freeB < need)
            throw Error(QStringLiteral("%1: %2 GB free, the synthetic %3 %4 checkpoint needs %5 GB")
                            .arg(m.tmp->path()).arg(double(freeB) / 1e9, 0, 'f', 1).arg(QString::fromStdString(m.shape.name),
                                 QString::fromStdString(dtypeName)).arg(double(need) / 1e9, 0, 'f', 1));
        m.path = m.tmp->path();
        m.writeSeconds = writeSyntheticCheckpoint(m.path, m.shape, dtype, seed, progress, fillThreads).seconds;
    }
    if (resetPeakRssAfterWrite) m.peakRssReset = resetPeakRss();
    const auto t0 = Clock::now();
    m.model = loadModel(m.path);
    m.loadSeconds = since(t0);
    if (!checkpoint.isEmpty()) m.shape = shapeOfModel(*m.model);
    return m;
}

bool ArgReader::next() {
    if (++i_ >= argc_) return false;
    flag_ = argv_[i_];
    if (flag_ == "--help" || flag_ == "-h") {
        std::cout << usage_;
        std::exit(0);
    }
    return true;
}

const char* ArgReader::value() {
    if (i_ + 1 >= argc_) throw Error(QStringLiteral("%1 needs a value").arg(QString::fromStdString(flag_)));
    return argv_[++i_];
}

void ArgReader::unknown() const {
    throw Error(QStringLiteral("unknown argument '%1'\n%2").arg(QString::fromStdString(flag_), QString::fromLatin1(usage_)));
}

int runMain(const char* program, const std::function<int()>& body) {
    try {
        return body();
    } catch (const Error& e) {
        std::fprintf(stderr, "%s: error: %s\n", program, e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: internal error: %s\n", program, e.what());
        return 1;
    }
}

void writeJson(const QJsonObject& o, const QString& path) {
    const QByteArray bytes = QJsonDocument(o).toJson(QJsonDocument::Indented);
    const QString dir = QFileInfo(path).absolutePath();
    if (!QDir().mkpath(dir)) throw Error(QStringLiteral("%1: cannot create the output directory").arg(dir));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    f.write(bytes);
    f.close();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "[bench] wrote %s\n", qPrintable(path));
}

}  // namespace qs::bench
