#include "history_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QDateTime>
#include <QFileInfo>
#include <QJsonObject>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "job_panel.h"
#include "store/results.h"

namespace qs::views {

std::optional<double> runPpl(const RunRecord& r) {
    if (r.datasets.empty() || !std::isfinite(r.datasets.front().ppl)) return std::nullopt;
    return r.datasets.front().ppl;
}

namespace {

std::optional<double> durationSeconds(const RunRecord& r) {
    const QDateTime a = QDateTime::fromString(r.startedAt, Qt::ISODateWithMs), b = QDateTime::fromString(r.endedAt, Qt::ISODateWithMs);
    if (!a.isValid() || !b.isValid()) return std::nullopt;
    return double(a.msecsTo(b)) / 1000.0;
}

/// What the model column and filter show: the file or folder name (the path when it has none).
QString modelDisplayName(const QString& path) {
    const QString n = QFileInfo(path).fileName();
    return n.isEmpty() ? path : n;
}

QString shortTime(const QString& iso) {
    const QDateTime t = QDateTime::fromString(iso, Qt::ISODateWithMs);
    return t.isValid() ? t.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")) : iso;
}

}  // namespace

RunHistoryModel::RunHistoryModel(QObject* parent) : QAbstractTableModel(parent) {}

int RunHistoryModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(runs_.size()); }
int RunHistoryModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunHistoryModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal) return {};
    if (role == Qt::ToolTipRole && section == ColCompare) return tr("Tick runs to draw them in the perplexity chart");
    if (role != Qt::DisplayRole) return {};
    switch (section) {
        case ColCompare: return tr("Show");
        case ColId: return tr("Run");
        case ColStarted: return tr("Started");
        case ColModel: return tr("Model");
        case ColExperiment: return tr("Experiment");
        case ColRecipe: return tr("Recipe");
        case ColBits: return tr("Bits/w");
        case ColPpl: return tr("PPL");
        case ColStatus: return tr("Status");
        case ColDuration: return tr("Time");
    }
    return {};
}

Qt::ItemFlags RunHistoryModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.column() == ColCompare && index.row() < int(runs_.size()) && runPpl(runs_[size_t(index.row())]) &&
        runs_[size_t(index.row())].avgBits)
        f |= Qt::ItemIsUserCheckable;
    return f;
}

QVariant RunHistoryModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(runs_.size())) return {};
    const RunRecord& r = runs_[size_t(index.row())];
    const auto ppl = runPpl(r);
    if (role == Qt::CheckStateRole && index.column() == ColCompare && ppl && r.avgBits)
        return compared_.count(r.id) ? Qt::Checked : Qt::Unchecked;
    if (role == Qt::UserRole) {  // sort keys
        switch (index.column()) {
            case ColId: return qint64(r.id);
            case ColBits: return r.avgBits ? QVariant(*r.avgBits) : QVariant();
            case ColPpl: return ppl ? QVariant(*ppl) : QVariant();
            case ColDuration: {
                const auto d = durationSeconds(r);
                return d ? QVariant(*d) : QVariant();
            }
            default: return data(index, Qt::DisplayRole);
        }
    }
    if (role == Qt::ToolTipRole) {
        QString t = tr("run %1 (%2) of %3\nrecipe: %4\ndevice: %5").arg(r.id).arg(r.kind, r.modelPath, r.recipeSummary, r.device);
        if (!r.error.isEmpty()) t += tr("\nerror: %1").arg(r.error);
        for (const DatasetResultRow& d : r.datasets) t += tr("\n%1: ppl %2").arg(QFileInfo(d.dataPath).fileName()).arg(d.ppl, 0, 'f', 4);
        if (const auto ex = RunExport::of(r))
            t += ex->written ? tr("\nexported: %1").arg(ex->summary) : tr("\nexport to %1 failed: %2").arg(ex->path, ex->error);
        return t;
    }
    if (role == Qt::TextAlignmentRole && (index.column() == ColId || index.column() == ColBits || index.column() == ColPpl))
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
        case ColId: return qint64(r.id);
        case ColStarted: return shortTime(r.startedAt);
        case ColModel: return modelDisplayName(r.modelPath);
        case ColExperiment: return runExperimentName(r);
        case ColRecipe: return r.recipeSummary;
        case ColBits: return r.avgBits ? QString::number(*r.avgBits, 'f', 3) : QString();
        case ColPpl: return ppl ? QString::number(*ppl, 'f', 3) : QString();
        case ColStatus: {
            // a run that exported says so: "finished · GGUF written" / "finished · export failed"
            const auto ex = RunExport::of(r);
            if (!ex) return r.status;
            return ex->written ? tr("%1 · %2 written").arg(r.status, ex->format.toUpper()) : tr("%1 · export failed").arg(r.status);
        }
        case ColDuration: {
            const auto d = durationSeconds(r);
            return d ? formatDuration(*d) : QString();
        }
    }
    return {};
}

