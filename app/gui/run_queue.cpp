#include "run_queue.h"

#include <algorithm>
#include <cmath>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QtConcurrent/QtConcurrentRun>

#include "compute/threads.h"
#include "eval/textdata.h"
#include "job_panel.h"
#include "store/results.h"
#include "store/store.h"

namespace qs::gui {

using views::JobStatus;

TextSource TextSource::file(const QString& path) { return TextSource{path, nullptr, QFileInfo(path).absoluteFilePath(), 0.0, 1.0}; }

std::vector<int> TextSource::tokens(const Tokenizer& t) const {
    const std::vector<int> all = t.encodeForModel(path.isEmpty() ? (text ? *text : std::string()) : loadText(path));
    const size_t n = all.size();
    const size_t a = size_t(std::floor(std::clamp(from, 0.0, 1.0) * double(n)));
    const size_t b = std::max(a, size_t(std::floor(std::clamp(to, 0.0, 1.0) * double(n))));
    return {all.begin() + std::ptrdiff_t(a), all.begin() + std::ptrdiff_t(b)};
}

QString TextSource::contentHash() const {
    QCryptographicHash h(QCryptographicHash::Sha256);
    if (path.isEmpty()) {
        if (text) h.addData(QByteArrayView(text->data(), qsizetype(text->size())));
    } else {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly) || !h.addData(&f))
            throw Error(QStringLiteral("%1: cannot read the text to hash it: %2").arg(path, f.errorString()));
    }
    return QString::fromLatin1(h.result().toHex());
}

RunQueue::RunQueue(views::JobListModel* jobs, QObject* parent) : QObject(parent), jobs_(jobs) {
    connect(&watcher_, &QFutureWatcher<Outcome>::finished, this, &RunQueue::onFinished);
}

RunQueue::~RunQueue() {
    queue_.clear();
    if (current_) current_->cancel.cancel();
    watcher_.waitForFinished();
}

int RunQueue::enqueue(RunRequest r) {
    Pending p;
    p.jobId = jobs_->addJob(r.label);
    p.req = std::move(r);
    queue_.push_back(std::move(p));
    const int id = queue_.back().jobId;
    if (!current_) startNext();
    return id;
}

void RunQueue::cancel(int jobId) {
    if (current_ && current_->jobId == jobId) {
        current_->cancel.cancel();
        jobs_->markCancelRequested(jobId);
        return;
    }
    const auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Pending& p) { return p.jobId == jobId; });
    if (it == queue_.end()) return;
    RunDone d;
    d.jobId = jobId;
    d.label = it->req.label;
    d.experiment = it->req.experiment;
    d.cancelled = true;
    queue_.erase(it);
    jobs_->finish(jobId, JobStatus::Cancelled, tr("cancelled before it started"));
    Q_EMIT runFinished(d);
    if (idle()) Q_EMIT idleNow();
}

void RunQueue::cancelAll() {
    std::vector<int> ids;
    for (const Pending& p : queue_) ids.push_back(p.jobId);
    for (int id : ids) cancel(id);
    if (current_) cancel(current_->jobId);
}

int64_t addLoadedModel(ExperimentStore& store, const LoadedModel& l) {
    const Model& m = *l.model;
    return store.addModel(l.demo ? m.path : QFileInfo(m.path).absoluteFilePath(), QString::fromStdString(l.hash), m.format,
                          m.config.toJson(), m.numParams());
}

void RunQueue::logBegin(Pending& p) {
    if (!store_) return;
    const RunRequest& r = p.req;
    try {
        const Model& m = *r.loaded->model;
        RunStart s;
        s.modelId = addLoadedModel(*store_, *r.loaded);
        const CalibOptions c = r.recipe.calibration();
        if (r.recipe.needsCalibration(m))
            s.calibrationId = store_->addCalibrationSet(r.calib.name, c.nsamples, c.seqlen, c.seed, r.calib.contentHash());
        s.recipeId = store_->addRecipe(r.recipe.toJson());
        s.device = device_.isEmpty() ? QStringLiteral("CPU, %1 threads").arg(qs::threads()) : device_;
        s.params = QJsonObject{{"command", r.exportTo ? "gui export" : "gui run"},
                               {"experiment", r.experiment},
                               {"label", r.label},
                               {"eval", r.eval.name},
                               {"eval_seqlen", r.evalOptions.seqlen},
                               {"threads", qs::threads()},
                               {"app_version", QCoreApplication::applicationVersion()}};
        p.runId = store_->beginRun(s);
    } catch (const std::exception& e) {
        p.runId = 0;
        Q_EMIT logError(tr("The experiment log could not record the run '%1': %2").arg(r.label, QString::fromUtf8(e.what())));
    }
}

