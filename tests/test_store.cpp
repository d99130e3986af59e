// The experiment log (core/store): schema and WAL, a genuine v1 database
// migrated with its data, refusal of newer/foreign/corrupt files, run lifecycle,
// filters and results round trips, interrupted-run detection, a CLI run killed
// mid-way (SIGKILL) leaving a consistent database, and CLI runs logged with
// --db / QUANTSCOPE_DB and listed by `quantscope-cli runs`.
#include <cmath>
#include <functional>
#include <memory>

#include <signal.h>
#include <unistd.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include "store/results.h"
#include "store/store.h"
#include "testutil.h"
#include "util/error.h"

using namespace qs;

namespace {

/// The message of the qs::Error `fn` throws, or "" when it throws nothing.
QString errorOf(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const qs::Error& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

/// A raw QtSql connection (not through ExperimentStore), removed on destruction.
class RawDb {
public:
    explicit RawDb(const QString& path, bool readOnly = false) {
        static int counter = 0;
        name_ = QStringLiteral("test_raw_%1").arg(++counter);
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name_);
            db.setDatabaseName(path);
            if (readOnly) db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
            ok_ = db.open();
        }
    }
    ~RawDb() {
        {
            QSqlDatabase db = QSqlDatabase::database(name_, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(name_);
    }
    bool ok() const { return ok_; }
    QSqlDatabase db() const { return QSqlDatabase::database(name_, false); }
    /// Executes; returns false (and the error in lastError) on failure.
    bool exec(const QString& sql, const QVariantList& binds = {}) {
        QSqlQuery q(db());
        if (!q.prepare(sql)) {
            lastError = q.lastError().text();
            return false;
        }
        for (const QVariant& b : binds) q.addBindValue(b);
        if (!q.exec()) {
            lastError = q.lastError().text();
            return false;
        }
        return true;
    }
    QVariant scalar(const QString& sql, const QVariantList& binds = {}) {
        QSqlQuery q(db());
        q.prepare(sql);
        for (const QVariant& b : binds) q.addBindValue(b);
        if (!q.exec() || !q.next()) {
            lastError = q.lastError().text();
            return {};
        }
        return q.value(0);
    }
    QString lastError;

private:
    QString name_;
    bool ok_ = false;
};

/// A pid that belonged to a process which has exited (and been reaped).
qint64 startedDeadPid() {
    QProcess p;
    p.start(QStringLiteral("/bin/sh"), {QStringLiteral("-c"), QStringLiteral("echo $$")});
    p.waitForFinished();
    return p.readAllStandardOutput().trimmed().toLongLong();
}

QJsonObject sampleRecipe(const QString& wformat) {
    return QJsonObject{{"quantscope_recipe", 1},
                       {"defaults", QJsonObject{{"method", "gptq"}, {"wformat", wformat}, {"aformat", "none"}}},
                       {"layers", QJsonArray{QJsonObject{{"match", "*.down_proj"}, {"wformat", "int8"}}}}};
}

}  // namespace

class TestStore : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString demoDir_;  // the demo model on disk (config.json, model.safetensors, tokenizer.bin, eval.txt)

    QString dbPath(const QString& name) { return tmp_.filePath(name); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        demoDir_ = tmp_.filePath("demo");
        const qs::test::CliRun w = qs::test::runCli({"demo", "--out", demoDir_});
        QVERIFY2(w.code == 0, w.err.constData());
    }

