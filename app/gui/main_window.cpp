#include "main_window.h"

#include <algorithm>
#include <cmath>

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QUndoStack>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "alloc/allocate.h"
#include "bits_delegate.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "layer_proxy_model.h"
#include "layer_table_model.h"
#include "model/hf_loader.h"
#include "recipe/recipe.h"
#include "sensitivity_chart.h"
#include "util/error.h"

namespace qs::gui {

using views::LayerProxyModel;
using views::LayerTableModel;

namespace {

QString millions(int64_t n) { return QString::number(double(n) / 1e6, 'f', 2) + QStringLiteral(" M"); }

bool reportHasBlockErrors(const SensitivityReport& r) {
    bool block = !r.layers.empty();
    for (const LayerSensitivity& l : r.layers)
        for (const CandidateCost& c : l.candidates) block = block && std::isfinite(c.blockError);
    return block;
}

}  // namespace

MainWindow::MainWindow(const MainWindowOptions& opt, QWidget* parent) : QMainWindow(parent), opt_(opt) {
    setWindowTitle(QStringLiteral("QuantScope"));
    setAcceptDrops(true);
    buildUi();
    connect(&loadWatcher_, &QFutureWatcher<LoadOutcome>::finished, this, &MainWindow::onLoaded);
    connect(&analysisWatcher_, &QFutureWatcher<AnalysisOutcome>::finished, this, &MainWindow::onAnalysed);
    updateActions();
    if (opt_.loadDemoAtStart) QTimer::singleShot(0, this, &MainWindow::loadDemo);
}

MainWindow::~MainWindow() {
    cancel_.cancel();
    analysisWatcher_.waitForFinished();
    loadWatcher_.waitForFinished();
}

void MainWindow::buildUi() {
    table_ = new LayerTableModel(this);
    proxy_ = new LayerProxyModel(this);
    proxy_->setSourceModel(table_);

    // --- actions and menus
    openAct_ = new QAction(QStringLiteral("&Open model file…"), this);
    openAct_->setShortcut(QKeySequence::Open);
    openAct_->setToolTip(QStringLiteral("Open a .safetensors file (config.json beside it) or a llama2.c .bin"));
    openDirAct_ = new QAction(QStringLiteral("Open model &directory…"), this);
    openDirAct_->setToolTip(QStringLiteral("Open a Hugging Face model directory (config.json + model.safetensors)"));
    demoAct_ = new QAction(QStringLiteral("Open &demo model"), this);
    demoAct_->setToolTip(QStringLiteral("The built-in synthetic LLaMA-architecture model (no download)"));
    openDirAct_->setIconText(QStringLiteral("Open model…"));
    demoAct_->setIconText(QStringLiteral("Demo model"));
    analyseAct_ = new QAction(QStringLiteral("&Analyse"), this);
    analyseAct_->setToolTip(QStringLiteral("Per-layer sensitivity and outlier analysis on calibration text (background job)"));
    cancelAct_ = new QAction(QStringLiteral("&Cancel analysis"), this);
    autoAct_ = new QAction(QStringLiteral("A&uto-assign"), this);
    autoAct_->setToolTip(QStringLiteral("Choose a format per layer minimising the total error within the budget "
                                        "(exact multiple-choice knapsack over the analysis' candidates); one undo step"));
    importAct_ = new QAction(QStringLiteral("&Import recipe…"), this);
    exportAct_ = new QAction(QStringLiteral("&Export recipe…"), this);
    QAction* undoAct = table_->undoStack()->createUndoAction(this, QStringLiteral("&Undo"));
    undoAct->setShortcut(QKeySequence::Undo);
    QAction* redoAct = table_->undoStack()->createRedoAction(this, QStringLiteral("&Redo"));
    redoAct->setShortcut(QKeySequence::Redo);
    undoAct->setIconText(QStringLiteral("Undo"));  // the toolbar keeps short labels; the menu names the step
    redoAct->setIconText(QStringLiteral("Redo"));
    auto* quitAct = new QAction(QStringLiteral("&Quit"), this);
    quitAct->setShortcut(QKeySequence::Quit);

    QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
    file->addAction(openDirAct_);
    file->addAction(openAct_);
    file->addAction(demoAct_);
    file->addSeparator();
    file->addAction(importAct_);
    file->addAction(exportAct_);
    file->addSeparator();
    file->addAction(quitAct);
    QMenu* edit = menuBar()->addMenu(QStringLiteral("&Edit"));
    edit->addAction(undoAct);
    edit->addAction(redoAct);
    QMenu* analysis = menuBar()->addMenu(QStringLiteral("&Analysis"));
    analysis->addAction(analyseAct_);
    analysis->addAction(cancelAct_);
    analysis->addAction(autoAct_);
    QMenu* help = menuBar()->addMenu(QStringLiteral("&Help"));
    help->addAction(QStringLiteral("&About QuantScope"), this, [this] {
        QMessageBox::about(this, QStringLiteral("About QuantScope"),
                           QStringLiteral("QuantScope %1\nA workbench for post-training quantization of LLMs.")
                               .arg(QCoreApplication::applicationVersion()));
    });

    connect(openAct_, &QAction::triggered, this, [this] { chooseAndOpenModel(false); });
    connect(openDirAct_, &QAction::triggered, this, [this] { chooseAndOpenModel(true); });
    connect(demoAct_, &QAction::triggered, this, &MainWindow::loadDemo);
    connect(analyseAct_, &QAction::triggered, this, &MainWindow::chooseCalibrationAndAnalyse);
    connect(cancelAct_, &QAction::triggered, this, &MainWindow::cancelJob);
    connect(autoAct_, &QAction::triggered, this, [this] { autoAssign(budget()); });
    connect(quitAct, &QAction::triggered, this, &QWidget::close);
    connect(importAct_, &QAction::triggered, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, QStringLiteral("Import recipe"), lastDir_,
                                                       QStringLiteral("Recipes (*.json);;All files (*)"));
        if (p.isEmpty()) return;
        lastDir_ = QFileInfo(p).absolutePath();
        importRecipe(p);
    });
    connect(exportAct_, &QAction::triggered, this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, QStringLiteral("Export recipe"),
                                                       lastDir_.isEmpty() ? QStringLiteral("recipe.json") : lastDir_ + QStringLiteral("/recipe.json"),
                                                       QStringLiteral("Recipes (*.json);;All files (*)"));
        if (p.isEmpty()) return;
        lastDir_ = QFileInfo(p).absolutePath();
        exportRecipe(p);
    });

    // --- toolbar: the workflow left to right
    QToolBar* tb = addToolBar(QStringLiteral("Main"));
    tb->setMovable(false);
    tb->setToolButtonStyle(Qt::ToolButtonTextOnly);
    tb->addAction(openDirAct_);
    tb->addAction(demoAct_);
    tb->addSeparator();
    tb->addWidget(new QLabel(QStringLiteral(" Calibration: "), this));
    nsamples_ = new QSpinBox(this);
    nsamples_->setRange(1, 4096);
    nsamples_->setToolTip(QStringLiteral("Calibration windows drawn from the text (seeded)"));
    tb->addWidget(nsamples_);
    tb->addWidget(new QLabel(QStringLiteral(" × "), this));
    seqlen_ = new QSpinBox(this);
    seqlen_->setRange(8, 1 << 20);
    seqlen_->setSuffix(QStringLiteral(" tokens"));
    seqlen_->setToolTip(QStringLiteral("Tokens per calibration window"));
    tb->addWidget(seqlen_);
    tb->addAction(analyseAct_);
    tb->addSeparator();
    tb->addWidget(new QLabel(QStringLiteral(" Budget: "), this));
    budget_ = new QDoubleSpinBox(this);
    budget_->setRange(2.0, 16.0);
    budget_->setDecimals(2);
    budget_->setSingleStep(0.25);
    budget_->setValue(3.0);
    budget_->setSuffix(QStringLiteral(" bits"));
    budget_->setToolTip(QStringLiteral("Average bits per weight over the quantizable linears, scales and zero points included"));
    tb->addWidget(budget_);
    tb->addAction(autoAct_);
    tb->addSeparator();
    tb->addAction(importAct_);
    tb->addAction(exportAct_);
    tb->addSeparator();
    tb->addAction(undoAct);
    tb->addAction(redoAct);

    // --- central: model line, filter/selection row, table over chart
    auto* central = new QWidget(this);
    auto* v = new QVBoxLayout(central);
    v->setContentsMargins(6, 4, 6, 2);
    v->setSpacing(4);

    auto* top = new QHBoxLayout();
    modelLabel_ = new QLabel(QStringLiteral("No model"), this);
    modelLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    modelLabel_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // clipped, never pushes the totals out
    totalsLabel_ = new QLabel(this);
    QFont bold = totalsLabel_->font();
    bold.setBold(true);
    totalsLabel_->setFont(bold);
    totalsLabel_->setToolTip(QStringLiteral(
        "Average bits per weight: parameter-weighted over the quantizable linears, scales and zero points included "
        "(float rows count as fp16).\nModel size (MB = 10^6 bytes): the linears at their bits plus every other tensor "
        "(embeddings, lm_head, norms, biases) at fp16."));
    top->addWidget(modelLabel_, 1);
    top->addWidget(totalsLabel_);
    v->addLayout(top);

    auto* row = new QHBoxLayout();
    row->addWidget(new QLabel(QStringLiteral("Filter:"), this));
    filter_ = new QLineEdit(this);
    filter_->setPlaceholderText(QStringLiteral("layer name, e.g. mlp or layers.1*.q_proj"));
    filter_->setClearButtonEnabled(true);
    filter_->setMinimumWidth(260);
    row->addWidget(filter_);
    row->addSpacing(16);
    row->addWidget(new QLabel(QStringLiteral("Selected rows:"), this));
    formatCombo_ = new QComboBox(this);
    for (const QuantFormat& f : views::selectableFormats()) formatCombo_->addItem(QString::fromStdString(f.name()));
    formatCombo_->setCurrentText(QStringLiteral("int4-g128"));
    formatCombo_->setToolTip(QStringLiteral("Weight format to set on every selected row"));
    row->addWidget(formatCombo_);
    applyButton_ = new QPushButton(QStringLiteral("Set format"), this);
    applyButton_->setToolTip(QStringLiteral("Set the format on all selected rows (one undo step)"));
    row->addWidget(applyButton_);
    row->addStretch(1);
    auto* hint = new QLabel(QStringLiteral("Double-click a weight format to change its bits; click a header to sort."), this);
    hint->setStyleSheet(QStringLiteral("color: palette(mid);"));
    row->addWidget(hint);
    v->addLayout(row);

    view_ = new QTableView(this);
    view_->setModel(proxy_);
    view_->setItemDelegateForColumn(LayerTableModel::ColFormat, new views::BitsDelegate(view_));
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    view_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed | QAbstractItemView::SelectedClicked);
    view_->setSortingEnabled(true);
    view_->sortByColumn(LayerTableModel::ColBlock, Qt::AscendingOrder);
    view_->setAlternatingRowColors(true);
    view_->verticalHeader()->setVisible(false);
    view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 6);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setWordWrap(false);

    chart_ = new views::SensitivityChart(this);
    chart_->setTableModel(table_);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(view_);
    split->addWidget(chart_);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    split->setChildrenCollapsible(false);
    split->setSizes({360, 380});
    v->addWidget(split, 1);
    setCentralWidget(central);

    // --- status bar: messages, progress, cancel
    progressLabel_ = new QLabel(this);
    progress_ = new QProgressBar(this);
    progress_->setRange(0, 1000);
    progress_->setFixedWidth(220);
    progress_->setTextVisible(true);
    cancelButton_ = new QPushButton(QStringLiteral("Cancel"), this);
    cancelButton_->setToolTip(QStringLiteral("Cancel the running analysis"));
    statusBar()->addWidget(progressLabel_, 1);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(cancelButton_);
    progress_->hide();
    cancelButton_->hide();
    connect(cancelButton_, &QPushButton::clicked, this, &MainWindow::cancelJob);

    connect(filter_, &QLineEdit::textChanged, proxy_, &LayerProxyModel::setNameFilter);
    connect(applyButton_, &QPushButton::clicked, this, &MainWindow::applyToSelection);
    connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::updateActions);
    connect(table_, &LayerTableModel::totalsChanged, this, &MainWindow::updateTotals);
    connect(table_, &LayerTableModel::reportChanged, this, &MainWindow::updateActions);
    updateTotals(table_->averageBits(), table_->sizeMB());
}

