#include "store/store.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <limits>

#include <signal.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QStandardPaths>
#include <QSysInfo>
#include <QVariant>

#include "util/error.h"

namespace qs {

namespace {

// ---------------------------------------------------------------------------
// Migrations. Never edit a released migration: add a new one (and raise
// kSchemaVersion). Each entry is one SQL statement; a migration runs in one
// transaction with foreign keys off, followed by PRAGMA foreign_key_check.
// ---------------------------------------------------------------------------

// Version 1: models, calibration sets, recipes, runs, per-dataset and per-layer results.
const char* const kMigration1[] = {
    "PRAGMA application_id = 1364413511",  // 0x51534C47 'QSLG'
    R"(CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        format TEXT NOT NULL DEFAULT '',
        config_json TEXT NOT NULL DEFAULT '{}',
        params INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        UNIQUE (path, content_hash)))",
    R"(CREATE TABLE calibration_sets (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        nsamples INTEGER NOT NULL,
        seqlen INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (path, content_hash, nsamples, seqlen, seed)))",
    R"(CREATE TABLE recipes (
        id INTEGER PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        json TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL))",
    R"(CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        model_id INTEGER REFERENCES models(id),
        calibration_id INTEGER REFERENCES calibration_sets(id),
        recipe_id INTEGER REFERENCES recipes(id),
        kind TEXT NOT NULL DEFAULT 'quantize',
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'cancelled')),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        device TEXT NOT NULL DEFAULT '',
        app_version TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL DEFAULT 0,
        host TEXT NOT NULL DEFAULT '',
        params_json TEXT NOT NULL DEFAULT '{}',
        timings_json TEXT NOT NULL DEFAULT '{}',
        avg_bits REAL,
        error TEXT NOT NULL DEFAULT ''))",
    R"(CREATE TABLE dataset_results (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        data_path TEXT NOT NULL,
        ppl REAL,
        tokens INTEGER NOT NULL DEFAULT 0,
        windows INTEGER NOT NULL DEFAULT 0,
        seqlen INTEGER NOT NULL DEFAULT 0,
        extra_json TEXT NOT NULL DEFAULT '{}'))",
    R"(CREATE TABLE layer_results (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        layer_name TEXT NOT NULL,
        block INTEGER NOT NULL DEFAULT 0,
        method TEXT NOT NULL DEFAULT '',
        format TEXT NOT NULL DEFAULT '',
        aformat TEXT NOT NULL DEFAULT 'none',
        bits_per_weight REAL,
        params INTEGER NOT NULL DEFAULT 0,
        output_error REAL,
        seconds REAL NOT NULL DEFAULT 0,
        extra_json TEXT NOT NULL DEFAULT '{}'))",
    "CREATE INDEX dataset_results_run ON dataset_results(run_id)",
    "CREATE INDEX layer_results_run ON layer_results(run_id)",
};

// Version 2: interrupted runs are detected (boot id and process start time of
// the run's process; status 'interrupted', which needs the runs table rebuilt
// because SQLite cannot alter a CHECK constraint), per-layer predicted error,
// sensitivity reports, indexes for the history view's filters.
const char* const kMigration2[] = {
    R"(CREATE TABLE runs_v2 (
        id INTEGER PRIMARY KEY,
        model_id INTEGER REFERENCES models(id),
        calibration_id INTEGER REFERENCES calibration_sets(id),
        recipe_id INTEGER REFERENCES recipes(id),
        kind TEXT NOT NULL DEFAULT 'quantize',
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        device TEXT NOT NULL DEFAULT '',
        app_version TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL DEFAULT 0,
        host TEXT NOT NULL DEFAULT '',
        boot_id TEXT NOT NULL DEFAULT '',
        proc_start INTEGER,
        params_json TEXT NOT NULL DEFAULT '{}',
        timings_json TEXT NOT NULL DEFAULT '{}',
        avg_bits REAL,
        error TEXT NOT NULL DEFAULT ''))",
    R"(INSERT INTO runs_v2 (id, model_id, calibration_id, recipe_id, kind, status, started_at, ended_at, device,
                            app_version, pid, host, params_json, timings_json, avg_bits, error)
       SELECT id, model_id, calibration_id, recipe_id, kind, status, started_at, ended_at, device,
              app_version, pid, host, params_json, timings_json, avg_bits, error FROM runs)",
    "DROP TABLE runs",
    "ALTER TABLE runs_v2 RENAME TO runs",
    "CREATE INDEX runs_model ON runs(model_id)",
    "CREATE INDEX runs_status ON runs(status)",
    "ALTER TABLE layer_results ADD COLUMN predicted_error REAL",
    R"(CREATE TABLE sensitivity_reports (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL REFERENCES models(id),
        calibration_id INTEGER REFERENCES calibration_sets(id),
        kind TEXT NOT NULL DEFAULT '',
        json TEXT NOT NULL,
        created_at TEXT NOT NULL))",
    "CREATE INDEX sensitivity_reports_model ON sensitivity_reports(model_id)",
};

std::atomic<int> g_connectionCounter{0};

QString nowUtc() { return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs); }

QString compactJson(const QJsonObject& o) { return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)); }

QJsonObject parseJson(const QVariant& v) {
    if (v.isNull()) return {};
    return QJsonDocument::fromJson(v.toString().toUtf8()).object();
}

