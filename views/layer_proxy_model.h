#pragma once
// Filter-by-name and numeric sorting over a LayerTableModel.
//  * The name filter is a case-insensitive substring of the layer name, or a
//    wildcard pattern when it holds '*' or '?' ("*.mlp.*", "layers.1?.*").
//  * Sorting uses LayerTableModel::SortRole: numbers compare numerically
//    (sensitivity 1e-3 sorts above 9e-4, not as text); empty cells (no analysis
//    yet) always go after the filled ones, in either direction; ties keep model
//    order.
#include <QSortFilterProxyModel>

namespace qs::views {

class LayerProxyModel : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit LayerProxyModel(QObject* parent = nullptr);
    void setNameFilter(const QString& text);
    QString nameFilter() const { return filter_; }
    /// Source rows of the given proxy indexes (each row once, ascending).
    QList<int> sourceRows(const QModelIndexList& proxyIndexes) const;

protected:
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

private:
    QString filter_;
};

}  // namespace qs::views
