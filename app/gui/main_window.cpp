#include "main_window.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QEventLoop>
#include <QFileDialog>
#include <QDateTime>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenuBar>
#include <QMenu>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QStyle>
#include <QToolButton>
#include <QTemporaryDir>
#include <QTabWidget>
#include <QThread>
#include <QTimer>
#include <QToolBar>
#include <QUndoStack>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "alloc/allocate.h"
#include "bits_delegate.h"
#include "export_dialog.h"
#include "model/save.h"
#include "compute/backend.h"
#include "compute/threads.h"
#include "opencl/clwrap.h"
#include "opencl/opencl_backend.h"
#include "history_view.h"
#include "layer_error_chart.h"
#include "outlier_heatmap.h"
#include "job_panel.h"
#include "perplexity_chart.h"
#include "store/results.h"
#include "store/store.h"
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

/// The demo calibrates (analysis and runs) on the first half of its own text;
/// runs evaluate on the second half.
TextSource demoCalibration(const LoadedModel& l) { return TextSource{QString(), l.demoText, QStringLiteral("demo:text[0:0.5]"), 0.0, 0.5}; }

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
    if (opt_.persistentSettings) settings_ = AppSettings::load();
    buildUi();
    updateRecentMenu();
    applyComputeSettings();
    connect(&loadWatcher_, &QFutureWatcher<LoadOutcome>::finished, this, &MainWindow::onLoaded);
    connect(&analysisWatcher_, &QFutureWatcher<AnalysisOutcome>::finished, this, &MainWindow::onAnalysed);
    openStore();
    runs_->setStore(store_.get());
    refreshHistory();
    updateActions();
    if (opt_.loadDemoAtStart) QTimer::singleShot(0, this, &MainWindow::loadDemo);
}

MainWindow::~MainWindow() {
    // the run queue cancels its runs and waits for the running one before the log closes
    runs_->setStore(nullptr);
    delete runs_;
    runs_ = nullptr;
    cancel_.cancel();
    analysisWatcher_.waitForFinished();
    loadWatcher_.waitForFinished();
}