QVariant optDouble(const std::optional<double>& v) {
    return v ? QVariant(*v) : QVariant(QMetaType::fromType<double>());
}
QVariant optInt(const std::optional<int64_t>& v) {
    return v ? QVariant(qint64(*v)) : QVariant(QMetaType::fromType<qint64>());
}
std::optional<double> readOptDouble(const QVariant& v) {
    if (v.isNull()) return std::nullopt;
    return v.toDouble();
}
std::optional<int64_t> readOptInt(const QVariant& v) {
    if (v.isNull()) return std::nullopt;
    return v.toLongLong();
}

/// QSQLITE binds a null QString as SQL NULL; the log's text columns are NOT NULL
/// with '' for "none", so a null string is bound as an empty one.
QVariant bindable(const QVariant& v) {
    if (v.typeId() == QMetaType::QString && v.toString().isNull()) return QVariant(QString::fromUtf8("", 0));
    return v;
}

/// Runs one statement; throws qs::Error naming the file, what was being done and SQLite's message.
QSqlQuery exec(QSqlDatabase& db, const QString& path, const QString& sql, const QVariantList& binds = {},
               const char* what = nullptr) {
    QSqlQuery q(db);
    q.setForwardOnly(true);
    bool ok = q.prepare(sql);
    if (ok) {
        for (const QVariant& b : binds) q.addBindValue(bindable(b));
        ok = q.exec();
    }
    if (!ok) {
        const QString msg = q.lastError().text().trimmed();
        throw Error(QStringLiteral("%1: %2: %3").arg(path, what ? QString::fromLatin1(what) : QStringLiteral("SQL error"),
                                                     msg.isEmpty() ? QStringLiteral("unknown SQLite error") : msg));
    }
    return q;
}

QVariant scalar(QSqlDatabase& db, const QString& path, const QString& sql, const QVariantList& binds = {},
                const char* what = nullptr) {
    QSqlQuery q = exec(db, path, sql, binds, what);
    QVariant v;
    if (q.next()) v = q.value(0);
    q.finish();
    return v;
}

/// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted (an exception).
class Transaction {
public:
    Transaction(QSqlDatabase& db, const QString& path) : db_(db), path_(path) {
        exec(db_, path_, QStringLiteral("BEGIN IMMEDIATE"), {}, "cannot start a transaction");
    }
    void commit() {
        exec(db_, path_, QStringLiteral("COMMIT"), {}, "cannot commit");
        done_ = true;
    }
    ~Transaction() {
        if (!done_) {
            QSqlQuery q(db_);
            q.exec(QStringLiteral("ROLLBACK"));
        }
    }

private:
    QSqlDatabase& db_;
    QString path_;
    bool done_ = false;
};

QString sha256Hex(const QByteArray& b) {
    return QString::fromLatin1(QCryptographicHash::hash(b, QCryptographicHash::Sha256).toHex());
}

LayerResultRow readLayer(const QSqlQuery& q) {
    // columns: layer_name, block, method, format, aformat, bits_per_weight, params, output_error, predicted_error, seconds, extra_json
    LayerResultRow r;
    r.layerName = q.value(0).toString();
    r.block = q.value(1).toInt();
    r.method = q.value(2).toString();
    r.format = q.value(3).toString();
    r.aformat = q.value(4).toString();
    r.bitsPerWeight = q.value(5).toDouble();
    r.params = q.value(6).toLongLong();
    r.outputError = readOptDouble(q.value(7));
    r.predictedError = readOptDouble(q.value(8));
    r.seconds = q.value(9).toDouble();
    r.extra = parseJson(q.value(10));
    return r;
}

}  // namespace

// ---------------------------------------------------------------------------

QString currentHostName() { return QSysInfo::machineHostName(); }

QString currentBootId() {
    QFile f(QStringLiteral("/proc/sys/kernel/random/boot_id"));
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromLatin1(f.readAll()).trimmed();
}

int64_t processStartTicks(int64_t pid) {
    if (pid <= 0) return -1;
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly)) return -1;
    const QByteArray s = f.readAll();
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses; fields
    // after the last ')' start with field 3 (state); starttime is field 22.
    const int close = s.lastIndexOf(')');
    if (close < 0) return -1;
    const QList<QByteArray> fields = s.mid(close + 1).simplified().split(' ');
    if (fields.size() < 20) return -1;
    bool ok = false;
    const qint64 v = fields[19].toLongLong(&ok);
    return ok ? v : -1;
}