// ----------------------------------------------------------------------------
// state

void MainWindow::setJob(Job j, const QString& message) {
    job_ = j;
    progressLabel_->setText(message);
    if (j == Job::None) {
        progress_->hide();
        cancelButton_->hide();
    } else {
        progress_->show();
        if (j == Job::Loading) {
            progress_->setRange(0, 0);  // busy: loading reports no fractions
        } else {
            progress_->setRange(0, 1000);
            progress_->setValue(0);
        }
        cancelButton_->setVisible(j == Job::Analysing);
    }
    updateActions();
}

void MainWindow::updateActions() {
    const bool haveModel = loaded_ && table_->rowCount() > 0;
    const bool idle = job_ == Job::None;
    openAct_->setEnabled(idle);
    openDirAct_->setEnabled(idle);
    demoAct_->setEnabled(idle);
    analyseAct_->setEnabled(idle && haveModel);
    cancelAct_->setEnabled(job_ == Job::Analysing);
    autoAct_->setEnabled(haveModel && table_->report() && job_ != Job::Loading);
    budget_->setEnabled(autoAct_->isEnabled());
    importAct_->setEnabled(haveModel && job_ != Job::Loading);
    exportAct_->setEnabled(haveModel && job_ != Job::Loading);
    nsamples_->setEnabled(idle && haveModel);
    seqlen_->setEnabled(idle && haveModel);
    applyButton_->setEnabled(haveModel && view_->selectionModel() && view_->selectionModel()->hasSelection());
}