    void freshDatabaseHasTheSchemaAndWal() {
        const QString path = dbPath("fresh/sub/log.sqlite");  // parent directories are created
        {
            ExperimentStore s(path);
            QCOMPARE(s.schemaVersion(), ExperimentStore::kSchemaVersion);
            QCOMPARE(s.journalMode(), QStringLiteral("wal"));
            QCOMPARE(s.integrityCheck(), QStringLiteral("ok"));
            QCOMPARE(s.path(), QFileInfo(path).absoluteFilePath());
            // foreign keys are enforced: a run of a model that does not exist is refused
            RunStart bad;
            bad.modelId = 4242;
            const QString e = errorOf([&] { s.beginRun(bad); });
            QVERIFY2(e.contains("FOREIGN KEY") || e.contains("foreign key"), qPrintable(e));
            QVERIFY2(e.contains(QFileInfo(path).absoluteFilePath()), qPrintable(e));
            // two stores on the same file at once (unique connection names)
            ExperimentStore s2(path);
            const int64_t m = s.addModel("/m", "h", "demo", {}, 1);
            QCOMPARE(s2.addModel("/m", "h", "demo", {}, 1), m);
        }
        QVERIFY(QFileInfo::exists(path));
        RawDb raw(path);
        QVERIFY(raw.ok());
        QCOMPARE(raw.scalar("PRAGMA journal_mode").toString(), QStringLiteral("wal"));  // persistent in the file
        QCOMPARE(raw.scalar("PRAGMA user_version").toInt(), 2);
        QCOMPARE(raw.scalar("PRAGMA application_id").toLongLong(), qint64(ExperimentStore::kApplicationId));
        for (const char* t : {"models", "calibration_sets", "recipes", "runs", "dataset_results", "layer_results", "sensitivity_reports"})
            QVERIFY2(raw.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", {QString::fromLatin1(t)}).toInt() == 1, t);
        for (const char* c : {"boot_id", "proc_start", "pid", "host", "app_version", "device", "params_json", "timings_json"})
            QVERIFY2(raw.scalar("SELECT count(*) FROM pragma_table_info('runs') WHERE name = ?", {QString::fromLatin1(c)}).toInt() == 1, c);
        QCOMPARE(raw.scalar("SELECT count(*) FROM pragma_table_info('layer_results') WHERE name = 'predicted_error'").toInt(), 1);
    }

    void v1DatabaseIsMigratedWithItsData() {
        const QString path = dbPath("v1.sqlite");
        const qint64 dead = startedDeadPid();
        QVERIFY(dead > 0);
        QVERIFY(::kill(pid_t(dead), 0) != 0);
        {
            // Build a genuine version-1 log from the recorded migration 1, as QuantScope 1 wrote it.
            RawDb raw(path);
            QVERIFY(raw.ok());
            QVERIFY(raw.exec("BEGIN"));
            for (const QString& sql : ExperimentStore::migrationSql(1)) QVERIFY2(raw.exec(sql), qPrintable(raw.lastError + " in " + sql));
            QVERIFY(raw.exec("PRAGMA user_version = 1"));
            QVERIFY(raw.exec("INSERT INTO models (id, path, content_hash, format, config_json, params, created_at) "
                             "VALUES (1, '/models/tiny', 'abc123', 'safetensors', '{\"hidden_size\":64}', 260000, '2024-01-01T00:00:00.000Z')"));
            QVERIFY(raw.exec("INSERT INTO calibration_sets (id, path, nsamples, seqlen, seed, content_hash, created_at) "
                             "VALUES (1, '/data/c4.jsonl', 128, 512, 7, 'cafe', '2024-01-01T00:00:00.000Z')"));
            QVERIFY(raw.exec("INSERT INTO recipes (id, hash, json, summary, created_at) VALUES (1, 'r1', ?, 'gptq int4', '2024-01-01T00:00:00.000Z')",
                             {QString::fromUtf8(QJsonDocument(sampleRecipe("int4")).toJson(QJsonDocument::Compact))}));
            QVERIFY(raw.exec("INSERT INTO runs (id, model_id, calibration_id, recipe_id, status, started_at, ended_at, device, app_version, "
                             "pid, host, params_json, timings_json, avg_bits, error) VALUES (1, 1, 1, 1, 'finished', '2024-01-01T00:00:01.000Z', "
                             "'2024-01-01T00:01:00.000Z', 'CPU, 2 threads', '0.0.9', 1234, 'oldhost', '{\"argv\":[\"x\"]}', "
                             "'{\"total_seconds\":59}', 4.25, '')"));
            QVERIFY(raw.exec("INSERT INTO dataset_results (run_id, data_path, ppl, tokens, windows, seqlen, extra_json) "
                             "VALUES (1, '/data/wt2.jsonl', 123.5, 10000, 19, 512, '{\"kl_mean\":0.01}')"));
            QVERIFY(raw.exec("INSERT INTO layer_results (run_id, layer_name, block, method, format, aformat, bits_per_weight, params, "
                             "output_error, seconds, extra_json) VALUES (1, 'model.layers.0.self_attn.q_proj', 0, 'gptq', 'int4', 'none', "
                             "4.25, 4096, 0.0123, 0.5, '{}')"));
            // a v1 run that was killed: still 'running', its process is gone (this host)
            QVERIFY(raw.exec("INSERT INTO runs (id, model_id, recipe_id, status, started_at, pid, host) VALUES (2, 1, 1, 'running', "
                             "'2024-01-02T00:00:00.000Z', ?, ?)", {dead, currentHostName()}));
            // a v1 run of another machine stays as it is
            QVERIFY(raw.exec("INSERT INTO runs (id, model_id, status, started_at, pid, host) VALUES (3, 1, 'running', "
                             "'2024-01-03T00:00:00.000Z', ?, 'some-other-host')", {dead}));
            QVERIFY(raw.exec("COMMIT"));
            // version 1 really is older: it has no 'interrupted' status and no sensitivity reports
            QVERIFY(!raw.exec("UPDATE runs SET status = 'interrupted' WHERE id = 2"));
            QVERIFY(raw.lastError.contains("CHECK", Qt::CaseInsensitive));
            QVERIFY(!raw.exec("SELECT * FROM sensitivity_reports"));
            QCOMPARE(raw.scalar("SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'boot_id'").toInt(), 0);
            QCOMPARE(raw.scalar("PRAGMA journal_mode").toString(), QStringLiteral("delete"));
        }
        ExperimentStore s(path);
        QCOMPARE(s.schemaVersion(), 2);
        QCOMPARE(s.journalMode(), QStringLiteral("wal"));
        QCOMPARE(s.integrityCheck(), QStringLiteral("ok"));
        const std::optional<RunRecord> r1 = s.run(1);
        QVERIFY(r1);
        QCOMPARE(r1->status, QStringLiteral("finished"));
        QCOMPARE(r1->modelPath, QStringLiteral("/models/tiny"));
        QCOMPARE(r1->modelHash, QStringLiteral("abc123"));
        QCOMPARE(r1->appVersion, QStringLiteral("0.0.9"));
        QCOMPARE(r1->host, QStringLiteral("oldhost"));
        QCOMPARE(r1->endedAt, QStringLiteral("2024-01-01T00:01:00.000Z"));
        QCOMPARE(*r1->avgBits, 4.25);
        QCOMPARE(r1->recipe, sampleRecipe("int4"));
        QCOMPARE(r1->params["argv"].toArray()[0].toString(), QStringLiteral("x"));
        QCOMPARE(r1->timings["total_seconds"].toDouble(), 59.0);
        QCOMPARE(int(r1->datasets.size()), 1);
        QCOMPARE(r1->datasets[0].ppl, 123.5);
        QCOMPARE(r1->datasets[0].extra["kl_mean"].toDouble(), 0.01);
        QCOMPARE(int(r1->layers.size()), 1);
        QCOMPARE(*r1->layers[0].outputError, 0.0123);
        QVERIFY(!r1->layers[0].predictedError);  // the new column is NULL for old rows
        QVERIFY(r1->calibration);
        QCOMPARE(r1->calibration->seed, uint64_t(7));
        QCOMPARE(r1->model->config["hidden_size"].toInt(), 64);
        // the killed v1 run is found (pid check; v1 rows have no boot id) and marked
        const std::optional<RunRecord> r2 = s.run(2);
        QCOMPARE(r2->status, QStringLiteral("interrupted"));
        QVERIFY(!r2->endedAt.isEmpty());
        QVERIFY2(r2->error.contains(QString::number(dead)), qPrintable(r2->error));
        QCOMPARE(s.run(3)->status, QStringLiteral("running"));
        // new features work on the migrated file, ids continue
        const int64_t rep = s.addSensitivityReport(1, 1, "hessian_trace", QJsonObject{{"layers", 42}});
        QCOMPARE(s.sensitivityReport(rep)["layers"].toInt(), 42);
        RunStart st;
        st.modelId = 1;
        const int64_t id = s.beginRun(st);
        QCOMPARE(id, int64_t(4));
        s.finishRun(id, RunOutcome{});
        QCOMPARE(int(s.listRuns().size()), 4);
        RawDb raw(path);
        QVERIFY(raw.exec("PRAGMA foreign_key_check"));
        QCOMPARE(raw.scalar("SELECT count(*) FROM pragma_foreign_key_check").toInt(), 0);
        QCOMPARE(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'runs_v2'").toInt(), 0);
        QCOMPARE(raw.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'runs_model'").toInt(), 1);
        // the children still reference the rebuilt runs table: deleting a run cascades to its results
        QVERIFY(raw.exec("PRAGMA foreign_keys = ON"));
        QVERIFY(raw.exec("DELETE FROM runs WHERE id = 1"));
        QCOMPARE(raw.scalar("SELECT count(*) FROM dataset_results").toInt(), 0);
        QCOMPARE(raw.scalar("SELECT count(*) FROM layer_results").toInt(), 0);
    }

    void badFilesAreRefusedWithClearErrors() {
        // written by a newer QuantScope
        const QString newer = dbPath("newer.sqlite");
        {
            RawDb raw(newer);
            QVERIFY(raw.exec(QStringLiteral("PRAGMA application_id = %1").arg(ExperimentStore::kApplicationId)));
            QVERIFY(raw.exec("CREATE TABLE future (x)"));
            QVERIFY(raw.exec("PRAGMA user_version = 3"));
        }
        QString e = errorOf([&] { ExperimentStore s(newer); });
        QVERIFY2(e.contains(newer) && e.contains("schema version 3") && e.contains("newer"), qPrintable(e));
        {
            RawDb raw(newer);
            QCOMPARE(raw.scalar("PRAGMA user_version").toInt(), 3);  // untouched
        }
        // an SQLite file of another program
        const QString foreign = dbPath("foreign.sqlite");
        {
            RawDb raw(foreign);
            QVERIFY(raw.exec("CREATE TABLE contacts (name TEXT)"));
        }
        e = errorOf([&] { ExperimentStore s(foreign); });
        QVERIFY2(e.contains(foreign) && e.contains("not a QuantScope experiment log"), qPrintable(e));
        // not a database at all
        const QString garbage = dbPath("garbage.sqlite");
        {
            QFile f(garbage);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray(4096, 'x'));
        }
        e = errorOf([&] { ExperimentStore s(garbage); });
        QVERIFY2(e.contains(garbage) && e.contains("not a usable SQLite database"), qPrintable(e));
        // a valid log whose header page was overwritten
        const QString corrupt = dbPath("corrupt.sqlite");
        { ExperimentStore s(corrupt); }
        {
            QFile f(corrupt);
            QVERIFY(f.open(QIODevice::ReadWrite));
            f.seek(0);
            f.write(QByteArray(100, '\xff'));
        }
        e = errorOf([&] { ExperimentStore s(corrupt); });
        QVERIFY2(e.contains(corrupt) && !e.isEmpty(), qPrintable(e));
        // unwritable locations: a directory, a path below a regular file
        e = errorOf([&] { ExperimentStore s(tmp_.path()); });
        QVERIFY2(e.contains("is a directory"), qPrintable(e));
        e = errorOf([&] { ExperimentStore s(garbage + "/sub/log.sqlite"); });
        QVERIFY2(e.contains("cannot create the directory"), qPrintable(e));
        e = errorOf([&] { ExperimentStore s{QString()}; });
        QVERIFY2(e.contains("empty"), qPrintable(e));
    }

    void runLifecycleAndListing() {
        ExperimentStore s(dbPath("lifecycle.sqlite"));
        const int64_t a = s.addModel("/models/Llama-Tiny", "h1", "safetensors", QJsonObject{{"model_type", "llama"}}, 100);
        QCOMPARE(s.addModel("/models/Llama-Tiny", "h1", "safetensors", QJsonObject{{"model_type", "llama"}, {"x", 1}}, 100), a);
        QCOMPARE(s.model(a)->config["x"].toInt(), 1);  // config updated
        const int64_t a2 = s.addModel("/models/Llama-Tiny", "h2", "safetensors", {}, 100);  // same path, new content
        QVERIFY(a2 != a);
        const int64_t b = s.addModel("/models/opt-125m", "h3", "safetensors", {}, 200);
        QCOMPARE(s.findModel("/models/opt-125m", "h3")->id, b);
        QVERIFY(!s.findModel("/models/opt-125m", "nope"));
        QCOMPARE(int(s.models().size()), 3);
        const int64_t c = s.addCalibrationSet("/data/c4.jsonl", 128, 2048, 0, "ch");
        QCOMPARE(s.addCalibrationSet("/data/c4.jsonl", 128, 2048, 0, "ch"), c);
        QVERIFY(s.addCalibrationSet("/data/c4.jsonl", 64, 2048, 0, "ch") != c);
        const uint64_t bigSeed = 0xfedcba9876543210ull;
        const int64_t c2 = s.addCalibrationSet("/data/c4.jsonl", 1, 2, bigSeed, "ch");
        QCOMPARE(s.calibrationSet(c2)->seed, bigSeed);
        const int64_t r4 = s.addRecipe(sampleRecipe("int4"));
        QCOMPARE(s.addRecipe(sampleRecipe("int4")), r4);
        const int64_t r3 = s.addRecipe(sampleRecipe("int3"));
        QVERIFY(r3 != r4);
        QCOMPARE(s.recipe(r4)->summary, QStringLiteral("gptq int4 +1 override"));
        QCOMPARE(s.recipe(r4)->json, sampleRecipe("int4"));

        RunStart st;
        st.modelId = a;
        st.calibrationId = c;
        st.recipeId = r4;
        st.device = "CPU, 2 threads";
        st.params = QJsonObject{{"argv", QJsonArray{"quantize", "--wbits", "4"}}};
        const int64_t run1 = s.beginRun(st);
        {
            const RunRecord r = *s.run(run1);
            QCOMPARE(r.status, QStringLiteral("running"));
            QCOMPARE(r.pid, qint64(::getpid()));
            QCOMPARE(r.host, currentHostName());
            QCOMPARE(r.appVersion, QStringLiteral(QUANTSCOPE_VERSION));
            QCOMPARE(r.device, QStringLiteral("CPU, 2 threads"));
            QVERIFY(r.endedAt.isEmpty());
            QVERIFY(QDateTime::fromString(r.startedAt, Qt::ISODateWithMs).isValid());
            QCOMPARE(r.params, st.params);
            QCOMPARE(r.recipeSummary, QStringLiteral("gptq int4 +1 override"));
        }
        // reopening while our run is live does not touch it
        { ExperimentStore again(s.path()); }
        QCOMPARE(s.run(run1)->status, QStringLiteral("running"));
        RunOutcome done;
        done.timings = QJsonObject{{"total_seconds", 12.5}};
        done.avgBits = 4.25;
        done.datasets = {DatasetResultRow{"/data/wt2.jsonl", 17.5, 1000, 2, 512, {}}};
        done.params = QJsonObject{{"export", QJsonObject{{"format", "gguf"}, {"written", true}}}};
        s.finishRun(run1, done);
        const RunRecord r1 = *s.run(run1);
        QCOMPARE(r1.status, QStringLiteral("finished"));
        // the outcome's params join the ones the run began with
        QCOMPARE(r1.params.value("argv"), st.params.value("argv"));
        QCOMPARE(r1.params.value("export").toObject().value("format").toString(), QStringLiteral("gguf"));
        done.params = {};
        QVERIFY(r1.endedAt >= r1.startedAt);
        QCOMPARE(r1.timings["total_seconds"].toDouble(), 12.5);
        // an ended run cannot change
        QString e = errorOf([&] { s.finishRun(run1, done); });
        QVERIFY2(e.contains("not running"), qPrintable(e));
        e = errorOf([&] { s.addLayerResults(run1, {LayerResultRow{}}); });
        QVERIFY2(e.contains("not running"), qPrintable(e));
        e = errorOf([&] { s.finishRun(987654, done); });
        QVERIFY2(e.contains("does not exist"), qPrintable(e));
        QCOMPARE(int(s.run(run1)->datasets.size()), 1);  // the refused write left nothing behind

        st.modelId = b;
        st.recipeId = r3;
        const int64_t run2 = s.beginRun(st);
        RunOutcome failed;
        failed.status = "failed";
        failed.error = "layers[2].wformat: unknown format 'int9'";
        s.finishRun(run2, failed);
        e = errorOf([&] {
            RunOutcome bad;
            bad.status = "interrupted";
            s.finishRun(s.beginRun(st), bad);
        });
        QVERIFY2(e.contains("cannot end with status 'interrupted'"), qPrintable(e));
        st.modelId = a2;
        const int64_t run4 = s.beginRun(st);  // left running (this process: live)

        // listing: newest first, filters by model id, path substring (case-insensitive) and status
        std::vector<RunRecord> all = s.listRuns();
        QCOMPARE(int(all.size()), 4);
        QCOMPARE(all.front().id, run4);
        QCOMPARE(all.back().id, run1);
        QCOMPARE(all.back().datasets[0].ppl, 17.5);
        QCOMPARE(int(s.listRuns(RunFilter{a, {}, {}, 0}).size()), 1);
        std::vector<RunRecord> llama = s.listRuns(RunFilter{std::nullopt, "llama-tiny", {}, 0});
        QCOMPARE(int(llama.size()), 2);
        for (const RunRecord& r : llama) QVERIFY(r.modelPath.contains("Llama-Tiny"));
        std::vector<RunRecord> failedRuns = s.listRuns(RunFilter{std::nullopt, "opt", "failed", 0});
        QCOMPARE(int(failedRuns.size()), 1);
        QCOMPARE(failedRuns[0].id, run2);
        QCOMPARE(failedRuns[0].error, failed.error);
        QVERIFY(!failedRuns[0].avgBits);
        QCOMPARE(int(s.listRuns(RunFilter{std::nullopt, {}, "running", 0}).size()), 2);
        QCOMPARE(int(s.listRuns(RunFilter{std::nullopt, "no-such-model", {}, 0}).size()), 0);
        QCOMPARE(int(s.listRuns(RunFilter{std::nullopt, {}, {}, 2}).size()), 2);
        QVERIFY(!s.run(999));
    }

    void resultsRoundTrip() {
        ExperimentStore s(dbPath("results.sqlite"));
        const int64_t m = s.addModel("/m", "h", "demo", {}, 1);
        RunStart st;
        st.modelId = m;
        st.recipeId = s.addRecipe(sampleRecipe("mxfp4"));
        const int64_t id = s.beginRun(st);
        // results may arrive while the run is in progress (GUI), each call atomic
        s.addDatasetResults(id, {DatasetResultRow{"/a.txt", 11.25, 512, 4, 128, QJsonObject{{"fp_ppl", 10.5}, {"kl_mean", 0.02}}}});
        RunOutcome o;
        o.avgBits = 4.257;
        o.timings = QJsonObject{{"calibration_seconds", 1.5}, {"quantize_seconds", 0.25}};
        o.datasets = {DatasetResultRow{"/b.jsonl", 99.125, 2048, 16, 128, {}}};
        LayerResultRow l1{"model.layers.0.self_attn.q_proj", 0, "gptq", "mxfp4", "mxint8", 4.25, 4096, 0.0125, 0.011, 0.5,
                          QJsonObject{{"gptq_loss", 3.5}}};
        LayerResultRow l2{"lm_head", -1, "rtn", "int8", "none", 8.25, 32768, std::nullopt, std::nullopt, 0.01, {}};
        o.layers = {l1, l2};
        s.finishRun(id, o);
        const RunRecord r = *s.run(id);
        QCOMPARE(r.status, QStringLiteral("finished"));
        QCOMPARE(*r.avgBits, 4.257);
        QCOMPARE(r.timings, o.timings);
        QCOMPARE(r.recipe, sampleRecipe("mxfp4"));
        QCOMPARE(r.recipeSummary, QStringLiteral("gptq mxfp4 +1 override"));
        QCOMPARE(int(r.datasets.size()), 2);
        QCOMPARE(r.datasets[0].dataPath, QStringLiteral("/a.txt"));
        QCOMPARE(r.datasets[0].ppl, 11.25);
        QCOMPARE(r.datasets[0].tokens, int64_t(512));
        QCOMPARE(r.datasets[0].windows, 4);
        QCOMPARE(r.datasets[0].seqlen, 128);
        QCOMPARE(r.datasets[0].extra["kl_mean"].toDouble(), 0.02);
        QCOMPARE(r.datasets[1].ppl, 99.125);
        QCOMPARE(int(r.layers.size()), 2);
        const LayerResultRow& a = r.layers[0];
        QCOMPARE(a.layerName, l1.layerName);
        QCOMPARE(a.block, 0);
        QCOMPARE(a.method, QStringLiteral("gptq"));
        QCOMPARE(a.format, QStringLiteral("mxfp4"));
        QCOMPARE(a.aformat, QStringLiteral("mxint8"));
        QCOMPARE(a.bitsPerWeight, 4.25);
        QCOMPARE(a.params, int64_t(4096));
        QCOMPARE(*a.outputError, 0.0125);
        QCOMPARE(*a.predictedError, 0.011);
        QCOMPARE(a.extra["gptq_loss"].toDouble(), 3.5);
        QCOMPARE(r.layers[1].block, -1);
        QVERIFY(!r.layers[1].outputError);
        QVERIFY(!r.layers[1].predictedError);
        // JSON of `runs --show`
        const QJsonObject j = r.toJson();
        QCOMPARE(j["recipe"].toObject(), sampleRecipe("mxfp4"));
        QCOMPARE(j["layers"].toArray().size(), 2);
        QVERIFY(j["layers"].toArray()[1].toObject()["rel_output_error"].isNull());
        QCOMPARE(j["eval"].toArray()[1].toObject()["ppl"].toDouble(), 99.125);
        QCOMPARE(j["status"].toString(), QStringLiteral("finished"));
        // a failing multi-row write leaves nothing: a trigger makes the second row fail
        {
            RawDb raw(s.path());
            QVERIFY2(raw.exec("CREATE TRIGGER test_boom BEFORE INSERT ON layer_results WHEN NEW.layer_name = 'boom' "
                              "BEGIN SELECT RAISE(ABORT, 'boom refused'); END"), qPrintable(raw.lastError));
        }
        const int64_t id2 = s.beginRun(st);
        LayerResultRow broken = l2;
        broken.layerName = "boom";
        const QString boom = errorOf([&] { s.addLayerResults(id2, {l1, broken}); });
        QVERIFY2(boom.contains("boom refused") && boom.contains("layer boom"), qPrintable(boom));
        QCOMPARE(int(s.run(id2)->layers.size()), 0);
        RunOutcome o2;
        o2.layers = {l1, broken};
        QVERIFY(!errorOf([&] { s.finishRun(id2, o2); }).isEmpty());
        QCOMPARE(s.run(id2)->status, QStringLiteral("running"));  // the failed finish changed nothing
        QCOMPARE(int(s.run(id2)->layers.size()), 0);
        // sensitivity reports
        const int64_t c = s.addCalibrationSet("/c", 4, 64, 0, "x");
        const int64_t s1 = s.addSensitivityReport(m, c, "hessian_trace", QJsonObject{{"layers", QJsonArray{1.5, 2.5}}});
        const int64_t s2 = s.addSensitivityReport(m, std::nullopt, "outliers", QJsonObject{{"channels", 3}});
        QCOMPARE(s.sensitivityReport(s1)["layers"].toArray()[1].toDouble(), 2.5);
        QCOMPARE(s.sensitivityReports(m), (std::vector<int64_t>{s2, s1}));
        QVERIFY(s.sensitivityReport(12345).isEmpty());
        QVERIFY(!errorOf([&] { s.addSensitivityReport(777, std::nullopt, "x", {}); }).isEmpty());  // unknown model
    }

    void interruptedRunsAreMarkedOnOpen() {
        const QString path = dbPath("interrupted.sqlite");
        int64_t dead, live, reused, rebooted, otherHost, noStart;
        const qint64 deadpid = startedDeadPid();
        QVERIFY(deadpid > 0 && ::kill(pid_t(deadpid), 0) != 0);
        const int64_t myStart = processStartTicks(::getpid());
        QVERIFY(myStart > 0);
        {
            ExperimentStore s(path);
            RunStart st;
            st.modelId = s.addModel("/m", "h", "demo", {}, 1);
            dead = s.beginRun(st);
            live = s.beginRun(st);
            reused = s.beginRun(st);
            rebooted = s.beginRun(st);
            otherHost = s.beginRun(st);
            noStart = s.beginRun(st);
        }
        {
            RawDb raw(path);
            QVERIFY(raw.exec("UPDATE runs SET pid = ? WHERE id = ?", {deadpid, qint64(dead)}));
            // our own pid, but the process with it started at another time: the pid was reused
            QVERIFY(raw.exec("UPDATE runs SET proc_start = ? WHERE id = ?", {qint64(myStart + 12345), qint64(reused)}));
            QVERIFY(raw.exec("UPDATE runs SET boot_id = 'another-boot' WHERE id = ?", {qint64(rebooted)}));
            QVERIFY(raw.exec("UPDATE runs SET pid = ?, host = 'another-host' WHERE id = ?", {deadpid, qint64(otherHost)}));
            // our pid without a recorded start time (as version 1 wrote): alive
            QVERIFY(raw.exec("UPDATE runs SET proc_start = NULL, boot_id = '' WHERE id = ?", {qint64(noStart)}));
        }
        ExperimentStore s(path);  // marks on open
        auto st = [&](int64_t id) { return s.run(id)->status; };
        QCOMPARE(st(dead), QStringLiteral("interrupted"));
        QCOMPARE(st(reused), QStringLiteral("interrupted"));
        QCOMPARE(st(rebooted), QStringLiteral("interrupted"));
        QCOMPARE(st(live), QStringLiteral("running"));
        QCOMPARE(st(otherHost), QStringLiteral("running"));
        QCOMPARE(st(noStart), QStringLiteral("running"));
        const RunRecord d = *s.run(dead);
        QVERIFY(!d.endedAt.isEmpty());
        QVERIFY2(d.error.contains(QString::number(deadpid)) && d.error.contains("ended without finishing"), qPrintable(d.error));
        QVERIFY2(s.run(rebooted)->error.contains("restarted"), qPrintable(s.run(rebooted)->error));
        QVERIFY2(s.run(reused)->error.contains("another process"), qPrintable(s.run(reused)->error));
        QCOMPARE(s.markInterruptedRuns(), 0);  // idempotent
        // an interrupted run cannot be finished later
        QVERIFY(errorOf([&] { s.finishRun(dead, RunOutcome{}); }).contains("not running"));
        // the live run still can
        s.finishRun(live, RunOutcome{});
        QCOMPARE(st(live), QStringLiteral("finished"));
    }

    void storesOnSeveralThreadsShareTheFile() {
        const QString path = dbPath("threads.sqlite");
        int64_t model;
        {
            ExperimentStore s(path);
            model = s.addModel("/m", "h", "demo", {}, 1);
        }
        constexpr int kThreads = 3, kRuns = 15;
        QStringList errors;
        QMutex mu;
        std::vector<std::unique_ptr<QThread>> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back(QThread::create([&, t] {
                try {
                    ExperimentStore s(path);  // one store (connection) per thread
                    for (int i = 0; i < kRuns; ++i) {
                        RunStart st;
                        st.modelId = model;
                        st.recipeId = s.addRecipe(sampleRecipe(QStringLiteral("int%1").arg(2 + i % 3)));
                        const int64_t id = s.beginRun(st);
                        RunOutcome o;
                        o.datasets = {DatasetResultRow{QStringLiteral("/t%1").arg(t), double(i), 1, 1, 1, {}}};
                        s.finishRun(id, o);
                    }
                } catch (const std::exception& e) {
                    QMutexLocker lock(&mu);
                    errors << QString::fromUtf8(e.what());
                }
            }));
            threads.back()->start();
        }
        for (auto& th : threads) QVERIFY(th->wait(120000));
        QVERIFY2(errors.isEmpty(), qPrintable(errors.join('\n')));
        ExperimentStore s(path);
        const std::vector<RunRecord> runs = s.listRuns();
        QCOMPARE(int(runs.size()), kThreads * kRuns);
        for (const RunRecord& r : runs) {
            QCOMPARE(r.status, QStringLiteral("finished"));
            QCOMPARE(int(r.datasets.size()), 1);
        }
        RawDb raw(path);
        QCOMPARE(raw.scalar("SELECT count(*) FROM recipes").toInt(), 3);  // deduplicated across connections
        QCOMPARE(s.integrityCheck(), QStringLiteral("ok"));
    }

    void killedCliRunLeavesAConsistentDatabase() {
        const QString path = dbPath("killed/log.sqlite");
        const QString text = demoDir_ + "/eval.txt";
        QProcess p;
        p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        // long enough (GPTQ on 64 windows, then a full evaluation) to be killed mid-way
        p.start(QStringLiteral(QS_CLI_PATH), {"quantize", "--model", demoDir_, "--calib", text, "--nsamples", "64", "--seqlen", "256",
                                             "--method", "gptq", "--wbits", "4", "--eval", text, "--threads", "1", "--db", path});
        QVERIFY(p.waitForStarted());
        const qint64 childPid = p.processId();
        QElapsedTimer t;
        t.start();
        qint64 runId = 0;
        while (t.elapsed() < 120000 && p.state() == QProcess::Running) {
            if (QFileInfo::exists(path)) {
                RawDb ro(path, /*readOnly=*/true);
                if (ro.ok()) {
                    const QVariant v = ro.scalar("SELECT id FROM runs WHERE status = 'running' AND pid = ?", {childPid});
                    if (v.isValid()) {
                        runId = v.toLongLong();
                        break;
                    }
                }
            }
            QThread::msleep(20);
        }
        QVERIFY2(runId > 0, "the CLI never logged its run as running");
        QVERIFY2(p.state() == QProcess::Running, "the CLI run ended before it could be killed; make it longer");
        ::kill(pid_t(childPid), SIGKILL);
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitStatus(), QProcess::CrashExit);
        {
            ExperimentStore s(path);
            QCOMPARE(s.integrityCheck(), QStringLiteral("ok"));
            const RunRecord r = *s.run(runId);
            QCOMPARE(r.status, QStringLiteral("interrupted"));
            QVERIFY(!r.endedAt.isEmpty());
            QVERIFY2(r.error.contains(QString::number(childPid)), qPrintable(r.error));
            QVERIFY(r.datasets.empty() && r.layers.empty());  // nothing half-written
            QVERIFY(!r.recipe.isEmpty() && r.calibration && r.calibration->nsamples == 64);
            QCOMPARE(r.modelPath, QFileInfo(demoDir_).absoluteFilePath());
        }
        RawDb raw(path);
        QCOMPARE(raw.scalar("PRAGMA integrity_check").toString(), QStringLiteral("ok"));
        QCOMPARE(raw.scalar("SELECT count(*) FROM pragma_foreign_key_check").toInt(), 0);
        // a later run is logged in the same file
        const qs::test::CliRun later = qs::test::runCli({"quantize", "--model", demoDir_, "--method", "rtn", "--wbits", "4", "--eval", text,
                                                         "--max-windows", "1", "--seqlen", "64", "--db", path, "--json",
                                                         "--experiment", " rtn sweep "});
        QVERIFY2(later.code == 0, later.err.constData());
        ExperimentStore s(path);
        const int64_t laterId = QJsonDocument::fromJson(later.out).object()["run_id"].toInteger();
        QVERIFY(laterId > runId);
        QCOMPARE(s.run(laterId)->status, QStringLiteral("finished"));
        // --experiment names the curve the run joins in the GUI (trimmed); without it, the recipe's method
        QCOMPARE(s.run(laterId)->params.value(QStringLiteral("experiment")).toString(), QStringLiteral("rtn sweep"));
        QCOMPARE(runExperimentName(*s.run(laterId)), QStringLiteral("rtn sweep"));
        RunRecord plain;
        plain.recipeSummary = QStringLiteral("gptq int3-g64");
        QCOMPARE(runExperimentName(plain), QStringLiteral("gptq"));
        plain.recipeSummary = QStringLiteral("gptq int3-g128 +15 overrides");
        QCOMPARE(runExperimentName(plain), QStringLiteral("gptq (mixed)"));
        QCOMPARE(s.run(runId)->status, QStringLiteral("interrupted"));
    }