QJsonObject RunRecord::toJson() const {
    auto num = [](const std::optional<double>& v) { return v ? QJsonValue(*v) : QJsonValue(); };
    QJsonArray evals;
    for (const DatasetResultRow& d : datasets) {
        QJsonObject e = d.extra;
        e.insert(QStringLiteral("data"), d.dataPath);
        e.insert(QStringLiteral("ppl"), d.ppl);
        e.insert(QStringLiteral("tokens"), qint64(d.tokens));
        e.insert(QStringLiteral("windows"), d.windows);
        e.insert(QStringLiteral("seqlen"), d.seqlen);
        evals.append(e);
    }
    QJsonObject o{{QStringLiteral("id"), qint64(id)},
                  {QStringLiteral("kind"), kind},
                  {QStringLiteral("status"), status},
                  {QStringLiteral("started_at"), startedAt},
                  {QStringLiteral("ended_at"), endedAt.isEmpty() ? QJsonValue() : QJsonValue(endedAt)},
                  {QStringLiteral("device"), device},
                  {QStringLiteral("app_version"), appVersion},
                  {QStringLiteral("host"), host},
                  {QStringLiteral("pid"), qint64(pid)},
                  {QStringLiteral("error"), error},
                  {QStringLiteral("model_id"), modelId ? QJsonValue(qint64(*modelId)) : QJsonValue()},
                  {QStringLiteral("model"), modelPath},
                  {QStringLiteral("model_hash"), modelHash},
                  {QStringLiteral("recipe_id"), recipeId ? QJsonValue(qint64(*recipeId)) : QJsonValue()},
                  {QStringLiteral("recipe_summary"), recipeSummary},
                  {QStringLiteral("avg_bits"), num(avgBits)},
                  {QStringLiteral("params"), params},
                  {QStringLiteral("timings"), timings},
                  {QStringLiteral("eval"), evals}};
    if (!recipe.isEmpty()) o.insert(QStringLiteral("recipe"), recipe);
    if (model) {
        o.insert(QStringLiteral("model_format"), model->format);
        o.insert(QStringLiteral("model_config"), model->config);
        o.insert(QStringLiteral("model_params"), qint64(model->params));
    }
    if (calibration)
        o.insert(QStringLiteral("calibration"),
                 QJsonObject{{QStringLiteral("id"), qint64(calibration->id)},
                             {QStringLiteral("data"), calibration->path},
                             {QStringLiteral("nsamples"), calibration->nsamples},
                             {QStringLiteral("seqlen"), calibration->seqlen},
                             {QStringLiteral("seed"), QString::number(calibration->seed)},
                             {QStringLiteral("content_hash"), calibration->contentHash}});
    if (!layers.empty()) {
        QJsonArray ls;
        for (const LayerResultRow& l : layers) {
            QJsonObject e = l.extra;
            e.insert(QStringLiteral("name"), l.layerName);
            e.insert(QStringLiteral("block"), l.block);
            e.insert(QStringLiteral("method"), l.method);
            e.insert(QStringLiteral("format"), l.format);
            e.insert(QStringLiteral("aformat"), l.aformat);
            e.insert(QStringLiteral("bits_per_weight"), l.bitsPerWeight);
            e.insert(QStringLiteral("params"), qint64(l.params));
            e.insert(QStringLiteral("rel_output_error"), num(l.outputError));
            e.insert(QStringLiteral("predicted_error"), num(l.predictedError));
            e.insert(QStringLiteral("seconds"), l.seconds);
            ls.append(e);
        }
        o.insert(QStringLiteral("layers"), ls);
    }
    return o;
}

// ---------------------------------------------------------------------------

QStringList ExperimentStore::migrationSql(int version) {
    QStringList out;
    auto add = [&](const auto& arr) {
        for (const char* s : arr) out << QString::fromUtf8(s);
    };
    if (version == 1) add(kMigration1);
    else if (version == 2) add(kMigration2);
    return out;
}

QString ExperimentStore::defaultPath() {
    const QString env = qEnvironmentVariable("QUANTSCOPE_DB");
    if (!env.isEmpty()) return env;
    QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (dir.isEmpty()) dir = QDir::homePath() + QStringLiteral("/.local/share/quantscope");
    return dir + QStringLiteral("/quantscope.sqlite");
}

ExperimentStore::ExperimentStore(const QString& path) {
    if (path.isEmpty()) throw Error(QStringLiteral("experiment log: empty database path"));
    path_ = QFileInfo(path).absoluteFilePath();
    if (!QCoreApplication::instance())
        throw Error(QStringLiteral("%1: the experiment log needs a QCoreApplication (QtSql loads its SQLite driver as a plugin)").arg(path_));
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE")))
        throw Error(QStringLiteral("%1: QtSql's SQLite driver (QSQLITE) is not available; install libqt6sql6-sqlite").arg(path_));
    const QFileInfo fi(path_);
    if (fi.exists() && fi.isDir())
        throw Error(QStringLiteral("%1: is a directory, expected an SQLite experiment log file").arg(path_));
    const QString dir = fi.absolutePath();
    if (!QDir().mkpath(dir))
        throw Error(QStringLiteral("%1: cannot create the directory '%2' for the experiment log").arg(path_, dir));
    if (fi.exists() && !fi.isWritable())
        throw Error(QStringLiteral("%1: the experiment log is not writable").arg(path_));
    if (!fi.exists() && !QFileInfo(dir).isWritable())
        throw Error(QStringLiteral("%1: cannot create the experiment log: the directory '%2' is not writable").arg(path_, dir));

    connection_ = QStringLiteral("quantscope_store_%1_%2").arg(qint64(::getpid())).arg(g_connectionCounter.fetch_add(1));
    db_ = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection_);
    db_.setDatabaseName(path_);
    try {
        if (!db_.open())
            throw Error(QStringLiteral("%1: cannot open the experiment log: %2").arg(path_, db_.lastError().text()));
        // The first statement reads the header: a file that is not SQLite fails here.
        {
            QSqlQuery q(db_);
            if (!q.exec(QStringLiteral("SELECT count(*) FROM sqlite_master")))
                throw Error(QStringLiteral("%1: not a usable SQLite database (%2); move it away or choose another --db")
                                .arg(path_, q.lastError().text().trimmed()));
        }
        exec(db_, path_, QStringLiteral("PRAGMA busy_timeout = 10000"), {}, "cannot set the busy timeout");
        const QString mode = scalar(db_, path_, QStringLiteral("PRAGMA journal_mode = WAL"), {}, "cannot switch to WAL mode")
                                 .toString().toLower();
        if (mode != QLatin1String("wal"))
            throw Error(QStringLiteral("%1: cannot switch the experiment log to WAL mode (journal mode is '%2')").arg(path_, mode));
        exec(db_, path_, QStringLiteral("PRAGMA synchronous = FULL"), {}, "cannot set synchronous mode");
        migrate();
        exec(db_, path_, QStringLiteral("PRAGMA foreign_keys = ON"), {}, "cannot enable foreign keys");
        markInterruptedRuns();
    } catch (...) {
        db_.close();
        db_ = QSqlDatabase();
        QSqlDatabase::removeDatabase(connection_);
        throw;
    }
}