void MainWindow::updateTotals(double avgBits, double sizeMB) {
    if (table_->rowCount() == 0) {
        totalsLabel_->setText(QStringLiteral("no layers"));
        return;
    }
    totalsLabel_->setText(QStringLiteral("Average %1 bits/weight  ·  model %2 MB (fp16: %3 MB)")
                              .arg(avgBits, 0, 'f', 3)
                              .arg(sizeMB, 0, 'f', 2)
                              .arg(table_->fp16SizeMB(), 0, 'f', 2));
}

QString MainWindow::totalsText() const { return totalsLabel_->text(); }
QString MainWindow::statusText() const { return progressLabel_->text(); }
double MainWindow::budget() const { return budget_->value(); }
void MainWindow::setBudget(double bits) { budget_->setValue(bits); }

void MainWindow::setCalibration(int nsamples, int seqlen) {
    nsamples_->setValue(nsamples);
    seqlen_->setValue(seqlen);
}

void MainWindow::showError(const QString& title, const QString& message) {
    progressLabel_->setText(title);
    Q_EMIT errorOccurred(title, message);
    if (opt_.modalErrors) QMessageBox::critical(this, title, message);
}

void MainWindow::onProgress(double fraction, const QString& message) {
    if (job_ != Job::Analysing) return;
    progress_->setValue(int(std::lround(1000.0 * std::clamp(fraction, 0.0, 1.0))));
    progressLabel_->setText(QStringLiteral("Analysing: %1").arg(message));
    Q_EMIT progressChanged(fraction, message);
}