    void cliRunIsLoggedAndListed() {
        const QString path = dbPath("cli/log.sqlite");
        const QString text = demoDir_ + "/eval.txt";
        const qs::test::CliRun r = qs::test::runCli({"quantize", "--model", demoDir_, "--calib", text, "--nsamples", "2", "--seqlen", "64",
                                                     "--method", "gptq", "--wbits", "3", "--group", "64", "--eval", text, "--max-windows", "2",
                                                     "--compare-fp", "--db", path, "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject out = QJsonDocument::fromJson(r.out).object();
        const int64_t id = out["run_id"].toInteger();
        QVERIFY(id > 0);
        QCOMPARE(out["db"].toString(), QFileInfo(path).absoluteFilePath());
        {
            ExperimentStore s(path);
            const RunRecord run = *s.run(id);
            QCOMPARE(run.status, QStringLiteral("finished"));
            QVERIFY(run.error.isEmpty());
            QCOMPARE(run.recipe, out["recipe"].toObject());  // the recipe as applied
            QCOMPARE(run.recipeSummary, QStringLiteral("gptq int3-g64"));
            QCOMPARE(*run.avgBits, out["avg_bits"].toDouble());
            QCOMPARE(run.modelPath, QFileInfo(demoDir_).absoluteFilePath());
            QCOMPARE(run.modelHash, out["model_hash"].toString());
            QCOMPARE(run.model->format, QStringLiteral("safetensors"));
            QVERIFY(run.model->params > 0);
            QVERIFY(run.calibration);
            QCOMPARE(run.calibration->nsamples, 2);
            QCOMPARE(run.calibration->seqlen, 64);
            QCOMPARE(run.calibration->path, QFileInfo(text).absoluteFilePath());
            QCOMPARE(run.calibration->contentHash.size(), 64);
            QCOMPARE(run.appVersion, QStringLiteral(QUANTSCOPE_VERSION));
            QVERIFY(run.device.contains("CPU"));
            QVERIFY(run.params["argv"].toArray().contains(QJsonValue("--compare-fp")));
            QCOMPARE(run.timings, out["timings"].toObject());
            const QJsonObject e = out["eval"].toArray()[0].toObject();
            QCOMPARE(int(run.datasets.size()), 1);
            QCOMPARE(run.datasets[0].ppl, e["ppl"].toDouble());
            QCOMPARE(run.datasets[0].windows, 2);
            QCOMPARE(run.datasets[0].extra["kl_mean"].toDouble(), e["kl_mean"].toDouble());
            const QJsonArray layers = out["layers"].toArray();
            QCOMPARE(int(run.layers.size()), layers.size());
            QCOMPARE(int(run.layers.size()), 6 * 7);
            for (int i = 0; i < layers.size(); ++i) {
                const QJsonObject l = layers[i].toObject();
                QCOMPARE(run.layers[size_t(i)].layerName, l["name"].toString());
                QCOMPARE(run.layers[size_t(i)].bitsPerWeight, l["bits_per_weight"].toDouble());
                QVERIFY(run.layers[size_t(i)].outputError);
                QCOMPARE(*run.layers[size_t(i)].outputError, l["rel_output_error"].toDouble());
                QCOMPARE(run.layers[size_t(i)].format, QStringLiteral("int3-g64"));
            }
        }
        // a run that fails after it started ends as failed with the message
        QTemporaryDir occupied;
        QFile f(occupied.filePath("x"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        const qs::test::CliRun bad = qs::test::runCli({"quantize", "--model", demoDir_, "--method", "rtn", "--save", occupied.path(), "--db", path});
        QCOMPARE(bad.code, 2);
        // runs --json lists both, newest first
        const qs::test::CliRun list = qs::test::runCli({"runs", "--db", path, "--json"});
        QVERIFY2(list.code == 0, list.err.constData());
        const QJsonArray runs = QJsonDocument::fromJson(list.out).object()["runs"].toArray();
        QCOMPARE(runs.size(), 2);
        const QJsonObject failed = runs[0].toObject();
        QCOMPARE(failed["status"].toString(), QStringLiteral("failed"));
        QVERIFY2(failed["error"].toString().contains("already exists"), qPrintable(failed["error"].toString()));
        QVERIFY(!failed["ended_at"].toString().isEmpty());
        const QJsonObject fin = runs[1].toObject();
        QCOMPARE(fin["id"].toInteger(), id);
        QCOMPARE(fin["status"].toString(), QStringLiteral("finished"));
        QCOMPARE(fin["recipe_summary"].toString(), QStringLiteral("gptq int3-g64"));
        QCOMPARE(fin["avg_bits"].toDouble(), out["avg_bits"].toDouble());
        QCOMPARE(fin["eval"].toArray()[0].toObject()["ppl"].toDouble(), out["eval"].toArray()[0].toObject()["ppl"].toDouble());
        QVERIFY(!fin["started_at"].toString().isEmpty() && !fin["ended_at"].toString().isEmpty());
        QCOMPARE(fin["model"].toString(), QFileInfo(demoDir_).absoluteFilePath());
        // filters
        const qs::test::CliRun none = qs::test::runCli({"runs", "--db", path, "--model", "no-such-model", "--json"});
        QVERIFY2(none.code == 0, none.err.constData());
        QCOMPARE(QJsonDocument::fromJson(none.out).object()["runs"].toArray().size(), 0);
        const qs::test::CliRun byModel = qs::test::runCli({"runs", "--db", path, "--model", "DEMO", "--status", "finished", "--json"});
        QCOMPARE(QJsonDocument::fromJson(byModel.out).object()["runs"].toArray().size(), 1);
        // one run with its recipe
        const qs::test::CliRun show = qs::test::runCli({"runs", "--db", path, "--show", QString::number(id), "--json"});
        QVERIFY2(show.code == 0, show.err.constData());
        const QJsonObject so = QJsonDocument::fromJson(show.out).object();
        QCOMPARE(so["recipe"].toObject(), out["recipe"].toObject());
        QCOMPARE(so["layers"].toArray().size(), 42);
        QCOMPARE(so["calibration"].toObject()["nsamples"].toInt(), 2);
        // text forms
        const qs::test::CliRun text1 = qs::test::runCli({"runs", "--db", path});
        QVERIFY2(text1.code == 0 && text1.out.contains("finished") && text1.out.contains("gptq int3-g64"), text1.out.constData());
        const qs::test::CliRun text2 = qs::test::runCli({"runs", "--db", path, "--show", QString::number(id)});
        QVERIFY2(text2.code == 0 && text2.out.contains("quantscope_recipe"), text2.out.constData());
        // user errors
        for (const auto& [args, expect] : std::vector<std::pair<QStringList, const char*>>{
                 {{"runs", "--db", path, "--show", "999"}, "there is no run 999"},
                 {{"runs", "--db", path, "--show", "x"}, "--show"},
                 {{"runs", "--db", path, "--status", "odd"}, "--status"},
                 {{"runs", "--no-db"}, "--no-db"},
                 {{"quantize", "--model", demoDir_, "--method", "rtn", "--db", path, "--no-db"}, "exclude each other"},
                 {{"runs", "--db", demoDir_ + "/eval.txt"}, "not a usable SQLite database"}}) {
            const qs::test::CliRun u = qs::test::runCli(args);
            QVERIFY2(u.code == 2 && u.err.contains(expect), qPrintable(args.join(' ') + " -> " + u.err));
        }
    }

    void cliDefaultLogFollowsTheEnvironmentAndNoDb() {
        const QString envDb = dbPath("env/default.sqlite");
        auto runWithEnv = [&](const QStringList& args) {
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert("QUANTSCOPE_DB", envDb);
            p.setProcessEnvironment(env);
            p.start(QStringLiteral(QS_CLI_PATH), args);
            p.waitForFinished(300000);
            return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        };
        const QStringList q{"quantize", "--model", demoDir_, "--method", "rtn", "--wbits", "8"};
        QCOMPARE(runWithEnv(q + QStringList{"--no-db"}), 0);
        QVERIFY(!QFileInfo::exists(envDb));  // --no-db: no log at all
        QCOMPARE(runWithEnv(q), 0);
        QVERIFY(QFileInfo::exists(envDb));
        {
            ExperimentStore s(envDb);
            const std::vector<RunRecord> runs = s.listRuns();
            QCOMPARE(int(runs.size()), 1);
            QCOMPARE(runs[0].status, QStringLiteral("finished"));
            QCOMPARE(runs[0].recipeSummary, QStringLiteral("rtn int8"));
        }
        QCOMPARE(runWithEnv({"runs", "--json"}), 0);  // `runs` reads the same default
    }
};

QTEST_GUILESS_MAIN(TestStore)
#include "test_store.moc"
