#pragma once
// The experiment log (core/store): every quantization run, its inputs and its
// results in one SQLite file, through QtSql (driver QSQLITE).
//
// * The file is opened in WAL mode with foreign keys on and a busy timeout, so a
//   CLI run, the GUI and a `runs` listing can use it at the same time.
// * The schema is versioned with PRAGMA user_version and created/upgraded by the
//   numbered migrations of store.cpp (kept there verbatim as the historical
//   record; migrationSql(n) returns migration n). Each migration runs in one
//   transaction; a file written by a newer QuantScope (user_version greater than
//   kSchemaVersion) is refused, as is a file that is not a QuantScope log.
// * Every multi-row write is one transaction: a run is either absent, "running"
//   without results, or ended with all of its results.
// * A run still "running" whose process is gone (same host: a different boot, no
//   process with its pid, or a process with its pid that started at another
//   time) is marked "interrupted" with an end time when a store is opened
//   (markInterruptedRuns). Runs of live processes and of other hosts are never
//   touched.
//
// Threads: a QSqlDatabase connection belongs to the thread that created it, so
// an ExperimentStore is used from one thread; open one store per thread (each
// has its own uniquely named connection). QtSql loads its driver as a plugin:
// a QCoreApplication must exist.
//
// Schema (version 2):
//   models(id, path, content_hash, format, config_json, params, created_at)        UNIQUE(path, content_hash)
//   calibration_sets(id, path, nsamples, seqlen, seed, content_hash, created_at)   UNIQUE(all but id/created_at)
//   recipes(id, hash, json, summary, created_at)                                   UNIQUE(hash) (SHA-256 of the compact JSON)
//   runs(id, model_id, calibration_id, recipe_id, kind, status, started_at, ended_at, device, app_version,
//        pid, host, boot_id, proc_start, params_json, timings_json, avg_bits, error)
//        status in running | finished | failed | cancelled | interrupted
//   dataset_results(id, run_id, data_path, ppl, tokens, windows, seqlen, extra_json)
//   layer_results(id, run_id, layer_name, block, method, format, aformat, bits_per_weight, params,
//                 output_error, predicted_error, seconds, extra_json)
//   sensitivity_reports(id, model_id, calibration_id, kind, json, created_at)
// Version 1 lacked runs.boot_id/proc_start, the "interrupted" status,
// layer_results.predicted_error and sensitivity_reports.
#include <cstdint>
#include <optional>
#include <vector>

#include <QJsonObject>
#include <QSqlDatabase>
#include <QString>
#include <QStringList>

namespace qs {

struct StoredModel {
    int64_t id = 0;
    QString path, contentHash, format;
    QJsonObject config;
    int64_t params = 0;
    QString createdAt;
};

struct StoredCalibrationSet {
    int64_t id = 0;
    QString path;
    int nsamples = 0, seqlen = 0;
    uint64_t seed = 0;
    QString contentHash;
};

struct StoredRecipe {
    int64_t id = 0;
    QString hash, summary;
    QJsonObject json;
};

/// One evaluation of a run (per data set).
struct DatasetResultRow {
    QString dataPath;
    double ppl = 0;
    int64_t tokens = 0;
    int windows = 0, seqlen = 0;
    QJsonObject extra;  // fp_ppl, kl_mean, top1_agreement, ...
};

/// One quantized layer of a run.
struct LayerResultRow {
    QString layerName;
    int block = 0;
    QString method, format, aformat;
    double bitsPerWeight = 0;
    int64_t params = 0;
    std::optional<double> outputError;     // tr(ΔW H ΔWᵀ)/tr(W H Wᵀ) (absent without calibration)
    std::optional<double> predictedError;  // what a sensitivity model predicted (absent when none)
    double seconds = 0;
    QJsonObject extra;                     // the pipeline's full per-layer record
};

/// What beginRun records.
struct RunStart {
    int64_t modelId = 0;
    std::optional<int64_t> calibrationId, recipeId;
    QString kind = QStringLiteral("quantize");
    QString device;          // e.g. "CPU, 2 threads"
    QJsonObject params;      // command line / parameters
};

/// How a run ended; finishRun writes all of it in one transaction.
struct RunOutcome {
    QString status = QStringLiteral("finished");  // finished | failed | cancelled
    QString error;                                 // message for failed/cancelled
    QJsonObject timings;
    std::optional<double> avgBits;
    std::vector<DatasetResultRow> datasets;
    std::vector<LayerResultRow> layers;
    QString device;                                // non-empty: replaces the run's device (e.g. which
                                                   // device ran each compute operation, known at the end)
    QJsonObject params;                            // merged into the run's params (e.g. "export": what
                                                   // the run wrote for a serving stack, or why it did not)
};

struct RunFilter {
    std::optional<int64_t> modelId;
    QString modelPathContains;  // case-insensitive substring of the model path
    QString status;             // empty = any
    int limit = 0;              // 0 = all; newest first
};

/// A run as listed (history view) or read in full (run(id)).
struct RunRecord {
    int64_t id = 0;
    QString kind, status, startedAt, endedAt, device, appVersion, host, error;
    int64_t pid = 0;
    std::optional<int64_t> modelId, calibrationId, recipeId;
    QString modelPath, modelHash;
    QString recipeSummary;
    std::optional<double> avgBits;
    QJsonObject params, timings;
    std::vector<DatasetResultRow> datasets;
    // filled by run(id) only:
    QJsonObject recipe;
    std::optional<StoredModel> model;
    std::optional<StoredCalibrationSet> calibration;
    std::vector<LayerResultRow> layers;
    /// JSON for `runs --json` / `runs --show ID --json` (layers and recipe when present).
    QJsonObject toJson() const;
};

class ExperimentStore {
public:
    static constexpr int kSchemaVersion = 2;
    /// PRAGMA application_id of a QuantScope log ('QSLG').
    static constexpr int kApplicationId = 0x51534C47;