// ----------------------------------------------------------------------------
// loading

void MainWindow::loadDemo() { startLoad(QString(), true); }

void MainWindow::openModel(const QString& path) { startLoad(path, false); }

void MainWindow::chooseAndOpenModel(bool directory) {
    QString p;
    if (directory)
        p = QFileDialog::getExistingDirectory(this, QStringLiteral("Open a Hugging Face model directory"), lastDir_);
    else
        p = QFileDialog::getOpenFileName(this, QStringLiteral("Open a model file"), lastDir_,
                                         QStringLiteral("Checkpoints (*.safetensors *.bin);;All files (*)"));
    if (p.isEmpty()) return;
    lastDir_ = directory ? QFileInfo(p).absoluteFilePath() : QFileInfo(p).absolutePath();
    openModel(p);
}

void MainWindow::startLoad(const QString& path, bool demo) {
    if (job_ != Job::None) {
        showError(QStringLiteral("Busy"), QStringLiteral("Wait for the running job to finish (or cancel it) before opening a model."));
        return;
    }
    setJob(Job::Loading, demo ? QStringLiteral("Building the demo model (synthetic, a few seconds)…")
                              : QStringLiteral("Opening %1…").arg(path));
    const DemoOptions demoOpt = opt_.demo;
    loadWatcher_.setFuture(QtConcurrent::run([path, demo, demoOpt]() -> LoadOutcome {
        LoadOutcome o;
        try {
            auto l = std::make_shared<LoadedModel>();
            if (demo) {
                Demo d = makeDemo(demoOpt);
                l->model = d.model;
                l->tokenizer = std::shared_ptr<const Tokenizer>(std::move(d.tokenizer));
                l->demoText = std::move(d.evalText);
                l->demo = true;
                l->label = QStringLiteral("demo model (synthetic LLaMA)");
            } else {
                std::shared_ptr<Model> m = loadModel(path);
                l->model = m;
                l->label = QFileInfo(path).absoluteFilePath();
                try {
                    std::unique_ptr<Tokenizer> t = loadTokenizerFor(path, QString(), m->config);
                    if (t->vocabSize() > m->config.vocabSize)
                        throw Error(QStringLiteral("the tokenizer next to the model has %1 tokens but the model's vocabulary is %2")
                                        .arg(t->vocabSize()).arg(m->config.vocabSize));
                    l->tokenizer = std::shared_ptr<const Tokenizer>(std::move(t));
                } catch (const std::exception& e) {
                    l->tokenizerError = QString::fromUtf8(e.what());
                }
            }
            o.loaded = std::move(l);
        } catch (const std::exception& e) {
            o.error = QString::fromUtf8(e.what());
        }
        return o;
    }));
}

