#include "job_panel.h"

#include <algorithm>
#include <cmath>

#include <QApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QStyleOptionProgressBar>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace qs::views {

QString jobStatusName(JobStatus s) {
    switch (s) {
        case JobStatus::Queued: return QObject::tr("queued");
        case JobStatus::Running: return QObject::tr("running");
        case JobStatus::Finished: return QObject::tr("finished");
        case JobStatus::Failed: return QObject::tr("failed");
        case JobStatus::Cancelled: return QObject::tr("cancelled");
    }
    return {};
}

QString formatDuration(double s) {
    if (!std::isfinite(s) || s < 0) return QStringLiteral("–");
    const qint64 t = qint64(std::llround(s));
    if (t >= 3600) return QObject::tr("%1 h %2 min").arg(t / 3600).arg((t % 3600) / 60, 2, 10, QLatin1Char('0'));
    if (t >= 60) return QObject::tr("%1 min %2 s").arg(t / 60).arg(t % 60, 2, 10, QLatin1Char('0'));
    return QObject::tr("%1 s").arg(t);
}

JobListModel::JobListModel(QObject* parent) : QAbstractTableModel(parent), timer_(new QTimer(this)) {
    timer_->setInterval(1000);
    connect(timer_, &QTimer::timeout, this, &JobListModel::tick);
}

int JobListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(jobs_.size()); }
int JobListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant JobListModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
        case ColJob: return tr("Run");
        case ColStatus: return tr("Status");
        case ColProgress: return tr("Progress");
        case ColElapsed: return tr("Elapsed");
        case ColRemaining: return tr("Remaining");
        case ColMessage: return tr("Stage / result");
    }
    return {};
}

QVariant JobListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(jobs_.size())) return {};
    const JobEntry& j = jobs_[size_t(index.row())];
    if (role == Qt::UserRole) return j.id;
    if (role == Qt::ToolTipRole) return j.label + QLatin1Char('\n') + j.message;
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
            case ColJob: return j.label;
            case ColStatus:
                return j.cancelRequested && !j.ended() ? tr("cancelling…") : jobStatusName(j.status);
            case ColProgress: return j.fraction;
            case ColElapsed:
                return j.status == JobStatus::Queued ? QStringLiteral("–") : formatDuration(double(j.elapsedMs) / 1000.0);
            case ColRemaining: {
                const auto r = remainingSeconds(j.id);
                return r ? formatDuration(*r) : QStringLiteral("–");
            }
            case ColMessage: return j.message;
        }
    }
    if (role == Qt::ForegroundRole && index.column() == ColStatus) {
        if (j.status == JobStatus::Failed) return QColor(190, 30, 30);
        if (j.status == JobStatus::Finished) return QColor(20, 120, 40);
    }
    return {};
}

int JobListModel::addJob(const QString& label) {
    const int row = int(jobs_.size());
    beginInsertRows({}, row, row);
    JobEntry j;
    j.id = nextId_++;
    j.label = label;
    j.message = tr("waiting for the runs before it");
    jobs_.push_back(j);
    endInsertRows();
    return jobs_.back().id;
}

int JobListModel::rowOf(int id) const {
    for (size_t i = 0; i < jobs_.size(); ++i)
        if (jobs_[i].id == id) return int(i);
    return -1;
}

int JobListModel::idAt(int row) const { return row >= 0 && row < int(jobs_.size()) ? jobs_[size_t(row)].id : 0; }

const JobEntry* JobListModel::job(int id) const {
    const int r = rowOf(id);
    return r < 0 ? nullptr : &jobs_[size_t(r)];
}

void JobListModel::changed(int row) { Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1)); }

void JobListModel::setRunning(int id) {
    const int r = rowOf(id);
    if (r < 0) return;
    JobEntry& j = jobs_[size_t(r)];
    j.status = JobStatus::Running;
    j.clock.start();
    j.elapsedMs = 0;
    j.message = tr("starting");
    if (!timer_->isActive()) timer_->start();
    changed(r);
}

void JobListModel::setProgress(int id, double fraction, const QString& message) {
    const int r = rowOf(id);
    if (r < 0 || jobs_[size_t(r)].ended()) return;
    JobEntry& j = jobs_[size_t(r)];
    j.fraction = std::clamp(fraction, 0.0, 1.0);
    if (!message.isEmpty()) j.message = message;
    if (j.clock.isValid()) j.elapsedMs = j.clock.elapsed();
    changed(r);
}

void JobListModel::markCancelRequested(int id) {
    const int r = rowOf(id);
    if (r < 0 || jobs_[size_t(r)].ended()) return;
    jobs_[size_t(r)].cancelRequested = true;
    changed(r);
}