ExperimentStore::~ExperimentStore() {
    db_.close();
    db_ = QSqlDatabase();
    QSqlDatabase::removeDatabase(connection_);
}

int ExperimentStore::schemaVersion() {
    return scalar(db_, path_, QStringLiteral("PRAGMA user_version"), {}, "cannot read the schema version").toInt();
}

QString ExperimentStore::journalMode() {
    return scalar(db_, path_, QStringLiteral("PRAGMA journal_mode"), {}, "cannot read the journal mode").toString().toLower();
}

QString ExperimentStore::integrityCheck() {
    QSqlQuery q = exec(db_, path_, QStringLiteral("PRAGMA integrity_check"), {}, "integrity check failed");
    QStringList lines;
    while (q.next()) lines << q.value(0).toString();
    return lines.join(QLatin1Char('\n'));
}

void ExperimentStore::migrate() {
    const int version = schemaVersion();
    const qint64 appId = scalar(db_, path_, QStringLiteral("PRAGMA application_id")).toLongLong();
    if (version > kSchemaVersion)
        throw Error(QStringLiteral("%1: the experiment log has schema version %2, newer than the version %3 this QuantScope (%4) "
                                   "understands; use a newer QuantScope or another --db")
                        .arg(path_).arg(version).arg(kSchemaVersion).arg(QStringLiteral(QUANTSCOPE_VERSION)));
    if (version > 0 && appId != kApplicationId)
        throw Error(QStringLiteral("%1: not a QuantScope experiment log (an SQLite database with application_id %2)").arg(path_).arg(appId));
    if (version == 0 && appId != kApplicationId &&
        scalar(db_, path_, QStringLiteral("SELECT count(*) FROM sqlite_master")).toLongLong() > 0)
        throw Error(QStringLiteral("%1: not a QuantScope experiment log (an SQLite database with other tables and no schema version)").arg(path_));
    if (version == kSchemaVersion) return;

    // Table rebuilds need foreign keys off; the pragma is a no-op inside a transaction.
    exec(db_, path_, QStringLiteral("PRAGMA foreign_keys = OFF"), {}, "cannot disable foreign keys for the migration");
    for (int n = version + 1; n <= kSchemaVersion; ++n) {
        Transaction t(db_, path_);
        // Another process may have migrated between our check and the lock.
        if (schemaVersion() >= n) {
            t.commit();
            continue;
        }
        for (const QString& sql : migrationSql(n)) {
            QSqlQuery q(db_);
            if (!q.exec(sql))
                throw Error(QStringLiteral("%1: migration of the experiment log to schema version %2 failed: %3 (in: %4)")
                                .arg(path_).arg(n).arg(q.lastError().text().trimmed(), sql.simplified().left(80)));
        }
        QSqlQuery fk = exec(db_, path_, QStringLiteral("PRAGMA foreign_key_check"), {}, "foreign key check failed");
        if (fk.next())
            throw Error(QStringLiteral("%1: migration to schema version %2 would break a reference (table %3, row %4)")
                            .arg(path_).arg(n).arg(fk.value(0).toString()).arg(fk.value(1).toLongLong()));
        fk.finish();
        exec(db_, path_, QStringLiteral("PRAGMA user_version = %1").arg(n), {}, "cannot set the schema version");
        t.commit();
    }
}

// --- models, calibration sets, recipes --------------------------------------

int64_t ExperimentStore::addModel(const QString& path, const QString& contentHash, const QString& format,
                                  const QJsonObject& config, int64_t params) {
    Transaction t(db_, path_);
    const QVariant id = scalar(db_, path_, QStringLiteral("SELECT id FROM models WHERE path = ? AND content_hash = ?"),
                               {path, contentHash}, "cannot look up the model");
    int64_t out;
    if (id.isValid()) {
        out = id.toLongLong();
        exec(db_, path_, QStringLiteral("UPDATE models SET format = ?, config_json = ?, params = ? WHERE id = ?"),
             {format, compactJson(config), qint64(params), qint64(out)}, "cannot update the model");
    } else {
        QSqlQuery q = exec(db_, path_,
                           QStringLiteral("INSERT INTO models (path, content_hash, format, config_json, params, created_at) "
                                          "VALUES (?, ?, ?, ?, ?, ?)"),
                           {path, contentHash, format, compactJson(config), qint64(params), nowUtc()}, "cannot add the model");
        out = q.lastInsertId().toLongLong();
    }
    t.commit();
    return out;
}