void MainWindow::onLoaded() {
    const LoadOutcome o = loadWatcher_.result();
    setJob(Job::None);
    if (!o.loaded) {
        showError(QStringLiteral("Cannot open the model"), o.error);
        Q_EMIT modelLoaded(false);
        return;
    }
    loaded_ = o.loaded;
    const Model& m = *loaded_->model;
    filter_->clear();
    table_->setModel(m);
    view_->resizeColumnsToContents();
    view_->setColumnWidth(LayerTableModel::ColFormat, std::max(view_->columnWidth(LayerTableModel::ColFormat), 190));
    view_->setColumnWidth(LayerTableModel::ColSensitivity, std::max(view_->columnWidth(LayerTableModel::ColSensitivity), 95));
    view_->setColumnWidth(LayerTableModel::ColErrorAtFormat, std::max(view_->columnWidth(LayerTableModel::ColErrorAtFormat), 105));
    view_->setColumnWidth(LayerTableModel::ColOutlier, std::max(view_->columnWidth(LayerTableModel::ColOutlier), 70));
    const int maxSeq = std::max(8, m.config.maxPositions);
    seqlen_->setMaximum(maxSeq);
    if (loaded_->demo)
        setCalibration(opt_.demoCalib.nsamples, std::min(opt_.demoCalib.seqlen, maxSeq));
    else
        setCalibration(128, std::min(2048, maxSeq));
    const int64_t params = m.numParams();
    modelLabel_->setText(QStringLiteral("<b>%1</b> — %2, %3 blocks, %4 parameters, %5 quantizable linears (%6 weights)%7")
                             .arg((loaded_->demo ? loaded_->label : QFileInfo(loaded_->label).fileName()).toHtmlEscaped(),
                                  QString::fromStdString(m.config.modelType))
                             .arg(m.blocks.size())
                             .arg(millions(params))
                             .arg(table_->rowCount())
                             .arg(millions(table_->linearParams()))
                             .arg(loaded_->tokenizer ? QString() : QStringLiteral(" — <i>no tokenizer found</i>")));
    modelLabel_->setToolTip(loaded_->label + (loaded_->tokenizer ? QString() : QStringLiteral("\n") + loaded_->tokenizerError));
    setWindowTitle(QStringLiteral("QuantScope — %1").arg(loaded_->demo ? QStringLiteral("demo model") : QFileInfo(loaded_->label).fileName()));
    progressLabel_->setText(QStringLiteral("Opened %1. Analyse to measure per-layer sensitivity.").arg(loaded_->label));
    updateActions();
    Q_EMIT modelLoaded(true);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
    if (e->mimeData()->hasUrls() && !e->mimeData()->urls().isEmpty() && e->mimeData()->urls().front().isLocalFile())
        e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
    const QList<QUrl> urls = e->mimeData()->urls();
    if (urls.isEmpty() || !urls.front().isLocalFile()) return;
    e->acceptProposedAction();
    const QString path = urls.front().toLocalFile();
    if (path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive) && QFileInfo(path).fileName() != QLatin1String("config.json") &&
        loaded_)
        importRecipe(path);  // a recipe dropped on an open model
    else
        openModel(QFileInfo(path).fileName() == QLatin1String("config.json") ? QFileInfo(path).absolutePath() : path);
}