void MainWindow::buildUi() {
    table_ = new LayerTableModel(this);
    proxy_ = new LayerProxyModel(this);
    proxy_->setSourceModel(table_);

    // --- actions and menus
    openAct_ = new QAction(tr("&Open model file…"), this);
    openAct_->setShortcut(QKeySequence::Open);
    openAct_->setToolTip(tr("Open a .safetensors file (config.json beside it), a llama2.c .bin or a GGUF file"));
    openDirAct_ = new QAction(tr("Open model &directory…"), this);
    openDirAct_->setToolTip(tr("Open a Hugging Face model directory (config.json + model.safetensors)"));
    demoAct_ = new QAction(tr("Open &demo model"), this);
    demoAct_->setToolTip(tr("The built-in synthetic LLaMA-architecture model (no download)"));
    openDirAct_->setIconText(tr("Open model…"));
    demoAct_->setIconText(tr("Demo model"));
    analyseAct_ = new QAction(tr("&Analyse"), this);
    analyseAct_->setToolTip(tr("Per-layer sensitivity and outlier analysis on calibration text (background job)"));
    cancelAct_ = new QAction(tr("&Cancel loading / analysis"), this);
    autoAct_ = new QAction(tr("A&uto-assign"), this);
    autoAct_->setToolTip(tr("Choose a format per layer minimising the total error within the budget "
                                        "(exact multiple-choice knapsack over the analysis' candidates); one undo step"));
    runAct_ = new QAction(tr("&Run"), this);
    runAct_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    runAct_->setToolTip(tr("Quantize the model with the table's recipe and measure its perplexity (background; runs queue up)"));
    importAct_ = new QAction(tr("&Import recipe…"), this);
    exportAct_ = new QAction(tr("&Export recipe…"), this);
    exportModelAct_ = new QAction(tr("Export &model…"), this);
    exportModelAct_->setToolTip(tr("Quantize with the table's recipe and write the model for a serving stack "
                                   "(GGUF for llama.cpp, GPTQ-packed safetensors for vLLM/transformers), read back and checked"));
    QAction* undoAct = table_->undoStack()->createUndoAction(this, tr("&Undo"));
    undoAct->setShortcut(QKeySequence::Undo);
    QAction* redoAct = table_->undoStack()->createRedoAction(this, tr("&Redo"));
    redoAct->setShortcut(QKeySequence::Redo);
    undoAct->setIconText(tr("Undo"));  // the toolbar keeps short labels; the menu names the step
    redoAct->setIconText(tr("Redo"));
    undoAct->setIcon(QIcon::fromTheme(QStringLiteral("edit-undo"), style()->standardIcon(QStyle::SP_ArrowBack)));
    redoAct->setIcon(QIcon::fromTheme(QStringLiteral("edit-redo"), style()->standardIcon(QStyle::SP_ArrowForward)));
    // Toolbar labels: short forms a translation may shorten further (the menus keep the full names).
    autoAct_->setIconText(tr("Auto-assign", "toolbar"));
    importAct_->setIconText(tr("Import recipe…", "toolbar"));
    exportAct_->setIconText(tr("Export recipe…", "toolbar"));
    exportModelAct_->setIconText(tr("Export model…", "toolbar"));
    auto* quitAct = new QAction(tr("&Quit"), this);
    quitAct->setShortcut(QKeySequence::Quit);

    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(openDirAct_);
    file->addAction(openAct_);
    file->addAction(demoAct_);
    recentMenu_ = file->addMenu(tr("Open &recent"));
    file->addSeparator();
    file->addAction(importAct_);
    file->addAction(exportAct_);
    file->addAction(exportModelAct_);
    file->addSeparator();
    file->addAction(quitAct);
    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addAction(undoAct);
    edit->addAction(redoAct);
    edit->addSeparator();
    // the method of the selected rows (also the table's context menu); formats are kept
    methodMenu_ = edit->addMenu(tr("Set &method of selected rows"));
    for (const char* m : {"rtn", "gptq", "boa", "awq+gptq", "smoothquant+gptq", "smoothquant+awq+gptq", "mgptq", "awq+mgptq", "none"}) {
        const QString name = QString::fromLatin1(m);
        const QString text = name == QLatin1String("none") ? tr("none (keep in float)") : name;  // the others: method names
        connect(methodMenu_->addAction(text), &QAction::triggered, this, [this, name] { setMethodOfSelection(name); });
    }
    methodMenu_->setToolTipsVisible(true);
    methodMenu_->setToolTip(tr("mgptq: widths mixed per column group at the row's current bits per weight; none: keep the layer in float"));
    edit->addSeparator();
    copyAct_ = edit->addAction(tr("&Copy recipe"), this, &MainWindow::copyRecipe);
    copyAct_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
    copyAct_->setToolTip(tr("Copy the table's recipe (JSON) to the clipboard"));
    edit->addSeparator();
    QAction* prefs = edit->addAction(tr("&Settings…"), this, &MainWindow::editSettings);
    prefs->setMenuRole(QAction::PreferencesRole);
    QMenu* analysis = menuBar()->addMenu(tr("&Analysis"));
    analysis->addAction(analyseAct_);
    analysis->addAction(cancelAct_);
    analysis->addAction(autoAct_);
    QMenu* runMenu = menuBar()->addMenu(tr("&Runs"));
    runMenu->addAction(runAct_);
    runMenu->addAction(tr("Cancel &all runs"), this, [this] { runs_->cancelAll(); });
    runMenu->addAction(tr("Re&fresh history"), this, &MainWindow::refreshHistory);
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About QuantScope"), this, [this] {
        QMessageBox::about(this, tr("About QuantScope"),
                           tr("QuantScope %1\nA workbench for post-training quantization of LLMs.")
                               .arg(QCoreApplication::applicationVersion()));
    });

    connect(openAct_, &QAction::triggered, this, [this] { chooseAndOpenModel(false); });
    connect(openDirAct_, &QAction::triggered, this, [this] { chooseAndOpenModel(true); });
    connect(demoAct_, &QAction::triggered, this, &MainWindow::loadDemo);
    connect(analyseAct_, &QAction::triggered, this, &MainWindow::chooseCalibrationAndAnalyse);
    connect(cancelAct_, &QAction::triggered, this, &MainWindow::cancelJob);
    connect(autoAct_, &QAction::triggered, this, [this] { autoAssign(budget()); });
    connect(runAct_, &QAction::triggered, this, &MainWindow::runCurrent);
    connect(exportModelAct_, &QAction::triggered, this, &MainWindow::chooseAndExportModel);
    connect(quitAct, &QAction::triggered, this, &QWidget::close);
    connect(importAct_, &QAction::triggered, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Import recipe"), lastDir_,
                                                       tr("Recipes (*.json);;All files (*)"));
        if (p.isEmpty()) return;
        lastDir_ = QFileInfo(p).absolutePath();
        importRecipe(p);
    });
    connect(exportAct_, &QAction::triggered, this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Export recipe"),
                                                       lastDir_.isEmpty() ? QStringLiteral("recipe.json") : lastDir_ + QStringLiteral("/recipe.json"),
                                                       tr("Recipes (*.json);;All files (*)"));
        if (p.isEmpty()) return;
        lastDir_ = QFileInfo(p).absolutePath();
        exportRecipe(p);
    });

    // --- toolbar: the workflow left to right
    QToolBar* tb = addToolBar(tr("Main"));
    tb->setMovable(false);
    tb->setToolButtonStyle(Qt::ToolButtonTextOnly);
    tb->setIconSize(QSize(16, 16));  // undo/redo: small icons, the bar stays one text line high
    tb->addAction(openDirAct_);
    tb->addAction(demoAct_);
    tb->addSeparator();
    tb->addWidget(new QLabel(tr(" Calibration: "), this));
    nsamples_ = new QSpinBox(this);
    nsamples_->setRange(1, 4096);
    nsamples_->setToolTip(tr("Calibration windows drawn from the text (seeded)"));
    tb->addWidget(nsamples_);
    tb->addWidget(new QLabel(QStringLiteral(" × "), this));
    seqlen_ = new QSpinBox(this);
    seqlen_->setRange(8, 1 << 20);
    seqlen_->setSuffix(tr(" tokens"));
    seqlen_->setToolTip(tr("Tokens per calibration window"));
    tb->addWidget(seqlen_);
    tb->addAction(analyseAct_);
    tb->addSeparator();
    tb->addWidget(new QLabel(tr(" Budget: "), this));
    budget_ = new QDoubleSpinBox(this);
    budget_->setRange(2.0, 16.0);
    budget_->setDecimals(2);
    budget_->setSingleStep(0.25);
    budget_->setValue(3.0);
    budget_->setSuffix(tr(" bits"));
    budget_->setToolTip(tr("Average bits per weight over the quantizable linears, scales and zero points included"));
    tb->addWidget(budget_);
    tb->addAction(autoAct_);
    tb->addAction(runAct_);
    tb->addSeparator();
    tb->addAction(importAct_);
    tb->addAction(exportAct_);
    tb->addAction(exportModelAct_);
    tb->addSeparator();
    tb->addAction(undoAct);
    tb->addAction(redoAct);
    // undo/redo as icons (their tooltips name the step): the text labels do not fit every language
    for (QAction* a : {undoAct, redoAct})
        if (auto* b = qobject_cast<QToolButton*>(tb->widgetForAction(a))) b->setToolButtonStyle(Qt::ToolButtonIconOnly);

    // --- central: model line, filter/selection row, table over chart
    auto* central = new QWidget(this);
    auto* v = new QVBoxLayout(central);
    v->setContentsMargins(6, 4, 6, 2);
    v->setSpacing(4);

    auto* top = new QHBoxLayout();
    modelLabel_ = new QLabel(tr("No model"), this);
    modelLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    // Wraps onto a second line on narrow windows rather than being cut off.
    modelLabel_->setWordWrap(true);
    modelLabel_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    totalsLabel_ = new QLabel(this);
    QFont bold = totalsLabel_->font();
    bold.setBold(true);
    totalsLabel_->setFont(bold);
    totalsLabel_->setToolTip(tr(
        "Average bits per weight: parameter-weighted over the quantizable linears, scales and zero points included "
        "(float rows count as fp16).\nModel size (MB = 10^6 bytes): the linears at their bits plus every other tensor "
        "(embeddings, lm_head, norms, biases) at fp16."));
    top->addWidget(modelLabel_, 1);
    v->addLayout(top);
    // the totals under the model line (they follow every edit), then the hint
    auto* totalsRow = new QHBoxLayout();
    totalsRow->addWidget(totalsLabel_);
    totalsRow->addSpacing(16);
    auto* hint = new QLabel(tr("Double-click a weight format to change its bits; click a header to sort."), this);
    hint->setStyleSheet(QStringLiteral("color: palette(mid);"));
    hint->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // clipped on narrow windows, never widens them
    totalsRow->addWidget(hint, 1);
    v->addLayout(totalsRow);

    auto* row = new QHBoxLayout();
    row->addWidget(new QLabel(tr("Filter:"), this));
    filter_ = new QLineEdit(this);
    filter_->setPlaceholderText(tr("layer name, e.g. mlp or layers.1*.q_proj"));
    filter_->setClearButtonEnabled(true);
    filter_->setMinimumWidth(200);
    row->addWidget(filter_);
    row->addSpacing(16);
    row->addWidget(new QLabel(tr("Selected rows:"), this));
    formatCombo_ = new QComboBox(this);
    formatCombo_->setObjectName(QStringLiteral("formatCombo"));
    for (const QuantFormat& f : views::selectableFormats()) formatCombo_->addItem(QString::fromStdString(f.name()));
    formatCombo_->setCurrentText(QStringLiteral("int4-g128"));
    // any format name can be typed too (e.g. int3-sym-g64-f16); Set format checks it
    formatCombo_->setEditable(true);
    formatCombo_->setInsertPolicy(QComboBox::NoInsert);
    formatCombo_->setMinimumContentsLength(12);
    formatCombo_->setToolTip(tr("Weight format to set on every selected row: pick one or type any format name "
                                "(e.g. int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)"));
    row->addWidget(formatCombo_);
    applyButton_ = new QPushButton(tr("Set format"), this);
    applyButton_->setToolTip(tr("Set the format on all selected rows (one undo step)"));
    row->addWidget(applyButton_);
    row->addStretch(1);
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
    {  // what the user edits first, next to the name: format and bits; then why (sensitivity, outliers); shapes last
        QHeaderView* h = view_->horizontalHeader();
        int to = LayerTableModel::ColName + 1;
        for (int c : {int(LayerTableModel::ColFormat), int(LayerTableModel::ColBits), int(LayerTableModel::ColSensitivity),
                      int(LayerTableModel::ColErrorAtFormat), int(LayerTableModel::ColOutlier)})
            h->moveSection(h->visualIndex(c), to++);
    }

    view_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(view_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        if (view_->selectionModel()->selectedRows().isEmpty()) return;
        QMenu menu(this);
        menu.addMenu(methodMenu_);
        menu.exec(view_->viewport()->mapToGlobal(pos));
    });

    chart_ = new views::SensitivityChart(this);
    chart_->setTableModel(table_);
    lowerTabs_ = new QTabWidget(this);
    lowerTabs_->addTab(chart_, tr("Sensitivity"));
    heatmap_ = new views::OutlierHeatmap(this);
    lowerTabs_->addTab(heatmap_, tr("Outlier channels"));
    errorChart_ = new views::LayerErrorChart(this);
    lowerTabs_->addTab(errorChart_, tr("Per-layer error of runs"));

    auto* leftSplit = new QSplitter(Qt::Vertical, this);
    leftSplit->addWidget(view_);
    leftSplit->addWidget(lowerTabs_);
    leftSplit->setStretchFactor(0, 1);
    leftSplit->setStretchFactor(1, 1);
    leftSplit->setChildrenCollapsible(false);
    leftSplit->setSizes({330, 400});
    v->addWidget(leftSplit, 1);

    // --- right: perplexity curves over the run controls, the job panel and the history
    auto* right = new QWidget(this);
    auto* rv = new QVBoxLayout(right);
    rv->setContentsMargins(0, 0, 0, 0);
    rv->setSpacing(4);
    pplChart_ = new views::PerplexityChart(this);
    auto* rightSplit = new QSplitter(Qt::Vertical, this);
    rightSplit->addWidget(pplChart_);
    auto* runBox = new QWidget(this);
    auto* runLayout = new QVBoxLayout(runBox);
    runLayout->setContentsMargins(0, 0, 0, 0);
    runLayout->setSpacing(3);
    buildRunPanel(runBox, runLayout);
    rightTabs_ = new QTabWidget(this);
    jobs_ = new views::JobListModel(this);
    jobPanel_ = new views::JobPanel(jobs_, this);
    history_ = new views::HistoryView(this);
    rightTabs_->addTab(jobPanel_, tr("Jobs"));
    rightTabs_->addTab(history_, tr("History"));
    runLayout->addWidget(rightTabs_, 1);
    rightSplit->addWidget(runBox);
    rightSplit->setChildrenCollapsible(false);
    rightSplit->setSizes({420, 330});
    rv->addWidget(rightSplit, 1);

    auto* left = central;
    auto* mainSplit = new QSplitter(Qt::Horizontal, this);
    mainSplit->addWidget(left);
    mainSplit->addWidget(right);
    mainSplit->setStretchFactor(0, 3);
    mainSplit->setStretchFactor(1, 2);
    mainSplit->setChildrenCollapsible(false);
    mainSplit->setSizes({700, 580});
    setCentralWidget(mainSplit);

    runs_ = new RunQueue(jobs_, this);
    connect(runs_, &RunQueue::runFinished, this, &MainWindow::onRunFinished);
    connect(runs_, &RunQueue::logError, this, [this](const QString& m) { showError(tr("Experiment log"), m); });
    connect(jobPanel_, &views::JobPanel::cancelRequested, runs_, &RunQueue::cancel);
    connect(history_, &views::HistoryView::refreshRequested, this, &MainWindow::refreshHistory);
    connect(history_, &views::HistoryView::openRecipeRequested, this, &MainWindow::openRunRecipe);
    connect(history_, &views::HistoryView::openModelRequested, this, &MainWindow::openModel);
    connect(history_, &views::HistoryView::compareChanged, this, &MainWindow::updateCurves);
    connect(history_, &views::HistoryView::selectionChanged, this, &MainWindow::showRunErrors);

    // --- status bar: messages, progress, cancel
    progressLabel_ = new QLabel(this);
    progress_ = new QProgressBar(this);
    progress_->setRange(0, 1000);
    progress_->setFixedWidth(220);
    progress_->setTextVisible(true);
    cancelButton_ = new QPushButton(tr("Cancel"), this);
    cancelButton_->setToolTip(tr("Cancel the running analysis"));
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

    // CJK-style accelerators of the translations ("分析(&A)"): toolbar buttons and tooltips
    // show "分析", not Qt's derived "分析(A)" (explicit icon texts and tooltips are kept)
    static const QRegularExpression cjkAccel(QStringLiteral("\\(&\\w\\)")), derived(QStringLiteral("\\(\\w\\)"));
    for (QAction* a : findChildren<QAction*>()) {
        if (!a->text().contains(cjkAccel)) continue;
        const QString bare = QString(a->text()).remove(cjkAccel).remove(QStringLiteral("…")).trimmed();
        if (a->iconText().contains(derived)) a->setIconText(bare);
        if (a->toolTip().contains(derived)) a->setToolTip(bare);
    }
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
        cancelButton_->setVisible(true);
        cancelButton_->setToolTip(j == Job::Loading ? tr("Stop waiting for the model: it is not opened") : tr("Cancel the running analysis"));
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
    cancelAct_->setEnabled(job_ != Job::None);
    autoAct_->setEnabled(haveModel && table_->report() && job_ != Job::Loading);
    budget_->setEnabled(autoAct_->isEnabled());
    importAct_->setEnabled(haveModel && job_ != Job::Loading);
    exportAct_->setEnabled(haveModel && job_ != Job::Loading);
    exportModelAct_->setEnabled(haveModel && job_ != Job::Loading);
    copyAct_->setEnabled(exportAct_->isEnabled());
    runAct_->setEnabled(haveModel && job_ != Job::Loading);
    if (runButton_) runButton_->setEnabled(runAct_->isEnabled());
    if (sweepButton_) sweepButton_->setEnabled(runAct_->isEnabled());
    nsamples_->setEnabled(idle && haveModel);
    seqlen_->setEnabled(idle && haveModel);
    applyButton_->setEnabled(haveModel && view_->selectionModel() && view_->selectionModel()->hasSelection());
}

