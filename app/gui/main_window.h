#pragma once
// QuantScope's main window: wires the views (layer table, sensitivity chart) to
// core's jobs. Long work runs off the GUI thread (QtConcurrent::run, watched by a
// QFutureWatcher): loading a model (the built-in demo takes seconds to build) and
// the sensitivity analysis. The analysis reports progress through core's
// JobContext (posted to the GUI thread as queued calls) and stops on Cancel
// through its CancelToken. Errors from core (qs::Error) are shown in a dialog with
// core's message.
#include <memory>
#include <string>

#include <QFutureWatcher>
#include <QImage>
#include <QMainWindow>

#include "alloc/allocate.h"
#include "alloc/sensitivity.h"
#include "calib/calibration.h"
#include "jobs/job.h"
#include "model/demo.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "loaded_model.h"
#include "quant/formats.h"
#include "run_queue.h"
#include "settings.h"

class QAction;
class QMenu;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;
class QTabWidget;
class QVBoxLayout;

namespace qs {
class ExperimentStore;
}

namespace qs::views {
class LayerTableModel;
class LayerProxyModel;
class SensitivityChart;
class JobListModel;
class JobPanel;
class PerplexityChart;
class HistoryView;
class OutlierHeatmap;
class LayerErrorChart;
}  // namespace qs::views

namespace qs::gui {

struct MainWindowOptions {
    /// Build and open the built-in demo model when the window opens.
    bool loadDemoAtStart = true;
    DemoOptions demo;
    /// Calibration of the demo's analysis: windows drawn from the demo's own text.
    CalibOptions demoCalib{8, 256, 0};
    /// SensitivityOptions::blockErrorTokens of the analysis.
    int blockErrorTokens = 4096;
    /// The analysis' candidate formats (empty: SensitivityOptions::defaultCandidates()).
    std::vector<QuantFormat> candidates;
    /// false: errors are only emitted (errorOccurred), no dialog (screenshot mode, tests).
    bool modalErrors = true;
    /// The experiment log: nullopt = the settings' path (default
    /// ExperimentStore::defaultPath(): QUANTSCOPE_DB or the app-data dir); an
    /// empty string = no log (runs are kept for this session only).
    std::optional<QString> databasePath;
    /// Read and write QSettings (the app); false: built-in defaults, nothing saved (tests, screenshots).
    bool persistentSettings = true;
};

/// What the Sweep button runs.
enum class SweepKind {
    Budgets,  // auto-assign (knapsack over the analysis) at each budget in bits/weight
    Formats,  // the table's method with one weight format for every layer, per format
};

struct LoadOutcome {
    std::shared_ptr<const LoadedModel> loaded;
    QString error;
};

struct AnalysisOutcome {
    std::shared_ptr<const SensitivityReport> report;
    QString error;
    bool cancelled = false;
    QString calibName, calibHash;  // the calibration text as the experiment log records it
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const MainWindowOptions& opt = {}, QWidget* parent = nullptr);
    /// Cancels a running analysis and waits for background work to end.
    ~MainWindow() override;

