#include "bits_delegate.h"

#include <algorithm>

#include <QHBoxLayout>
#include <QSlider>
#include <QSpinBox>

namespace qs::views {

BitsEditor::BitsEditor(QWidget* parent) : QWidget(parent), slider_(new QSlider(Qt::Horizontal, this)), spin_(new QSpinBox(this)) {
    setAutoFillBackground(true);
    auto* lay = new QHBoxLayout(this);
    lay->setContentsMargins(2, 0, 2, 0);
    lay->setSpacing(4);
    slider_->setRange(2, 8);
    slider_->setPageStep(1);
    slider_->setTickPosition(QSlider::NoTicks);
    spin_->setRange(2, 8);
    spin_->setSuffix(tr(" bit"));
    spin_->setToolTip(tr("Weight bit width (2–8); the group size is kept"));
    slider_->setToolTip(spin_->toolTip());
    lay->addWidget(slider_, 1);
    lay->addWidget(spin_);
    connect(slider_, &QSlider::valueChanged, this, [this](int v) {
        if (spin_->value() != v) spin_->setValue(v);
        Q_EMIT bitsChanged(v);
    });
    connect(spin_, &QSpinBox::valueChanged, this, [this](int v) {
        if (slider_->value() != v) slider_->setValue(v);
    });
    setFocusProxy(spin_);
}

int BitsEditor::bits() const { return spin_->value(); }

void BitsEditor::setBits(int b) {
    b = std::clamp(b, 2, 8);
    spin_->setValue(b);
    slider_->setValue(b);
}

QSize BitsEditor::sizeHint() const { return QSize(80 + spin_->sizeHint().width(), spin_->sizeHint().height()); }

BitsDelegate::BitsDelegate(QObject* parent) : QStyledItemDelegate(parent) {}

QWidget* BitsDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex&) const {
    auto* e = new BitsEditor(parent);
    return e;
}

void BitsDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const {
    if (auto* e = qobject_cast<BitsEditor*>(editor)) e->setBits(index.data(Qt::EditRole).toInt());
}

void BitsDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const {
    if (auto* e = qobject_cast<BitsEditor*>(editor)) model->setData(index, e->bits(), Qt::EditRole);
}

void BitsDelegate::updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option, const QModelIndex&) const {
    QRect r = option.rect;
    r.setWidth(std::max(r.width(), editor->sizeHint().width()));
    r.setHeight(std::max(r.height(), editor->sizeHint().height()));
    editor->setGeometry(r);
}

}  // namespace qs::views
