#pragma once
// The experiment history: the runs of the SQLite log (newest first), filtered by
// model, with a check box per run to compare it in the perplexity chart and a
// button to open a run's recipe in the layer table.
//  * RunHistoryModel holds the RunRecords the app read from the log (views never
//    query the database themselves) and which of them are ticked.
//  * HistoryView: model filter, table, Refresh / Open recipe; it emits
//    refreshRequested, openRecipeRequested(runId) and compareChanged(ids).
#include <set>
#include <vector>

#include <QAbstractTableModel>
#include <QWidget>

#include "store/store.h"

class QComboBox;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QLabel;

namespace qs::views {

class RunHistoryModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColCompare, ColId, ColStarted, ColModel, ColExperiment, ColRecipe, ColBits, ColPpl, ColStatus, ColDuration, ColumnCount };
    explicit RunHistoryModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;

    /// Replaces the runs; ticks of runs still present are kept.
    void setRuns(std::vector<RunRecord> runs);
    const std::vector<RunRecord>& runs() const { return runs_; }
    const RunRecord* run(qint64 id) const;
    /// Ticked runs (ids), and ticking from code (e.g. a run that just finished).
    std::vector<qint64> compared() const;
    void setCompared(qint64 id, bool on);

Q_SIGNALS:
    void compareChanged();

private:
    std::vector<RunRecord> runs_;
    std::set<qint64> compared_;
};

class HistoryView : public QWidget {
    Q_OBJECT
public:
    explicit HistoryView(QWidget* parent = nullptr);
    RunHistoryModel* model() const { return model_; }
    QTableView* view() const { return view_; }
    /// Sets the runs and fills the model filter from their model paths.
    void setRuns(std::vector<RunRecord> runs, const QString& databasePath);
    /// Only runs whose model path contains this (empty: all).
    void setModelFilter(const QString& modelPath);
    qint64 selectedRunId() const;
    /// The selected runs (ids, in view order).
    std::vector<qint64> selectedRunIds() const;
    /// The file a run exported (params.export, written) when it still exists, else empty.
    QString exportedModelPath(qint64 runId) const;
    /// Asks to open that file (openModelRequested); false when there is none.
    bool openExportedModel(qint64 runId);

Q_SIGNALS:
    /// Open a model file (a run's export) in the window.
    void openModelRequested(const QString& path);
    void refreshRequested();
    void openRecipeRequested(qint64 runId);
    void compareChanged(const std::vector<qint64>& ids);
    /// The selection changed (e.g. to show the selected runs' per-layer errors).
    void selectionChanged(const std::vector<qint64>& ids);

private:
    void updateButtons();
    RunHistoryModel* model_ = nullptr;
    QSortFilterProxyModel* proxy_ = nullptr;
    QTableView* view_ = nullptr;
    QComboBox* modelFilter_ = nullptr;
    QPushButton* refresh_ = nullptr;
    QPushButton* open_ = nullptr;
    QLabel* dbLabel_ = nullptr;
};

/// The first dataset's perplexity of a run (nullopt when it has none).
std::optional<double> runPpl(const RunRecord& r);

}  // namespace qs::views
