#pragma once
// The app's settings (QSettings, organisation "QuantScope", application
// "quantscope") and the dialog that edits them:
//   compute/device         cpu | auto | opencl   (as quantscope-cli --device)
//   compute/opencl_device  "" (QUANTSCOPE_OPENCL_DEVICE, else the first GPU) or "platform:device"
//   compute/threads        0 = every hardware thread
//   data/calibration       default calibration text (.jsonl / text) for Analyse and runs
//   data/evaluation        default evaluation text for runs
//   database/path          the experiment log ("" = ExperimentStore::defaultPath())
//   models/recent          the recently opened models, newest first (at most 10)
#include <QDialog>
#include <QStringList>

class QComboBox;
class QLineEdit;
class QSpinBox;
class QLabel;

namespace qs::gui {

struct AppSettings {
    QString computeDevice = QStringLiteral("auto");
    QString openclDevice;
    int threads = 0;
    QString calibrationPath, evaluationPath;
    QString databasePath;
    QStringList recentModels;

    static AppSettings load();
    void save() const;
    /// Puts `path` first in recentModels (absolute, no duplicates, at most 10).
    void addRecentModel(const QString& path);
    static constexpr int kMaxRecent = 10;
};

/// One OpenCL device as the dialog offers it.
struct DeviceChoice {
    QString spec;   // "platform:device"
    QString label;  // "0:0 pthread-cpu (Portable Computing Language, CPU)"
};

class SettingsDialog : public QDialog {
    Q_OBJECT
public:
    SettingsDialog(const AppSettings& s, const std::vector<DeviceChoice>& devices, const QString& deviceNote,
                   QWidget* parent = nullptr);
    AppSettings settings() const;

private:
    AppSettings base_;
    QComboBox* device_ = nullptr;
    QComboBox* openclDevice_ = nullptr;
    QSpinBox* threads_ = nullptr;
    QLineEdit* calib_ = nullptr;
    QLineEdit* eval_ = nullptr;
    QLineEdit* db_ = nullptr;
};

}  // namespace qs::gui