bool RunHistoryModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::CheckStateRole || index.column() != ColCompare || index.row() >= int(runs_.size())) return false;
    const qint64 id = runs_[size_t(index.row())].id;
    if (value.toInt() == Qt::Checked) compared_.insert(id);
    else compared_.erase(id);
    Q_EMIT dataChanged(index, index, {Qt::CheckStateRole});
    Q_EMIT compareChanged();
    return true;
}

void RunHistoryModel::setRuns(std::vector<RunRecord> runs) {
    beginResetModel();
    runs_ = std::move(runs);
    std::set<qint64> keep;
    for (const RunRecord& r : runs_)
        if (compared_.count(r.id)) keep.insert(r.id);
    compared_ = keep;
    endResetModel();
    Q_EMIT compareChanged();
}

const RunRecord* RunHistoryModel::run(qint64 id) const {
    for (const RunRecord& r : runs_)
        if (r.id == id) return &r;
    return nullptr;
}

std::vector<qint64> RunHistoryModel::compared() const { return {compared_.begin(), compared_.end()}; }

void RunHistoryModel::setCompared(qint64 id, bool on) {
    for (size_t i = 0; i < runs_.size(); ++i)
        if (runs_[i].id == id) setData(index(int(i), ColCompare), on ? Qt::Checked : Qt::Unchecked, Qt::CheckStateRole);
}

HistoryView::HistoryView(QWidget* parent) : QWidget(parent) {
    model_ = new RunHistoryModel(this);
    proxy_ = new QSortFilterProxyModel(this);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(Qt::UserRole);
    proxy_->setFilterKeyColumn(RunHistoryModel::ColModel);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);

    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    v->setSpacing(3);
    auto* row = new QHBoxLayout();
    row->addWidget(new QLabel(tr("Model:"), this));
    modelFilter_ = new QComboBox(this);
    modelFilter_->setMinimumContentsLength(18);
    modelFilter_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    modelFilter_->setToolTip(tr("Show the runs of one model"));
    row->addWidget(modelFilter_, 1);
    refresh_ = new QPushButton(tr("Refresh"), this);
    refresh_->setToolTip(tr("Read the experiment log again (runs of other processes, e.g. the CLI, appear)"));
    open_ = new QPushButton(tr("Open recipe"), this);
    open_->setToolTip(tr("Apply the selected run's recipe to the layer table (one undo step); "
                         "select several runs to compare their per-layer errors"));
    row->addWidget(refresh_);
    row->addWidget(open_);
    v->addLayout(row);

    view_ = new QTableView(this);
    view_->setModel(proxy_);
    view_->setSortingEnabled(true);
    view_->sortByColumn(RunHistoryModel::ColId, Qt::DescendingOrder);
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    view_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view_->verticalHeader()->setVisible(false);
    view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 6);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setWordWrap(false);
    view_->setAlternatingRowColors(true);
    {  // what runs are compared by first (bits, perplexity), the recipe and bookkeeping after
        QHeaderView* h = view_->horizontalHeader();
        int to = 0;
        for (int c : {RunHistoryModel::ColCompare, RunHistoryModel::ColId, RunHistoryModel::ColExperiment, RunHistoryModel::ColBits,
                      RunHistoryModel::ColPpl, RunHistoryModel::ColRecipe, RunHistoryModel::ColStatus, RunHistoryModel::ColStarted,
                      RunHistoryModel::ColModel, RunHistoryModel::ColDuration})
            h->moveSection(h->visualIndex(c), to++);
    }
    v->addWidget(view_, 1);
    dbLabel_ = new QLabel(this);
    dbLabel_->setStyleSheet(QStringLiteral("color: palette(mid);"));
    dbLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(dbLabel_);

    connect(refresh_, &QPushButton::clicked, this, &HistoryView::refreshRequested);
    connect(open_, &QPushButton::clicked, this, [this] {
        if (const qint64 id = selectedRunId()) Q_EMIT openRecipeRequested(id);
    });
    connect(view_, &QTableView::doubleClicked, this, [this] {
        if (const qint64 id = selectedRunId()) Q_EMIT openRecipeRequested(id);
    });
    // right-click: the run's recipe, or the file it exported
    view_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(view_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        const qint64 id = selectedRunId();
        if (!id) return;
        QMenu menu(this);
        QAction* recipe = menu.addAction(tr("Open recipe"), this, [this, id] { Q_EMIT openRecipeRequested(id); });
        recipe->setEnabled(open_->isEnabled());
        const QString file = exportedModelPath(id);
        QAction* model = menu.addAction(file.isEmpty() ? tr("Open exported model (none)") : tr("Open exported model %1").arg(QFileInfo(file).fileName()),
                                        this, [this, id] { openExportedModel(id); });
        model->setEnabled(!file.isEmpty());
        menu.exec(view_->viewport()->mapToGlobal(pos));
    });
    connect(modelFilter_, &QComboBox::currentIndexChanged, this, [this] {
        proxy_->setFilterFixedString(modelFilter_->currentData().toString());
    });
    connect(model_, &RunHistoryModel::compareChanged, this, [this] { Q_EMIT compareChanged(model_->compared()); });
    connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        updateButtons();
        Q_EMIT selectionChanged(selectedRunIds());
    });
    connect(model_, &QAbstractItemModel::modelReset, this, &HistoryView::updateButtons);
    updateButtons();
}

