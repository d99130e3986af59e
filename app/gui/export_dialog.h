#pragma once
// "Export model…": where and in which serving format to write the quantized
// model of the table's recipe. The main window then queues a run (quantize +
// evaluate, as Run does) that writes the file and reads it back tensor by tensor
// (core's exportVerified), so the file holds exactly the weights whose perplexity
// the run measured.
#include <QDialog>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;

namespace qs::gui {

class ExportModelDialog : public QDialog {
    Q_OBJECT
public:
    /// `startDir`: where Browse starts and the default path is put.
    explicit ExportModelDialog(const QString& startDir, QWidget* parent = nullptr);

    /// "gguf" or "gptq".
    QString format() const;
    void setFormat(const QString& format);
    QString path() const;
    void setPath(const QString& path);
    bool allowRequantize() const;
    void setAllowRequantize(bool on);
    /// GGUF re-quantization target: "" = by each layer's bits (Q8_0 above 4 bits,
    /// else Q4_0 / Q4_1 by symmetry), or gguf_q8_0 / gguf_q4_0 / gguf_q4_1.
    QString requantizeTo() const;
    void setRequantizeTo(const QString& format);
    /// OK is enabled (a path is given).
    bool acceptable() const;

private:
    void browse();
    void formatChanged();
    QString startDir_;
    QComboBox* format_ = nullptr;
    QLineEdit* path_ = nullptr;
    QCheckBox* requantize_ = nullptr;
    QComboBox* requantizeTo_ = nullptr;
    QLabel* note_ = nullptr;
    QDialogButtonBox* buttons_ = nullptr;
};

}  // namespace qs::gui