// ----------------------------------------------------------------------------
// analysis

void MainWindow::chooseCalibrationAndAnalyse() {
    if (!loaded_) return;
    if (loaded_->demo) {
        startAnalysis();
        return;
    }
    const QString p = QFileDialog::getOpenFileName(this, QStringLiteral("Calibration text for the analysis"), lastDir_,
                                                   QStringLiteral("Text (*.jsonl *.txt);;All files (*)"));
    if (p.isEmpty()) return;
    lastDir_ = QFileInfo(p).absolutePath();
    startAnalysis(p);
}

bool MainWindow::startAnalysis(const QString& calibPath) {
    if (!loaded_) {
        showError(QStringLiteral("No model"), QStringLiteral("Open a model first."));
        return false;
    }
    if (job_ != Job::None) {
        showError(QStringLiteral("Busy"), QStringLiteral("A job is already running."));
        return false;
    }
    if (!loaded_->tokenizer) {
        showError(QStringLiteral("No tokenizer"), QStringLiteral("The analysis needs the model's tokenizer to read calibration text:\n") +
                                                      loaded_->tokenizerError);
        return false;
    }
    if (calibPath.isEmpty() && !loaded_->demo) {
        showError(QStringLiteral("No calibration text"), QStringLiteral("Choose a calibration text (.jsonl or text file)."));
        return false;
    }
    const std::shared_ptr<const LoadedModel> l = loaded_;
    const CalibOptions calib{nsamples_->value(), seqlen_->value(), 0};
    SensitivityOptions sopt;
    sopt.candidates = opt_.candidates.empty() ? SensitivityOptions::defaultCandidates() : opt_.candidates;
    sopt.blockErrorTokens = opt_.blockErrorTokens;
    cancel_ = CancelToken();
    JobContext ctx;
    ctx.cancel = cancel_;
    // called on the worker thread: post to the GUI thread (the destructor waits for the job)
    ctx.progress = [this](double f, const std::string& m) {
        QMetaObject::invokeMethod(this, [this, f, msg = QString::fromStdString(m)] { onProgress(f, msg); }, Qt::QueuedConnection);
    };
    setJob(Job::Analysing, QStringLiteral("Analysing: reading the calibration text…"));
    analysisWatcher_.setFuture(QtConcurrent::run([l, calib, sopt, ctx, calibPath]() -> AnalysisOutcome {
        AnalysisOutcome o;
        try {
            ctx.report(0, "tokenizing the calibration text");
            const std::string text = calibPath.isEmpty() ? l->demoText : loadText(calibPath);
            const std::vector<int> ids = l->tokenizer->encodeForModel(text);
            ctx.check();
            const std::vector<int> tokens = sampleCalibration(ids, calib);
            auto rep = std::make_shared<SensitivityReport>(analyzeSensitivity(*l->model, tokens, calib, sopt, ctx));
            o.report = std::move(rep);
        } catch (const Cancelled&) {
            o.cancelled = true;
        } catch (const std::exception& e) {
            o.error = QString::fromUtf8(e.what());
        }
        return o;
    }));
    return true;
}