void HistoryView::setRuns(std::vector<RunRecord> runs, const QString& databasePath) {
    const QString keep = modelFilter_->currentData().toString();
    QStringList names;
    for (const RunRecord& r : runs) {
        const QString n = modelDisplayName(r.modelPath);
        if (!names.contains(n)) names << n;
    }
    names.sort();
    {
        const QSignalBlocker block(modelFilter_);
        modelFilter_->clear();
        modelFilter_->addItem(tr("all models (%1 runs)").arg(runs.size()), QString());
        for (const QString& n : names) modelFilter_->addItem(n, n);
        const int i = modelFilter_->findData(keep);
        modelFilter_->setCurrentIndex(i < 0 ? 0 : i);
    }
    model_->setRuns(std::move(runs));
    proxy_->setFilterFixedString(modelFilter_->currentData().toString());
    view_->resizeColumnsToContents();
    dbLabel_->setText(tr("Experiment log: %1").arg(databasePath));
}

void HistoryView::setModelFilter(const QString& modelPath) {
    const QString n = modelDisplayName(modelPath);
    const int i = modelFilter_->findData(n);
    if (i >= 0) modelFilter_->setCurrentIndex(i);
}

QString HistoryView::exportedModelPath(qint64 runId) const {
    const RunRecord* r = model_->run(runId);
    if (!r) return {};
    const auto ex = RunExport::of(*r);
    return ex && ex->written && !ex->path.isEmpty() && QFileInfo::exists(ex->path) ? ex->path : QString();
}

bool HistoryView::openExportedModel(qint64 runId) {
    const QString path = exportedModelPath(runId);
    if (path.isEmpty()) return false;
    Q_EMIT openModelRequested(path);
    return true;
}

qint64 HistoryView::selectedRunId() const {
    const std::vector<qint64> ids = selectedRunIds();
    return ids.empty() ? 0 : ids.front();
}

std::vector<qint64> HistoryView::selectedRunIds() const {
    QModelIndexList rows = view_->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
    std::vector<qint64> ids;
    for (const QModelIndex& i : rows) {
        const QModelIndex src = proxy_->mapToSource(i);
        if (src.isValid()) ids.push_back(model_->runs()[size_t(src.row())].id);
    }
    return ids;
}

void HistoryView::updateButtons() {
    const qint64 id = selectedRunId();
    const RunRecord* r = id ? model_->run(id) : nullptr;
    open_->setEnabled(r && r->recipeId);
}

}  // namespace qs::views
