#pragma once
// The GUI's run queue: quantize + evaluate runs (core's runExperiment) executed
// one after another on a worker thread (each run already uses every core through
// core's thread pool, so running two at once would only slow both), while the
// window stays responsive. Every run is shown in the job panel (JobListModel:
// queued → running with progress, elapsed and remaining time → finished / failed
// / cancelled) and logged in the experiment log when one is open: "running" when
// it starts, ended with all of its results (or its error) when it ends.
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <QFutureWatcher>
#include <QObject>

#include "export/verified_export.h"
#include "jobs/experiment.h"
#include "loaded_model.h"

namespace qs {
class ExperimentStore;
}
namespace qs::views {
class JobListModel;
}

namespace qs::gui {

/// Text for a run: a file (.jsonl or text) or text in memory (the demo's), and
/// the part of its tokens to use ([from, to) as fractions of the token count):
/// the demo calibrates on the first half of its text and evaluates on the second.
struct TextSource {
    QString path;                                // empty: `text`
    std::shared_ptr<const std::string> text;
    QString name;                                // what the log records ("demo text (first half)")
    double from = 0.0, to = 1.0;
    /// A whole file, named in the log by its absolute path.
    static TextSource file(const QString& path);
    /// Tokenizes the text (with the model's BOS convention) and cuts the range.
    std::vector<int> tokens(const Tokenizer& t) const;
    /// SHA-256 of the text (the file's bytes or the in-memory text), hex.
    QString contentHash() const;
};

/// The model's row in the experiment log (added once per path and content hash):
/// the demo by its name, a file by its absolute path.
int64_t addLoadedModel(ExperimentStore& store, const LoadedModel& l);

struct RunRequest {
    QString label;        // one line for the job panel, e.g. "auto-assign at 3.00 bits"
    QString experiment;   // the curve it belongs to
    std::shared_ptr<const LoadedModel> loaded;
    Recipe recipe;        // calibration settings included
    TextSource calib, eval;
    EvalOptions evalOptions;
    /// Also evaluate the float model on the same windows (the chart's reference
    /// line, KL divergence and top-1 agreement in the log); doubles the eval time.
    bool compareFp = true;
    /// Also write the quantized model (GGUF / GPTQ-packed) after the evaluation and
    /// read it back (exportVerified). A failed export leaves the run's results
    /// (logged as finished) and is reported in RunDone::exportError.
    std::optional<VerifiedExportRequest> exportTo;
};

struct RunDone {
    int jobId = 0;
    qint64 runId = 0;     // in the experiment log (0: not logged)
    QString label, experiment;
    bool ok = false, cancelled = false;
    QString error;
    /// When ok (the quantized model itself is not kept: quant.model is null).
    std::shared_ptr<const ExperimentResult> result;
    /// With RunRequest::exportTo: what was written and how it compared, or why not.
    QString exported, exportError;
    QStringList exportDetails;
};

class RunQueue : public QObject {
    Q_OBJECT
public:
    RunQueue(views::JobListModel* jobs, QObject* parent = nullptr);
    /// Cancels every run and waits for the running one to stop.
    ~RunQueue() override;

    /// The experiment log runs are recorded in (not owned; null: not logged). Set
    /// it from the GUI thread only; it is used there only.
    void setStore(ExperimentStore* store) { store_ = store; }
    /// What the log records as the runs' device (threads, compute backend).
    void setDeviceLabel(const QString& d) { device_ = d; }
    /// Adds a run; it starts when the runs before it have ended. Returns its job id.
    int enqueue(RunRequest r);
    /// Cancels a queued (never starts) or running (stops at its next check) run.
    void cancel(int jobId);
    void cancelAll();
    bool idle() const { return !current_ && queue_.empty(); }
    int pending() const { return int(queue_.size()) + (current_ ? 1 : 0); }
    /// The finished runs of this session, oldest first.
    const std::vector<RunDone>& done() const { return done_; }

Q_SIGNALS:
    void runStarted(int jobId);
    void runFinished(const qs::gui::RunDone& done);
    /// All queued runs have ended.
    void idleNow();
    /// The experiment log could not record a run (the run itself goes on).
    void logError(const QString& message);

private:
    struct Pending {
        int jobId = 0;
        RunRequest req;
        CancelToken cancel;
        qint64 runId = 0;
    };
    struct Outcome {
        std::shared_ptr<const ExperimentResult> result;
        QString error;
        bool cancelled = false;
        QString exported, exportError;
        QStringList exportDetails;
    };
    void startNext();
    void onFinished();
    void logBegin(Pending& p);
    void logEnd(const Pending& p, const Outcome& o);

    views::JobListModel* jobs_;
    ExperimentStore* store_ = nullptr;
    QString device_;
    std::deque<Pending> queue_;
    std::optional<Pending> current_;
    QFutureWatcher<Outcome> watcher_;
    std::vector<RunDone> done_;
};

}  // namespace qs::gui