    views::LayerTableModel* tableModel() const { return table_; }
    views::LayerProxyModel* proxyModel() const { return proxy_; }
    views::SensitivityChart* chart() const { return chart_; }
    QTableView* tableView() const { return view_; }
    const LoadedModel* loaded() const { return loaded_.get(); }
    /// A model load or an analysis is running.
    bool busy() const { return job_ != Job::None; }
    bool analysing() const { return job_ == Job::Analysing; }
    QString totalsText() const;
    QString statusText() const;
    double budget() const;
    void setBudget(double bits);
    void setCalibration(int nsamples, int seqlen);

public Q_SLOTS:
    /// Builds the demo model in the background and opens it.
    void loadDemo();
    /// Opens a HF directory, .safetensors or llama2.c .bin in the background.
    void openModel(const QString& path);
    /// Starts the sensitivity analysis of the open model in the background. The
    /// calibration text is `calibPath` (.jsonl or text), or the demo's own text
    /// when it is empty and the demo is open. false (message shown) when it cannot start.
    bool startAnalysis(const QString& calibPath = {});
    /// Cancels the running analysis (its CancelToken).
    void cancelJob();
    /// Knapsack allocation at `budgetBits` average bits/weight over the report's
    /// candidates (cost: the block-output error when the report measured it, else
    /// the predicted error), applied to the table as one undo step.
    bool autoAssign(double budgetBits);
    /// Sets the method ("gptq", "boa", "awq+gptq", "mgptq", "none", ...) of the
    /// selected rows, formats kept (one undo step). Returns why not (message shown),
    /// or an empty string.
    QString setMethodOfSelection(const QString& method);
    bool importRecipe(const QString& path);
    bool exportRecipe(const QString& path);
    /// Queues a quantize + evaluate run of the table's current recipe (experiment
    /// = the Experiment field). Calibration: the analysis' text (the demo: the
    /// first half of its text); evaluation: the Eval text field (the demo: the
    /// second half). Returns the job id, 0 when it cannot start (message shown).
    int runCurrent();
    /// Queues a run of the table's current recipe (as runCurrent) that then writes
    /// the quantized model (`req`: GGUF or GPTQ-packed, path, re-quantize) and reads
    /// it back tensor by tensor. Returns the job id, 0 when it cannot start.
    int exportModel(const VerifiedExportRequest& req);
    /// The "Export model…" dialog, then exportModel.
    void chooseAndExportModel();
    /// Queues one run per value: budgets ("2.5, 3, 3.5") or format names
    /// ("int2-g64, int3-g64"); the experiment is named after the sweep. Returns
    /// the number of runs queued (0: message shown).
    int runSweep(SweepKind kind, const QString& values);
    /// Sets the text the runs evaluate on (empty: the demo's held-out half).
    void setEvalPath(const QString& path);
    void setExperimentName(const QString& name);
    RunQueue* runQueue() const { return runs_; }
    views::JobListModel* jobModel() const { return jobs_; }
    views::PerplexityChart* perplexityChart() const { return pplChart_; }
    views::HistoryView* historyView() const { return history_; }
    views::OutlierHeatmap* heatmap() const { return heatmap_; }
    views::LayerErrorChart* errorChart() const { return errorChart_; }
    QTabWidget* lowerTabs() const { return lowerTabs_; }
    QTabWidget* rightTabs() const { return rightTabs_; }
    /// The experiment log in use (null when none is open).
    ExperimentStore* store() const { return store_.get(); }
    /// Reads the runs from the log again (history view and curves).
    void refreshHistory();
    /// Applies a logged run's recipe to the table (one undo step).
    bool openRunRecipe(qint64 runId);
    /// Copies the table's recipe JSON to the clipboard.
    void copyRecipe();
    /// The settings dialog; applied at once (compute device, threads, log).
    void editSettings();
    const AppSettings& settings() const { return settings_; }
    /// Installs the settings' compute device and threads; returns what to tell the user.
    QString applyComputeSettings();
    /// What the log records as a run's device.
    QString deviceText() const { return deviceText_; }

Q_SIGNALS:
    void modelLoaded(bool ok);
    void analysisFinished(bool ok);
    /// A run ended (ok = finished with a perplexity) and the curves were updated.
    void runEnded(int jobId, bool ok);
    void progressChanged(double fraction, const QString& message);
    void errorOccurred(const QString& title, const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    enum class Job { None, Loading, Analysing };
    void buildUi();
    void startLoad(const QString& path, bool demo);
    void onLoaded();
    void onAnalysed();
    void onProgress(double fraction, const QString& message);
    void setJob(Job j, const QString& message = {});
    void updateActions();
    void updateTotals(double avgBits, double sizeMB);
    void showError(const QString& title, const QString& message);
    void chooseAndOpenModel(bool directory);
    void chooseCalibrationAndAnalyse();
    void applyToSelection();
    void buildRunPanel(QWidget* parent, QVBoxLayout* into);
    void openStore();
    bool prepareRun(RunRequest& r, QString* why) const;
    /// Records a finished analysis in the experiment log (sensitivity_reports),
    /// with the calibration text's path so a restore can reuse it.
    void logAnalysis(const SensitivityReport& rep, const QString& calibName, const QString& calibHash);
    /// On opening a model: the newest analysis of the same weights (content hash)
    /// from the log, shown as if just analysed. Returns whether one was restored.
    bool restoreAnalysis();
    /// A sensitivity report (just analysed or restored) into the table, the heatmap and the frontier.
    void showReport(const std::shared_ptr<const SensitivityReport>& rep);
    /// The table's recipe (canonical) and label into `r`, then prepareRun; shows
    /// the reason under `errorTitle` when it cannot run.
    bool prepareTableRun(RunRequest& r, const QString& errorTitle);
    void onRunFinished(const RunDone& d);
    void updateCurves();
    void updateFrontier();
    /// The per-layer errors of logged runs (at most four side by side).
    void showRunErrors(const std::vector<qint64>& ids);
    AllocCost allocCost() const;
    void updateRecentMenu();

    MainWindowOptions opt_;
    Job job_ = Job::None;
    std::shared_ptr<const LoadedModel> loaded_;
    QFutureWatcher<LoadOutcome> loadWatcher_;
    QFutureWatcher<AnalysisOutcome> analysisWatcher_;
    CancelToken cancel_;
    QString lastDir_;
    QString calibPath_;  // the analysis' calibration text (empty: the demo's own)
    QString evalPath_;   // what runs evaluate on (empty: the demo's held-out half)
    std::unique_ptr<ExperimentStore> store_;
    RunQueue* runs_ = nullptr;
    views::JobListModel* jobs_ = nullptr;
    views::JobPanel* jobPanel_ = nullptr;
    views::PerplexityChart* pplChart_ = nullptr;
    views::HistoryView* history_ = nullptr;
    views::OutlierHeatmap* heatmap_ = nullptr;
    views::LayerErrorChart* errorChart_ = nullptr;
    QTabWidget* lowerTabs_ = nullptr;
    QTabWidget* rightTabs_ = nullptr;
    QLineEdit* experiment_ = nullptr;
    QLineEdit* evalEdit_ = nullptr;
    QComboBox* sweepKind_ = nullptr;
    QLineEdit* sweepValues_ = nullptr;
    QPushButton* runButton_ = nullptr;
    QPushButton* sweepButton_ = nullptr;
    QAction* runAct_ = nullptr;
    QAction* copyAct_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    AppSettings settings_;
    QString deviceText_;
    bool ignoreLoad_ = false;

    views::LayerTableModel* table_ = nullptr;
    views::LayerProxyModel* proxy_ = nullptr;
    views::SensitivityChart* chart_ = nullptr;
    QTableView* view_ = nullptr;
    QLabel* modelLabel_ = nullptr;
    QLabel* totalsLabel_ = nullptr;
    QLabel* progressLabel_ = nullptr;
    QLineEdit* filter_ = nullptr;
    QComboBox* formatCombo_ = nullptr;
    QPushButton* applyButton_ = nullptr;
    QSpinBox* nsamples_ = nullptr;
    QSpinBox* seqlen_ = nullptr;
    QDoubleSpinBox* budget_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* cancelButton_ = nullptr;
    QAction* openAct_ = nullptr;
    QAction* openDirAct_ = nullptr;
    QAction* demoAct_ = nullptr;
    QAction* analyseAct_ = nullptr;
    QAction* cancelAct_ = nullptr;
    QAction* autoAct_ = nullptr;
    QAction* importAct_ = nullptr;
    QAction* exportAct_ = nullptr;
    QAction* exportModelAct_ = nullptr;
    QMenu* methodMenu_ = nullptr;
};

/// `quantscope --screenshot`: builds the demo model, runs the analysis, the
/// auto-assignment at `budgetBits`, then two experiments compared (an auto-assign
/// sweep over budgets and uniform GPTQ at three formats, logged in a temporary
/// experiment log), sorts the table by sensitivity (descending), lays the window
/// out at `size` and renders it with QWidget::grab(). Runs a
/// local event loop while the background jobs work. Returns a null image and sets
/// *error on failure or after timeoutMs.
/// `lowerTab` picks the tab under the table by index (0 sensitivity, 1 outlier
/// channels, 2 per-layer errors of the runs).
QImage renderDemoScreenshot(const MainWindowOptions& opt, const QSize& size, double budgetBits, QString* error, int lowerTab,
                            int timeoutMs = 600000);

}  // namespace qs::gui
