#pragma once
// The editor of the layer table's "Weight format" column: a slider and a spin box
// over the bit widths 2..8 (kept in step). It writes the chosen width as an int
// to Qt::EditRole; LayerTableModel keeps the row's group size and symmetry
// (LayerTableModel::withBits) and records the edit on its undo stack.
#include <QStyledItemDelegate>
#include <QWidget>

class QSlider;
class QSpinBox;

namespace qs::views {

class BitsEditor : public QWidget {
    Q_OBJECT
    Q_PROPERTY(int bits READ bits WRITE setBits NOTIFY bitsChanged USER true)
public:
    explicit BitsEditor(QWidget* parent = nullptr);
    int bits() const;
    void setBits(int b);
    QSlider* slider() const { return slider_; }
    QSpinBox* spinBox() const { return spin_; }
    QSize sizeHint() const override;

Q_SIGNALS:
    void bitsChanged(int bits);

private:
    QSlider* slider_;
    QSpinBox* spin_;
};

class BitsDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    explicit BitsDelegate(QObject* parent = nullptr);
    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override;
    void updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

}  // namespace qs::views
