#pragma once
// The job panel: one row per background run (queued, running or ended) with its
// progress bar, elapsed and estimated remaining time, the stage it is in and its
// result; Cancel stops the selected jobs (queued ones never start).
//  * JobListModel holds what the app reports (addJob / setRunning / setProgress /
//    finish); it computes nothing but the clock: elapsed = wall time since the
//    job started running, remaining = elapsed · (1 − f) / f once f ≥ 2 %.
//  * JobPanel shows it in a table with a progress-bar delegate and emits
//    cancelRequested(id) for the app to act on.
#include <optional>
#include <vector>

#include <QAbstractTableModel>
#include <QElapsedTimer>
#include <QStyledItemDelegate>
#include <QWidget>

class QPushButton;
class QTableView;
class QTimer;

namespace qs::views {

enum class JobStatus { Queued, Running, Finished, Failed, Cancelled };
QString jobStatusName(JobStatus s);

struct JobEntry {
    int id = 0;
    QString label;
    JobStatus status = JobStatus::Queued;
    double fraction = 0;
    QString message;  // the current stage / the error / the result
    QElapsedTimer clock;
    qint64 elapsedMs = 0;  // frozen when the job ends
    bool cancelRequested = false;
    bool ended() const { return status == JobStatus::Finished || status == JobStatus::Failed || status == JobStatus::Cancelled; }
};

class JobListModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColJob, ColStatus, ColProgress, ColElapsed, ColRemaining, ColMessage, ColumnCount };
    explicit JobListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

    /// Adds a queued job and returns its id (ids start at 1 and are never reused).
    int addJob(const QString& label);
    void setRunning(int id);
    void setProgress(int id, double fraction, const QString& message);
    /// Marks a cancel request (shown as "cancelling…" until the job ends).
    void markCancelRequested(int id);
    void finish(int id, JobStatus status, const QString& message);
    /// Removes ended jobs.
    void clearEnded();

    const JobEntry* job(int id) const;
    int rowOf(int id) const;
    int idAt(int row) const;
    /// Remaining seconds (nullopt while unknown or when not running).
    std::optional<double> remainingSeconds(int id) const;
    int activeCount() const;  // queued + running

private:
    void tick();
    void changed(int row);
    std::vector<JobEntry> jobs_;
    int nextId_ = 1;
    QTimer* timer_ = nullptr;
};

/// Paints the progress column as a progress bar.
class ProgressDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* p, const QStyleOptionViewItem& opt, const QModelIndex& index) const override;
};

class JobPanel : public QWidget {
    Q_OBJECT
public:
    explicit JobPanel(JobListModel* model, QWidget* parent = nullptr);
    QTableView* view() const { return view_; }
    QPushButton* cancelButton() const { return cancel_; }
    /// Asks to cancel the selected jobs that have not ended (emits cancelRequested per job).
    void cancelSelected();

Q_SIGNALS:
    void cancelRequested(int id);

private:
    void updateButtons();
    JobListModel* model_;
    QTableView* view_ = nullptr;
    QPushButton* cancel_ = nullptr;
    QPushButton* clear_ = nullptr;
};

/// "1 h 02 min", "3 min 05 s", "12 s".
QString formatDuration(double seconds);

}  // namespace qs::views