namespace {
const char* const kModelColumns = "id, path, content_hash, format, config_json, params, created_at";
StoredModel readModel(const QSqlQuery& q) {
    StoredModel m;
    m.id = q.value(0).toLongLong();
    m.path = q.value(1).toString();
    m.contentHash = q.value(2).toString();
    m.format = q.value(3).toString();
    m.config = parseJson(q.value(4));
    m.params = q.value(5).toLongLong();
    m.createdAt = q.value(6).toString();
    return m;
}
}  // namespace

std::optional<StoredModel> ExperimentStore::model(int64_t id) {
    QSqlQuery q = exec(db_, path_, QStringLiteral("SELECT %1 FROM models WHERE id = ?").arg(QLatin1String(kModelColumns)),
                       {qint64(id)}, "cannot read the model");
    if (!q.next()) return std::nullopt;
    return readModel(q);
}

std::optional<StoredModel> ExperimentStore::findModel(const QString& path, const QString& contentHash) {
    QSqlQuery q = exec(db_, path_,
                       QStringLiteral("SELECT %1 FROM models WHERE path = ? AND content_hash = ?").arg(QLatin1String(kModelColumns)),
                       {path, contentHash}, "cannot read the model");
    if (!q.next()) return std::nullopt;
    return readModel(q);
}

std::vector<StoredModel> ExperimentStore::models() {
    QSqlQuery q = exec(db_, path_, QStringLiteral("SELECT %1 FROM models ORDER BY id").arg(QLatin1String(kModelColumns)), {},
                       "cannot list the models");
    std::vector<StoredModel> out;
    while (q.next()) out.push_back(readModel(q));
    return out;
}

int64_t ExperimentStore::addCalibrationSet(const QString& path, int nsamples, int seqlen, uint64_t seed, const QString& contentHash) {
    const QVariantList key{path, contentHash, nsamples, seqlen, qint64(seed)};  // seed stored as its 64-bit pattern
    Transaction t(db_, path_);
    const QVariant id = scalar(db_, path_,
                               QStringLiteral("SELECT id FROM calibration_sets WHERE path = ? AND content_hash = ? AND nsamples = ? "
                                              "AND seqlen = ? AND seed = ?"),
                               key, "cannot look up the calibration set");
    int64_t out;
    if (id.isValid()) {
        out = id.toLongLong();
    } else {
        QVariantList b = key;
        b << nowUtc();
        QSqlQuery q = exec(db_, path_,
                           QStringLiteral("INSERT INTO calibration_sets (path, content_hash, nsamples, seqlen, seed, created_at) "
                                          "VALUES (?, ?, ?, ?, ?, ?)"),
                           b, "cannot add the calibration set");
        out = q.lastInsertId().toLongLong();
    }
    t.commit();
    return out;
}

std::optional<StoredCalibrationSet> ExperimentStore::calibrationSet(int64_t id) {
    QSqlQuery q = exec(db_, path_,
                       QStringLiteral("SELECT id, path, nsamples, seqlen, seed, content_hash FROM calibration_sets WHERE id = ?"),
                       {qint64(id)}, "cannot read the calibration set");
    if (!q.next()) return std::nullopt;
    StoredCalibrationSet c;
    c.id = q.value(0).toLongLong();
    c.path = q.value(1).toString();
    c.nsamples = q.value(2).toInt();
    c.seqlen = q.value(3).toInt();
    c.seed = uint64_t(q.value(4).toLongLong());
    c.contentHash = q.value(5).toString();
    return c;
}

QString ExperimentStore::recipeSummary(const QJsonObject& r) {
    const QJsonObject d = r.value(QStringLiteral("defaults")).toObject();
    QStringList parts;
    parts << d.value(QStringLiteral("method")).toString(QStringLiteral("gptq"));
    parts << d.value(QStringLiteral("wformat")).toString(QStringLiteral("int4"));
    const QString af = d.value(QStringLiteral("aformat")).toString(QStringLiteral("none"));
    if (af != QLatin1String("none")) parts << QStringLiteral("a:") + af;
    const int n = r.value(QStringLiteral("layers")).toArray().size();
    if (n > 0) parts << QStringLiteral("+%1 override%2").arg(n).arg(n == 1 ? "" : "s");
    const QJsonObject head = r.value(QStringLiteral("lm_head")).toObject();
    if (!head.isEmpty() && head.value(QStringLiteral("method")).toString() != QLatin1String("none"))
        parts << QStringLiteral("lm_head:") + head.value(QStringLiteral("wformat")).toString();
    const QJsonObject emb = r.value(QStringLiteral("embed_tokens")).toObject();
    if (!emb.isEmpty() && emb.value(QStringLiteral("method")).toString() != QLatin1String("none"))
        parts << QStringLiteral("embed:") + emb.value(QStringLiteral("wformat")).toString();
    return parts.join(QLatin1Char(' '));
}