void MainWindow::cancelJob() {
    if (job_ != Job::Analysing) return;
    cancel_.cancel();
    progressLabel_->setText(QStringLiteral("Cancelling the analysis…"));
}

void MainWindow::onAnalysed() {
    const AnalysisOutcome o = analysisWatcher_.result();
    setJob(Job::None);
    if (o.cancelled) {
        progressLabel_->setText(QStringLiteral("Analysis cancelled."));
        Q_EMIT analysisFinished(false);
        return;
    }
    if (!o.report) {
        showError(QStringLiteral("The analysis failed"), o.error);
        Q_EMIT analysisFinished(false);
        return;
    }
    table_->setReport(o.report);
    progressLabel_->setText(QStringLiteral("Analysed %1 layers in %2 s (%3 × %4 calibration tokens). Set a budget and Auto-assign, or edit bits by hand.")
                                .arg(o.report->layers.size())
                                .arg(o.report->seconds, 0, 'f', 1)
                                .arg(o.report->calib.nsamples)
                                .arg(o.report->calib.seqlen));
    updateActions();
    Q_EMIT analysisFinished(true);
}

// ----------------------------------------------------------------------------
// editing

void MainWindow::applyToSelection() {
    const QList<int> rows = proxy_->sourceRows(view_->selectionModel()->selectedRows());
    if (rows.isEmpty()) return;
    const auto f = QuantFormat::parse(formatCombo_->currentText().toStdString());
    if (!f) return;
    table_->setFormats(rows, *f);
    progressLabel_->setText(QStringLiteral("Set %1 layer(s) to %2.").arg(rows.size()).arg(formatCombo_->currentText()));
}