void RunQueue::logEnd(const Pending& p, const Outcome& o) {
    if (!store_ || !p.runId) return;
    try {
        RunOutcome out;
        if (o.result) {
            out = experimentOutcome(*o.result, p.req.eval.name);
            if (p.req.exportTo)
                out.params = RunExport::result(p.req.exportTo->format, p.req.exportTo->out, o.exported, o.exportError).asParams();
        } else {
            out.status = o.cancelled ? QStringLiteral("cancelled") : QStringLiteral("failed");
            out.error = o.cancelled ? QStringLiteral("cancelled") : o.error;
        }
        store_->finishRun(p.runId, out);
    } catch (const std::exception& e) {
        Q_EMIT logError(tr("The experiment log could not record the end of run %1: %2").arg(p.runId).arg(QString::fromUtf8(e.what())));
    }
}

void RunQueue::startNext() {
    if (current_ || queue_.empty()) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    Pending& p = *current_;
    logBegin(p);
    jobs_->setRunning(p.jobId);
    Q_EMIT runStarted(p.jobId);

    JobContext ctx;
    ctx.cancel = p.cancel;
    const int jobId = p.jobId;
    // called on the worker thread: post to the GUI thread (the destructor waits for the job)
    ctx.progress = [this, jobId](double f, const std::string& m) {
        QMetaObject::invokeMethod(
            this, [this, jobId, f, msg = QString::fromStdString(m)] { jobs_->setProgress(jobId, f, msg); }, Qt::QueuedConnection);
    };
    const RunRequest req = p.req;
    watcher_.setFuture(QtConcurrent::run([req, ctx]() -> Outcome {
        Outcome o;
        try {
            if (!req.loaded || !req.loaded->model) throw Error(QStringLiteral("no model"));
            if (!req.loaded->tokenizer)
                throw Error(QStringLiteral("the run needs the model's tokenizer to read its texts: %1").arg(req.loaded->tokenizerError));
            const Model& m = *req.loaded->model;
            ctx.report(0, "tokenizing the texts");
            ExperimentSpec spec;
            spec.recipe = req.recipe;
            spec.calib = req.recipe.calibration();
            spec.eval = req.evalOptions;
            spec.compareFp = req.compareFp;
            if (req.recipe.needsCalibration(m)) {
                const std::vector<int> ids = req.calib.tokens(*req.loaded->tokenizer);
                ctx.check();
                spec.calibTokens = sampleCalibration(ids, spec.calib);
            }
            spec.evalTokens = req.eval.tokens(*req.loaded->tokenizer);
            ctx.check();
            const bool exporting = bool(req.exportTo);
            ExperimentResult res = runExperiment(m, spec, exporting ? ctx.sub(0.0, 0.85) : ctx);
            if (exporting) {
                try {
                    const VerifiedExport v = exportVerified(*res.quant.model, res.quant.layers, *req.loaded->tokenizer,
                                                            *req.exportTo, ctx.sub(0.85, 1.0, "export: "));
                    o.exported = v.summary;
                    for (const std::string& d : v.details) o.exportDetails << QString::fromStdString(d);
                } catch (const Cancelled&) {
                    throw;
                } catch (const std::bad_alloc&) {
                    o.exportError = QStringLiteral("out of memory");
                } catch (const std::exception& e) {
                    o.exportError = QString::fromUtf8(e.what());
                }
            }
            // The fake-quantized copy is not kept: every run of a session would hold a whole model.
            res.quant.model.reset();
            o.result = std::make_shared<const ExperimentResult>(std::move(res));
        } catch (const Cancelled&) {
            o.cancelled = true;
        } catch (const std::bad_alloc&) {
            o.error = QStringLiteral("out of memory");
        } catch (const std::exception& e) {
            o.error = QString::fromUtf8(e.what());
        }
        return o;
    }));
}

void RunQueue::onFinished() {
    if (!current_) return;
    const Outcome o = watcher_.result();
    const Pending p = std::move(*current_);
    current_.reset();
    logEnd(p, o);
    RunDone d;
    d.jobId = p.jobId;
    d.runId = p.runId;
    d.label = p.req.label;
    d.experiment = p.req.experiment;
    d.ok = bool(o.result);
    d.cancelled = o.cancelled;
    d.error = o.error;
    d.result = o.result;
    d.exported = o.exported;
    d.exportError = o.exportError;
    d.exportDetails = o.exportDetails;
    const QString ppl = o.result ? tr("ppl %1 at %2 bits/weight").arg(o.result->eval.ppl, 0, 'f', 3).arg(o.result->quant.avgBits, 0, 'f', 3)
                                 : QString();
    if (o.result && !o.exportError.isEmpty())
        jobs_->finish(p.jobId, JobStatus::Failed, tr("%1; the export failed: %2").arg(ppl, o.exportError));
    else if (o.result && !o.exported.isEmpty())
        jobs_->finish(p.jobId, JobStatus::Finished, tr("%1; written and read back: %2").arg(ppl, p.req.exportTo->out));
    else if (o.result)
        jobs_->finish(p.jobId, JobStatus::Finished, ppl);
    else if (o.cancelled)
        jobs_->finish(p.jobId, JobStatus::Cancelled, tr("cancelled"));
    else
        jobs_->finish(p.jobId, JobStatus::Failed, o.error);
    done_.push_back(d);
    Q_EMIT runFinished(d);
    startNext();
    if (idle()) Q_EMIT idleNow();
}

}  // namespace qs::gui