int64_t ExperimentStore::addRecipe(const QJsonObject& recipe) {
    const QString json = compactJson(recipe);  // QJsonObject keeps its keys sorted: the compact form is canonical
    const QString hash = sha256Hex(json.toUtf8());
    Transaction t(db_, path_);
    const QVariant id = scalar(db_, path_, QStringLiteral("SELECT id FROM recipes WHERE hash = ?"), {hash}, "cannot look up the recipe");
    int64_t out;
    if (id.isValid()) {
        out = id.toLongLong();
    } else {
        QSqlQuery q = exec(db_, path_, QStringLiteral("INSERT INTO recipes (hash, json, summary, created_at) VALUES (?, ?, ?, ?)"),
                           {hash, json, recipeSummary(recipe), nowUtc()}, "cannot add the recipe");
        out = q.lastInsertId().toLongLong();
    }
    t.commit();
    return out;
}

std::optional<StoredRecipe> ExperimentStore::recipe(int64_t id) {
    QSqlQuery q = exec(db_, path_, QStringLiteral("SELECT id, hash, json, summary FROM recipes WHERE id = ?"), {qint64(id)},
                       "cannot read the recipe");
    if (!q.next()) return std::nullopt;
    StoredRecipe r;
    r.id = q.value(0).toLongLong();
    r.hash = q.value(1).toString();
    r.json = parseJson(q.value(2));
    r.summary = q.value(3).toString();
    return r;
}

// --- runs -------------------------------------------------------------------

int64_t ExperimentStore::beginRun(const RunStart& s) {
    const qint64 pid = ::getpid();
    const int64_t start = processStartTicks(pid);
    Transaction t(db_, path_);
    QSqlQuery q = exec(db_, path_,
                       QStringLiteral("INSERT INTO runs (model_id, calibration_id, recipe_id, kind, status, started_at, device, "
                                      "app_version, pid, host, boot_id, proc_start, params_json) "
                                      "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)"),
                       {s.modelId > 0 ? QVariant(qint64(s.modelId)) : QVariant(QMetaType::fromType<qint64>()),
                        optInt(s.calibrationId), optInt(s.recipeId), s.kind, nowUtc(), s.device,
                        QStringLiteral(QUANTSCOPE_VERSION), pid, currentHostName(), currentBootId(),
                        start >= 0 ? QVariant(qint64(start)) : QVariant(QMetaType::fromType<qint64>()), compactJson(s.params)},
                       "cannot log the start of the run");
    const int64_t id = q.lastInsertId().toLongLong();
    q.finish();
    t.commit();
    return id;
}

namespace {

void requireRunning(QSqlDatabase& db, const QString& path, int64_t runId) {
    const QVariant st = scalar(db, path, QStringLiteral("SELECT status FROM runs WHERE id = ?"), {qint64(runId)}, "cannot read the run");
    if (!st.isValid()) throw Error(QStringLiteral("%1: run %2 does not exist").arg(path).arg(runId));
    if (st.toString() != QLatin1String("running"))
        throw Error(QStringLiteral("%1: run %2 is '%3', not running; its results cannot change").arg(path).arg(runId).arg(st.toString()));
}

void insertDatasets(QSqlDatabase& db, const QString& path, int64_t runId, const std::vector<DatasetResultRow>& rows) {
    for (const DatasetResultRow& d : rows)
        exec(db, path,
             QStringLiteral("INSERT INTO dataset_results (run_id, data_path, ppl, tokens, windows, seqlen, extra_json) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)"),
             {qint64(runId), d.dataPath, d.ppl, qint64(d.tokens), d.windows, d.seqlen, compactJson(d.extra)},
             "cannot log a per-dataset result");
}

void insertLayers(QSqlDatabase& db, const QString& path, int64_t runId, const std::vector<LayerResultRow>& rows) {
    QSqlQuery q(db);
    if (!q.prepare(QStringLiteral("INSERT INTO layer_results (run_id, layer_name, block, method, format, aformat, bits_per_weight, "
                                  "params, output_error, predicted_error, seconds, extra_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")))
        throw Error(QStringLiteral("%1: cannot log per-layer results: %2").arg(path, q.lastError().text()));
    for (const LayerResultRow& l : rows) {
        const QVariantList b{qint64(runId), l.layerName, l.block, l.method, l.format, l.aformat, l.bitsPerWeight,
                             qint64(l.params), optDouble(l.outputError), optDouble(l.predictedError), l.seconds,
                             compactJson(l.extra)};
        for (int i = 0; i < b.size(); ++i) q.bindValue(i, bindable(b[i]));
        if (!q.exec())
            throw Error(QStringLiteral("%1: cannot log the result of layer %2: %3").arg(path, l.layerName, q.lastError().text()));
    }
}

}  // namespace

void ExperimentStore::addDatasetResults(int64_t runId, const std::vector<DatasetResultRow>& rows) {
    Transaction t(db_, path_);
    requireRunning(db_, path_, runId);
    insertDatasets(db_, path_, runId, rows);
    t.commit();
}

void ExperimentStore::addLayerResults(int64_t runId, const std::vector<LayerResultRow>& rows) {
    Transaction t(db_, path_);
    requireRunning(db_, path_, runId);
    insertLayers(db_, path_, runId, rows);
    t.commit();
}