bool MainWindow::autoAssign(double budgetBits) {
    const SensitivityReport* rep = table_->report();
    if (!rep) {
        showError(QStringLiteral("Auto-assign"), QStringLiteral("Run Analyse first: the allocation needs the per-layer sensitivity."));
        return false;
    }
    try {
        const AllocCost cost = reportHasBlockErrors(*rep) ? AllocCost::Block : AllocCost::Predicted;
        const std::vector<AllocItem> items = allocItemsFromReport(*rep, {}, cost);
        const Allocation a = allocateKnapsack(items, budgetBits);
        std::vector<std::pair<int, QuantFormat>> changes;
        for (size_t i = 0; i < items.size(); ++i) {
            const int r = table_->rowOf(items[i].name);
            if (r < 0) throw Error(QStringLiteral("the report's layer '%1' is not in the open model").arg(QString::fromStdString(items[i].name)));
            changes.emplace_back(r, items[i].choices[size_t(a.choice[i])].format);
        }
        table_->setFormatsPerRow(changes, QStringLiteral("Auto-assign at %1 bits/weight").arg(budgetBits, 0, 'f', 2));
        progressLabel_->setText(QStringLiteral("Auto-assign: %1 bits/weight within the budget of %2 (total %3 %4).")
                                    .arg(a.avgBits, 0, 'f', 3)
                                    .arg(budgetBits, 0, 'f', 2)
                                    .arg(QLatin1String(allocCostName(cost)) + QStringLiteral(" error"))
                                    .arg(a.error, 0, 'g', 4));
        return true;
    } catch (const std::exception& e) {
        showError(QStringLiteral("Auto-assign failed"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::importRecipe(const QString& path) {
    if (!loaded_) {
        showError(QStringLiteral("Import recipe"), QStringLiteral("Open a model first."));
        return false;
    }
    try {
        const Recipe r = Recipe::load(path);
        table_->applyRecipe(r, QStringLiteral("Import %1").arg(QFileInfo(path).fileName()));
        std::vector<std::string> names;
        for (int i = 0; i < table_->rowCount(); ++i) names.push_back(table_->row(i).name);
        QStringList warn;
        for (const QString& w : r.unmatchedPatterns(names)) warn << w;
        progressLabel_->setText(warn.isEmpty() ? QStringLiteral("Imported %1.").arg(path)
                                               : QStringLiteral("Imported %1; warning: %2").arg(path, warn.join(QStringLiteral("; "))));
        return true;
    } catch (const std::exception& e) {
        showError(QStringLiteral("Cannot import the recipe"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::exportRecipe(const QString& path) {
    if (!loaded_) {
        showError(QStringLiteral("Export recipe"), QStringLiteral("Open a model first."));
        return false;
    }
    try {
        const QByteArray bytes = table_->toRecipe().toJsonBytes();
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
            throw Error(QStringLiteral("%1: cannot write the recipe: %2").arg(path, f.errorString()));
        progressLabel_->setText(QStringLiteral("Exported the recipe to %1.").arg(path));
        return true;
    } catch (const std::exception& e) {
        showError(QStringLiteral("Cannot export the recipe"), QString::fromUtf8(e.what()));
        return false;
    }
}

// ----------------------------------------------------------------------------

QImage renderDemoScreenshot(const MainWindowOptions& options, const QSize& size, double budgetBits, QString* error, int timeoutMs) {
    MainWindowOptions opt = options;
    opt.loadDemoAtStart = false;
    opt.modalErrors = false;
    MainWindow w(opt);
    QString err;
    QObject::connect(&w, &MainWindow::errorOccurred, &w, [&err](const QString& t, const QString& m) {
        if (err.isEmpty()) err = t + QStringLiteral(": ") + m;
    });
    w.setAttribute(Qt::WA_DontShowOnScreen);
    w.resize(size);
    w.show();
    bool analysed = false;
    QEventLoop loop;
    QObject::connect(&w, &MainWindow::modelLoaded, &loop, [&](bool ok) {
        if (!ok || !w.startAnalysis()) loop.quit();
    });
    QObject::connect(&w, &MainWindow::analysisFinished, &loop, [&](bool ok) {
        analysed = ok;
        loop.quit();
    });
    QTimer::singleShot(timeoutMs, &loop, [&] {
        if (err.isEmpty()) err = QStringLiteral("timed out after %1 s").arg(timeoutMs / 1000);
        loop.quit();
    });
    w.loadDemo();
    loop.exec();
    auto fail = [&](const QString& m) {
        if (error) *error = m;
        w.cancelJob();
        return QImage();
    };
    if (!analysed) return fail(err.isEmpty() ? QStringLiteral("the analysis did not finish") : err);
    if (!w.autoAssign(budgetBits)) return fail(err);
    // the most sensitive layers first
    w.tableView()->sortByColumn(views::LayerTableModel::ColSensitivity, Qt::DescendingOrder);
    w.resize(size);
    for (int i = 0; i < 5; ++i) QCoreApplication::processEvents();
    QImage img = w.grab().toImage();
    if (img.isNull()) return fail(QStringLiteral("QWidget::grab() returned an empty image"));
    return img;
}

}  // namespace qs::gui