    /// Opens or creates the log at `path` (parent directories are created),
    /// migrates it to kSchemaVersion and marks interrupted runs. Throws qs::Error
    /// naming the file and the problem (cannot create/open/write, not a database,
    /// not a QuantScope log, written by a newer version).
    explicit ExperimentStore(const QString& path);
    ~ExperimentStore();
    ExperimentStore(const ExperimentStore&) = delete;
    ExperimentStore& operator=(const ExperimentStore&) = delete;

    const QString& path() const { return path_; }
    int schemaVersion();          // PRAGMA user_version
    QString journalMode();        // "wal"
    /// The SQL of migration `version` (1..kSchemaVersion): the historical record,
    /// also used by tests to build an old database.
    static QStringList migrationSql(int version);
    /// QUANTSCOPE_DB when set and non-empty, else <AppDataLocation>/quantscope.sqlite.
    static QString defaultPath();

    /// Registers (or finds) a model by (path, content hash); the config is updated.
    int64_t addModel(const QString& path, const QString& contentHash, const QString& format, const QJsonObject& config,
                     int64_t params);
    std::optional<StoredModel> model(int64_t id);
    std::optional<StoredModel> findModel(const QString& path, const QString& contentHash);
    std::vector<StoredModel> models();

    int64_t addCalibrationSet(const QString& path, int nsamples, int seqlen, uint64_t seed, const QString& contentHash);
    std::optional<StoredCalibrationSet> calibrationSet(int64_t id);

    /// Stores a recipe once per content (SHA-256 of the compact JSON) and returns its id.
    int64_t addRecipe(const QJsonObject& recipe);
    std::optional<StoredRecipe> recipe(int64_t id);
    /// "gptq int4-g128 +2 overrides" from a recipe's JSON.
    static QString recipeSummary(const QJsonObject& recipe);

    /// Logs a run as "running" (start time now, this process's pid/host/boot).
    int64_t beginRun(const RunStart& start);
    /// Appends results to a running run (one transaction per call).
    void addDatasetResults(int64_t runId, const std::vector<DatasetResultRow>& rows);
    void addLayerResults(int64_t runId, const std::vector<LayerResultRow>& rows);
    /// Ends a running run: status, end time, error, timings, avg bits and the
    /// outcome's results in one transaction. Throws when the run is not running.
    void finishRun(int64_t runId, const RunOutcome& outcome);

    std::vector<RunRecord> listRuns(const RunFilter& filter = {});
    /// The full run: recipe, model, calibration set, per-dataset and per-layer results.
    std::optional<RunRecord> run(int64_t id);

    int64_t addSensitivityReport(int64_t modelId, std::optional<int64_t> calibrationId, const QString& kind,
                                 const QJsonObject& report);
    /// Report JSON by id (empty object when absent) and the ids for a model, newest first.
    QJsonObject sensitivityReport(int64_t id);
    std::vector<int64_t> sensitivityReports(int64_t modelId);
    /// The newest sensitivity report of any model row with this content hash (the
    /// same weights opened from anywhere): id and creation time (UTC, ISO 8601).
    struct ReportRef {
        int64_t id = 0;
        QString createdAt;
    };
    std::optional<ReportRef> latestSensitivityReport(const QString& modelHash);

    /// Marks runs of dead processes on this host as "interrupted"; returns how many.
    int markInterruptedRuns();

    /// PRAGMA integrity_check's answer ("ok" when sound).
    QString integrityCheck();

private:
    void migrate();
    QSqlDatabase& db() { return db_; }
    QString connection_, path_;
    QSqlDatabase db_;
};

/// This process's identity as the log records it.
QString currentHostName();
QString currentBootId();          // /proc/sys/kernel/random/boot_id (empty elsewhere)
int64_t processStartTicks(int64_t pid);  // /proc/<pid>/stat field 22; -1 when unknown

}  // namespace qs