void ExperimentStore::finishRun(int64_t runId, const RunOutcome& o) {
    if (o.status != QLatin1String("finished") && o.status != QLatin1String("failed") && o.status != QLatin1String("cancelled"))
        throw Error(QStringLiteral("%1: run %2: cannot end with status '%3' (expected finished, failed or cancelled)")
                        .arg(path_).arg(runId).arg(o.status));
    Transaction t(db_, path_);
    requireRunning(db_, path_, runId);
    insertDatasets(db_, path_, runId, o.datasets);
    insertLayers(db_, path_, runId, o.layers);
    exec(db_, path_,
         QStringLiteral("UPDATE runs SET status = ?, ended_at = ?, error = ?, timings_json = ?, avg_bits = ? WHERE id = ?"),
         {o.status, nowUtc(), o.error, compactJson(o.timings), optDouble(o.avgBits), qint64(runId)}, "cannot log the end of the run");
    if (!o.device.isEmpty())
        exec(db_, path_, QStringLiteral("UPDATE runs SET device = ? WHERE id = ?"), {o.device, qint64(runId)},
             "cannot log the run's device");
    if (!o.params.isEmpty()) {
        QSqlQuery q = exec(db_, path_, QStringLiteral("SELECT params_json FROM runs WHERE id = ?"), {qint64(runId)},
                           "cannot read the run's parameters");
        QJsonObject merged = q.next() ? parseJson(q.value(0)) : QJsonObject();
        for (auto it = o.params.begin(); it != o.params.end(); ++it) merged.insert(it.key(), it.value());
        exec(db_, path_, QStringLiteral("UPDATE runs SET params_json = ? WHERE id = ?"), {compactJson(merged), qint64(runId)},
             "cannot log the run's parameters");
    }
    t.commit();
}

