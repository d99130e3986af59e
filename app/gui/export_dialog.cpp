#include "export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace qs::gui {

ExportModelDialog::ExportModelDialog(const QString& startDir, QWidget* parent)
    : QDialog(parent), startDir_(startDir.isEmpty() ? QDir::homePath() : startDir) {
    setWindowTitle(tr("Export model"));
    auto* v = new QVBoxLayout(this);
    auto* form = new QFormLayout();
    format_ = new QComboBox(this);
    format_->addItem(tr("GGUF (llama.cpp)"), QStringLiteral("gguf"));
    format_->addItem(tr("GPTQ-packed safetensors (vLLM, transformers)"), QStringLiteral("gptq"));
    form->addRow(tr("Format:"), format_);
    auto* pathRow = new QHBoxLayout();
    path_ = new QLineEdit(this);
    path_->setMinimumWidth(360);
    auto* browse = new QPushButton(tr("Browse…"), this);
    pathRow->addWidget(path_, 1);
    pathRow->addWidget(browse);
    form->addRow(tr("Save to:"), pathRow);
    requantize_ = new QCheckBox(tr("Re-quantize layers whose format has no exact type in the file (reports the error it adds)"), this);
    form->addRow(QString(), requantize_);
    requantizeTo_ = new QComboBox(this);
    requantizeTo_->addItem(tr("by each layer's bits (Q8_0 above 4 bits, else Q4_0 / Q4_1)"), QString());
    for (const char* f : {"gguf_q8_0", "gguf_q4_0", "gguf_q4_1"}) requantizeTo_->addItem(QString::fromLatin1(f), QString::fromLatin1(f));
    form->addRow(tr("Re-quantize onto:"), requantizeTo_);
    v->addLayout(form);
    note_ = new QLabel(this);
    note_->setWordWrap(true);
    v->addWidget(note_);
    buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons_->button(QDialogButtonBox::Ok)->setText(tr("Quantize and export"));
    v->addWidget(buttons_);
    connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(browse, &QPushButton::clicked, this, &ExportModelDialog::browse);
    connect(format_, &QComboBox::currentIndexChanged, this, &ExportModelDialog::formatChanged);
    connect(requantize_, &QCheckBox::toggled, this, &ExportModelDialog::formatChanged);
    connect(path_, &QLineEdit::textChanged, this,
            [this] { buttons_->button(QDialogButtonBox::Ok)->setEnabled(acceptable()); });
    formatChanged();
}

QString ExportModelDialog::format() const { return format_->currentData().toString(); }

void ExportModelDialog::setFormat(const QString& format) {
    const int i = format_->findData(format);
    if (i >= 0) format_->setCurrentIndex(i);
}

QString ExportModelDialog::path() const { return path_->text().trimmed(); }
void ExportModelDialog::setPath(const QString& path) { path_->setText(path); }
bool ExportModelDialog::allowRequantize() const { return requantize_->isChecked(); }
void ExportModelDialog::setAllowRequantize(bool on) { requantize_->setChecked(on); }
bool ExportModelDialog::acceptable() const { return !path().isEmpty(); }
QString ExportModelDialog::requantizeTo() const { return requantizeTo_->isEnabled() ? requantizeTo_->currentData().toString() : QString(); }

void ExportModelDialog::setRequantizeTo(const QString& format) {
    const int i = requantizeTo_->findData(format);
    if (i >= 0) requantizeTo_->setCurrentIndex(i);
}

void ExportModelDialog::formatChanged() {
    const bool gguf = format() == QLatin1String("gguf");
    note_->setText(gguf ? tr("Lossless when every layer uses a GGUF format (gguf_q4_0, gguf_q4_1, gguf_q8_0; "
                             "fp16 / float stay F16 / F32): the file holds exactly the weights the run evaluates. "
                             "The model is quantized and evaluated first, as Run does; the file is then read back "
                             "and compared tensor by tensor.")
                        : tr("Lossless when every layer uses one integer format with fp16 scales and 2, 3, 4 or 8 bits "
                             "(e.g. int4-g128-f16). Writes a directory (model.safetensors, config.json with "
                             "quantization_config, quantize_config.json, the tokenizer). The model is quantized and "
                             "evaluated first, as Run does; the checkpoint is then read back and compared tensor by tensor."));
    requantizeTo_->setEnabled(gguf && requantize_->isChecked());  // a GPTQ checkpoint re-quantizes onto its own grid
    // the default name follows the format: model.gguf / a checkpoint directory
    const QString p = path();
    const QString base = startDir_ + (gguf ? QStringLiteral("/model.gguf") : QStringLiteral("/model-gptq"));
    if (p.isEmpty() || p == startDir_ + QStringLiteral("/model.gguf") || p == startDir_ + QStringLiteral("/model-gptq")) path_->setText(base);
    buttons_->button(QDialogButtonBox::Ok)->setEnabled(acceptable());
}

void ExportModelDialog::browse() {
    QString p;
    if (format() == QLatin1String("gguf"))
        p = QFileDialog::getSaveFileName(this, tr("Export GGUF"), path(), tr("GGUF files (*.gguf);;All files (*)"));
    else
        p = QFileDialog::getExistingDirectory(this, tr("Directory to create the checkpoint in"), QFileInfo(path()).absolutePath());
    if (p.isEmpty()) return;
    if (format() != QLatin1String("gguf")) p += QStringLiteral("/model-gptq");
    path_->setText(p);
}

}  // namespace qs::gui
