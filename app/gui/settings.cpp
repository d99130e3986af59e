#include "settings.h"

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
#include <QSettings>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

#include "store/store.h"

namespace qs::gui {

AppSettings AppSettings::load() {
    QSettings q;
    AppSettings s;
    s.computeDevice = q.value(QStringLiteral("compute/device"), s.computeDevice).toString();
    if (s.computeDevice != QLatin1String("cpu") && s.computeDevice != QLatin1String("opencl")) s.computeDevice = QStringLiteral("auto");
    s.openclDevice = q.value(QStringLiteral("compute/opencl_device")).toString();
    s.threads = std::max(0, q.value(QStringLiteral("compute/threads"), 0).toInt());
    s.calibrationPath = q.value(QStringLiteral("data/calibration")).toString();
    s.evaluationPath = q.value(QStringLiteral("data/evaluation")).toString();
    s.databasePath = q.value(QStringLiteral("database/path")).toString();
    s.recentModels = q.value(QStringLiteral("models/recent")).toStringList();
    while (s.recentModels.size() > kMaxRecent) s.recentModels.removeLast();
    return s;
}

void AppSettings::save() const {
    QSettings q;
    q.setValue(QStringLiteral("compute/device"), computeDevice);
    q.setValue(QStringLiteral("compute/opencl_device"), openclDevice);
    q.setValue(QStringLiteral("compute/threads"), threads);
    q.setValue(QStringLiteral("data/calibration"), calibrationPath);
    q.setValue(QStringLiteral("data/evaluation"), evaluationPath);
    q.setValue(QStringLiteral("database/path"), databasePath);
    q.setValue(QStringLiteral("models/recent"), recentModels);
}

void AppSettings::addRecentModel(const QString& path) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    recentModels.removeAll(abs);
    recentModels.prepend(abs);
    while (recentModels.size() > kMaxRecent) recentModels.removeLast();
}

namespace {

QWidget* pathRow(QLineEdit* edit, QWidget* parent, const QString& title, bool save, const QString& filter) {
    auto* w = new QWidget(parent);
    auto* h = new QHBoxLayout(w);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(edit, 1);
    auto* b = new QPushButton(QObject::tr("Browse…"), w);
    h->addWidget(b);
    QObject::connect(b, &QPushButton::clicked, w, [edit, parent, title, save, filter] {
        const QString start = edit->text().isEmpty() ? QDir::homePath() : edit->text();
        const QString p = save ? QFileDialog::getSaveFileName(parent, title, start, filter, nullptr, QFileDialog::DontConfirmOverwrite)
                               : QFileDialog::getOpenFileName(parent, title, start, filter);
        if (!p.isEmpty()) edit->setText(p);
    });
    return w;
}

}  // namespace

SettingsDialog::SettingsDialog(const AppSettings& s, const std::vector<DeviceChoice>& devices, const QString& deviceNote, QWidget* parent)
    : QDialog(parent), base_(s) {
    setWindowTitle(tr("QuantScope settings"));
    auto* v = new QVBoxLayout(this);
    auto* form = new QFormLayout();

    device_ = new QComboBox(this);
    device_->addItem(tr("auto: per operation, whichever is faster on this device"), QStringLiteral("auto"));
    device_->addItem(tr("OpenCL: every operation on the OpenCL device"), QStringLiteral("opencl"));
    device_->addItem(tr("CPU only"), QStringLiteral("cpu"));
    device_->setCurrentIndex(std::max(0, device_->findData(s.computeDevice)));
    form->addRow(tr("Compute:"), device_);

    openclDevice_ = new QComboBox(this);
    openclDevice_->addItem(tr("default (QUANTSCOPE_OPENCL_DEVICE, else the first GPU)"), QString());
    for (const DeviceChoice& d : devices) openclDevice_->addItem(d.label, d.spec);
    const int di = openclDevice_->findData(s.openclDevice);
    if (di < 0 && !s.openclDevice.isEmpty()) openclDevice_->addItem(tr("%1 (not present)").arg(s.openclDevice), s.openclDevice);
    openclDevice_->setCurrentIndex(std::max(0, openclDevice_->findData(s.openclDevice)));
    form->addRow(tr("OpenCL device:"), openclDevice_);
    auto* note = new QLabel(deviceNote, this);
    note->setWordWrap(true);
    note->setStyleSheet(QStringLiteral("color: palette(mid);"));
    form->addRow(QString(), note);

    threads_ = new QSpinBox(this);
    threads_->setRange(0, 1024);
    threads_->setSpecialValueText(tr("all (%1)").arg(QThread::idealThreadCount()));
    threads_->setValue(s.threads);
    form->addRow(tr("CPU threads:"), threads_);

    const QString textFilter = tr("Text (*.jsonl *.txt *.raw);;All files (*)");
    calib_ = new QLineEdit(s.calibrationPath, this);
    calib_->setPlaceholderText(tr("none: ask when analysing"));
    form->addRow(tr("Calibration text:"), pathRow(calib_, this, tr("Default calibration text"), false, textFilter));
    eval_ = new QLineEdit(s.evaluationPath, this);
    eval_->setPlaceholderText(tr("none"));
    form->addRow(tr("Evaluation text:"), pathRow(eval_, this, tr("Default evaluation text"), false, textFilter));
    db_ = new QLineEdit(s.databasePath, this);
    db_->setPlaceholderText(ExperimentStore::defaultPath());
    form->addRow(tr("Experiment log:"), pathRow(db_, this, tr("Experiment log (SQLite)"), true, tr("SQLite (*.sqlite *.db);;All files (*)")));
    v->addLayout(form);

    auto* hint = new QLabel(tr("The compute device, threads and experiment log apply at once; they are kept for the next start."), this);
    hint->setWordWrap(true);
    v->addWidget(hint);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    v->addWidget(buttons);
    resize(640, sizeHint().height());
}

AppSettings SettingsDialog::settings() const {
    AppSettings s = base_;
    s.computeDevice = device_->currentData().toString();
    s.openclDevice = openclDevice_->currentData().toString();
    s.threads = threads_->value();
    s.calibrationPath = calib_->text().trimmed();
    s.evaluationPath = eval_->text().trimmed();
    s.databasePath = db_->text().trimmed();
    return s;
}

}  // namespace qs::gui
