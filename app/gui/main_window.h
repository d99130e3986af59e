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

#include "alloc/sensitivity.h"
#include "calib/calibration.h"
#include "jobs/job.h"
#include "model/demo.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "quant/formats.h"

class QAction;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;

namespace qs::views {
class LayerTableModel;
class LayerProxyModel;
class SensitivityChart;
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
};

/// What a load produced.
struct LoadedModel {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Tokenizer> tokenizer;  // null when none was found (tokenizerError says why)
    QString tokenizerError;
    std::string demoText;  // the demo's own text (calibration of its analysis)
    bool demo = false;
    QString label;
};

struct LoadOutcome {
    std::shared_ptr<const LoadedModel> loaded;
    QString error;
};

struct AnalysisOutcome {
    std::shared_ptr<const SensitivityReport> report;
    QString error;
    bool cancelled = false;
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
    bool importRecipe(const QString& path);
    bool exportRecipe(const QString& path);

Q_SIGNALS:
    void modelLoaded(bool ok);
    void analysisFinished(bool ok);
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

    MainWindowOptions opt_;
    Job job_ = Job::None;
    std::shared_ptr<const LoadedModel> loaded_;
    QFutureWatcher<LoadOutcome> loadWatcher_;
    QFutureWatcher<AnalysisOutcome> analysisWatcher_;
    CancelToken cancel_;
    QString lastDir_;

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
};

/// `quantscope --screenshot`: builds the demo model, runs the analysis, the
/// auto-assignment at `budgetBits`, sorts the table by sensitivity (descending),
/// lays the window out at `size` and renders it with QWidget::grab(). Runs a
/// local event loop while the background jobs work. Returns a null image and sets
/// *error on failure or after timeoutMs.
QImage renderDemoScreenshot(const MainWindowOptions& opt, const QSize& size, double budgetBits, QString* error,
                            int timeoutMs = 600000);

}  // namespace qs::gui
