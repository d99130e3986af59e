#pragma once
// Small helpers shared by the benchmark executables (bench_eval, bench_gptq):
// timing, /proc readers, the machine description every result JSON carries,
// argument parsing and writing the result file.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <QJsonObject>
#include <QString>
#include <QTemporaryDir>

#include "model/dtype.h"
#include "model/model.h"
#include "synthetic.h"

namespace qs::bench {

using Clock = std::chrono::steady_clock;

/// Wall seconds since t0.
double since(Clock::time_point t0);
/// CPU seconds (user + system, all threads) this process has used so far.
double cpuSeconds();

/// Parses a non-negative integer option value; throws qs::Error naming `flag`.
int toInt(const std::string& flag, const char* v);
/// Parses a non-negative number option value; throws qs::Error naming `flag`.
double toDouble(const std::string& flag, const char* v);

struct ProcStatus {
    int64_t vmHwm = -1, vmRss = -1, rssAnon = -1, rssFile = -1, rssShmem = -1;  // bytes
};
/// /proc/self/status' memory fields (-1 when absent).
ProcStatus readProcStatus();
/// Resets VmHWM to the current RSS (Linux >= 4.0: write "5" to clear_refs).
bool resetPeakRss();

/// First line of a text file without the newline ("" when unreadable).
std::string firstLine(const char* path);
/// /proc/loadavg's line, e.g. "1.79 1.98 1.25 3/250 12345".
std::string loadavg();
std::string cpuModel();
int64_t memTotalBytes();
/// Free bytes for an unprivileged user on the file system holding `path` (or its
/// nearest existing ancestor); -1 when unknown.
int64_t freeDiskBytes(const QString& path);

/// cpu, hardware_threads, mem_total_bytes, eigen_simd, quantscope_version.
QJsonObject machineJson();

/// The source tree the benchmark was built from (git HEAD and the uncommitted
/// changes under core/ and app/ at run time): results of a dirty tree say so.
QJsonObject sourceJson();

/// n token ids uniform in [0, vocab) from SplitMix64(seed).
std::vector<int> randomTokens(size_t n, int vocab, uint64_t seed);

/// --dtype F32|F16|BF16; throws qs::Error.
DType parseDtype(const std::string& s);
/// --shape 125m|7b; throws qs::Error.
SyntheticShape parseShape(const std::string& s);
/// The shape of a loaded model (for --checkpoint DIR), named "(checkpoint)".
SyntheticShape shapeOfModel(const Model& m);
/// The shape as JSON (hidden, layers, ..., params, linear_params).
QJsonObject configJson(const SyntheticShape& s);

/// mode, timestamp_utc, machine, threads, loadavg_start and source: the fields
/// every result file starts with.
QJsonObject resultHeader(const std::string& mode);

/// The model a benchmark runs on: an existing checkpoint (reused, never deleted) or a
/// synthetic one written into a temporary directory that is deleted with this object.
struct BenchModel {
    std::unique_ptr<QTemporaryDir> tmp;  // null for an existing checkpoint
    QString path;
    std::shared_ptr<Model> model;
    SyntheticShape shape;                // the synthetic shape, or shapeOfModel()
    std::string dtype;
    double writeSeconds = 0, loadSeconds = 0;
    bool peakRssReset = false;           // VmHWM was reset between writing and loading
    /// path, dtype, stored_bytes, write_seconds, load_seconds, shape.
    QJsonObject json() const;
};
/// `checkpoint` non-empty: loads it. Otherwise writes the synthetic `shapeName` in
/// `dtypeName` (checking the free disk space first) and loads it; with
/// `resetPeakRssAfterWrite` VmHWM is reset before loading, so it excludes the writer.
/// Throws qs::Error.
BenchModel openBenchModel(const QString& checkpoint, const std::string& shapeName, const std::string& dtypeName, uint64_t seed,
                          bool progress, int fillThreads = 1, bool resetPeakRssAfterWrite = false);

/// Command-line flags, one at a time: `while (r.next()) { if (r.flag() == "--x") x = r.value(); ... else r.unknown(); }`.
/// --help / -h prints the usage and exits 0.
class ArgReader {
public:
    ArgReader(int argc, char** argv, const char* usage) : argc_(argc), argv_(argv), usage_(usage) {}
    bool next();
    const std::string& flag() const { return flag_; }
    /// The flag's value; throws qs::Error when it is missing.
    const char* value();
    int intValue() { return toInt(flag_, value()); }
    double doubleValue() { return toDouble(flag_, value()); }
    QString pathValue() { return QString::fromLocal8Bit(value()); }
    [[noreturn]] void unknown() const;

private:
    int argc_, i_ = 0;
    char** argv_;
    const char* usage_;
    std::string flag_;
};

/// Runs a benchmark's main: qs::Error -> message on stderr and exit code 2, any other
/// exception -> exit code 1.
int runMain(const char* program, const std::function<int()>& body);

/// Writes `o` (indented) to `path` (creating its directory), prints it on stdout
/// and the path on stderr. Throws qs::Error when the file cannot be written.
void writeJson(const QJsonObject& o, const QString& path);

}  // namespace qs::bench