namespace {

const char* const kRunSelect =
    "SELECT r.id, r.kind, r.status, r.started_at, r.ended_at, r.device, r.app_version, r.host, r.pid, r.error, "
    "r.model_id, r.calibration_id, r.recipe_id, m.path, m.content_hash, rc.summary, r.avg_bits, r.params_json, r.timings_json "
    "FROM runs r LEFT JOIN models m ON m.id = r.model_id LEFT JOIN recipes rc ON rc.id = r.recipe_id ";

RunRecord readRun(const QSqlQuery& q) {
    RunRecord r;
    r.id = q.value(0).toLongLong();
    r.kind = q.value(1).toString();
    r.status = q.value(2).toString();
    r.startedAt = q.value(3).toString();
    r.endedAt = q.value(4).toString();
    r.device = q.value(5).toString();
    r.appVersion = q.value(6).toString();
    r.host = q.value(7).toString();
    r.pid = q.value(8).toLongLong();
    r.error = q.value(9).toString();
    r.modelId = readOptInt(q.value(10));
    r.calibrationId = readOptInt(q.value(11));
    r.recipeId = readOptInt(q.value(12));
    r.modelPath = q.value(13).toString();
    r.modelHash = q.value(14).toString();
    r.recipeSummary = q.value(15).toString();
    r.avgBits = readOptDouble(q.value(16));
    r.params = parseJson(q.value(17));
    r.timings = parseJson(q.value(18));
    return r;
}

std::vector<DatasetResultRow> readDatasets(QSqlDatabase& db, const QString& path, int64_t runId) {
    QSqlQuery q = exec(db, path,
                       QStringLiteral("SELECT data_path, ppl, tokens, windows, seqlen, extra_json FROM dataset_results "
                                      "WHERE run_id = ? ORDER BY id"),
                       {qint64(runId)}, "cannot read per-dataset results");
    std::vector<DatasetResultRow> out;
    while (q.next()) {
        DatasetResultRow d;
        d.dataPath = q.value(0).toString();
        d.ppl = q.value(1).toDouble();
        d.tokens = q.value(2).toLongLong();
        d.windows = q.value(3).toInt();
        d.seqlen = q.value(4).toInt();
        d.extra = parseJson(q.value(5));
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace

std::vector<RunRecord> ExperimentStore::listRuns(const RunFilter& f) {
    QString sql = QLatin1String(kRunSelect);
    QStringList where;
    QVariantList binds;
    if (f.modelId) {
        where << QStringLiteral("r.model_id = ?");
        binds << qint64(*f.modelId);
    }
    if (!f.modelPathContains.isEmpty()) {
        where << QStringLiteral("instr(lower(m.path), ?) > 0");
        binds << f.modelPathContains.toLower();
    }
    if (!f.status.isEmpty()) {
        where << QStringLiteral("r.status = ?");
        binds << f.status;
    }
    if (!where.isEmpty()) sql += QStringLiteral("WHERE ") + where.join(QStringLiteral(" AND ")) + QLatin1Char(' ');
    sql += QStringLiteral("ORDER BY r.id DESC");
    if (f.limit > 0) sql += QStringLiteral(" LIMIT %1").arg(f.limit);
    std::vector<RunRecord> out;
    {
        QSqlQuery q = exec(db_, path_, sql, binds, "cannot list the runs");
        while (q.next()) out.push_back(readRun(q));
    }
    for (RunRecord& r : out) r.datasets = readDatasets(db_, path_, r.id);
    return out;
}

std::optional<RunRecord> ExperimentStore::run(int64_t id) {
    std::optional<RunRecord> r;
    {
        QSqlQuery q = exec(db_, path_, QLatin1String(kRunSelect) + QStringLiteral("WHERE r.id = ?"), {qint64(id)}, "cannot read the run");
        if (!q.next()) return std::nullopt;
        r = readRun(q);
    }
    r->datasets = readDatasets(db_, path_, id);
    if (r->recipeId)
        if (auto rc = recipe(*r->recipeId)) r->recipe = rc->json;
    if (r->modelId) r->model = model(*r->modelId);
    if (r->calibrationId) r->calibration = calibrationSet(*r->calibrationId);
    QSqlQuery q = exec(db_, path_,
                       QStringLiteral("SELECT layer_name, block, method, format, aformat, bits_per_weight, params, output_error, "
                                      "predicted_error, seconds, extra_json FROM layer_results WHERE run_id = ? ORDER BY id"),
                       {qint64(id)}, "cannot read per-layer results");
    while (q.next()) r->layers.push_back(readLayer(q));
    return r;
}

// --- sensitivity reports ----------------------------------------------------

int64_t ExperimentStore::addSensitivityReport(int64_t modelId, std::optional<int64_t> calibrationId, const QString& kind,
                                              const QJsonObject& report) {
    Transaction t(db_, path_);
    QSqlQuery q = exec(db_, path_,
                       QStringLiteral("INSERT INTO sensitivity_reports (model_id, calibration_id, kind, json, created_at) "
                                      "VALUES (?, ?, ?, ?, ?)"),
                       {qint64(modelId), optInt(calibrationId), kind, compactJson(report), nowUtc()},
                       "cannot add the sensitivity report");
    const int64_t id = q.lastInsertId().toLongLong();
    q.finish();
    t.commit();
    return id;
}

QJsonObject ExperimentStore::sensitivityReport(int64_t id) {
    return parseJson(scalar(db_, path_, QStringLiteral("SELECT json FROM sensitivity_reports WHERE id = ?"), {qint64(id)},
                            "cannot read the sensitivity report"));
}

std::optional<ExperimentStore::ReportRef> ExperimentStore::latestSensitivityReport(const QString& modelHash) {
    QSqlQuery q = exec(db_, path_,
                       QStringLiteral("SELECT s.id, s.created_at FROM sensitivity_reports s JOIN models m ON m.id = s.model_id "
                                      "WHERE m.content_hash = ? ORDER BY s.id DESC LIMIT 1"),
                       {modelHash}, "cannot look up the model's sensitivity reports");
    if (!q.next()) return std::nullopt;
    return ReportRef{q.value(0).toLongLong(), q.value(1).toString()};
}

std::vector<int64_t> ExperimentStore::sensitivityReports(int64_t modelId) {
    QSqlQuery q = exec(db_, path_, QStringLiteral("SELECT id FROM sensitivity_reports WHERE model_id = ? ORDER BY id DESC"),
                       {qint64(modelId)}, "cannot list the sensitivity reports");
    std::vector<int64_t> out;
    while (q.next()) out.push_back(q.value(0).toLongLong());
    return out;
}

// --- interrupted runs -------------------------------------------------------

int ExperimentStore::markInterruptedRuns() {
    struct Dead {
        int64_t id;
        QString why;
    };
    // Cheap check first (a reader does not wait for a writer in WAL mode).
    if (scalar(db_, path_, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'running'"), {},
               "cannot look for interrupted runs").toLongLong() == 0)
        return 0;
    const QString host = currentHostName();
    const QString boot = currentBootId();
    Transaction t(db_, path_);  // one writer: nobody finishes a run between the check and the update
    std::vector<Dead> dead;
    {
        QSqlQuery q = exec(db_, path_, QStringLiteral("SELECT id, pid, host, boot_id, proc_start FROM runs WHERE status = 'running'"),
                           {}, "cannot look for interrupted runs");
        while (q.next()) {
            const int64_t id = q.value(0).toLongLong();
            const int64_t pid = q.value(1).toLongLong();
            const QString runHost = q.value(2).toString();
            const QString runBoot = q.value(3).toString();
            const std::optional<int64_t> procStart = readOptInt(q.value(4));
            if (runHost != host) continue;  // another machine's run: its process cannot be checked from here
            if (!runBoot.isEmpty() && !boot.isEmpty() && runBoot != boot) {
                dead.push_back({id, QStringLiteral("interrupted: %1 was restarted while the run (pid %2) was in progress").arg(host).arg(pid)});
            } else if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) {
                dead.push_back({id, QStringLiteral("interrupted: the run has no valid process id (%1)").arg(pid)});
            } else if (::kill(pid_t(pid), 0) != 0 && errno == ESRCH) {
                dead.push_back({id, QStringLiteral("interrupted: process %1 on %2 ended without finishing the run").arg(pid).arg(host)});
            } else if (procStart) {
                const int64_t now = processStartTicks(pid);
                if (now >= 0 && now != *procStart)
                    dead.push_back({id, QStringLiteral("interrupted: process %1 on %2 ended without finishing the run "
                                                       "(its pid now belongs to another process)").arg(pid).arg(host)});
            }
        }
    }
    const QString now = nowUtc();
    for (const Dead& d : dead)
        exec(db_, path_, QStringLiteral("UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? WHERE id = ? AND status = 'running'"),
             {now, d.why, qint64(d.id)}, "cannot mark an interrupted run");
    t.commit();
    return int(dead.size());
}

}  // namespace qs
