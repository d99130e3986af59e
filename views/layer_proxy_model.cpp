#include "layer_proxy_model.h"

#include <algorithm>

#include <QRegularExpression>

#include "layer_table_model.h"

namespace qs::views {

LayerProxyModel::LayerProxyModel(QObject* parent) : QSortFilterProxyModel(parent) {
    setSortRole(LayerTableModel::SortRole);
    setFilterKeyColumn(LayerTableModel::ColName);
    setDynamicSortFilter(true);
}

void LayerProxyModel::setNameFilter(const QString& text) {
    filter_ = text.trimmed();
    QString pattern;
    if (filter_.contains(QLatin1Char('*')) || filter_.contains(QLatin1Char('?')))
        pattern = QRegularExpression::wildcardToRegularExpression(filter_, QRegularExpression::UnanchoredWildcardConversion);
    else
        pattern = QRegularExpression::escape(filter_);
    setFilterRegularExpression(QRegularExpression(pattern, QRegularExpression::CaseInsensitiveOption));
}

QList<int> LayerProxyModel::sourceRows(const QModelIndexList& proxyIndexes) const {
    QList<int> rows;
    for (const QModelIndex& i : proxyIndexes) {
        const int r = mapToSource(i).row();
        if (r >= 0 && !rows.contains(r)) rows.push_back(r);
    }
    std::sort(rows.begin(), rows.end());
    return rows;
}

bool LayerProxyModel::lessThan(const QModelIndex& left, const QModelIndex& right) const {
    const QVariant a = left.data(sortRole()), b = right.data(sortRole());
    const bool aNum = a.isValid() && a.typeId() != QMetaType::QString;
    const bool bNum = b.isValid() && b.typeId() != QMetaType::QString;
    const bool desc = sortOrder() == Qt::DescendingOrder;
    // empty cells last in both directions (the view reverses lessThan when descending)
    if (!a.isValid() || !b.isValid()) {
        if (a.isValid() == b.isValid()) return false;  // stable sort: model order
        return desc ? !a.isValid() : !b.isValid();
    }
    if (aNum && bNum) {
        const double x = a.toDouble(), y = b.toDouble();
        return x < y;
    }
    return QString::localeAwareCompare(a.toString(), b.toString()) < 0;
}

}  // namespace qs::views