void JobListModel::finish(int id, JobStatus status, const QString& message) {
    const int r = rowOf(id);
    if (r < 0) return;
    JobEntry& j = jobs_[size_t(r)];
    if (j.clock.isValid()) j.elapsedMs = j.clock.elapsed();
    j.status = status;
    if (status == JobStatus::Finished) j.fraction = 1.0;
    j.message = message;
    changed(r);
    if (activeCount() == 0) timer_->stop();
}

void JobListModel::clearEnded() {
    for (int r = int(jobs_.size()) - 1; r >= 0; --r) {
        if (!jobs_[size_t(r)].ended()) continue;
        beginRemoveRows({}, r, r);
        jobs_.erase(jobs_.begin() + r);
        endRemoveRows();
    }
}

std::optional<double> JobListModel::remainingSeconds(int id) const {
    const JobEntry* j = job(id);
    if (!j || j->status != JobStatus::Running || j->fraction < 0.02) return std::nullopt;
    const double el = double(j->elapsedMs) / 1000.0;
    return el * (1.0 - j->fraction) / j->fraction;
}

int JobListModel::activeCount() const {
    return int(std::count_if(jobs_.begin(), jobs_.end(), [](const JobEntry& j) { return !j.ended(); }));
}

void JobListModel::tick() {
    for (size_t r = 0; r < jobs_.size(); ++r) {
        JobEntry& j = jobs_[r];
        if (j.status != JobStatus::Running || !j.clock.isValid()) continue;
        j.elapsedMs = j.clock.elapsed();
        Q_EMIT dataChanged(index(int(r), ColElapsed), index(int(r), ColRemaining));
    }
}

void ProgressDelegate::paint(QPainter* p, const QStyleOptionViewItem& opt, const QModelIndex& index) const {
    QStyleOptionProgressBar bar;
    bar.rect = opt.rect.adjusted(2, 2, -2, -2);
    bar.minimum = 0;
    bar.maximum = 1000;
    bar.progress = int(std::lround(index.data().toDouble() * 1000));
    bar.text = QStringLiteral("%1 %").arg(index.data().toDouble() * 100, 0, 'f', 0);
    bar.textVisible = true;
    bar.textAlignment = Qt::AlignCenter;
    bar.state = opt.state | QStyle::State_Horizontal;
    const QWidget* w = opt.widget;
    QStyle* style = w ? w->style() : QApplication::style();
    style->drawControl(QStyle::CE_ProgressBar, &bar, p, w);
}

JobPanel::JobPanel(JobListModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    v->setSpacing(3);
    view_ = new QTableView(this);
    view_->setModel(model_);
    view_->setItemDelegateForColumn(JobListModel::ColProgress, new ProgressDelegate(view_));
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    view_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view_->verticalHeader()->setVisible(false);
    view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 8);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setWordWrap(false);
    view_->setColumnWidth(JobListModel::ColJob, 190);
    view_->setColumnWidth(JobListModel::ColStatus, 80);
    view_->setColumnWidth(JobListModel::ColProgress, 110);
    view_->setColumnWidth(JobListModel::ColElapsed, 70);
    view_->setColumnWidth(JobListModel::ColRemaining, 80);
    v->addWidget(view_, 1);

    auto* row = new QHBoxLayout();
    cancel_ = new QPushButton(tr("Cancel selected"), this);
    cancel_->setToolTip(tr("Stop the selected runs: a running one stops at its next checkpoint, a queued one never starts"));
    clear_ = new QPushButton(tr("Clear ended"), this);
    row->addWidget(cancel_);
    row->addWidget(clear_);
    row->addStretch(1);
    v->addLayout(row);

    connect(cancel_, &QPushButton::clicked, this, &JobPanel::cancelSelected);
    connect(clear_, &QPushButton::clicked, model_, &JobListModel::clearEnded);
    connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &JobPanel::updateButtons);
    connect(model_, &QAbstractItemModel::dataChanged, this, &JobPanel::updateButtons);
    connect(model_, &QAbstractItemModel::rowsInserted, this, &JobPanel::updateButtons);
    connect(model_, &QAbstractItemModel::rowsRemoved, this, &JobPanel::updateButtons);
    updateButtons();
}

void JobPanel::cancelSelected() {
    std::vector<int> ids;
    for (const QModelIndex& i : view_->selectionModel()->selectedRows()) ids.push_back(model_->idAt(i.row()));
    for (int id : ids) {
        const JobEntry* j = model_->job(id);
        if (j && !j->ended() && !j->cancelRequested) Q_EMIT cancelRequested(id);
    }
}

void JobPanel::updateButtons() {
    bool any = false, ended = false;
    for (const QModelIndex& i : view_->selectionModel()->selectedRows()) {
        const JobEntry* j = model_->job(model_->idAt(i.row()));
        any = any || (j && !j->ended());
    }
    for (int r = 0; r < model_->rowCount(); ++r) ended = ended || model_->job(model_->idAt(r))->ended();
    cancel_->setEnabled(any);
    clear_->setEnabled(ended);
}

}  // namespace qs::views