void MainWindow::updateTotals(double avgBits, double sizeMB) {
    if (table_->rowCount() == 0) {
        totalsLabel_->setText(tr("no layers"));
        return;
    }
    totalsLabel_->setText(tr("Average %1 bits/weight  ·  model %2 MB (fp16: %3 MB)")
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
    progressLabel_->setText(tr("Analysing: %1").arg(message));
    Q_EMIT progressChanged(fraction, message);
}

// ----------------------------------------------------------------------------
// loading

void MainWindow::loadDemo() { startLoad(QString(), true); }

void MainWindow::openModel(const QString& path) { startLoad(path, false); }

void MainWindow::chooseAndOpenModel(bool directory) {
    QString p;
    if (directory)
        p = QFileDialog::getExistingDirectory(this, tr("Open a Hugging Face model directory"), lastDir_);
    else
        p = QFileDialog::getOpenFileName(this, tr("Open a model file"), lastDir_,
                                         tr("Checkpoints (*.safetensors *.bin *.gguf);;All files (*)"));
    if (p.isEmpty()) return;
    lastDir_ = directory ? QFileInfo(p).absoluteFilePath() : QFileInfo(p).absolutePath();
    openModel(p);
}

void MainWindow::startLoad(const QString& path, bool demo) {
    if (job_ != Job::None) {
        showError(tr("Busy"), tr("Wait for the running job to finish (or cancel it) before opening a model."));
        return;
    }
    ignoreLoad_ = false;
    setJob(Job::Loading, demo ? tr("Building the demo model (synthetic, a few seconds)…")
                              : tr("Opening %1…").arg(path));
    const DemoOptions demoOpt = opt_.demo;
    loadWatcher_.setFuture(QtConcurrent::run([path, demo, demoOpt]() -> LoadOutcome {
        LoadOutcome o;
        try {
            auto l = std::make_shared<LoadedModel>();
            if (demo) {
                Demo d = makeDemo(demoOpt);
                l->model = d.model;
                l->tokenizer = std::shared_ptr<const Tokenizer>(std::move(d.tokenizer));
                l->demoText = std::make_shared<const std::string>(std::move(d.evalText));
                l->demoTokenizer = d.tokenizerBytes;
                l->demo = true;
                l->label = QStringLiteral("demo model (synthetic LLaMA)");
            } else {
                std::shared_ptr<Model> m = loadModel(path);
                l->model = m;
                l->label = QFileInfo(path).absoluteFilePath();
                try {
                    std::unique_ptr<Tokenizer> t = loadTokenizerFor(path, QString(), m->config);
                    if (t->vocabSize() > m->config.vocabSize)
                        throw Error(tr("the tokenizer next to the model has %1 tokens but the model's vocabulary is %2")
                                        .arg(t->vocabSize()).arg(m->config.vocabSize));
                    l->tokenizer = std::shared_ptr<const Tokenizer>(std::move(t));
                } catch (const std::exception& e) {
                    l->tokenizerError = QString::fromUtf8(e.what());
                }
            }
            l->hash = l->model->contentHash();
            o.loaded = std::move(l);
        } catch (const std::exception& e) {
            o.error = QString::fromUtf8(e.what());
        }
        return o;
    }));
}

void MainWindow::onLoaded() {
    const LoadOutcome o = loadWatcher_.result();
    if (ignoreLoad_) {  // cancelled while it ran
        ignoreLoad_ = false;
        return;
    }
    setJob(Job::None);
    if (!o.loaded) {
        showError(tr("Cannot open the model"), o.error);
        Q_EMIT modelLoaded(false);
        return;
    }
    loaded_ = o.loaded;
    if (!loaded_->demo) {
        settings_.addRecentModel(loaded_->label);
        if (opt_.persistentSettings) settings_.save();
        updateRecentMenu();
        if (evalPath_.isEmpty() && !settings_.evaluationPath.isEmpty()) setEvalPath(settings_.evaluationPath);
    }
    history_->setModelFilter(loaded_->demo ? loaded_->model->path : loaded_->label);
    const Model& m = *loaded_->model;
    filter_->clear();
    // a quantized checkpoint (GPTQ-packed, a quantized GGUF) starts as loaded: Run evaluates it as it is
    const Recipe asLoaded = views::LayerTableModel::asLoadedRecipe();
    table_->setModel(m, m.quantization.isEmpty() ? nullptr : &asLoaded);
    heatmap_->setReport(nullptr);
    errorChart_->clear();
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
    modelLabel_->setText(tr("<b>%1</b> — %2, %3 blocks, %4 parameters, %5 quantizable linears (%6 weights)%7")
                             .arg((loaded_->demo ? tr("demo model (synthetic LLaMA)") : QFileInfo(loaded_->label).fileName()).toHtmlEscaped(),
                                  QString::fromStdString(m.config.modelType))
                             .arg(m.blocks.size())
                             .arg(millions(params))
                             .arg(table_->rowCount())
                             .arg(millions(table_->linearParams()))
                             .arg(loaded_->tokenizer ? QString() : tr(" — <i>no tokenizer found</i>")));
    modelLabel_->setToolTip((loaded_->demo ? tr("demo model (synthetic LLaMA)") : loaded_->label) + (loaded_->tokenizer ? QString() : QStringLiteral("\n") + loaded_->tokenizerError));
    setWindowTitle(tr("QuantScope — %1").arg(loaded_->demo ? tr("demo model") : QFileInfo(loaded_->label).fileName()));
    progressLabel_->setText(tr("Opened %1. Analyse to measure per-layer sensitivity.").arg(loaded_->demo ? tr("demo model (synthetic LLaMA)") : loaded_->label));
    if (!m.quantization.isEmpty())
        progressLabel_->setText(tr("%1 is already quantized (%2): the table keeps its weights as loaded (method none), so Run "
                                   "evaluates it as it is; set formats or methods to quantize it again.")
                                    .arg(QFileInfo(loaded_->label).fileName(), m.quantization));
    restoreAnalysis();
    updateActions();
    Q_EMIT modelLoaded(true);
}

void MainWindow::logAnalysis(const SensitivityReport& rep, const QString& calibName, const QString& calibHash) {
    if (!store_ || !loaded_) return;
    try {
        const int64_t modelId = addLoadedModel(*store_, *loaded_);
        const int64_t calibId = store_->addCalibrationSet(calibName, rep.calib.nsamples, rep.calib.seqlen, rep.calib.seed, calibHash);
        QJsonObject j = rep.toJson();
        j.insert(QStringLiteral("calibration_text"), calibPath_);  // "" = the demo's own text
        store_->addSensitivityReport(modelId, calibId, QStringLiteral("gui analysis"), j);
    } catch (const std::exception& e) {
        progressLabel_->setText(tr("The experiment log could not record the analysis: %1").arg(QString::fromUtf8(e.what())));
    }
}

void MainWindow::showReport(const std::shared_ptr<const SensitivityReport>& rep) {
    table_->setReport(rep);
    heatmap_->setReport(rep);
    updateFrontier();
}

bool MainWindow::restoreAnalysis() {
    if (!store_ || !loaded_) return false;
    try {
        const auto ref = store_->latestSensitivityReport(QString::fromStdString(loaded_->hash));
        if (!ref) return false;
        QJsonObject j = store_->sensitivityReport(ref->id);
        const QString calibText = j.take(QStringLiteral("calibration_text")).toString();
        auto rep = std::make_shared<const SensitivityReport>(SensitivityReport::fromJson(j, tr("report %1 of %2").arg(ref->id).arg(store_->path())));
        showReport(rep);
        // runs calibrate on the analysis' text and window size, as after Analyse
        if (!calibText.isEmpty() && QFileInfo(calibText).isFile()) calibPath_ = calibText;
        setCalibration(rep->calib.nsamples, std::min(rep->calib.seqlen, seqlen_->maximum()));
        progressLabel_->setText(tr("Restored the analysis of %1 from the experiment log (report %2, %3 × %4 calibration tokens); Analyse to redo it.")
                                    .arg(QDateTime::fromString(ref->createdAt, Qt::ISODateWithMs).toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")))
                                    .arg(ref->id)
                                    .arg(rep->calib.nsamples)
                                    .arg(rep->calib.seqlen));
        return true;
    } catch (const std::exception& e) {
        progressLabel_->setText(tr("The analysis in the experiment log could not be restored: %1").arg(QString::fromUtf8(e.what())));
        return false;
    }
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
    const QString start = !calibPath_.isEmpty() ? calibPath_ : !settings_.calibrationPath.isEmpty() ? settings_.calibrationPath : lastDir_;
    const QString p = QFileDialog::getOpenFileName(this, tr("Calibration text for the analysis"), start,
                                                   tr("Text (*.jsonl *.txt *.raw);;All files (*)"));
    if (p.isEmpty()) return;
    lastDir_ = QFileInfo(p).absolutePath();
    startAnalysis(p);
}

bool MainWindow::startAnalysis(const QString& calibPath) {
    if (!loaded_) {
        showError(tr("No model"), tr("Open a model first."));
        return false;
    }
    if (job_ != Job::None) {
        showError(tr("Busy"), tr("A job is already running."));
        return false;
    }
    if (!loaded_->tokenizer) {
        showError(tr("No tokenizer"), tr("The analysis needs the model's tokenizer to read calibration text:\n") +
                                                      loaded_->tokenizerError);
        return false;
    }
    if (calibPath.isEmpty() && !loaded_->demo) {
        showError(tr("No calibration text"), tr("Choose a calibration text (.jsonl or text file)."));
        return false;
    }
    const std::shared_ptr<const LoadedModel> l = loaded_;
    calibPath_ = calibPath;
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
    setJob(Job::Analysing, tr("Analysing: reading the calibration text…"));
    analysisWatcher_.setFuture(QtConcurrent::run([l, calib, sopt, ctx, calibPath]() -> AnalysisOutcome {
        AnalysisOutcome o;
        try {
            ctx.report(0, "tokenizing the calibration text");
            const TextSource src = calibPath.isEmpty() ? demoCalibration(*l) : TextSource::file(calibPath);
            const std::vector<int> ids = src.tokens(*l->tokenizer);
            ctx.check();
            const std::vector<int> tokens = sampleCalibration(ids, calib);
            auto rep = std::make_shared<SensitivityReport>(analyzeSensitivity(*l->model, tokens, calib, sopt, ctx));
            o.calibName = src.name;
            o.calibHash = src.contentHash();
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
    if (job_ == Job::Loading) {
        // the reader cannot be interrupted mid-file: stop waiting for it and drop what it produces
        ignoreLoad_ = true;
        setJob(Job::None, tr("Opening cancelled."));
        Q_EMIT modelLoaded(false);
        return;
    }
    if (job_ != Job::Analysing) return;
    cancel_.cancel();
    progressLabel_->setText(tr("Cancelling the analysis…"));
}

void MainWindow::onAnalysed() {
    const AnalysisOutcome o = analysisWatcher_.result();
    setJob(Job::None);
    if (o.cancelled) {
        progressLabel_->setText(tr("Analysis cancelled."));
        Q_EMIT analysisFinished(false);
        return;
    }
    if (!o.report) {
        showError(tr("The analysis failed"), o.error);
        Q_EMIT analysisFinished(false);
        return;
    }
    showReport(o.report);
    progressLabel_->setText(tr("Analysed %1 layers in %2 s (%3 × %4 calibration tokens). Set a budget and Auto-assign, or edit bits by hand.")
                                .arg(o.report->layers.size())
                                .arg(o.report->seconds, 0, 'f', 1)
                                .arg(o.report->calib.nsamples)
                                .arg(o.report->calib.seqlen));
    logAnalysis(*o.report, o.calibName, o.calibHash);
    updateActions();
    Q_EMIT analysisFinished(true);
}

// ----------------------------------------------------------------------------
// editing

void MainWindow::applyToSelection() {
    const QList<int> rows = proxy_->sourceRows(view_->selectionModel()->selectedRows());
    if (rows.isEmpty()) return;
    const QString name = formatCombo_->currentText().trimmed();
    const auto f = QuantFormat::parse(name.toLower().toStdString());
    if (!f || f->kind == FormatKind::None) {
        showError(tr("Set format"), tr("'%1' is not a weight format (e.g. int4-g128, int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)").arg(name));
        return;
    }
    if (!table_->setFormats(rows, *f)) {
        showError(tr("Set format"), tr("'%1' cannot be set on a layer (integer widths are 2 to 8 bits)").arg(name));
        return;
    }
    progressLabel_->setText(tr("Set %1 layer(s) to %2.").arg(rows.size()).arg(formatCombo_->currentText()));
}

QString MainWindow::setMethodOfSelection(const QString& method) {
    const QList<int> rows = proxy_->sourceRows(view_->selectionModel()->selectedRows());
    if (rows.isEmpty()) {
        showError(tr("Set method"), tr("Select the layers first."));
        return tr("no rows selected");
    }
    const QString err = table_->setMethods(rows, method);
    if (!err.isEmpty()) {
        showError(tr("Set method"), err);
        return err;
    }
    progressLabel_->setText(tr("Set %1 layer(s) to method %2.").arg(rows.size()).arg(method));
    return {};
}

bool MainWindow::autoAssign(double budgetBits) {
    if (budget_->value() != budgetBits) budget_->setValue(budgetBits);  // the field shows the budget assigned to
    const SensitivityReport* rep = table_->report();
    if (!rep) {
        showError(tr("Auto-assign"), tr("Run Analyse first: the allocation needs the per-layer sensitivity."));
        return false;
    }
    try {
        const AllocCost cost = reportHasBlockErrors(*rep) ? AllocCost::Block : AllocCost::Predicted;
        const std::vector<AllocItem> items = allocItemsFromReport(*rep, {}, cost);
        const Allocation a = allocateKnapsack(items, budgetBits);
        std::vector<std::pair<int, QuantFormat>> changes;
        for (size_t i = 0; i < items.size(); ++i) {
            const int r = table_->rowOf(items[i].name);
            if (r < 0) throw Error(tr("the report's layer '%1' is not in the open model").arg(QString::fromStdString(items[i].name)));
            changes.emplace_back(r, items[i].choices[size_t(a.choice[i])].format);
        }
        table_->setFormatsPerRow(changes, tr("Auto-assign at %1 bits/weight").arg(budgetBits, 0, 'f', 2));
        progressLabel_->setText(tr("Auto-assign: %1 bits/weight within the budget of %2 (total %3 %4).")
                                    .arg(a.avgBits, 0, 'f', 3)
                                    .arg(budgetBits, 0, 'f', 2)
                                    .arg(QLatin1String(allocCostName(cost)) + QStringLiteral(" error"))
                                    .arg(a.error, 0, 'g', 4));
        return true;
    } catch (const std::exception& e) {
        showError(tr("Auto-assign failed"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::importRecipe(const QString& path) {
    if (!loaded_) {
        showError(tr("Import recipe"), tr("Open a model first."));
        return false;
    }
    try {
        const Recipe r = Recipe::load(path);
        table_->applyRecipe(r, tr("Import %1").arg(QFileInfo(path).fileName()));
        std::vector<std::string> names;
        for (int i = 0; i < table_->rowCount(); ++i) names.push_back(table_->row(i).name);
        QStringList warn;
        for (const QString& w : r.unmatchedPatterns(names)) warn << w;
        progressLabel_->setText(warn.isEmpty() ? tr("Imported %1.").arg(path)
                                               : tr("Imported %1; warning: %2").arg(path, warn.join(QStringLiteral("; "))));
        return true;
    } catch (const std::exception& e) {
        showError(tr("Cannot import the recipe"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::exportRecipe(const QString& path) {
    if (!loaded_) {
        showError(tr("Export recipe"), tr("Open a model first."));
        return false;
    }
    try {
        const QByteArray bytes = table_->toRecipe().toJsonBytes();
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
            throw Error(tr("%1: cannot write the recipe: %2").arg(path, f.errorString()));
        progressLabel_->setText(tr("Exported the recipe to %1.").arg(path));
        return true;
    } catch (const std::exception& e) {
        showError(tr("Cannot export the recipe"), QString::fromUtf8(e.what()));
        return false;
    }
}

// ----------------------------------------------------------------------------
// runs

void MainWindow::buildRunPanel(QWidget* parent, QVBoxLayout* into) {
    auto* r1 = new QHBoxLayout();
    r1->addWidget(new QLabel(tr("Experiment:"), parent));
    experiment_ = new QLineEdit(tr("manual"), parent);
    experiment_->setToolTip(tr("The curve a run belongs to in the perplexity chart (runs of one experiment are joined by a line)"));
    experiment_->setMaximumWidth(150);
    r1->addWidget(experiment_);
    r1->addWidget(new QLabel(tr("Eval text:"), parent));
    evalEdit_ = new QLineEdit(parent);
    evalEdit_->setPlaceholderText(tr("demo: held-out half of its text"));
    evalEdit_->setToolTip(tr("The text whose perplexity each run measures (.jsonl rows or plain text)"));
    r1->addWidget(evalEdit_, 1);
    auto* browse = new QPushButton(tr("…"), parent);
    browse->setToolTip(tr("Choose the evaluation text"));
    browse->setMaximumWidth(30);
    r1->addWidget(browse);
    runButton_ = new QPushButton(tr("Run"), parent);
    runButton_->setToolTip(runAct_->toolTip());
    r1->addWidget(runButton_);
    into->addLayout(r1);

    auto* r2 = new QHBoxLayout();
    r2->addWidget(new QLabel(tr("Sweep:"), parent));
    sweepKind_ = new QComboBox(parent);
    sweepKind_->addItem(tr("auto-assign at budgets"), int(SweepKind::Budgets));
    sweepKind_->addItem(tr("uniform formats"), int(SweepKind::Formats));
    sweepKind_->setToolTip(tr("Budgets: one auto-assigned recipe per budget (needs the analysis). "
                              "Formats: the table's method with one format for every layer"));
    r2->addWidget(sweepKind_);
    sweepValues_ = new QLineEdit(QStringLiteral("2.5, 3, 3.5, 4"), parent);
    sweepValues_->setToolTip(tr("Comma-separated budgets in bits/weight, or weight formats (int3-g64, mxfp4, …)"));
    r2->addWidget(sweepValues_, 1);
    sweepButton_ = new QPushButton(tr("Sweep"), parent);
    sweepButton_->setToolTip(tr("Queue one run per value"));
    r2->addWidget(sweepButton_);
    into->addLayout(r2);

    connect(browse, &QPushButton::clicked, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Evaluation text"), lastDir_, tr("Text (*.jsonl *.txt *.raw);;All files (*)"));
        if (p.isEmpty()) return;
        lastDir_ = QFileInfo(p).absolutePath();
        setEvalPath(p);
    });
    connect(evalEdit_, &QLineEdit::textChanged, this, [this](const QString& t) { evalPath_ = t.trimmed(); });
    connect(runButton_, &QPushButton::clicked, this, &MainWindow::runCurrent);
    connect(sweepButton_, &QPushButton::clicked, this, [this] {
        runSweep(SweepKind(sweepKind_->currentData().toInt()), sweepValues_->text());
    });
    connect(sweepKind_, &QComboBox::currentIndexChanged, this, [this] {
        sweepValues_->setText(SweepKind(sweepKind_->currentData().toInt()) == SweepKind::Budgets ? QStringLiteral("2.5, 3, 3.5, 4")
                                                                                                  : QStringLiteral("int2-g64, int3-g64, int4-g64"));
    });
}

void MainWindow::updateRecentMenu() {
    recentMenu_->clear();
    for (const QString& p : settings_.recentModels) {
        QAction* a = recentMenu_->addAction(QFileInfo(p).fileName().isEmpty() ? p : QFileInfo(p).fileName(), this, [this, p] { openModel(p); });
        a->setToolTip(p);
        a->setStatusTip(p);
    }
    if (settings_.recentModels.isEmpty()) recentMenu_->addAction(tr("(none yet)"))->setEnabled(false);
    else {
        recentMenu_->addSeparator();
        recentMenu_->addAction(tr("Clear the list"), this, [this] {
            settings_.recentModels.clear();
            if (opt_.persistentSettings) settings_.save();
            updateRecentMenu();
        });
    }
    recentMenu_->setEnabled(true);
}

QString MainWindow::applyComputeSettings() {
    qs::setThreads(settings_.threads);
    QString message;
    try {
        const std::string env = qEnvironmentVariable("QUANTSCOPE_OPENCL_DEVICE").toStdString();
        const std::string spec = settings_.openclDevice.isEmpty() ? env : settings_.openclDevice.toStdString();
        const ocl::BackendChoice c = ocl::backendForDevice(settings_.computeDevice.toStdString(), spec);
        setComputeBackend(c.backend);
        deviceText_ = tr("CPU, %1 threads; device %2: %3")
                          .arg(qs::threads())
                          .arg(settings_.computeDevice, QString::fromStdString(c.backend->describe()));
        message = QString::fromStdString(c.message);
    } catch (const std::exception& e) {
        setComputeBackend(std::make_shared<CpuBackend>());
        deviceText_ = tr("CPU, %1 threads").arg(qs::threads());
        message = tr("Compute device: %1; using the CPU path.").arg(QString::fromUtf8(e.what()));
    }
    if (runs_) runs_->setDeviceLabel(deviceText_);
    if (progressLabel_ && !message.isEmpty()) progressLabel_->setText(message);
    return message;
}

void MainWindow::editSettings() {
    std::vector<DeviceChoice> devices;
    QString note;
    try {
        for (const ocl::DeviceInfo& d : ocl::listDevices())
            devices.push_back({QStringLiteral("%1:%2").arg(d.platformIndex).arg(d.deviceIndex), QString::fromStdString(d.label())});
        note = devices.empty() ? tr("No OpenCL platform is installed: every operation runs on the CPU path.")
                               : tr("Current: %1").arg(deviceText_);
    } catch (const std::exception& e) {
        note = tr("OpenCL is unavailable (%1): every operation runs on the CPU path.").arg(QString::fromUtf8(e.what()));
    }
    SettingsDialog dlg(settings_, devices, note, this);
    if (dlg.exec() != QDialog::Accepted) return;
    const AppSettings old = settings_;
    settings_ = dlg.settings();
    if (opt_.persistentSettings) settings_.save();
    applyComputeSettings();
    if (settings_.databasePath != old.databasePath && !opt_.databasePath) {
        if (!runs_->idle()) {
            showError(tr("Experiment log"), tr("The new experiment log is used from the next start: runs are in progress."));
        } else {
            openStore();
            runs_->setStore(store_.get());
            refreshHistory();
        }
    }
}

void MainWindow::copyRecipe() {
    if (!loaded_) return;
    try {
        QApplication::clipboard()->setText(QString::fromUtf8(table_->toRecipe().toJsonBytes()));
        progressLabel_->setText(tr("Copied the recipe (JSON) to the clipboard."));
    } catch (const std::exception& e) {
        showError(tr("Cannot copy the recipe"), QString::fromUtf8(e.what()));
    }
}

void MainWindow::setEvalPath(const QString& path) { evalEdit_->setText(path); }
void MainWindow::setExperimentName(const QString& name) { experiment_->setText(name); }

void MainWindow::openStore() {
    QString path;
    if (opt_.databasePath) {
        path = *opt_.databasePath;
    } else {
        path = settings_.databasePath.isEmpty() ? ExperimentStore::defaultPath() : settings_.databasePath;
    }
    store_.reset();
    if (path.isEmpty()) return;
    try {
        store_ = std::make_unique<ExperimentStore>(path);
    } catch (const std::exception& e) {
        // the app works without the log; say so once
        showError(tr("Experiment log unavailable"),
                  tr("Runs will not be logged this session:\n%1").arg(QString::fromUtf8(e.what())));
    }
}

void MainWindow::refreshHistory() {
    if (!store_) {
        history_->setRuns({}, tr("none (runs are kept for this session only)"));
        updateCurves();
        return;
    }
    try {
        RunFilter f;
        f.limit = 2000;
        history_->setRuns(store_->listRuns(f), store_->path());
    } catch (const std::exception& e) {
        showError(tr("Cannot read the experiment log"), QString::fromUtf8(e.what()));
    }
    updateCurves();
}

bool MainWindow::openRunRecipe(qint64 runId) {
    if (!loaded_) {
        showError(tr("Open recipe"), tr("Open a model first."));
        return false;
    }
    try {
        if (!store_) throw Error(tr("no experiment log is open"));
        const std::optional<RunRecord> r = store_->run(runId);
        if (!r || r->recipe.isEmpty()) throw Error(tr("run %1 has no recipe in %2").arg(runId).arg(store_->path()));
        const Recipe recipe = Recipe::parse(QJsonDocument(r->recipe).toJson(), tr("run %1's recipe").arg(runId));
        table_->applyRecipe(recipe, tr("Open the recipe of run %1").arg(runId));
        progressLabel_->setText(tr("Applied the recipe of run %1 (%2).").arg(runId).arg(r->recipeSummary));
        return true;
    } catch (const std::exception& e) {
        showError(tr("Cannot open the run's recipe"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::prepareRun(RunRequest& r, QString* why) const {
    if (!loaded_) {
        *why = tr("Open a model first.");
        return false;
    }
    if (!loaded_->tokenizer) {
        *why = tr("The run needs the model's tokenizer to read its texts:\n%1").arg(loaded_->tokenizerError);
        return false;
    }
    r.loaded = loaded_;
    r.experiment = experiment_->text().trimmed().isEmpty() ? tr("manual") : experiment_->text().trimmed();
    r.recipe.setCalibration(CalibOptions{nsamples_->value(), seqlen_->value(), 0});
    r.evalOptions.seqlen = seqlen_->value();
    if (!loaded_->demo) {
        if (r.recipe.needsCalibration(*loaded_->model) && calibPath_.isEmpty()) {
            *why = tr("This recipe needs calibration text: run Analyse on a calibration file first (its text is reused).");
            return false;
        }
        if (evalPath_.isEmpty() || !QFileInfo(evalPath_).isFile()) {
            *why = evalPath_.isEmpty() ? tr("Choose the evaluation text (Eval text) first.")
                                       : tr("The evaluation text %1 does not exist.").arg(evalPath_);
            return false;
        }
    }
    // the demo calibrates on the first half of its own text and evaluates on the second, unless files were chosen
    r.calib = calibPath_.isEmpty() && loaded_->demo ? demoCalibration(*loaded_) : TextSource::file(calibPath_);
    r.eval = evalPath_.isEmpty() ? TextSource{QString(), loaded_->demoText, QStringLiteral("demo:text[0.5:1]"), 0.5, 1.0}
                                 : TextSource::file(evalPath_);
    return true;
}

bool MainWindow::prepareTableRun(RunRequest& r, const QString& errorTitle) {
    try {
        r.recipe = table_->toRecipe();
    } catch (const std::exception& e) {
        showError(errorTitle, QString::fromUtf8(e.what()));
        return false;
    }
    QString why;
    if (!prepareRun(r, &why)) {
        showError(errorTitle, why);
        return false;
    }
    r.label = tr("%1: %2 bits/w (%3)").arg(r.experiment).arg(table_->averageBits(), 0, 'f', 2)
                  .arg(ExperimentStore::recipeSummary(r.recipe.toJson()));
    r.recipe = Recipe::parse(r.recipe.toJsonBytes());  // canonical, as logged
    return true;
}

int MainWindow::runCurrent() {
    RunRequest r;
    if (!prepareTableRun(r, tr("Cannot run"))) return 0;
    const int id = runs_->enqueue(std::move(r));
    rightTabs_->setCurrentWidget(jobPanel_);
    return id;
}

int MainWindow::exportModel(const VerifiedExportRequest& req) {
    // what the writer would refuse only after the whole run
    const QFileInfo target(req.out);
    if (req.format == QLatin1String("gptq") && !checkpointDirFree(req.out)) {
        showError(tr("Cannot export"), tr("%1 already exists and is not an empty directory; choose a new directory for the checkpoint.").arg(req.out));
        return 0;
    }
    if (req.format == QLatin1String("gguf") && target.isDir()) {
        showError(tr("Cannot export"), tr("%1 is a directory; give the .gguf file to write.").arg(req.out));
        return 0;
    }
    RunRequest r;
    if (!prepareTableRun(r, tr("Cannot export"))) return 0;
    // what the table's recipe cannot give losslessly is said now, not after the run
    if (const QStringList problems = exportPlanProblems(req.format, plannedLayers(*loaded_->model, r.recipe), req.allowRequantize);
        !problems.isEmpty()) {
        showError(tr("Cannot export"),
                  (req.format == QLatin1String("gguf")
                       ? tr("No GGUF type stores these layers exactly as the table plans them: %1.\nUse gguf_q8_0, gguf_q4_0, gguf_q4_1, "
                            "mxfp4 or fp16 for them, or tick Re-quantize in the export dialog.")
                       : tr("A GPTQ-packed checkpoint cannot hold this recipe: %1."))
                      .arg(problems.join(QStringLiteral("; "))));
        return 0;
    }
    r.exportTo = req;
    r.exportTo->recipe = r.recipe.toJson();
    r.exportTo->inMemoryTokenizer = loaded_->demoTokenizer;
    r.label += QStringLiteral(" → ") + QFileInfo(req.out).fileName();
    const int id = runs_->enqueue(std::move(r));
    rightTabs_->setCurrentWidget(jobPanel_);
    return id;
}

void MainWindow::chooseAndExportModel() {
    ExportModelDialog dlg(lastDir_, this);
    if (dlg.exec() != QDialog::Accepted) return;
    lastDir_ = QFileInfo(dlg.path()).absolutePath();
    if (dlg.format() == QLatin1String("gguf") && QFileInfo(dlg.path()).isFile() &&
        QMessageBox::question(this, tr("Export model"), tr("%1 exists. Replace it when the export is written?").arg(dlg.path())) !=
            QMessageBox::Yes)
        return;
    VerifiedExportRequest req;
    req.format = dlg.format();
    req.out = QFileInfo(dlg.path()).absoluteFilePath();
    req.allowRequantize = dlg.allowRequantize();
    if (!dlg.requantizeTo().isEmpty()) req.requantizeTo = QuantFormat::parse(dlg.requantizeTo().toStdString());
    exportModel(req);
}

AllocCost MainWindow::allocCost() const {
    const SensitivityReport* rep = table_->report();
    return rep && reportHasBlockErrors(*rep) ? AllocCost::Block : AllocCost::Predicted;
}

int MainWindow::runSweep(SweepKind kind, const QString& values) {
    const QStringList parts = values.split(QRegularExpression(QStringLiteral("[,;\\s]+")), Qt::SkipEmptyParts);
    if (parts.isEmpty()) {
        showError(tr("Sweep"), tr("Give the values to sweep, e.g. 2.5, 3, 3.5 (budgets) or int3-g64, int4-g64 (formats)."));
        return 0;
    }
    std::vector<RunRequest> reqs;
    try {
        if (kind == SweepKind::Budgets) {
            const SensitivityReport* rep = table_->report();
            if (!rep) throw Error(tr("A budget sweep auto-assigns from the analysis: run Analyse first."));
            const AllocCost cost = allocCost();
            const std::vector<AllocItem> items = allocItemsFromReport(*rep, {}, cost);
            for (const QString& v : parts) {
                bool ok = false;
                const double b = v.toDouble(&ok);
                if (!ok || !(b > 0)) throw Error(tr("'%1' is not a budget in bits per weight").arg(v));
                const Allocation a = allocateKnapsack(items, b);
                RunRequest r;
                r.recipe = allocationRecipe(*rep, items, a, tr("auto-assign at %1 bits/weight (%2 error)").arg(b).arg(QLatin1String(allocCostName(cost))));
                r.label = tr("budget %1 bits/w (%2)").arg(b, 0, 'f', 2).arg(a.avgBits, 0, 'f', 3);
                reqs.push_back(std::move(r));
            }
        } else {
            const LayerPlan base = table_->toRecipe().defaults();
            for (const QString& v : parts) {
                const auto f = QuantFormat::parse(v.toLower().toStdString());
                if (!f || f->kind == FormatKind::None) throw Error(tr("'%1' is not a weight format (e.g. int4-g128, mxfp4)").arg(v));
                LayerPlan plan = base;
                if (plan.method == QuantMethod::None) plan.method = QuantMethod::Gptq;
                plan.weight = *f;
                RunRequest r;
                r.recipe = Recipe::fromUniform(plan, CalibOptions{});
                r.label = QString::fromStdString(f->name());
                reqs.push_back(std::move(r));
            }
        }
    } catch (const std::exception& e) {
        showError(tr("Sweep"), QString::fromUtf8(e.what()));
        return 0;
    }
    const QString name = experiment_->text().trimmed();
    for (RunRequest& r : reqs) {
        QString why;
        const QString label = r.label;
        if (!prepareRun(r, &why)) {
            showError(tr("Cannot run"), why);
            return 0;
        }
        // a sweep is its own curve: named after its kind unless the user named the experiment
        if (name.isEmpty() || name == tr("manual"))
            r.experiment = kind == SweepKind::Budgets ? tr("auto-assign (%1 error)").arg(QLatin1String(allocCostName(allocCost())))
                                                      : tr("uniform %1").arg(QString::fromStdString(planMethodName(r.recipe.defaults())));
        r.label = r.experiment + QStringLiteral(": ") + label;
    }
    for (RunRequest& r : reqs) runs_->enqueue(std::move(r));
    rightTabs_->setCurrentWidget(jobPanel_);
    return int(reqs.size());
}

void MainWindow::onRunFinished(const RunDone& d) {
    if (d.ok) {
        progressLabel_->setText(tr("%1: perplexity %2 at %3 bits/weight%4.")
                                    .arg(d.label)
                                    .arg(d.result->eval.ppl, 0, 'f', 3)
                                    .arg(d.result->quant.avgBits, 0, 'f', 3)
                                    .arg(d.runId ? tr(" (run %1 in the log)").arg(d.runId) : QString()));
    } else if (!d.cancelled) {
        showError(tr("The run failed"), tr("%1:\n%2").arg(d.label, d.error));
    }
    if (!d.exportError.isEmpty()) {
        showError(tr("The export failed"), tr("%1:\nthe run finished (its results are logged) but the model was not written:\n%2")
                                               .arg(d.label, d.exportError));
    } else if (!d.exported.isEmpty()) {
        QStringList lines{d.exported};
        lines << d.exportDetails;
        progressLabel_->setText(d.exported);
        if (opt_.modalErrors) QMessageBox::information(this, tr("Model exported"), lines.join(QLatin1Char('\n')));
    }
    if (store_) {
        refreshHistory();
        if (d.ok && d.runId) history_->model()->setCompared(d.runId, true);  // a finished run joins the curves
    } else {
        updateCurves();
    }
    if (d.ok) {
        std::vector<views::LayerErrorSeries> one{views::LayerErrorSeries::fromLayerResults(d.label, d.result->quant.layers)};
        errorChart_->setSeries(std::move(one));
    }
    Q_EMIT runEnded(d.jobId, d.ok);
}

void MainWindow::updateCurves() {
    std::map<QString, views::PplCurve> curves;
    std::optional<double> fp;
    if (store_) {
        for (qint64 id : history_->model()->compared()) {
            const RunRecord* r = history_->model()->run(id);
            const auto ppl = r ? views::runPpl(*r) : std::nullopt;
            if (!r || !ppl || !r->avgBits) continue;
            const QString name = runExperimentName(*r);
            curves[name].name = name;
            curves[name].points.push_back({*r->avgBits, *ppl, tr("run %1: %2").arg(r->id).arg(r->recipeSummary), r->id});
            const QJsonValue f = r->datasets.front().extra.value(QStringLiteral("fp_ppl"));
            if (f.isDouble()) fp = f.toDouble();
        }
    } else {
        for (const RunDone& d : runs_->done()) {
            if (!d.ok) continue;
            curves[d.experiment].name = d.experiment;
            curves[d.experiment].points.push_back({d.result->quant.avgBits, d.result->eval.ppl, d.label, 0});
            if (d.result->eval.referencePpl) fp = *d.result->eval.referencePpl;
        }
    }
    std::vector<views::PplCurve> list;
    for (auto& [k, c] : curves) list.push_back(std::move(c));
    pplChart_->setCurves(list);
    pplChart_->setReferencePpl(fp, tr("float"));
}

void MainWindow::showRunErrors(const std::vector<qint64>& ids) {
    if (!store_ || ids.empty()) return;
    std::vector<views::LayerErrorSeries> series;
    try {
        for (qint64 id : ids) {
            if (series.size() == 4) break;  // side by side, still readable
            const std::optional<RunRecord> r = store_->run(id);
            if (r && !r->layers.empty())
                series.push_back(views::LayerErrorSeries::fromLayerResultRows(tr("run %1: %2").arg(id).arg(r->recipeSummary), r->layers));
        }
    } catch (const std::exception& e) {
        showError(tr("Cannot read the experiment log"), QString::fromUtf8(e.what()));
        return;
    }
    if (!series.empty()) errorChart_->setSeries(std::move(series));
}

void MainWindow::updateFrontier() {
    const SensitivityReport* rep = table_->report();
    std::vector<views::FrontierPoint> pts;
    if (rep) {
        try {
            const AllocCost cost = allocCost();
            for (const Allocation& a : paretoFrontier(allocItemsFromReport(*rep, {}, cost), 400)) pts.push_back({a.avgBits, a.error});
            pplChart_->setFrontier(pts, tr("%1 error").arg(QLatin1String(allocCostName(cost))));
            return;
        } catch (const std::exception&) {
            // no frontier for this report (e.g. no candidates): the curves stand alone
        }
    }
    pplChart_->setFrontier({}, QString());
}

// ----------------------------------------------------------------------------

QImage renderDemoScreenshot(const MainWindowOptions& options, const QSize& size, double budgetBits, QString* error, int lowerTab,
                            int timeoutMs) {
    MainWindowOptions opt = options;
    opt.loadDemoAtStart = false;
    opt.modalErrors = false;
    opt.persistentSettings = false;
    QTemporaryDir logDir;  // the screenshot's runs stay out of the user's experiment log
    if (!opt.databasePath) opt.databasePath = logDir.isValid() ? logDir.filePath(QStringLiteral("screenshot.sqlite")) : QString();
    MainWindow w(opt);
    QString err;
    QObject::connect(&w, &MainWindow::errorOccurred, &w, [&err](const QString& t, const QString& m) {
        if (err.isEmpty()) err = t + QStringLiteral(": ") + m;
    });
    w.setAttribute(Qt::WA_DontShowOnScreen);
    w.resize(size);
    w.show();
    bool analysed = false, runsOk = true;
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
        w.runQueue()->cancelAll();
        return QImage();
    };
    if (!analysed) return fail(err.isEmpty() ? QStringLiteral("the analysis did not finish") : err);
    if (!w.autoAssign(budgetBits)) return fail(err);
    // two experiments compared: the auto-assigned mixed recipes against uniform GPTQ
    QObject::connect(&w, &MainWindow::runEnded, &loop, [&](int, bool ok) {
        runsOk = runsOk && ok;
        if (!ok || w.runQueue()->idle()) loop.quit();
    });
    if (w.runSweep(SweepKind::Budgets, QStringLiteral("2.5, 3, 3.5, 4.25")) == 0 ||
        w.runSweep(SweepKind::Formats, QStringLiteral("int2-g32, int3-g64, int4-g128")) == 0)
        return fail(err);
    loop.exec();
    if (!runsOk || !w.runQueue()->idle()) return fail(err.isEmpty() ? QStringLiteral("a run failed") : err);
    // the most sensitive layers first; the history of the runs
    w.tableView()->sortByColumn(views::LayerTableModel::ColSensitivity, Qt::DescendingOrder);
    w.rightTabs()->setCurrentWidget(w.historyView());
    w.lowerTabs()->setCurrentIndex(std::clamp(lowerTab, 0, w.lowerTabs()->count() - 1));
    w.resize(size);
    for (int i = 0; i < 5; ++i) {  // charts lay out their legends and axes when events are processed
        QCoreApplication::processEvents();
        QThread::msleep(10);
    }
    for (int i = 0; i < 5; ++i) QCoreApplication::processEvents();
    QImage img = w.grab().toImage();
    if (img.isNull()) return fail(QStringLiteral("QWidget::grab() returned an empty image"));
    return img;
}

}  // namespace qs::gui
